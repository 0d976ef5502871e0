//! PostgreSQL's text form of a timestamp's fraction: only the digits that are not trailing
//! zeros (`03:04:05`, `03:04:05.5`), where chrono and arrow-pg write `03:04:05.000000` and
//! `03:04:05.500000`. Used by COPY's output and by the wire's text encoding.

/// Whether the fraction of a text timestamp ends in a zero (`05.120000`, `05.000000`).
pub fn has_trailing_zero(value: &[u8]) -> bool {
    let Some(point) = value.iter().rposition(|b| *b == b'.') else {
        return false;
    };
    let digits = value[point + 1..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    digits > 0 && value[point + digits] == b'0'
}

/// `2024-01-02 03:04:05.120000+00` as `2024-01-02 03:04:05.12+00`; `.000000` goes entirely.
pub fn trim_fraction(value: &[u8]) -> Vec<u8> {
    let Some(point) = value.iter().rposition(|b| *b == b'.') else {
        return value.to_vec();
    };
    let digits = value[point + 1..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let fraction = &value[point + 1..point + 1 + digits];
    let kept = fraction.len() - fraction.iter().rev().take_while(|b| **b == b'0').count();
    let mut out = Vec::with_capacity(value.len());
    out.extend_from_slice(&value[..point]);
    if kept > 0 {
        out.push(b'.');
        out.extend_from_slice(&fraction[..kept]);
    }
    out.extend_from_slice(&value[point + 1 + digits..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_timestamps_keep_only_significant_fraction_digits() {
        let trimmed = |v: &str| String::from_utf8(trim_fraction(v.as_bytes())).unwrap();
        assert_eq!(
            trimmed("2024-01-02 03:04:05.000000+00"),
            "2024-01-02 03:04:05+00"
        );
        assert_eq!(
            trimmed("2024-01-02 03:04:05.120000"),
            "2024-01-02 03:04:05.12"
        );
        assert_eq!(
            trimmed("2024-01-02 03:04:05.123456+05:30"),
            "2024-01-02 03:04:05.123456+05:30"
        );
        assert_eq!(trimmed("2024-01-02 03:04:05+00"), "2024-01-02 03:04:05+00");
        assert!(has_trailing_zero(b"2024-01-02 03:04:05.120000+00"));
        assert!(!has_trailing_zero(b"2024-01-02 03:04:05.123456+00"));
        assert!(!has_trailing_zero(b"2024-01-02 03:04:05+00"));
    }
}

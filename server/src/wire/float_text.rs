//! PostgreSQL's text form of `float4` and `float8` values, from arrow-pg's.
//!
//! Both write the shortest digits that read back to the same value, but arrow-pg keeps Rust's
//! spelling: `2.0` where PostgreSQL writes `2`, `inf` for `Infinity`, and `1e20` (or twenty-one
//! digits) for `1e+20`. Clients that compare text (psql output, tests,
//! BI tools that cache results as strings) see the difference, so text values are rewritten;
//! binary values are IEEE bits either way and pass untouched.

/// Whether `value` (arrow-pg's text) is spelled differently by PostgreSQL. Cheap: most values
/// (`3.25`, `-17.5`) are left alone after looking at their first and last bytes and length.
pub fn needs_rewrite(value: &[u8]) -> bool {
    let digits = value.strip_prefix(b"-").unwrap_or(value);
    value.ends_with(b".0")
        || digits.first().is_some_and(|b| !b.is_ascii_digit())
        || digits.len() > 16
        || digits.starts_with(b"0.0000")
        || digits.contains(&b'e')
}

/// PostgreSQL's spelling of a float: fixed notation for decimal exponents from -4 to 14, else
/// `d.ddde+XX` with at least two exponent digits; `Infinity`, `-Infinity`, `NaN`.
pub fn pg_float_text(value: &[u8]) -> Vec<u8> {
    let Some(x) = std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
    else {
        return value.to_vec();
    };
    if x.is_nan() {
        return b"NaN".to_vec();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            b"Infinity".to_vec()
        } else {
            b"-Infinity".to_vec()
        };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            b"-0".to_vec()
        } else {
            b"0".to_vec()
        };
    }
    // Rust's `{:e}` is the shortest round-trip digits: `1.5e-5`, `1e20`.
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("{:e} always writes an exponent");
    let exponent: i32 = exponent.parse().expect("an integer exponent");
    if (-4..15).contains(&exponent) {
        let fixed = x.to_string();
        return fixed
            .strip_suffix(".0")
            .unwrap_or(&fixed)
            .as_bytes()
            .to_vec();
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(text: &str) -> String {
        String::from_utf8(pg_float_text(text.as_bytes())).unwrap()
    }

    #[test]
    fn floats_are_spelled_as_postgres_spells_them() {
        assert_eq!(pg("2.0"), "2");
        assert_eq!(pg("-17.0"), "-17");
        assert_eq!(pg("946684800.0"), "946684800");
        assert_eq!(pg("100000000000000000000.0"), "1e+20");
        assert_eq!(pg("123456789012345.0"), "123456789012345");
        assert_eq!(pg("1000000000000000.0"), "1e+15");
        assert_eq!(pg("0.0001"), "0.0001");
        assert_eq!(pg("0.000015"), "1.5e-05");
        assert_eq!(pg("inf"), "Infinity");
        assert_eq!(pg("-inf"), "-Infinity");
        assert_eq!(pg("NaN"), "NaN");
        assert_eq!(pg("-0.0"), "-0");
        assert_eq!(pg("3.25"), "3.25");
    }

    #[test]
    fn only_values_postgres_spells_differently_are_rewritten() {
        for same in ["3.25", "-17.5", "0.001", "1.7976931348623157"] {
            assert!(
                !needs_rewrite(same.as_bytes()) || pg(same) == same,
                "{same}"
            );
        }
        for differs in [
            "2.0",
            "inf",
            "-inf",
            "1e20",
            "100000000000000000000.0",
            "0.000015",
        ] {
            assert!(needs_rewrite(differs.as_bytes()), "{differs}");
            assert_ne!(pg(differs), differs);
        }
    }
}

//! Date and timestamp literals PostgreSQL reads and Arrow's parser does not, rewritten to the
//! ISO text Arrow reads (`'...'::date`, `timestamp '...'`, `CAST('...' AS timestamptz)`):
//!
//! - `'epoch'`: 1970-01-01 at midnight (UTC for `timestamptz`);
//! - a time without seconds (`'2024-03-01 10:00'`, `'2024-03-15 10:00+02'`);
//! - month names (`'January 8, 1999'`, `'1999-Jan-08'`, `'08-Jan-1999'`, `'January 8
//!   04:05:06 1999'`).
//!
//! Only the literal's text changes, and only when PostgreSQL would read it as that value;
//! anything else is left to Arrow (and its error). `'infinity'` has no Oxbow value and stays
//! refused.

use chrono::{NaiveDate, NaiveDateTime};
use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, Expr, ObjectNamePart, TypedString, Value, ValueWithSpan,
};

/// What a literal is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Date,
    Timestamp,
    TimestampTz,
}

fn kind_of(data_type: &DataType) -> Option<Kind> {
    use datafusion::sql::sqlparser::ast::TimezoneInfo;
    Some(match data_type {
        DataType::Date => Kind::Date,
        DataType::Timestamp(_, TimezoneInfo::Tz | TimezoneInfo::WithTimeZone) => Kind::TimestampTz,
        DataType::Timestamp(..) | DataType::Datetime(_) => Kind::Timestamp,
        DataType::Custom(name, _) => match name.0.last() {
            Some(ObjectNamePart::Identifier(ident))
                if ident.value.eq_ignore_ascii_case("timestamptz") =>
            {
                Kind::TimestampTz
            }
            _ => return None,
        },
        _ => return None,
    })
}

/// The replacement of `expr`, if it is such a literal.
pub fn replacement(expr: &Expr) -> Option<Expr> {
    match expr {
        Expr::Cast {
            kind: CastKind::Cast | CastKind::DoubleColon,
            expr: inner,
            data_type,
            format: None,
            ..
        } => {
            let kind = kind_of(data_type)?;
            let Expr::Value(ValueWithSpan {
                value: Value::SingleQuotedString(text),
                span,
            }) = inner.as_ref()
            else {
                return None;
            };
            let normalized = normalize(text, kind)?;
            let mut cast = expr.clone();
            if let Expr::Cast { expr, .. } = &mut cast {
                **expr = Expr::Value(ValueWithSpan {
                    value: Value::SingleQuotedString(normalized),
                    span: *span,
                });
            }
            Some(cast)
        }
        Expr::TypedString(TypedString {
            data_type, value, ..
        }) => {
            let kind = kind_of(data_type)?;
            let Value::SingleQuotedString(text) = &value.value else {
                return None;
            };
            let normalized = normalize(text, kind)?;
            let mut typed = expr.clone();
            if let Expr::TypedString(TypedString { value, .. }) = &mut typed {
                value.value = Value::SingleQuotedString(normalized);
            }
            Some(typed)
        }
        _ => None,
    }
}

/// Formats with month names, with a time.
const TEXTUAL_TIMESTAMPS: &[&str] = &[
    "%B %d %H:%M:%S %Y",
    "%B %d, %Y %H:%M:%S",
    "%d %B %Y %H:%M:%S",
];
/// Formats with month names, dates only.
const TEXTUAL_DATES: &[&str] = &[
    "%B %d, %Y",
    "%B %d %Y",
    "%Y-%b-%d",
    "%d-%b-%Y",
    "%b-%d-%Y",
    "%d %B %Y",
];

/// `text` as Arrow's parser reads it, or `None` to leave it alone.
fn normalize(text: &str, kind: Kind) -> Option<String> {
    let trimmed = text.trim();
    let midnight = match kind {
        Kind::Date => "",
        Kind::Timestamp => " 00:00:00",
        Kind::TimestampTz => " 00:00:00+00",
    };
    if trimmed.eq_ignore_ascii_case("epoch") {
        return Some(format!("1970-01-01{midnight}"));
    }
    if kind != Kind::Date {
        if let Some(with_seconds) = add_seconds(trimmed) {
            return Some(with_seconds);
        }
        for format in TEXTUAL_TIMESTAMPS {
            if let Ok(t) = NaiveDateTime::parse_from_str(trimmed, format) {
                let zone = if kind == Kind::TimestampTz { "+00" } else { "" };
                return Some(format!("{}{zone}", t.format("%Y-%m-%d %H:%M:%S")));
            }
        }
    }
    if trimmed.chars().any(|c| c.is_ascii_alphabetic()) {
        for format in TEXTUAL_DATES {
            if let Ok(d) = NaiveDate::parse_from_str(trimmed, format) {
                return Some(format!("{}{midnight}", d.format("%Y-%m-%d")));
            }
        }
    }
    None
}

/// `YYYY-MM-DD HH:MM` followed by nothing or a zone: `:00` inserted after the minutes.
fn add_seconds(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    let date_ok = digits(0..4)
        && bytes.get(4) == Some(&b'-')
        && digits(5..7)
        && bytes.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(bytes.get(10), Some(b' ' | b'T'));
    if !date_ok {
        return None;
    }
    let hour_len = if bytes.get(12) == Some(&b':') { 1 } else { 2 };
    let colon = 11 + hour_len;
    let minutes_end = colon + 3;
    let time_ok =
        digits(11..colon) && bytes.get(colon) == Some(&b':') && digits(colon + 1..minutes_end);
    if !time_ok {
        return None;
    }
    match bytes.get(minutes_end) {
        None | Some(b'+' | b'-' | b'Z' | b' ') => Some(format!(
            "{}:00{}",
            &text[..minutes_end],
            &text[minutes_end..]
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_postgresql_reads_and_arrow_does_not() {
        let cases = [
            ("epoch", Kind::Date, Some("1970-01-01")),
            ("epoch", Kind::TimestampTz, Some("1970-01-01 00:00:00+00")),
            (
                "2024-03-01 00:00",
                Kind::Timestamp,
                Some("2024-03-01 00:00:00"),
            ),
            (
                "2024-03-15 10:00+02",
                Kind::TimestampTz,
                Some("2024-03-15 10:00:00+02"),
            ),
            (
                "2024-03-15 9:05",
                Kind::Timestamp,
                Some("2024-03-15 9:05:00"),
            ),
            ("2024-03-15 10:00:00", Kind::Timestamp, None),
            ("January 8, 1999", Kind::Date, Some("1999-01-08")),
            ("1999-Jan-08", Kind::Date, Some("1999-01-08")),
            ("08-Jan-1999", Kind::Date, Some("1999-01-08")),
            (
                "January 8 04:05:06 1999",
                Kind::Timestamp,
                Some("1999-01-08 04:05:06"),
            ),
            ("2024-01-01", Kind::Date, None),
            ("infinity", Kind::Date, None),
            (
                "2024-13-45 10:00",
                Kind::Timestamp,
                Some("2024-13-45 10:00:00"),
            ),
        ];
        for (text, kind, want) in cases {
            assert_eq!(normalize(text, kind).as_deref(), want, "{text} as {kind:?}");
        }
    }
}

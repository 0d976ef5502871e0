//! `CREATE TABLE ... WITH (flush_interval = '10s', flush_rows = 1000000, time_column = 'ts')`.

use std::time::Duration;

use datafusion::sql::sqlparser::ast::{CreateTableOptions, Expr, SqlOption, Value};
use oxbow_catalog::{ColumnDef, SqlType, TableOptions};

use crate::error::ServerError;

/// The hot-tier options of a `CREATE TABLE`, checked against its columns.
pub fn table_options(
    options: &CreateTableOptions,
    columns: &[ColumnDef],
) -> Result<TableOptions, ServerError> {
    let mut result = TableOptions::default();
    let list = match options {
        CreateTableOptions::None => return Ok(result),
        CreateTableOptions::With(list) => list,
        _ => {
            return Err(ServerError::Unsupported(
                "table options other than WITH (...)".into(),
            ));
        }
    };
    for option in list {
        let SqlOption::KeyValue { key, value } = option else {
            return Err(ServerError::Unsupported(format!("table option {option}")));
        };
        let text = option_text(value);
        match key.value.to_ascii_lowercase().as_str() {
            "flush_interval" => {
                let interval = parse_duration(&text).ok_or_else(|| {
                    ServerError::InvalidTypeModifier(format!(
                        "flush_interval = {value}: expected a duration such as '10s', '500ms' or '5min'"
                    ))
                })?;
                result.flush_interval_ms = interval.as_millis().max(1) as u64;
            }
            "flush_rows" => {
                result.flush_rows =
                    text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        ServerError::InvalidTypeModifier(format!(
                            "flush_rows = {value}: expected a positive number of rows"
                        ))
                    })?;
            }
            "time_column" => {
                let column = columns.iter().find(|c| c.name == text).ok_or_else(|| {
                    ServerError::UndefinedColumn {
                        table: "(new table)".into(),
                        column: text.clone(),
                    }
                })?;
                if !matches!(column.sql_type, SqlType::Timestamp | SqlType::TimestampTz) {
                    return Err(ServerError::InvalidTypeModifier(format!(
                        "time_column \"{text}\" must be a timestamp or timestamptz column"
                    )));
                }
                result.time_column = Some(text);
            }
            "upsert" => result.upsert = boolean("upsert", &value.to_string(), &text)?,
            "rollup_only" => {
                result.rollup_only = boolean("rollup_only", &value.to_string(), &text)?
            }
            other => {
                return Err(ServerError::Unsupported(format!(
                    "table option \"{other}\" (known: flush_interval, flush_rows, time_column, upsert, rollup_only)"
                )));
            }
        }
    }
    Ok(result)
}

fn option_text(value: &Expr) -> String {
    match value {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            Value::Number(n, _) => n.clone(),
            other => other.to_string(),
        },
        Expr::Identifier(ident) => ident.value.clone(),
        other => other.to_string(),
    }
}

/// `'10s'`, `'500ms'`, `'5min'`, `'1h'`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "second" | "seconds" => number,
        "ms" | "millisecond" | "milliseconds" => number / 1000.0,
        "m" | "min" | "minute" | "minutes" => number * 60.0,
        "h" | "hour" | "hours" => number * 3600.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_postgres_settings() {
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("5min"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("soon"), None);
    }
}

/// A boolean option's value (`true`, `on`, `1` or `false`, `off`, `0`).
fn boolean(option: &str, value: &str, text: &str) -> Result<bool, ServerError> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "on" | "1" => Ok(true),
        "false" | "off" | "0" => Ok(false),
        _ => Err(ServerError::InvalidTypeModifier(format!(
            "{option} = {value}: expected true or false"
        ))),
    }
}

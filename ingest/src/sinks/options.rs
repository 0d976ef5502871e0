//! The options of `CREATE SINK`: the target's (`INTO FILES (path = ...)`), the format, and the
//! sink's own `WITH (start, max_batch_rows, batch_interval)`. Every option is checked when the
//! sink is created; an unknown one is refused by name (22023), never ignored.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::IngestError;

/// The targets `CREATE SINK ... INTO` knows.
pub const TARGETS: &[&str] = &["files", "delta", "kafka"];

/// Where a new sink starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The rows already in the table's Delta tier first, then every later write.
    Earliest,
    /// Writes committed after the sink is created (the default).
    Latest,
}

/// The file format a FILES or KAFKA sink writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkFormat {
    Json,
    Csv,
    Parquet,
}

impl SinkFormat {
    pub fn parse(format: &str) -> Result<Self, IngestError> {
        match format {
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            "parquet" => Ok(Self::Parquet),
            "avro" => Err(IngestError::Unsupported(
                "FORMAT AVRO for sinks is not built yet (JSON, CSV and PARQUET are)".into(),
            )),
            other => Err(IngestError::Unsupported(format!(
                "FORMAT {} for sinks (JSON, CSV and PARQUET are built)",
                other.to_ascii_uppercase()
            ))),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Parquet => "parquet",
        }
    }
}

/// `WITH (...)` of a sink.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    pub start: Start,
    /// A batch (one file, one Delta commit, one Kafka transaction) ends after the transaction
    /// that brings it to this many rows. Default 10 000.
    pub max_batch_rows: usize,
    /// How long the sink waits for new writes before it looks again. Default 1 s.
    pub batch_interval: Duration,
}

const SINK_OPTIONS: &str = "start, max_batch_rows, batch_interval";

impl SinkOptions {
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self, IngestError> {
        let mut parsed = Self {
            start: Start::Latest,
            max_batch_rows: 10_000,
            batch_interval: Duration::from_secs(1),
        };
        for (key, value) in options {
            match key.as_str() {
                "start" => {
                    parsed.start = match value.to_ascii_lowercase().as_str() {
                        "earliest" => Start::Earliest,
                        "latest" => Start::Latest,
                        _ => {
                            return Err(IngestError::invalid_option(
                                key,
                                value,
                                "'earliest' or 'latest'",
                            ));
                        }
                    }
                }
                "max_batch_rows" => {
                    parsed.max_batch_rows = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| {
                            IngestError::invalid_option(key, value, "a positive number of rows")
                        })?
                }
                "batch_interval" => {
                    parsed.batch_interval = parse_duration(value).ok_or_else(|| {
                        IngestError::invalid_option(
                            key,
                            value,
                            "a duration such as '1s' or '200ms'",
                        )
                    })?
                }
                other => {
                    return Err(IngestError::UnknownOption {
                        option: format!("{other} (of the sink)"),
                        valid: SINK_OPTIONS.into(),
                    });
                }
            }
        }
        Ok(parsed)
    }
}

/// `200ms`, `1s`, `2m`, or a bare number of seconds; at least 1 ms, at most an hour.
fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim().to_ascii_lowercase();
    let (number, unit) = match value.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => value.split_at(i),
        None => (value.as_str(), "s"),
    };
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "s" | "sec" | "second" | "seconds" => number,
        "m" | "min" | "minute" | "minutes" => number * 60.0,
        _ => return None,
    };
    (0.001..=3600.0)
        .contains(&seconds)
        .then(|| Duration::from_secs_f64(seconds))
}

/// Checks that `options` has exactly the `required` keys and perhaps some of `optional`,
/// naming the target in errors.
pub fn check_target_options(
    target: &str,
    options: &BTreeMap<String, String>,
    required: &[&str],
    optional: &[&str],
) -> Result<(), IngestError> {
    for key in options.keys() {
        if !required.contains(&key.as_str()) && !optional.contains(&key.as_str()) {
            let valid: Vec<&str> = required.iter().chain(optional).copied().collect();
            return Err(IngestError::UnknownOption {
                option: format!("{key} (of {})", target.to_ascii_uppercase()),
                valid: valid.join(", "),
            });
        }
    }
    for key in required {
        if !options.contains_key(*key) {
            return Err(IngestError::MissingOption(format!(
                "{key} (of {})",
                target.to_ascii_uppercase()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_by_name() {
        let o = SinkOptions::parse(&BTreeMap::from([
            ("start".into(), "EARLIEST".into()),
            ("batch_interval".into(), "250ms".into()),
            ("max_batch_rows".into(), "5".into()),
        ]))
        .unwrap();
        assert_eq!(o.start, Start::Earliest);
        assert_eq!(o.batch_interval, Duration::from_millis(250));
        assert_eq!(o.max_batch_rows, 5);
        assert!(matches!(
            SinkOptions::parse(&BTreeMap::from([("colour".into(), "red".into())])),
            Err(IngestError::UnknownOption { .. })
        ));
        assert!(
            SinkOptions::parse(&BTreeMap::from([("max_batch_rows".into(), "0".into())])).is_err()
        );
        assert!(matches!(
            SinkFormat::parse("avro"),
            Err(IngestError::Unsupported(_))
        ));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1h"), None);
    }
}

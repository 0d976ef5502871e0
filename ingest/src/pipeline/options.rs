//! The pipeline options of `CREATE SOURCE ... WITH (...)`, checked when the source is created
//! so that a typo is an error then, not a silent default later.

use std::collections::BTreeMap;
use std::time::Duration;

use super::event_time::TimeFormat;
use crate::error::IngestError;

/// How fields the table does not have are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaMode {
    /// A row with a field the table lacks goes to dead letters, naming the field.
    #[default]
    Strict,
    /// Such fields are left out.
    IgnoreNewFields,
    /// Such fields become new nullable columns of the table (`super::evolve`).
    Evolve,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineOptions {
    pub time_column: Option<String>,
    pub time_format: TimeFormat,
    pub schema_mode: SchemaMode,
    pub dedup_key: Option<String>,
    pub dedup_window: Duration,
    /// Rows per micro-batch a pulling connector reads before writing (one WAL transaction).
    pub batch_rows: usize,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            time_column: None,
            time_format: TimeFormat::Auto,
            schema_mode: SchemaMode::Strict,
            dedup_key: None,
            dedup_window: Duration::from_secs(3600),
            batch_rows: 10_000,
        }
    }
}

/// Every option `WITH (...)` accepts.
pub const OPTION_NAMES: &[&str] = &[
    "time_column",
    "time_format",
    "schema_mode",
    "dedup_key",
    "dedup_window",
    "batch_rows",
];

impl PipelineOptions {
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self, IngestError> {
        let mut parsed = PipelineOptions::default();
        for (key, value) in options {
            match key.as_str() {
                "time_column" => parsed.time_column = Some(value.clone()),
                "time_format" => {
                    parsed.time_format = TimeFormat::parse(value).ok_or_else(|| {
                        IngestError::invalid_option(key, value, "auto, iso, epoch_s or epoch_ms")
                    })?
                }
                "schema_mode" => {
                    parsed.schema_mode = match value.to_ascii_lowercase().as_str() {
                        "strict" => SchemaMode::Strict,
                        "ignore_new_fields" | "ignore" => SchemaMode::IgnoreNewFields,
                        "evolve" => SchemaMode::Evolve,
                        _ => {
                            return Err(IngestError::invalid_option(
                                key,
                                value,
                                "strict, ignore_new_fields or evolve",
                            ));
                        }
                    }
                }
                "dedup_key" => parsed.dedup_key = Some(value.clone()),
                "dedup_window" => {
                    parsed.dedup_window = parse_duration(value).ok_or_else(|| {
                        IngestError::invalid_option(
                            key,
                            value,
                            "a duration such as '1 hour', '10m' or '30s'",
                        )
                    })?
                }
                "batch_rows" => {
                    parsed.batch_rows = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                        IngestError::invalid_option(key, value, "a positive number")
                    })?
                }
                _ => {
                    return Err(IngestError::UnknownOption {
                        option: key.clone(),
                        valid: OPTION_NAMES.join(", "),
                    });
                }
            }
        }
        Ok(parsed)
    }
}

/// `'1 hour'`, `'90 minutes'`, `'10m'`, `'30s'`, `'500ms'`, `'2 days'`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim().to_ascii_lowercase();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let seconds = match unit.trim() {
        "ms" | "millisecond" | "milliseconds" => number / 1000.0,
        "" | "s" | "sec" | "secs" | "second" | "seconds" => number,
        "m" | "min" | "mins" | "minute" | "minutes" => number * 60.0,
        "h" | "hr" | "hour" | "hours" => number * 3600.0,
        "d" | "day" | "days" => number * 86400.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        let opts = |pairs: &[(&str, &str)]| {
            PipelineOptions::parse(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let o = opts(&[("dedup_key", "id"), ("dedup_window", "2 hours")]).unwrap();
        assert_eq!(o.dedup_window, Duration::from_secs(7200));
        assert!(matches!(
            opts(&[("dedup_windw", "1h")]),
            Err(IngestError::UnknownOption { .. })
        ));
        assert_eq!(
            opts(&[("schema_mode", "evolve")]).unwrap().schema_mode,
            SchemaMode::Evolve
        );
        assert!(opts(&[("schema_mode", "grow")]).is_err());
        assert!(opts(&[("dedup_window", "soon")]).is_err());
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
    }
}

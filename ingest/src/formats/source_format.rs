//! [`SourceFormat`]: the `FORMAT JSON | CSV (...) | PARQUET | AVRO (...)` of a source.

use std::collections::BTreeMap;

use super::avro_rows::AvroFormat;
use super::csv_rows::CsvOptions;
use crate::error::IngestError;

#[derive(Debug, Clone)]
pub enum SourceFormat {
    /// A JSON array of objects, NDJSON, or one object.
    Json,
    Csv(CsvOptions),
    Parquet,
    /// Avro datums, one per Kafka message (plain or Confluent-framed).
    Avro(AvroFormat),
}

impl SourceFormat {
    /// The format `name` with its `options` (CSV: `delimiter`, `quote`, `null`).
    pub fn parse(name: &str, options: &BTreeMap<String, String>) -> Result<Self, IngestError> {
        let format = match name.to_ascii_lowercase().as_str() {
            "json" | "ndjson" | "jsonl" => SourceFormat::Json,
            "parquet" => SourceFormat::Parquet,
            "avro" => return Ok(SourceFormat::Avro(AvroFormat::parse(options)?)),
            "csv" => {
                let mut csv = CsvOptions::default();
                for (key, value) in options {
                    let byte = || match value.as_bytes() {
                        [b] => Ok(*b),
                        _ => Err(IngestError::invalid_option(key, value, "one character")),
                    };
                    match key.as_str() {
                        "delimiter" => csv.delimiter = byte()?,
                        "quote" => csv.quote = byte()?,
                        "null" => csv.null = value.clone(),
                        "header" if value.eq_ignore_ascii_case("true") => {}
                        "header" => {
                            return Err(IngestError::Unsupported(
                                "CSV sources need a header line naming the fields (header = false is not built yet)".into(),
                            ));
                        }
                        _ => {
                            return Err(IngestError::UnknownOption {
                                option: key.clone(),
                                valid: "delimiter, quote, null, header".into(),
                            });
                        }
                    }
                }
                return Ok(SourceFormat::Csv(csv));
            }
            other => {
                return Err(IngestError::Unsupported(format!(
                    "FORMAT {other} (supported: JSON, CSV, PARQUET, AVRO)"
                )));
            }
        };
        if let Some(option) = options.keys().next() {
            return Err(IngestError::UnknownOption {
                option: option.clone(),
                valid: "none for this format".into(),
            });
        }
        Ok(format)
    }

    /// The format an HTTP push's `Content-Type` names, if it names one.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let mime = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match mime.as_str() {
            "application/json"
            | "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl" => Some(SourceFormat::Json),
            "text/csv" => Some(SourceFormat::Csv(CsvOptions::default())),
            "application/vnd.apache.parquet" | "application/x-parquet" => {
                Some(SourceFormat::Parquet)
            }
            _ => None,
        }
    }
}

//! `COPY ... TO STDOUT`: rows in PostgreSQL's text or CSV format, with its text form of each
//! value (`t`/`f`, `\x` bytea, timestamps without trailing zeros).

use bytes::Bytes;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use super::{CopyFormat, CopyKind, pg_text, timestamp_text};
use crate::error::FormatError;

/// Encodes COPY output, one `Bytes` per row (each becomes one `CopyData` message).
pub struct CopyEncoder {
    format: CopyFormat,
    options: FormatOptions<'static>,
}

impl CopyEncoder {
    pub fn new(format: CopyFormat) -> Self {
        let options = FormatOptions::default()
            .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
            .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:::z"))
            .with_date_format(Some("%Y-%m-%d"));
        Self { format, options }
    }

    /// The header row (CSV with `HEADER`), if one is due.
    pub fn header(&self, schema: &Schema) -> Option<Bytes> {
        if !self.format.header {
            return None;
        }
        let names: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| self.escape(f.name()))
            .collect();
        Some(self.line(names))
    }

    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<Bytes>, FormatError> {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &self.options))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rows = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let mut values = Vec::with_capacity(batch.num_columns());
            for (column, formatter) in batch.columns().iter().zip(&formatters) {
                values.push(if column.is_null(row) {
                    self.format.null.clone()
                } else {
                    self.escape(&self.value(column, formatter, row))
                });
            }
            rows.push(self.line(values));
        }
        Ok(rows)
    }

    /// A value in PostgreSQL's text output form.
    fn value(&self, column: &ArrayRef, formatter: &ArrayFormatter, row: usize) -> String {
        match column.data_type() {
            DataType::Boolean => {
                let b = column
                    .as_any()
                    .downcast_ref::<BooleanArray>()
                    .expect("boolean");
                if b.value(row) { "t" } else { "f" }.to_string()
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
                format!("\\x{}", formatter.value(row))
            }
            // chrono's `%.f` writes fractions in groups of three (`05.500`); PostgreSQL
            // writes only the digits that are not trailing zeros (`05.5`).
            DataType::Timestamp(..) => {
                let text = formatter.value(row).to_string();
                if !timestamp_text::has_trailing_zero(text.as_bytes()) {
                    return text;
                }
                String::from_utf8(timestamp_text::trim_fraction(text.as_bytes())).unwrap_or(text)
            }
            _ => formatter.value(row).to_string(),
        }
    }

    fn escape(&self, value: &str) -> String {
        let delimiter = self.format.delimiter as char;
        match self.format.kind {
            CopyKind::Text => pg_text::escape(value, delimiter),
            CopyKind::Csv | CopyKind::Binary => {
                let quote = self.format.quote as char;
                let needs_quotes = value.is_empty()
                    || value == self.format.null
                    || value.contains([delimiter, quote, '\n', '\r'])
                    || value == "\\.";
                if !needs_quotes {
                    return value.to_string();
                }
                let escape = self.format.escape as char;
                let mut out = String::with_capacity(value.len() + 2);
                out.push(quote);
                for c in value.chars() {
                    if c == quote || c == escape {
                        out.push(escape);
                    }
                    out.push(c);
                }
                out.push(quote);
                out
            }
        }
    }

    fn line(&self, values: Vec<String>) -> Bytes {
        let mut line = values.join(&(self.format.delimiter as char).to_string());
        line.push('\n');
        Bytes::from(line)
    }
}

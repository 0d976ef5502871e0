//! CSV input for sources: a header line naming the fields, then one record per line (quoted
//! fields may span lines). Every field is decoded as text; the pipeline casts it to its
//! column's type afterwards, as PostgreSQL casts text input, so a bad value costs only its
//! own row. A record with the wrong number of fields is refused alone.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::records::{Payloads, Reject, Rows, Stage};

/// What a CSV source's `FORMAT CSV (...)` options set.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub delimiter: u8,
    pub quote: u8,
    /// The text that means NULL (the empty field by default, as in COPY's CSV).
    pub null: String,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            quote: b'"',
            null: String::new(),
        }
    }
}

/// Decodes `data` (with its header line) into a batch of text columns named by the header.
/// Returns the framing error of a body without a readable header.
pub fn decode(data: Bytes, options: &CsvOptions) -> Result<Rows, String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .quote(options.quote)
        .has_headers(true)
        .flexible(true)
        .from_reader(&data[..]);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.iter().all(String::is_empty) {
        return Err("the CSV header names no fields".into());
    }
    let mut builders: Vec<StringBuilder> = header.iter().map(|_| StringBuilder::new()).collect();
    let mut ranges = Vec::new();
    let mut rejects = Vec::new();
    let mut record = ::csv::ByteRecord::new();
    let mut starts: Vec<(usize, Option<String>)> = Vec::new();
    loop {
        let at = reader.position().byte() as usize;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.len() == 1 && record[0].is_empty() => continue,
            Ok(true) if record.len() != header.len() => starts.push((
                at,
                Some(format!(
                    "line {}: expected {} fields, found {}",
                    record.position().map_or(0, |p| p.line()),
                    header.len(),
                    record.len()
                )),
            )),
            Ok(true) => {
                for (builder, value) in builders.iter_mut().zip(record.iter()) {
                    if value == options.null.as_bytes() {
                        builder.append_null();
                    } else {
                        builder.append_value(String::from_utf8_lossy(value));
                    }
                }
                starts.push((at, None));
            }
            Err(e) => starts.push((at, Some(format!("invalid CSV: {e}")))),
        }
    }
    let end = data.len();
    for (i, (start, problem)) in starts.iter().enumerate() {
        let stop = starts.get(i + 1).map_or(end, |n| n.0);
        let range = trim_line_end(&data, *start..stop);
        match problem {
            None => ranges.push(range),
            Some(error) => rejects.push(Reject {
                stage: Stage::Decode,
                field: None,
                error: error.clone(),
                payload: Some(String::from_utf8_lossy(&data[range]).into_owned()),
            }),
        }
    }
    let schema = Arc::new(Schema::new(
        header
            .iter()
            .map(|h| Field::new(h, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let columns: Vec<ArrayRef> = builders
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(schema, columns).map_err(|e| e.to_string())?;
    Ok(Rows {
        batch,
        payloads: Payloads::Ranges { data, rows: ranges },
        rejects,
    })
}

fn trim_line_end(data: &[u8], mut range: Range<usize>) -> Range<usize> {
    while range.end > range.start && matches!(data[range.end - 1], b'\n' | b'\r') {
        range.end -= 1;
    }
    range
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};

    #[test]
    fn ragged_records_are_refused_alone() {
        let data = Bytes::from_static(b"id,name\n1,a\n2\n3,\"c,\nd\"\n\n4,\n");
        let rows = decode(data, &CsvOptions::default()).unwrap();
        assert_eq!(rows.batch.num_rows(), 3);
        let names = rows.batch.column(1).as_string::<i32>();
        assert_eq!(names.value(1), "c,\nd");
        assert!(names.is_null(2));
        assert_eq!(rows.rejects.len(), 1);
        assert_eq!(rows.rejects[0].payload.as_deref(), Some("2"));
        assert_eq!(rows.payloads.render(1).as_deref(), Some("3,\"c,\nd\""));
    }
}

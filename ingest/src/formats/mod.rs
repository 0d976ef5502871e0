//! Data formats: bytes to Arrow batches and back, shared by `COPY` today and by `CREATE SOURCE`
//! tomorrow.
//!
//! Owns the decoding and encoding of each format, and errors that name what is at fault as
//! PostgreSQL does (`invalid input syntax for type bigint: "x" (COPY t, line 4, column id)`).
//! Does not own: which statement asked (the server parses `COPY`'s options into a
//! [`CopyFormat`]), where the rows go (storage), or the wire.
//!
//! # Layout
//! - [`csv`]: CSV through arrow-csv, with PostgreSQL's line and column in errors.
//! - [`pg_text`]: PostgreSQL's `text` COPY format (tab-separated, backslash escapes, `\N`).
//! - [`pg_binary`]: PostgreSQL's binary COPY format (input only).
//! - [`bytea`]: PostgreSQL's hex `bytea` input (`\x0a0b`), which INSERT uses too.
//! - [`timestamp_text`]: PostgreSQL's text form of a timestamp's fraction.
//! - [`copy_out`]: [`CopyEncoder`], `COPY ... TO STDOUT` rows in text or CSV.
//! - Source input: [`json_rows`] (arrays, NDJSON, objects; per-row errors by checking and
//!   bisection), [`csv_rows`] (a header, then text fields), [`parquet_rows`], and
//!   [`avro_rows`] (Avro datums of Kafka messages, plain or Confluent-framed), and
//!   [`source_format`], the `FORMAT` clause of a source.
//!
//! Invariant: a decoder either returns every row of its input or an error naming the first
//! bad line and field; it never drops a row silently.

pub mod avro_rows;
pub mod bytea;
pub mod copy_out;
pub mod csv;
pub mod csv_rows;
pub mod json_rows;
pub mod parquet_rows;
pub mod pg_binary;
pub mod pg_text;
pub mod source_format;
pub mod timestamp_text;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Field;
use oxbow_catalog::SqlType;

pub use copy_out::CopyEncoder;

use crate::error::FormatError;

/// Rows per decoded batch.
pub(crate) const BATCH_ROWS: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    Text,
    Csv,
    /// PostgreSQL's binary format ([`pg_binary`]); input only.
    Binary,
}

/// A delimited format and its options, as `COPY ... WITH (...)` sets them.
#[derive(Debug, Clone)]
pub struct CopyFormat {
    pub kind: CopyKind,
    pub delimiter: u8,
    pub null: String,
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
}

impl CopyFormat {
    /// PostgreSQL's defaults for `kind`: tab and `\N` for text, comma and the empty string for
    /// CSV, `"` as quote and escape.
    pub fn new(kind: CopyKind) -> Self {
        match kind {
            CopyKind::Text => Self {
                kind,
                delimiter: b'\t',
                null: pg_text::NULL_MARKER.into(),
                header: false,
                quote: b'"',
                escape: b'"',
            },
            CopyKind::Csv | CopyKind::Binary => Self {
                kind,
                delimiter: b',',
                null: String::new(),
                header: false,
                quote: b'"',
                escape: b'"',
            },
        }
    }
}

/// What a decoder needs to know of each target column.
pub struct TargetColumn {
    pub field: Field,
    /// The declared SQL type, for error messages (`bigint`, `timestamp with time zone`).
    pub pg_type: String,
    /// The declared type itself (the binary format differs between types of one Arrow type).
    pub sql_type: SqlType,
}

/// Decodes input in `format` into batches with the target columns' names and types. `table`
/// only names the target in error messages.
pub fn decode(
    data: &[u8],
    format: &CopyFormat,
    table: &str,
    columns: &[TargetColumn],
) -> Result<Vec<RecordBatch>, FormatError> {
    match format.kind {
        CopyKind::Binary => pg_binary::decode(data, table, columns),
        CopyKind::Csv => csv::decode(data, format, table, columns),
        CopyKind::Text => pg_text::decode(data, format, table, columns),
    }
}

#[cfg(test)]
mod fuzz;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Schema};

    use super::*;

    fn columns() -> Vec<TargetColumn> {
        vec![
            TargetColumn {
                field: Field::new("id", DataType::Int64, false),
                pg_type: "bigint".into(),
                sql_type: SqlType::BigInt,
            },
            TargetColumn {
                field: Field::new("name", DataType::Utf8, true),
                pg_type: "text".into(),
                sql_type: SqlType::Text,
            },
        ]
    }

    #[test]
    fn csv_with_header_decodes_and_nulls_are_empty_fields() {
        let mut format = CopyFormat::new(CopyKind::Csv);
        format.header = true;
        let batches = decode(b"id,name\n1,a\n2,\n3,\"x,y\"\n", &format, "t", &columns()).unwrap();
        let b = &batches[0];
        assert_eq!(b.num_rows(), 3);
        let names = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert!(names.is_null(1));
        assert_eq!(names.value(2), "x,y");
    }

    #[test]
    fn a_bad_value_names_its_line_and_column_like_postgres() {
        let mut format = CopyFormat::new(CopyKind::Csv);
        format.header = true;
        let err = decode(b"id,name\n1,a\n2,b\nx3,c\n", &format, "t", &columns()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("invalid input syntax for type bigint: \"x3\""),
            "{message}"
        );
        assert!(message.contains("line 4"), "{message}");
        assert!(message.contains("column id"), "{message}");
    }

    #[test]
    fn line_numbers_count_from_one_without_a_header() {
        let format = CopyFormat::new(CopyKind::Csv);
        let err = decode(b"x,a\n1,b\n", &format, "t", &columns()).unwrap_err();
        assert!(err.to_string().contains("line 1,"), "{err}");
        let err = decode(b"1,a\n2,b\n3\n", &format, "t", &columns()).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn text_format_unescapes_and_keeps_null_apart_from_empty() {
        let format = CopyFormat::new(CopyKind::Text);
        let batches = decode(b"1\ta\\tb\n2\t\\N\n3\t\n", &format, "t", &columns()).unwrap();
        let names = batches[0]
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(names.value(0), "a\tb");
        assert!(names.is_null(1));
    }

    #[test]
    fn text_format_reads_an_empty_line_as_an_empty_string() {
        let one = vec![TargetColumn {
            field: Field::new("s", DataType::Utf8, true),
            pg_type: "text".into(),
            sql_type: SqlType::Text,
        }];
        let format = CopyFormat::new(CopyKind::Text);
        let batches = decode(b"a\n\nb\n", &format, "t", &one).unwrap();
        let values = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(values.len(), 3, "the empty line is a row");
        assert_eq!(values.value(1), "");
        assert!(!values.is_null(1));
        let err = decode(b"1\ta\n\n", &format, "t", &columns()).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn text_output_escapes_and_marks_nulls() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a\tb"), None])),
            ],
        )
        .unwrap();
        let rows = CopyEncoder::new(CopyFormat::new(CopyKind::Text))
            .encode(&batch)
            .unwrap();
        assert_eq!(rows[0].as_ref(), b"1\ta\\tb\n");
        assert_eq!(rows[1].as_ref(), b"2\t\\N\n");
    }
}

//! CSV input through arrow-csv, which parses typed values and reports the line of a bad one;
//! its messages are rewritten in PostgreSQL's words, with the line and column. PostgreSQL's
//! text format is read here too, after [`super::pg_text`] rewrites it as CSV.

use std::io::Cursor;
use std::sync::{Arc, LazyLock};

use arrow_csv::ReaderBuilder;
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use regex::Regex;

use super::{BATCH_ROWS, CopyFormat, TargetColumn};
use crate::error::FormatError;

/// Decodes CSV in `format` (its delimiter, NULL string, header, quote and escape).
pub fn decode(
    data: &[u8],
    format: &CopyFormat,
    table: &str,
    columns: &[TargetColumn],
) -> Result<Vec<RecordBatch>, FormatError> {
    let options = Options {
        delimiter: format.delimiter,
        null: exact(&format.null),
        header: format.header,
        quote: Some((format.quote, format.escape)),
    };
    read(data, &options, table, columns)
}

/// How [`read`] splits and quotes its input.
pub(super) struct Options {
    pub delimiter: u8,
    /// Matches exactly the NULL marker.
    pub null: Regex,
    pub header: bool,
    /// The quote and escape bytes; `None` keeps arrow-csv's defaults (the text format's
    /// rewrite quotes every value with `"`).
    pub quote: Option<(u8, u8)>,
}

pub(super) fn read(
    csv: &[u8],
    options: &Options,
    table: &str,
    columns: &[TargetColumn],
) -> Result<Vec<RecordBatch>, FormatError> {
    let (delimiter, null_regex, header) = (options.delimiter, options.null.clone(), options.header);
    // arrow-csv has no bytea parser: read such columns as text and decode `\x..` afterwards.
    let read_schema: SchemaRef = Arc::new(Schema::new(
        columns
            .iter()
            .map(|c| match c.field.data_type() {
                DataType::Binary => Field::new(c.field.name(), DataType::Utf8, true),
                _ => c.field.clone().with_nullable(true),
            })
            .collect::<Vec<_>>(),
    ));
    let mut builder = ReaderBuilder::new(read_schema)
        .with_header(header)
        .with_delimiter(delimiter)
        .with_null_regex(null_regex)
        .with_batch_size(BATCH_ROWS);
    if let Some((quote, escape)) = options.quote {
        builder = builder.with_quote(quote);
        if escape != quote {
            builder = builder.with_escape(escape);
        }
    }
    let reader = builder
        .build(Cursor::new(csv))
        .map_err(|e| copy_error(&e.to_string(), table, columns))?;
    let out_schema: SchemaRef = Arc::new(Schema::new(
        columns.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
    ));
    let mut batches = Vec::new();
    let mut first_line = 1 + header as usize;
    for batch in reader {
        let batch = batch.map_err(|e| copy_error(&e.to_string(), table, columns))?;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            let array = batch.column(i);
            arrays.push(match column.field.data_type() {
                DataType::Binary => super::bytea::decode_column(array, first_line, table, column)?,
                _ => Arc::clone(array),
            });
        }
        first_line += batch.num_rows();
        batches.push(
            RecordBatch::try_new(Arc::clone(&out_schema), arrays).map_err(|e| {
                FormatError::InvalidText {
                    message: e.to_string(),
                }
            })?,
        );
    }
    Ok(batches)
}

/// A regex matching exactly `s` (the NULL marker).
pub(super) fn exact(s: &str) -> Regex {
    Regex::new(&format!("^{}$", regex::escape(s))).expect("an escaped literal is a valid regex")
}

static ARROW_PARSE_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?s)Error while parsing value '(.*)' as type '[^']*' for column (\d+) at line (\d+)",
    )
    .expect("valid regex")
});

static ARROW_FIELD_COUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"incorrect number of fields for line (\d+), expected (\d+) got (\d+)")
        .expect("valid regex")
});

/// Rewrites an arrow-csv error in PostgreSQL's words. arrow-csv numbers input lines from 0
/// (header included); PostgreSQL from 1.
fn copy_error(arrow_message: &str, table: &str, columns: &[TargetColumn]) -> FormatError {
    if let Some(c) = ARROW_PARSE_ERROR.captures(arrow_message) {
        let value = &c[1];
        let column: usize = c[2].parse().unwrap_or(0);
        let line = c[3].parse::<usize>().unwrap_or(0) + 1;
        let (name, pg_type) = columns
            .get(column)
            .map(|c| (c.field.name().as_str(), c.pg_type.as_str()))
            .unwrap_or(("?", "?"));
        return FormatError::InvalidText {
            message: format!(
                "invalid input syntax for type {pg_type}: \"{value}\" (COPY {table}, line {}, column {name})",
                line
            ),
        };
    }
    if let Some(c) = ARROW_FIELD_COUNT.captures(arrow_message) {
        // This message of arrow-csv (from csv-core) already counts from 1.
        let line = c[1].parse::<usize>().unwrap_or(0);
        let (expected, got): (usize, usize) =
            (c[2].parse().unwrap_or(0), c[3].parse().unwrap_or(0));
        let what = if got < expected {
            "missing data for a column"
        } else {
            "extra data after last expected column"
        };
        return FormatError::InvalidText {
            message: format!(
                "{what} (COPY {table}, line {line}: expected {expected} columns, got {got})"
            ),
        };
    }
    FormatError::InvalidText {
        message: format!("invalid COPY data for {table}: {arrow_message}"),
    }
}

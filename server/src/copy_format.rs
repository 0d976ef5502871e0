//! The data formats of `COPY`: PostgreSQL's `text` format and `csv`, decoded into Arrow
//! batches (`COPY ... FROM STDIN`) and encoded from them (`COPY ... TO STDOUT`).
//!
//! Decoding goes through arrow-csv, which parses typed values and reports the line of a bad
//! one; the `text` format is first rewritten as CSV (its escapes undone, NULL kept as an
//! unquoted marker). Errors are reported as PostgreSQL does: `invalid input syntax for type
//! bigint: "x"`, with the line and column.

use std::io::Cursor;
use std::sync::{Arc, LazyLock};

use arrow_csv::ReaderBuilder;
use bytes::Bytes;
use datafusion::arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::sql::sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption};
use regex::Regex;

use crate::error::ServerError;
use oxbow_catalog::SqlType;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 64 * 1024;

/// The NULL marker of the text format, kept unquoted when text is rewritten as CSV.
const TEXT_NULL: &str = "\\N";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    Text,
    Csv,
    /// PostgreSQL's binary format (`crate::copy_binary`); input only.
    Binary,
}

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
    fn new(kind: CopyKind) -> Self {
        match kind {
            CopyKind::Text => Self {
                kind,
                delimiter: b'\t',
                null: TEXT_NULL.into(),
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

    /// The format a `COPY` statement asks for, from both the `WITH (...)` options and the
    /// pre-9.0 syntax psql's `\copy ... CSV HEADER` still sends.
    pub fn from_options(
        options: &[CopyOption],
        legacy: &[CopyLegacyOption],
    ) -> Result<Self, ServerError> {
        let mut kind = CopyKind::Text;
        for option in options {
            if let CopyOption::Format(name) = option {
                kind = match name.value.to_ascii_lowercase().as_str() {
                    "text" => CopyKind::Text,
                    "csv" => CopyKind::Csv,
                    "binary" => CopyKind::Binary,
                    other => {
                        return Err(ServerError::Unsupported(format!("COPY format \"{other}\"")));
                    }
                };
            }
        }
        if legacy.iter().any(|o| matches!(o, CopyLegacyOption::Csv(_))) {
            kind = CopyKind::Csv;
        }
        let mut format = Self::new(kind);
        for option in options {
            match option {
                CopyOption::Format(_) => {}
                CopyOption::Delimiter(c) => format.delimiter = single_byte(*c, "DELIMITER")?,
                CopyOption::Null(s) => format.null = s.clone(),
                CopyOption::Header(h) => format.header = *h,
                CopyOption::Quote(c) => format.quote = single_byte(*c, "QUOTE")?,
                CopyOption::Escape(c) => format.escape = single_byte(*c, "ESCAPE")?,
                CopyOption::Encoding(e)
                    if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
                other => return Err(ServerError::Unsupported(format!("COPY option {other}"))),
            }
        }
        for option in legacy {
            match option {
                CopyLegacyOption::Delimiter(c) => format.delimiter = single_byte(*c, "DELIMITER")?,
                CopyLegacyOption::Null(s) => format.null = s.clone(),
                CopyLegacyOption::Header => format.header = true,
                CopyLegacyOption::Csv(csv) => {
                    for o in csv {
                        match o {
                            CopyLegacyCsvOption::Header => format.header = true,
                            CopyLegacyCsvOption::Quote(c) => {
                                format.quote = single_byte(*c, "QUOTE")?
                            }
                            CopyLegacyCsvOption::Escape(c) => {
                                format.escape = single_byte(*c, "ESCAPE")?
                            }
                            other => {
                                return Err(ServerError::Unsupported(format!(
                                    "COPY option {other}"
                                )));
                            }
                        }
                    }
                }
                CopyLegacyOption::Binary => format.kind = CopyKind::Binary,
                other => return Err(ServerError::Unsupported(format!("COPY option {other}"))),
            }
        }
        Ok(format)
    }
}

fn single_byte(c: char, option: &str) -> Result<u8, ServerError> {
    if c.is_ascii() {
        Ok(c as u8)
    } else {
        Err(ServerError::Unsupported(format!(
            "COPY {option} must be a single one-byte character"
        )))
    }
}

/// What `decode` needs to know of each target column.
pub struct TargetColumn {
    pub field: Field,
    /// The declared SQL type, for error messages (`bigint`, `timestamp with time zone`).
    pub pg_type: String,
    /// The declared type itself (the binary format differs between types of one Arrow type).
    pub sql_type: SqlType,
}

/// Decodes COPY input into batches with the target columns' names and types.
pub fn decode(
    data: &[u8],
    format: &CopyFormat,
    table: &str,
    columns: &[TargetColumn],
) -> Result<Vec<RecordBatch>, ServerError> {
    let rewritten;
    let (csv, delimiter, null_regex, header) = match format.kind {
        CopyKind::Binary => return crate::copy_binary::decode(data, table, columns),
        CopyKind::Csv => (data, format.delimiter, exact(&format.null), format.header),
        CopyKind::Text => {
            rewritten = text_to_csv(data, format)?;
            (rewritten.as_slice(), b',', exact(TEXT_NULL), format.header)
        }
    };
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
    if format.kind == CopyKind::Csv {
        builder = builder.with_quote(format.quote);
        if format.escape != format.quote {
            builder = builder.with_escape(format.escape);
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
                DataType::Binary => decode_bytea(array, first_line, table, column)?,
                _ => Arc::clone(array),
            });
        }
        first_line += batch.num_rows();
        batches.push(
            RecordBatch::try_new(Arc::clone(&out_schema), arrays).map_err(|e| {
                ServerError::InvalidCopyData {
                    message: e.to_string(),
                }
            })?,
        );
    }
    Ok(batches)
}

/// A regex matching exactly `s` (the NULL marker).
fn exact(s: &str) -> Regex {
    Regex::new(&format!("^{}$", regex::escape(s))).expect("an escaped literal is a valid regex")
}

fn decode_bytea(
    array: &ArrayRef,
    first_line: usize,
    table: &str,
    column: &TargetColumn,
) -> Result<ArrayRef, ServerError> {
    let strings = array
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("bytea columns are read as Utf8");
    let mut values = Vec::with_capacity(strings.len());
    for (row, value) in strings.iter().enumerate() {
        values.push(match value {
            None => None,
            Some(s) => Some(parse_bytea(s).ok_or_else(|| ServerError::InvalidCopyData {
                message: format!(
                    "invalid input syntax for type bytea: \"{s}\" (COPY {table}, line {}, column {})",
                    first_line + row,
                    column.field.name()
                ),
            })?),
        });
    }
    Ok(Arc::new(BinaryArray::from_iter(values)))
}

/// PostgreSQL's hex bytea input (`\x0a0b`); other text is taken as its bytes.
pub fn parse_bytea(s: &str) -> Option<Vec<u8>> {
    match s.strip_prefix("\\x") {
        Some(hex_digits) => hex::decode(hex_digits).ok(),
        None => Some(s.as_bytes().to_vec()),
    }
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
fn copy_error(arrow_message: &str, table: &str, columns: &[TargetColumn]) -> ServerError {
    if let Some(c) = ARROW_PARSE_ERROR.captures(arrow_message) {
        let value = &c[1];
        let column: usize = c[2].parse().unwrap_or(0);
        let line = c[3].parse::<usize>().unwrap_or(0) + 1;
        let (name, pg_type) = columns
            .get(column)
            .map(|c| (c.field.name().as_str(), c.pg_type.as_str()))
            .unwrap_or(("?", "?"));
        return ServerError::InvalidCopyData {
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
        return ServerError::InvalidCopyData {
            message: format!(
                "{what} (COPY {table}, line {line}: expected {expected} columns, got {got})"
            ),
        };
    }
    ServerError::InvalidCopyData {
        message: format!("invalid COPY data for {table}: {arrow_message}"),
    }
}

/// Rewrites `text`-format COPY data as CSV: every value quoted, the NULL marker unquoted.
fn text_to_csv(data: &[u8], format: &CopyFormat) -> Result<Vec<u8>, ServerError> {
    let text = std::str::from_utf8(data).map_err(|e| ServerError::InvalidCopyData {
        message: format!("invalid byte sequence for encoding \"UTF8\": {e}"),
    })?;
    let mut out = Vec::with_capacity(data.len() + data.len() / 4);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line == "\\." {
            break;
        }
        if line.is_empty() {
            continue;
        }
        for (i, field) in line.split(format.delimiter as char).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if field == format.null {
                out.extend_from_slice(TEXT_NULL.as_bytes());
                continue;
            }
            out.push(b'"');
            for c in unescape_text(field).chars() {
                if c == '"' {
                    out.push(b'"');
                }
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            out.push(b'"');
        }
        out.push(b'\n');
    }
    Ok(out)
}

/// Undoes the backslash escapes of the text format (`\t`, `\n`, `\\`, octal, `\x` hex).
fn unescape_text(field: &str) -> std::borrow::Cow<'_, str> {
    if !field.contains('\\') {
        return field.into();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 == bytes.len() {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let next = bytes[i + 1];
        i += 2;
        match next {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut value = (next - b'0') as u32;
                let mut digits = 1;
                while digits < 3 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                    value = value * 8 + (bytes[i] - b'0') as u32;
                    i += 1;
                    digits += 1;
                }
                out.push(value as u8);
            }
            b'x' if i < bytes.len() && bytes[i].is_ascii_hexdigit() => {
                let end = (i + 2).min(bytes.len());
                let hex_end = (i..end)
                    .take_while(|&j| bytes[j].is_ascii_hexdigit())
                    .last()
                    .unwrap_or(i)
                    + 1;
                let value = u8::from_str_radix(&field[i..hex_end], 16).unwrap_or(0);
                out.push(value);
                i = hex_end;
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned().into()
}

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

    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<Bytes>, ServerError> {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &self.options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(datafusion::error::DataFusionError::from)?;
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
                if !crate::result_columns::has_trailing_zero(text.as_bytes()) {
                    return text;
                }
                String::from_utf8(crate::result_columns::trim_fraction(text.as_bytes()))
                    .unwrap_or(text)
            }
            _ => formatter.value(row).to_string(),
        }
    }

    fn escape(&self, value: &str) -> String {
        let delimiter = self.format.delimiter as char;
        match self.format.kind {
            CopyKind::Text => {
                let mut out = String::with_capacity(value.len());
                for c in value.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' if delimiter == '\t' => out.push_str("\\t"),
                        c if c == delimiter => {
                            out.push('\\');
                            out.push(c);
                        }
                        c => out.push(c),
                    }
                }
                out
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;

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

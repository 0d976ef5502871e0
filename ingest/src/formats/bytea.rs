//! PostgreSQL's hex `bytea` input (`\x0a0b`), for COPY's text and CSV columns and for
//! INSERT literals.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BinaryArray, StringArray};

use super::TargetColumn;
use crate::error::FormatError;

/// PostgreSQL's hex bytea input (`\x0a0b`); other text is taken as its bytes.
pub fn parse_bytea(s: &str) -> Option<Vec<u8>> {
    match s.strip_prefix("\\x") {
        Some(hex_digits) => hex::decode(hex_digits).ok(),
        None => Some(s.as_bytes().to_vec()),
    }
}

/// A `bytea` column read as text (arrow-csv has no bytea parser) decoded into bytes;
/// `first_line` is the input line of its first row, for errors.
pub(super) fn decode_column(
    array: &ArrayRef,
    first_line: usize,
    table: &str,
    column: &TargetColumn,
) -> Result<ArrayRef, FormatError> {
    let strings = array
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("bytea columns are read as Utf8");
    let mut values = Vec::with_capacity(strings.len());
    for (row, value) in strings.iter().enumerate() {
        values.push(match value {
            None => None,
            Some(s) => Some(parse_bytea(s).ok_or_else(|| FormatError::InvalidText {
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

//! Row encoding where PostgreSQL's wire form differs from arrow-pg's: binary `jsonb` starts
//! with a version byte, text timestamps and intervals carry only the fraction digits that are
//! not zero (`oxbow_ingest::formats::timestamp_text`), and text floats are spelled as PostgreSQL spells
//! them (`2`, `1e+20`, `Infinity`: [`super::float_text`]). Rows that need no change pass
//! without a copy.

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::sql::sqlparser::ast::Statement;
use futures::StreamExt;
use oxbow_ingest::formats::timestamp_text::{has_trailing_zero, trim_fraction};
use pgwire::api::Type;
use pgwire::api::results::{FieldFormat, QueryResponse};
use pgwire::messages::data::DataRow;

use super::describe::describe;
use super::float_text;

/// Rewrites a query response's description, and its rows where the wire encoding differs from
/// arrow-pg's: binary `jsonb` starts with a version byte, and PostgreSQL writes timestamps in
/// text with only the fractional digits that are not zero (`03:04:05`, `03:04:05.5`, where
/// arrow-pg writes `03:04:05.000000` and `03:04:05.500000`).
pub fn adapt_response(
    response: QueryResponse,
    schema: &Schema,
    statement: Option<&Statement>,
) -> QueryResponse {
    let fields = describe(&response.row_schema, schema, statement);
    let rewrites: Vec<Option<ValueRewrite>> = fields
        .iter()
        .map(|f| match (f.datatype(), f.format()) {
            (&Type::JSONB, FieldFormat::Binary) => Some(ValueRewrite::JsonbVersion),
            (&Type::TIMESTAMP | &Type::TIMESTAMPTZ | &Type::INTERVAL, FieldFormat::Text) => {
                Some(ValueRewrite::TrimFraction)
            }
            (&Type::FLOAT4 | &Type::FLOAT8, FieldFormat::Text) => Some(ValueRewrite::FloatText),
            _ => None,
        })
        .collect();
    let command_tag = response.command_tag.clone();
    let rows = response.data_rows;
    let mut adapted = if rewrites.iter().all(Option::is_none) {
        QueryResponse::new(Arc::new(fields), rows)
    } else {
        QueryResponse::new(
            Arc::new(fields),
            rows.map(move |row| row.map(|row| rewrite_values(row, &rewrites))),
        )
    };
    adapted.command_tag = command_tag;
    adapted
}

/// How a column's values are rewritten on their way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueRewrite {
    /// Binary jsonb: the format version (1) before the text.
    JsonbVersion,
    /// Text timestamps: trailing zeros of the fraction dropped, and the point if none is left.
    TrimFraction,
    /// Text floats: PostgreSQL's spelling (`2` for `2.0`, `1e+20`, `Infinity`).
    FloatText,
}

/// `row` (each value an i32 length, -1 for NULL, then that many bytes) with the non-null
/// values of each column rewritten as `rewrites` says.
fn rewrite_values(row: DataRow, rewrites: &[Option<ValueRewrite>]) -> DataRow {
    if !needs_rewrite(&row, rewrites) {
        return row;
    }
    let data = &row.data;
    let mut out = bytes::BytesMut::with_capacity(data.len() + rewrites.len());
    let mut pos = 0;
    for column in 0..row.field_count as usize {
        let len = i32::from_be_bytes(data[pos..pos + 4].try_into().expect("length"));
        pos += 4;
        if len < 0 {
            out.extend_from_slice(&len.to_be_bytes());
            continue;
        }
        let value = &data[pos..pos + len as usize];
        pos += len as usize;
        match rewrites.get(column).copied().flatten() {
            Some(ValueRewrite::JsonbVersion) => {
                out.extend_from_slice(&(len + 1).to_be_bytes());
                out.extend_from_slice(&[1]);
                out.extend_from_slice(value);
            }
            Some(ValueRewrite::TrimFraction) => {
                let trimmed = trim_fraction(value);
                out.extend_from_slice(&(trimmed.len() as i32).to_be_bytes());
                out.extend_from_slice(&trimmed);
            }
            Some(ValueRewrite::FloatText) if float_text::needs_rewrite(value) => {
                let spelled = float_text::pg_float_text(value);
                out.extend_from_slice(&(spelled.len() as i32).to_be_bytes());
                out.extend_from_slice(&spelled);
            }
            _ => {
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(value);
            }
        }
    }
    DataRow::new(out, row.field_count)
}

/// Whether any value of `row` changes under `rewrites` (most rows of timestamps with
/// microseconds do not, and are passed on without a copy).
fn needs_rewrite(row: &DataRow, rewrites: &[Option<ValueRewrite>]) -> bool {
    let data = &row.data;
    let mut pos = 0;
    for column in 0..row.field_count as usize {
        let len = i32::from_be_bytes(data[pos..pos + 4].try_into().expect("length"));
        pos += 4;
        if len < 0 {
            continue;
        }
        let value = &data[pos..pos + len as usize];
        pos += len as usize;
        match rewrites.get(column).copied().flatten() {
            Some(ValueRewrite::JsonbVersion) => return true,
            Some(ValueRewrite::TrimFraction) if has_trailing_zero(value) => return true,
            Some(ValueRewrite::FloatText) if float_text::needs_rewrite(value) => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_jsonb_values_get_the_version_byte() {
        let mut data = bytes::BytesMut::new();
        data.extend_from_slice(&2i32.to_be_bytes());
        data.extend_from_slice(b"{}");
        data.extend_from_slice(&(-1i32).to_be_bytes());
        data.extend_from_slice(&1i32.to_be_bytes());
        data.extend_from_slice(b"x");
        let jsonb = Some(ValueRewrite::JsonbVersion);
        let row = rewrite_values(DataRow::new(data, 3), &[jsonb, jsonb, None]);
        let mut expected = bytes::BytesMut::new();
        expected.extend_from_slice(&3i32.to_be_bytes());
        expected.extend_from_slice(b"\x01{}");
        expected.extend_from_slice(&(-1i32).to_be_bytes());
        expected.extend_from_slice(&1i32.to_be_bytes());
        expected.extend_from_slice(b"x");
        assert_eq!(row.data, expected);
    }
}

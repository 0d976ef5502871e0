//! `schema_mode = 'evolve'`: a field the table lacks becomes a new nullable column of the
//! table (in both tiers, through `ALTER TABLE ... ADD COLUMN`'s path) instead of sending its
//! rows to dead letters.
//!
//! The type of a new column is inferred from the rows that carry the field:
//! - JSON: a number without a fraction is `bigint`, with one `double precision`; `true`/`false`
//!   is `boolean`; a string, an object or an array is `text` (objects and arrays as their
//!   JSON). A field whose rows disagree (a number in one, a string in another) is `text`.
//! - Typed input (CSV headers, Parquet, a transform's output): the column's Arrow type, as
//!   `CREATE TABLE AS` would take it, `text` when Oxbow cannot store it.
//!
//! Columns are only ever added, never widened or dropped: a value that does not fit an
//! existing column is a validation error for its row as in the other modes. If the table
//! cannot take the column (a name over 63 bytes), the rows go to dead letters with the reason,
//! and the source goes on.

use datafusion::arrow::datatypes::{DataType, Schema};
use oxbow_catalog::types::SqlType;
use oxbow_catalog::{ColumnDef, TableDef};

use crate::formats::json_rows;
use crate::records::Reject;

/// The prefix of the error `json_rows` gives a row with a field the table lacks.
const UNKNOWN_FIELD: &str = "unknown field";

/// Whether `reject` is a JSON row refused only for a field the table does not have.
pub fn is_unknown_field(reject: &Reject) -> bool {
    reject.field.is_some() && reject.error.starts_with(UNKNOWN_FIELD)
}

/// The columns to add for the JSON rows that `rejects` refused for an unknown field: every
/// field of those rows the table lacks (not only the first one each row was refused for).
pub fn json_columns(rejects: &[Reject], def: &TableDef) -> Vec<ColumnDef> {
    let mut text = Vec::new();
    let mut ranges = Vec::new();
    for reject in rejects.iter().filter(|r| is_unknown_field(r)) {
        if let Some(payload) = &reject.payload {
            let start = text.len();
            text.extend_from_slice(payload.as_bytes());
            ranges.push(start..text.len());
            text.push(b'\n');
        }
    }
    if ranges.is_empty() {
        return Vec::new();
    }
    // `infer_schema` reads up to 1000 rows: a field only in later ones is added by the next
    // round (the rows are decoded again after each addition until no field is new).
    new_columns(&json_rows::infer_schema(&text, &ranges), def)
}

/// The columns of `schema` (typed input) that the table lacks.
pub fn typed_columns(schema: &Schema, def: &TableDef) -> Vec<ColumnDef> {
    new_columns(schema, def)
}

fn new_columns(schema: &Schema, def: &TableDef) -> Vec<ColumnDef> {
    schema
        .fields()
        .iter()
        .filter(|f| !def.columns.iter().any(|c| &c.name == f.name()))
        .map(|f| ColumnDef {
            name: f.name().clone(),
            sql_type: match f.data_type() {
                DataType::Null => SqlType::Text,
                other => SqlType::from_arrow(other).unwrap_or(SqlType::Text),
            },
            nullable: true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use oxbow_catalog::{ObjectName, TableOptions};

    use super::*;
    use crate::records::Stage;

    fn def() -> TableDef {
        TableDef {
            id: "t".into(),
            name: ObjectName::new("public", "t"),
            columns: vec![ColumnDef {
                name: "id".into(),
                sql_type: SqlType::BigInt,
                nullable: true,
            }],
            location: "tables/t".into(),
            options: TableOptions::default(),
            primary_key: Vec::new(),
        }
    }

    fn unknown(payload: &str, field: &str) -> Reject {
        Reject {
            stage: Stage::Validate,
            field: Some(field.into()),
            error: format!("unknown field \"{field}\": the table has no such column"),
            payload: Some(payload.into()),
        }
    }

    #[test]
    fn every_new_field_of_the_refused_rows_gets_an_inferred_type() {
        let rejects = vec![
            unknown(r#"{"id": 1, "score": 2.5, "ok": true}"#, "score"),
            unknown(r#"{"id": 2, "n": 7, "tag": "x", "meta": {"a": 1}}"#, "n"),
        ];
        let mut columns: Vec<(String, SqlType)> = json_columns(&rejects, &def())
            .into_iter()
            .map(|c| (c.name, c.sql_type))
            .collect();
        columns.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            columns,
            vec![
                ("meta".into(), SqlType::Text),
                ("n".into(), SqlType::BigInt),
                ("ok".into(), SqlType::Boolean),
                ("score".into(), SqlType::DoublePrecision),
                ("tag".into(), SqlType::Text),
            ]
        );
    }

    #[test]
    fn other_rejects_add_nothing() {
        let bad = Reject {
            stage: Stage::Decode,
            field: None,
            error: "invalid JSON".into(),
            payload: Some(r#"{"new": 1"#.into()),
        };
        assert!(json_columns(&[bad], &def()).is_empty());
    }
}

//! Validate: rows of any shape become rows of the table. Each column of the table is taken
//! from the input field of the same name and cast to the column's type the way PostgreSQL
//! casts text input; a value that does not cast refuses its row only, naming the field. The
//! event-time column gets its own reading ([`super::event_time`]). Missing fields are NULL,
//! and then the table's constraints (NOT NULL, `varchar(n)`, JSON) are checked per row.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use oxbow_catalog::TableDef;
use oxbow_storage::write::constraints::row_violations;

use super::event_time::{self, TimeFormat};
use crate::records::{Rows, Stage};

/// Turns `rows.batch` into a batch of the table `def` (its schema, in its column order),
/// moving every row that cannot be into `rows.rejects`. `time_column` is the column read as
/// event time; `arrival_us` is the arrival time that rows without an event time get.
pub fn to_table(
    rows: &mut Rows,
    def: &TableDef,
    time_column: Option<&str>,
    time_format: TimeFormat,
    arrival_us: i64,
) {
    let schema = Arc::new(def.arrow_schema());
    let input = &rows.batch;
    let n = input.num_rows();
    let mut bad: Vec<(usize, Option<String>, String)> = Vec::new();
    let mut time_bad: Vec<(usize, Option<String>, String)> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(def.columns.len());
    for (column, field) in def.columns.iter().zip(schema.fields()) {
        let target = field.data_type();
        let is_time = time_column == Some(column.name.as_str());
        let Some(source) = input.column_by_name(&column.name) else {
            if is_time {
                columns.push(event_time::arrival_column(n, arrival_us, target));
            } else {
                columns.push(new_null_array(target, n));
            }
            continue;
        };
        if is_time && matches!(target, DataType::Timestamp(..)) {
            let (array, failures) = event_time::read(source, target, time_format, arrival_us);
            for (row, error) in failures {
                time_bad.push((row, Some(column.name.clone()), error));
            }
            columns.push(array);
            continue;
        }
        if source.data_type() == target {
            columns.push(Arc::clone(source));
            continue;
        }
        let cast = cast_with_options(source, target, &CastOptions::default());
        let array = match cast {
            Ok(array) => array,
            Err(e) => {
                for row in 0..n {
                    bad.push((row, Some(column.name.clone()), e.to_string()));
                }
                columns.push(new_null_array(target, n));
                continue;
            }
        };
        if array.null_count() > source.null_count() {
            let text = ArrayFormatter::try_new(source.as_ref(), &FormatOptions::default()).ok();
            for row in 0..n {
                if source.is_valid(row) && array.is_null(row) {
                    let value = text
                        .as_ref()
                        .map(|t| t.value(row).to_string())
                        .unwrap_or_default();
                    bad.push((
                        row,
                        Some(column.name.clone()),
                        format!(
                            "invalid input syntax for type {}: \"{value}\" (field {})",
                            column.sql_type.pg_name(),
                            column.name
                        ),
                    ));
                }
            }
        }
        columns.push(array);
    }
    // NULLs are allowed until the NOT NULL check has refused their rows.
    let loose = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));
    rows.batch = RecordBatch::try_new(loose, columns)
        .expect("every column was built with its field's type and the input's length");
    // One stage per row: its first problem, value errors before event time.
    let value_rows: std::collections::HashSet<usize> = bad.iter().map(|b| b.0).collect();
    time_bad.retain(|b| !value_rows.contains(&b.0));
    let mut all: Vec<(usize, Stage, Option<String>, String)> = bad
        .into_iter()
        .map(|(r, f, e)| (r, Stage::Validate, f, e))
        .chain(
            time_bad
                .into_iter()
                .map(|(r, f, e)| (r, Stage::EventTime, f, e)),
        )
        .collect();
    let taken: std::collections::HashSet<usize> = all.iter().map(|b| b.0).collect();
    for v in row_violations(def, &rows.batch) {
        if !taken.contains(&v.row) {
            all.push((v.row, Stage::Validate, Some(v.column), v.reason));
        }
    }
    // Refusing changes row numbers: all rows are refused at once, from the original numbers.
    refuse_mixed(rows, all);
    rows.batch = RecordBatch::try_new(schema, rows.batch.columns().to_vec())
        .expect("the rows left hold no NULL in a NOT NULL column");
}

/// Refuses rows with their own stages in one pass (row numbers refer to the batch before).
fn refuse_mixed(rows: &mut Rows, mut all: Vec<(usize, Stage, Option<String>, String)>) {
    if all.is_empty() {
        return;
    }
    all.sort_by_key(|b| b.0);
    all.dedup_by_key(|b| b.0);
    let before = rows.rejects.len();
    let list: Vec<(usize, Option<String>, String)> = all
        .iter()
        .map(|(r, _, f, e)| (*r, f.clone(), e.clone()))
        .collect();
    rows.refuse(Stage::Validate, list);
    for (reject, (_, stage, _, _)) in rows.rejects[before..].iter_mut().zip(&all) {
        reject.stage = *stage;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Payloads;
    use datafusion::arrow::array::{AsArray, StringArray};
    use datafusion::arrow::datatypes::{Field, Int64Type, TimestampMicrosecondType};
    use oxbow_catalog::types::SqlType;
    use oxbow_catalog::{ColumnDef, ObjectName, TableOptions};

    fn def() -> TableDef {
        let col = |name: &str, sql_type, nullable| ColumnDef {
            name: name.into(),
            sql_type,
            nullable,
        };
        TableDef {
            id: "t".into(),
            name: ObjectName::new("public", "t"),
            columns: vec![
                col("id", SqlType::BigInt, false),
                col("code", SqlType::Varchar { max_len: Some(2) }, true),
                col("ts", SqlType::TimestampTz, false),
            ],
            location: "tables/t".into(),
            options: TableOptions {
                time_column: Some("ts".into()),
                ..TableOptions::default()
            },
            primary_key: Vec::new(),
        }
    }

    #[test]
    fn each_bad_value_refuses_its_row_and_names_its_field() {
        let text = |v: Vec<Option<&str>>| Arc::new(StringArray::from(v)) as ArrayRef;
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Utf8, true),
                Field::new("code", DataType::Utf8, true),
                Field::new("ts", DataType::Utf8, true),
            ])),
            vec![
                text(vec![
                    Some("1"),
                    Some("x"),
                    None,
                    Some("4"),
                    Some("5"),
                    Some("6"),
                ]),
                text(vec![Some("ab"), None, None, Some("abc"), None, None]),
                text(vec![
                    Some("2026-01-01T00:00:00Z"),
                    None,
                    None,
                    None,
                    Some("yesterday"),
                    Some("1767225600000"),
                ]),
            ],
        )
        .unwrap();
        let mut rows = Rows {
            payloads: Payloads::Typed(batch.clone()),
            batch,
            rejects: Vec::new(),
        };
        to_table(&mut rows, &def(), Some("ts"), TimeFormat::Auto, 42);
        let ids = rows.batch.column(0).as_primitive::<Int64Type>();
        assert_eq!(ids.values().to_vec(), vec![1, 6]);
        let ts = rows
            .batch
            .column(2)
            .as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 1_767_225_600_000_000);
        assert_eq!(
            ts.value(1),
            1_767_225_600_000_000,
            "epoch milliseconds detected"
        );
        let fields: Vec<_> = rows
            .rejects
            .iter()
            .map(|r| (r.stage, r.field.clone().unwrap()))
            .collect();
        assert_eq!(
            fields,
            vec![
                (Stage::Validate, "id".to_string()),
                (Stage::Validate, "id".to_string()),
                (Stage::Validate, "code".to_string()),
                (Stage::EventTime, "ts".to_string()),
            ]
        );
        assert!(
            rows.rejects[0].error.contains("\"x\""),
            "{:?}",
            rows.rejects[0]
        );
    }
}

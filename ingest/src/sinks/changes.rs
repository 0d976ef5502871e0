//! What a sink emits for a table's WAL transactions.
//!
//! - An unkeyed table's rows are emitted as they were written (INSERT, COPY, sources). Its
//!   `UPDATE`, `DELETE` and `TRUNCATE` rewrite Delta files and write no WAL record, so they
//!   are **not** emitted.
//! - A keyed table (`PRIMARY KEY`) gets an `op` column: `upsert` for every row written
//!   (INSERT, `ON CONFLICT`, UPDATE), `delete` for every deleted key, with the key columns set
//!   and the other columns null. (A keyed table's `TRUNCATE` is not emitted either.)
//!
//! Rows are conformed to the table's current columns by name: a batch written before an
//! `ADD COLUMN` gets nulls there.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, new_null_array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use oxbow_storage::keyed::change::is_delete;

use crate::error::IngestError;

/// The name of the change column of a keyed table's sink.
pub const OP_COLUMN: &str = "op";

/// Turns a table's WAL batches into the batches a sink emits.
#[derive(Debug, Clone)]
pub struct ChangeShape {
    schema: SchemaRef,
    keyed: bool,
}

impl ChangeShape {
    /// The shape for a table of `table_schema`, keyed if `keyed`.
    pub fn new(table_schema: &Schema, keyed: bool) -> Self {
        let mut fields: Vec<Field> = table_schema
            .fields()
            .iter()
            .map(|f| {
                Field::new(
                    f.name(),
                    f.data_type().clone(),
                    // A delete carries only the key.
                    f.is_nullable() || keyed,
                )
            })
            .collect();
        if keyed {
            fields.push(Field::new(OP_COLUMN, DataType::Utf8, false));
        }
        Self {
            schema: Arc::new(Schema::new(fields)),
            keyed,
        }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The emitted form of `batch`, one of the table's WAL batches.
    pub fn convert(&self, batch: &RecordBatch) -> Result<RecordBatch, IngestError> {
        let rows = batch.num_rows();
        let delete = self.keyed && is_delete(batch);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for field in self.schema.fields() {
            if self.keyed && field.name() == OP_COLUMN {
                let op = if delete { "delete" } else { "upsert" };
                columns.push(Arc::new(StringArray::from_iter_values(
                    std::iter::repeat_n(op, rows),
                )));
                continue;
            }
            let column = match batch.schema_ref().index_of(field.name()) {
                Ok(i) if batch.column(i).data_type() == field.data_type() => {
                    Arc::clone(batch.column(i))
                }
                Ok(i) => cast(batch.column(i), field.data_type())?,
                Err(_) => new_null_array(field.data_type(), rows),
            };
            columns.push(column);
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use datafusion::arrow::array::{AsArray, Int64Array};

    use super::*;

    #[test]
    fn keyed_deletes_carry_the_key_and_op() {
        let table = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("v", DataType::Utf8, true),
        ]);
        let shape = ChangeShape::new(&table, true);
        let upsert = RecordBatch::try_new(
            Arc::new(table.clone()),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec!["a", "b"])),
            ],
        )
        .unwrap();
        let out = shape.convert(&upsert).unwrap();
        assert_eq!(out.column(2).as_string::<i32>().value(1), "upsert");
        let key_schema = Schema::new_with_metadata(
            vec![Field::new("id", DataType::Int64, false)],
            HashMap::from([(
                oxbow_storage::keyed::change::DELETE_MARK.to_string(),
                "true".to_string(),
            )]),
        );
        let delete = RecordBatch::try_new(
            Arc::new(key_schema),
            vec![Arc::new(Int64Array::from(vec![2]))],
        )
        .unwrap();
        let out = shape.convert(&delete).unwrap();
        assert_eq!(out.num_rows(), 1);
        assert!(out.column(1).is_null(0));
        assert_eq!(out.column(2).as_string::<i32>().value(0), "delete");
        // Unkeyed: no op column, rows as written.
        let plain = ChangeShape::new(&table, false);
        assert_eq!(plain.convert(&upsert).unwrap().num_columns(), 2);
    }
}

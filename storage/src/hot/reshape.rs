//! [`fit`]: gives a batch written under an older schema of its table the table's current
//! schema, matching columns by name and filling the columns added since with NULL.
//!
//! `ALTER TABLE ... ADD COLUMN` (and `schema_mode = 'evolve'`) change a table's schema while
//! rows written under the old one are still hot, in the WAL, or held by a transaction block.
//! Those batches are never rewritten in the WAL: they are fitted when they reach the hot tier
//! (at write time and at replay) and when a scan reads them, so every reader sees one schema.

use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions, new_null_array};
use arrow::datatypes::SchemaRef;

use crate::{Error, Result};

/// `batch` with exactly the columns of `schema`, in its order: each column taken from the
/// batch column of the same name (cast where the type differs), NULL where the batch has none.
/// A batch that already has the schema's columns is relabelled, not copied. A batch column
/// the schema lacks is an error: columns are only ever added.
pub fn fit(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let same = batch.num_columns() == schema.fields().len()
        && batch
            .schema()
            .fields()
            .iter()
            .zip(schema.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if same {
        return batch
            .clone()
            .with_schema(Arc::clone(schema))
            .map_err(|e| Error::DataFusion(e.into()));
    }
    let batch_schema = batch.schema();
    if let Some(extra) = batch_schema
        .fields()
        .iter()
        .find(|f| schema.field_with_name(f.name()).is_err())
    {
        return Err(Error::DataFusion(datafusion::error::DataFusionError::Plan(
            format!(
                "a hot batch has column \"{}\", which the table no longer has",
                extra.name()
            ),
        )));
    }
    let rows = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch_schema.index_of(field.name()) {
            Ok(i) if batch.column(i).data_type() == field.data_type() => {
                Ok(Arc::clone(batch.column(i)))
            }
            Ok(i) => arrow::compute::cast(batch.column(i), field.data_type())
                .map_err(|e| Error::DataFusion(e.into())),
            Err(_) => Ok(new_null_array(field.data_type(), rows)),
        })
        .collect::<Result<Vec<_>>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
        .map_err(|e| Error::DataFusion(e.into()))
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Int32Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn an_old_batch_gets_the_added_columns_as_nulls() {
        let old = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true)]));
        let new = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let batch =
            RecordBatch::try_new(old, vec![Arc::new(Int32Array::from(vec![1, 2]))]).unwrap();
        let fitted = fit(&batch, &new).unwrap();
        assert_eq!(fitted.schema(), new);
        assert_eq!(fitted.column(1).null_count(), 2);
        assert_eq!(fitted.column(0).len(), 2);
        // Already fitted: unchanged.
        let again = fit(&fitted, &new).unwrap();
        assert_eq!(again.column(1).null_count(), 2);
    }

    #[test]
    fn a_column_the_table_lacks_is_an_error() {
        let wide = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let narrow = Arc::new(Schema::new(vec![Field::new("a", DataType::Int32, true)]));
        let batch = RecordBatch::try_new(
            wide,
            vec![
                Arc::new(Int32Array::from(vec![1])),
                Arc::new(StringArray::from(vec!["x"])),
            ],
        )
        .unwrap();
        assert!(fit(&batch, &narrow).is_err());
    }
}

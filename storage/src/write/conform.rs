//! [`conform_batch`]: gives a batch exactly a table's schema, so that the hot tier holds only
//! batches a scan can union with the Delta tier's.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::cast;
use arrow::datatypes::SchemaRef;

use crate::{Error, Result};

/// Gives `batch` exactly `schema`: same column count, each column cast to its field's type
/// where it differs, and the schema's field names and metadata. DataFusion may hand a
/// statement's rows over with other but compatible types (`Utf8` for `Utf8View`, a
/// parameter's `Int64` for `Int32`). Columns are matched by position, not by name.
pub fn conform_batch(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.num_columns() != schema.fields().len() {
        return Err(Error::DataFusion(datafusion::error::DataFusionError::Plan(
            format!(
                "expected {} columns, got {}",
                schema.fields().len(),
                batch.num_columns()
            ),
        )));
    }
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (column, field) in batch.columns().iter().zip(schema.fields()) {
        columns.push(if column.data_type() == field.data_type() {
            Arc::clone(column)
        } else {
            cast(column, field.data_type()).map_err(|e| Error::DataFusion(e.into()))?
        });
    }
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| Error::DataFusion(e.into()))
}

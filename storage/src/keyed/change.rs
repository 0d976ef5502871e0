//! How a delete travels through the WAL: a batch of the key columns whose schema metadata
//! carries [`DELETE_MARK`]. Arrow IPC keeps schema metadata, so replay reads it back as it
//! was written; batches without the mark are upserts.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::Schema;

use super::KeyCodec;
use crate::{Error, Result};

/// The schema metadata key that makes a batch of a keyed table a batch of deleted keys.
pub const DELETE_MARK: &str = "oxbow.keyed.delete";

/// A batch deleting the keys in `columns` (the key columns, in key order).
pub fn delete_batch(codec: &KeyCodec, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    let schema = codec.key_schema().as_ref().clone();
    let schema = Schema::new_with_metadata(
        schema.fields().clone(),
        HashMap::from([(DELETE_MARK.to_string(), "true".to_string())]),
    );
    RecordBatch::try_new(Arc::new(schema), columns).map_err(|e| Error::DataFusion(e.into()))
}

/// Whether `batch` deletes keys rather than upserting rows.
pub fn is_delete(batch: &RecordBatch) -> bool {
    batch.schema_ref().metadata().contains_key(DELETE_MARK)
}

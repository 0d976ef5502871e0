//! The write path of a keyed table: conflicts are decided under the table's key lock, and the
//! resulting changes (upserted rows, deleted keys) are logged as one WAL transaction before
//! the lock is released, so two writers can never both find a key free.

use std::sync::Arc;

use arrow::array::RecordBatch;
use tracing::instrument;

use crate::keyed::OnConflict;
use crate::table::KeyGuard;
use crate::{Appender, Result, Table};

impl Appender {
    /// Writes one statement's rows to a keyed table with `on_conflict` deciding rows whose
    /// key exists (or repeats in the statement). Returns the number of rows written once they
    /// are durable and visible.
    #[instrument(skip_all, fields(table = %table.def().name))]
    pub async fn write_keyed(
        &self,
        table: &Arc<Table>,
        batches: Vec<RecordBatch>,
        on_conflict: OnConflict,
    ) -> Result<u64> {
        let Some(batches) = Self::prepare(table, batches)? else {
            return Ok(0);
        };
        let guard = table.lock_keys().await;
        let batches = table.resolve(&guard, batches, on_conflict)?;
        self.write_changes(&guard, table, Vec::new(), batches).await
    }

    /// Logs deleted keys (batches made by [`crate::keyed::change::delete_batch`]) and then
    /// upserted rows (prepared, conflicts decided) of a keyed table as one WAL transaction,
    /// under the key lock the caller holds. Returns the number of upserted plus deleted rows.
    pub async fn write_changes(
        &self,
        _guard: &KeyGuard<'_>,
        table: &Table,
        deletes: Vec<RecordBatch>,
        upserts: Vec<RecordBatch>,
    ) -> Result<u64> {
        let batches: Vec<RecordBatch> = deletes
            .into_iter()
            .chain(upserts)
            .filter(|b| b.num_rows() > 0)
            .collect();
        self.write(table, batches).await
    }
}

/// The conflict rule of a plain write (INSERT, COPY, a source) to `table`.
pub fn default_on_conflict(table: &Table) -> OnConflict {
    if table.def().options.upsert {
        OnConflict::Replace
    } else {
        OnConflict::Error
    }
}

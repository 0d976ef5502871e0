//! The exactly-once handoff: hot rows move into Delta in one commit that records, as the
//! table's `txn` version, the highest WAL sequence number they hold.
//!
//! The order is what makes it exactly once. Seal the hot batches (later rows start new
//! batches), write and commit them with the `txn`, make the commit durable, and only then,
//! under the state lock that scans read through, install the new Delta state and drop the
//! batches. A scan before the swap sees the rows hot; after it, in Delta; never both.
//!
//! Trap: the new Delta state is installed only when the commit returns `Ok`. A commit that
//! lands and still returns `Err` (a failed post-commit checkpoint or `sync_commit`, or a
//! dropped future) leaves a stale handle, and every later flush of the table conflicts with
//! the version already written (review D4).

use std::time::Instant;

use arrow::array::RecordBatch;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use tracing::{info, instrument};

use super::Table;
use crate::lake::sync_commit;
use crate::{Error, Result};

impl Table {
    /// Moves every hot row into Delta in one commit that also records, as the table's `txn`
    /// version, the highest sequence number it holds. Returns that number, or `None` if there
    /// was nothing to flush.
    #[instrument(skip_all, fields(table = %self.def.name))]
    pub async fn flush(&self) -> Result<Option<u64>> {
        let _guard = self.write_lock.lock().await;
        self.flush_locked().await
    }

    /// [`Table::flush`] for a caller that already holds `write_lock`. A dropped table has
    /// nothing to flush: its directory is being (or has been) deleted.
    pub(super) async fn flush_locked(&self) -> Result<Option<u64>> {
        if self.is_dropped() {
            return Ok(None);
        }
        let (delta, taken) = {
            let mut state = self.state.write().expect("table state lock");
            (state.delta.clone(), state.hot.seal())
        };
        let Some(through) = taken.last().map(|b| b.last_seq) else {
            return Ok(None);
        };
        let rows: usize = taken.iter().map(|b| b.batch.num_rows()).sum();
        let batches: Vec<RecordBatch> = taken.iter().map(|b| b.batch.clone()).collect();
        let started = Instant::now();
        let commit = CommitProperties::default()
            .with_application_transaction(Transaction::new(&self.def.id, through as i64));
        let delta = delta
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .with_commit_properties(commit)
            .await
            .map_err(|e| Error::delta(&self.def.name, e))?;
        sync_commit(&delta).await?;
        {
            let mut state = self.state.write().expect("table state lock");
            state.delta = delta;
            state.flushed_seq = through;
            state.hot.drop_through(through);
        }
        info!(
            rows,
            through,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "flushed hot rows to Delta"
        );
        Ok(Some(through))
    }
}

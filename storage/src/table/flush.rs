//! The exactly-once handoff: hot rows move into Delta in one commit that records, as the
//! table's `txn` version, the highest WAL sequence number they hold.
//!
//! The order is what makes it exactly once. Seal the hot batches (later rows start new
//! batches), write and commit them with the `txn`, make the commit durable, and only then,
//! under the state lock that scans read through, install the new Delta state and drop the
//! batches. A scan before the swap sees the rows hot; after it, in Delta; never both.
//!
//! A commit can land and still return `Err` (a failed post-commit checkpoint, an error while
//! syncing it). So after any error past the write the log is reloaded and the table's `txn`
//! version decides: at or above the flush's `through`, the flush is committed (the reloaded
//! state is installed and the batches dropped); below it, the rows stay hot and the error is
//! returned. Retrying blindly would commit the same rows against a log that already has them
//! (review D4).
//!
//! A table may compact what it hands over ([`super::FlushCompactor`]: a materialized view's
//! state merges its partial rows per group); the `txn` is the same, so the handoff is too.
//!
//! On a local lake, the Parquet files of a flush that did not land are deleted again; on an
//! object store they are left (deltalake does not report which files a failed write made, and
//! a put that timed out may still land), for `VACUUM FULL` to remove.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use arrow::array::RecordBatch;
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use tracing::{info, instrument, warn};

use super::{Table, run_detached};
use crate::{Error, Result};

impl Table {
    /// Moves every hot row into Delta in one commit that also records, as the table's `txn`
    /// version, the highest sequence number it holds. Returns that number, or `None` if there
    /// was nothing to flush. Once it returns `Ok`, the commit is durable.
    #[instrument(skip_all, fields(table = %self.def().name))]
    pub async fn flush(self: &Arc<Self>) -> Result<Option<u64>> {
        let table = Arc::clone(self);
        run_detached("flush", async move {
            let _guard = table.write_lock.lock().await;
            table.flush_locked().await
        })
        .await
    }

    /// [`Table::flush`] for a caller that already holds `write_lock`. A dropped table has
    /// nothing to flush: its directory is being (or has been) deleted.
    pub(super) async fn flush_locked(&self) -> Result<Option<u64>> {
        if self.is_dropped() {
            return Ok(None);
        }
        if self.is_keyed() {
            return self.flush_keyed_locked().await;
        }
        let (delta, taken) = {
            let mut state = self.state.write().expect("table state lock");
            (state.delta.clone(), state.hot.seal())
        };
        let Some(through) = taken.last().map(|b| b.last_seq) else {
            return Ok(None);
        };
        let rows: usize = taken.iter().map(|b| b.batch.num_rows()).sum();
        let mut batches: Vec<RecordBatch> = taken.iter().map(|b| b.batch.clone()).collect();
        let compactor = self.compactor.read().expect("compactor lock").clone();
        if let Some(compactor) = compactor {
            batches = compactor.compact(batches).await?;
        }
        let started = Instant::now();
        let started_at = SystemTime::now();
        let commit = CommitProperties::default()
            .with_application_transaction(Transaction::new(&self.def().id, through as i64));
        let written = delta
            .clone()
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .with_commit_properties(commit)
            .await
            .map_err(|e| Error::delta(&self.def().name, e));
        let error = match written {
            Ok(new) => match self.sync(&new).await {
                Ok(()) => {
                    let mut state = self.state.write().expect("table state lock");
                    state.delta = new;
                    state.flushed_seq = through;
                    state.hot.drop_through(through);
                    drop(state);
                    info!(
                        rows,
                        through,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "flushed hot rows to Delta"
                    );
                    return Ok(Some(through));
                }
                Err(e) => e,
            },
            Err(e) => e,
        };
        self.settle_failed_flush(&delta, through, started_at, error)
            .await
    }

    /// Decides a flush whose write or sync returned `error` by reloading the log: committed if
    /// the table's `txn` reached `through`, else not (the rows stay hot).
    async fn settle_failed_flush(
        &self,
        base: &DeltaTable,
        through: u64,
        started_at: SystemTime,
        error: Error,
    ) -> Result<Option<u64>> {
        let (fresh, txn) = match self.reload(base).await {
            Ok(reloaded) => reloaded,
            Err(reload_error) => {
                warn!(
                    table = %self.def().name,
                    error = %reload_error,
                    flush_error = %error,
                    "cannot reload the Delta log after a failed flush; the rows stay hot"
                );
                return Err(error);
            }
        };
        let landed = txn >= through;
        let referenced: Vec<String> = if landed {
            Vec::new()
        } else {
            fresh
                .snapshot()
                // Decoded paths, relative to the table.
                .map(|s| s.log_data().iter().map(|f| f.path().to_string()).collect())
                .unwrap_or_default()
        };
        self.install_reloaded(fresh, txn);
        if landed {
            warn!(
                table = %self.def().name,
                error = %error,
                through,
                txn,
                "the flush's commit landed although it reported an error; counted as flushed"
            );
            return Ok(Some(through));
        }
        if let Some(dir) = self.table_dir() {
            remove_orphans(dir, started_at, referenced).await;
        }
        Err(error)
    }

    /// The table's directory on a local lake.
    fn table_dir(&self) -> Option<PathBuf> {
        self.lake_dir.as_ref()?;
        self.current_delta().table_url().to_file_path().ok()
    }
}

/// Deletes the Parquet files under `table_dir` written since `since` that no version of the
/// log references: the files of a flush that did not land. Only another writer of the same
/// table could have made such files meanwhile, and `write_lock` excludes Oxbow's own.
async fn remove_orphans(table_dir: PathBuf, since: SystemTime, referenced: Vec<String>) {
    // Kernel timestamps lag the wall clock by up to a tick; a margin keeps this flush's files
    // in (older orphans caught with them are orphans too).
    let since = since - std::time::Duration::from_secs(2);
    let referenced: std::collections::HashSet<PathBuf> =
        referenced.iter().map(|p| table_dir.join(p)).collect();
    let result = tokio::task::spawn_blocking(move || {
        let mut removed = 0usize;
        let mut pending = vec![table_dir.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    if path.file_name().is_some_and(|n| n != "_delta_log") {
                        pending.push(path);
                    }
                    continue;
                }
                if is_orphan(&path, &meta, since, &referenced)
                    && std::fs::remove_file(&path).is_ok()
                {
                    removed += 1;
                }
            }
        }
        removed
    })
    .await;
    if let Ok(removed) = result
        && removed > 0
    {
        info!(
            removed,
            "deleted the Parquet files of a flush that did not land"
        );
    }
}

fn is_orphan(
    path: &Path,
    meta: &std::fs::Metadata,
    since: SystemTime,
    referenced: &std::collections::HashSet<PathBuf>,
) -> bool {
    path.extension().is_some_and(|e| e == "parquet")
        && meta.modified().is_ok_and(|m| m >= since)
        && !referenced.contains(path)
}

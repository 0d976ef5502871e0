//! `OPTIMIZE` and `VACUUM` on a [`Table`]'s Delta tier.
//!
//! Both run under the table's `write_lock`, like a flush: a flush waits while a compaction of
//! the same table commits (and the reverse), so they never conflict; queries do not wait
//! (they read the snapshot they captured). Compaction commits with `dataChange = false`, so
//! other Delta readers streaming the table's changes skip it. Each commit is synced on a
//! local lake before it is installed, as every commit is.
//!
//! `VACUUM` keeps Delta's meaning: it deletes the files no version within the retention
//! references, and (`VacuumMode::Full`, Delta's plain `VACUUM`) files no version references
//! at all, such as the Parquet files of a flush that crashed before its commit. The retention
//! defaults to the table's `delta.deletedFileRetentionDuration`, else 7 days; a shorter one is
//! refused by deltalake unless the caller turns enforcement off (Oxbow does not).

use std::sync::Arc;

use deltalake::operations::optimize::OptimizeType;
use deltalake::operations::vacuum::VacuumMode;
use tracing::{info, instrument};

use super::{Table, run_detached};
use crate::{Error, Result};

/// What `OPTIMIZE` did.
#[derive(Debug, Clone, Default)]
pub struct OptimizeOutcome {
    pub files_removed: u64,
    pub files_added: u64,
    pub partitions_optimized: u64,
}

impl Table {
    /// Compacts the table's small Parquet files into fewer large ones (one Delta commit with
    /// `dataChange = false`). The hot rows stay hot: `OPTIMIZE` is about the lake.
    #[instrument(skip_all, fields(table = %self.def().name))]
    pub async fn optimize(self: &Arc<Self>) -> Result<OptimizeOutcome> {
        let table = Arc::clone(self);
        run_detached("OPTIMIZE", async move {
            let _guard = table.write_lock.lock().await;
            table.check_not_dropped()?;
            let base = table.current_delta();
            let result = base
                .clone()
                .optimize()
                .with_type(OptimizeType::Compact)
                .await
                .map_err(|e| Error::delta(&table.def().name, e));
            let (delta, metrics) = match result {
                Ok(done) => done,
                Err(error) => {
                    table.refresh_after_error(&base, &error).await;
                    return Err(error);
                }
            };
            table.sync(&delta).await?;
            table.state.write().expect("table state lock").delta = delta;
            info!(
                removed = metrics.num_files_removed,
                added = metrics.num_files_added,
                "compacted the table's files"
            );
            Ok(OptimizeOutcome {
                files_removed: metrics.num_files_removed,
                files_added: metrics.num_files_added,
                partitions_optimized: metrics.partitions_optimized,
            })
        })
        .await
    }

    /// Deletes the files of the table's directory that no version younger than `retain`
    /// references (`None`: the table's default retention), or with `dry_run` only lists them.
    /// Returns their paths, relative to the table's directory.
    #[instrument(skip_all, fields(table = %self.def().name))]
    pub async fn vacuum(
        self: &Arc<Self>,
        retain: Option<std::time::Duration>,
        dry_run: bool,
    ) -> Result<Vec<String>> {
        let table = Arc::clone(self);
        run_detached("VACUUM", async move {
            let _guard = table.write_lock.lock().await;
            table.check_not_dropped()?;
            let base = table.current_delta();
            let mut builder = base
                .clone()
                .vacuum()
                .with_mode(VacuumMode::Full)
                .with_dry_run(dry_run);
            if let Some(retain) = retain {
                let retain = chrono::Duration::from_std(retain)
                    .map_err(|e| Error::Unsupported(format!("a retention of {retain:?}: {e}")))?;
                builder = builder.with_retention_period(retain);
            }
            let (delta, metrics) = match builder.await {
                Ok(done) => done,
                Err(e) => {
                    let error = Error::delta(&table.def().name, e);
                    table.refresh_after_error(&base, &error).await;
                    return Err(error);
                }
            };
            table.sync(&delta).await?;
            table.state.write().expect("table state lock").delta = delta;
            Ok(metrics.files_deleted)
        })
        .await
    }
}

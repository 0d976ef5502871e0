//! DELETE and UPDATE on a [`Table`]: each flushes first, so that the hot rows are in Delta
//! and the one Delta operation sees (and changes) every row, then commits.
//!
//! TRUNCATE is a DELETE without a predicate. Each runs detached ([`run_detached`]) under
//! `write_lock`, is synced before it is acknowledged, and reloads the log after a commit
//! error so that the handle is never stale. (A commit that landed despite its error is then
//! installed but still reported as failed: unlike a flush, a DELETE carries no `txn` to tell.)

use std::sync::Arc;

use datafusion::logical_expr::Expr;
use deltalake::DeltaTable;
use tracing::instrument;

use super::{Table, run_detached};
use crate::{Error, Result};

impl Table {
    /// Deletes the rows matching `predicate` (all rows when `None`), hot ones included, in one
    /// Delta commit after a flush.
    #[instrument(skip_all, fields(table = %self.def().name))]
    pub async fn delete(self: &Arc<Self>, predicate: Option<Expr>) -> Result<u64> {
        let table = Arc::clone(self);
        run_detached("DELETE", async move {
            // A keyed table's DELETE ... WHERE goes through the WAL (`query::keyed_dml`); what
            // comes here is TRUNCATE, which empties the key index too, with no keyed write
            // in between (the key lock).
            let _keys = match table.is_keyed() {
                true if predicate.is_some() => {
                    return Err(Error::Wal(
                        "a keyed table's DELETE goes through the WAL".into(),
                    ));
                }
                true => Some(table.key_lock.lock().await),
                false => None,
            };
            let _guard = table.write_lock.lock().await;
            table.check_not_dropped()?;
            table.flush_locked().await?;
            let base = table.current_delta();
            let mut builder = base.clone().delete();
            if let Some(predicate) = predicate {
                builder = builder.with_predicate(predicate);
            }
            let committed = builder
                .await
                .map_err(|e| Error::delta(&table.def().name, e));
            let (delta, metrics) = table.settle_dml(&base, committed).await?;
            table.state.write().expect("table state lock").delta = delta;
            table.keys_truncated();
            Ok(metrics.num_deleted_rows.unwrap_or(0) as u64)
        })
        .await
    }

    /// Sets `assignments` on the rows matching `predicate`, hot ones included, in one Delta
    /// commit after a flush.
    #[instrument(skip_all, fields(table = %self.def().name))]
    pub async fn update(
        self: &Arc<Self>,
        assignments: Vec<(String, Expr)>,
        predicate: Option<Expr>,
    ) -> Result<u64> {
        // The Delta writer fills a time bucket (`ts_day`) only when it appends; an UPDATE of
        // its source column would leave the row in the wrong partition.
        let def = self.def();
        if let Some(p) =
            def.options.partition_by.iter().find(|p| {
                p.is_derived() && assignments.iter().any(|(column, _)| column == &p.source)
            })
        {
            return Err(Error::Unsupported(format!(
                "UPDATE of \"{}\", the source of partition {} (delete and insert the rows instead)",
                p.source,
                p.sql()
            )));
        }
        let table = Arc::clone(self);
        run_detached("UPDATE", async move {
            let _guard = table.write_lock.lock().await;
            table.check_not_dropped()?;
            table.flush_locked().await?;
            let base = table.current_delta();
            let mut builder = base.clone().update();
            for (column, value) in assignments {
                builder = builder.with_update(column, value);
            }
            if let Some(predicate) = predicate {
                builder = builder.with_predicate(predicate);
            }
            let committed = builder
                .await
                .map_err(|e| Error::delta(&table.def().name, e));
            let (delta, metrics) = table.settle_dml(&base, committed).await?;
            table.state.write().expect("table state lock").delta = delta;
            Ok(metrics.num_updated_rows as u64)
        })
        .await
    }

    /// Syncs a DML commit that returned `Ok`; after an error (of the commit or the sync)
    /// reloads the log from `base`, installs it, and returns the error.
    async fn settle_dml<M>(
        &self,
        base: &DeltaTable,
        committed: Result<(DeltaTable, M)>,
    ) -> Result<(DeltaTable, M)> {
        let error = match committed {
            Ok((delta, metrics)) => match self.sync(&delta).await {
                Ok(()) => return Ok((delta, metrics)),
                Err(e) => e,
            },
            Err(e) => e,
        };
        self.refresh_after_error(base, &error).await;
        Err(error)
    }
}

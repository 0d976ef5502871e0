//! DELETE and UPDATE on a [`Table`]: each flushes first, so that the hot rows are in Delta
//! and the one Delta operation sees (and changes) every row, then commits.
//!
//! TRUNCATE is a DELETE without a predicate.

use datafusion::logical_expr::Expr;
use tracing::instrument;

use super::Table;
use crate::{Error, Result};

impl Table {
    /// Deletes the rows matching `predicate` (all rows when `None`), hot ones included, in one
    /// Delta commit after a flush.
    #[instrument(skip_all, fields(table = %self.def.name))]
    pub async fn delete(&self, predicate: Option<Expr>) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        self.check_not_dropped()?;
        self.flush_locked().await?;
        let delta = self.state.read().expect("table state lock").delta.clone();
        let mut builder = delta.delete();
        if let Some(predicate) = predicate {
            builder = builder.with_predicate(predicate);
        }
        let (delta, metrics) = builder.await.map_err(|e| Error::delta(&self.def.name, e))?;
        self.state.write().expect("table state lock").delta = delta;
        Ok(metrics.num_deleted_rows.unwrap_or(0) as u64)
    }

    /// Sets `assignments` on the rows matching `predicate`, hot ones included, in one Delta
    /// commit after a flush.
    #[instrument(skip_all, fields(table = %self.def.name))]
    pub async fn update(
        &self,
        assignments: Vec<(String, Expr)>,
        predicate: Option<Expr>,
    ) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        self.check_not_dropped()?;
        self.flush_locked().await?;
        let delta = self.state.read().expect("table state lock").delta.clone();
        let mut builder = delta.update();
        for (column, value) in assignments {
            builder = builder.with_update(column, value);
        }
        if let Some(predicate) = predicate {
            builder = builder.with_predicate(predicate);
        }
        let (delta, metrics) = builder.await.map_err(|e| Error::delta(&self.def.name, e))?;
        self.state.write().expect("table state lock").delta = delta;
        Ok(metrics.num_updated_rows as u64)
    }
}

//! Materialized views on a [`Database`]: creating one (its first fill), `REFRESH`, and
//! `TRUNCATE` of a table views aggregate. Each holds every write out
//! ([`crate::rollup::Rollups::exclusive`]) while it scans a source and writes states, so the
//! states always count each row of the source exactly once.
//!
//! Not atomic across a crash: a `REFRESH` or `TRUNCATE` that dies between emptying the state
//! table and writing the new states (or emptying the source) leaves the view short until the
//! next `REFRESH`. The maintenance of writes themselves is atomic (see [`crate::rollup`]).

use std::sync::Arc;

use datafusion::datasource::TableProvider;
use oxbow_catalog::{ObjectName, ViewDef};
use tracing::instrument;

use super::Database;
use crate::rollup::Rollup;
use crate::{Error, Result, Table};

impl Database {
    /// Creates the materialized view `def` maintained by `rollup`: fills its state table from
    /// every row the source holds now, stores the view and starts maintaining it at the next
    /// write. The caller made the state table; it drops it again if this fails.
    #[instrument(skip_all, fields(view = %def.name))]
    pub async fn create_rollup(
        &self,
        def: ViewDef,
        provider: Arc<dyn TableProvider>,
        rollup: Arc<Rollup>,
    ) -> Result<()> {
        let rebuild = self.rollups().exclusive().await;
        let states = rollup.full().await?;
        if !states.is_empty() {
            self.appender
                .write_while_rebuilding(&rebuild, &rollup.state_table, states)
                .await?;
        }
        self.create_view(def, provider, false).await?;
        self.rollups().register(rollup);
        Ok(())
    }

    /// `REFRESH MATERIALIZED VIEW`: the states rebuilt from the source's rows. Returns the
    /// number of state rows written.
    #[instrument(skip(self))]
    pub async fn refresh_rollup(&self, view: &ObjectName) -> Result<u64> {
        let rollup = self.rollups().get(view).ok_or_else(|| {
            Error::from(oxbow_catalog::Error::WrongObjectType {
                name: view.to_string(),
                expected: "materialized view",
            })
        })?;
        let rebuild = self.rollups().exclusive().await;
        rollup.state_table.delete(None).await?;
        let states = rollup.full().await?;
        if states.is_empty() {
            return Ok(0);
        }
        self.appender
            .write_while_rebuilding(&rebuild, &rollup.state_table, states)
            .await
    }

    /// `TRUNCATE`: the table emptied, and with it every materialized view over it.
    pub async fn truncate_table(&self, table: &Arc<Table>) -> Result<u64> {
        let views = self.rollups().of_source(&table.def().id);
        if views.is_empty() {
            return table.delete(None).await;
        }
        let _rebuild = self.rollups().exclusive().await;
        for view in &views {
            view.state_table.delete(None).await?;
        }
        table.delete(None).await
    }
}

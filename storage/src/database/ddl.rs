//! DDL on a [`Database`]: schemas, tables and views.
//!
//! DDL is serialised by `ddl_lock` and ordered so that a failure leaves nothing half-made:
//! - `CREATE TABLE` gives the table a fresh id and the location `tables/<id>` (never one made
//!   from its name), writes the Delta table there first and registers it in the catalog last;
//!   if the catalog refuses, the new files are removed again. Nothing that was at a location
//!   before is ever deleted by a create.
//! - `DROP TABLE` removes the catalog entry first, then waits for the table's running flush,
//!   DELETE or UPDATE ([`Table::retire`]) and deletes the files after. Only a location made
//!   from the table's own id is deleted (`lake::delete_table_files`); a location an older
//!   version made from the name is kept, with a warning. Files left by a crash in between are
//!   an orphan `tables/<id>/` that no table will ever use again.

use std::sync::Arc;

use datafusion::datasource::TableProvider;
use oxbow_catalog::{ColumnDef, ObjectName, TableDef, TableOptions, ViewDef};
use tracing::{instrument, warn};

use super::Database;
use crate::lake;
use crate::{OxbowTable, Result, Table};

impl Database {
    pub fn create_schema(&self, schema: &str, if_not_exists: bool) -> Result<bool> {
        Ok(self.catalog.create_schema(schema, if_not_exists)?)
    }

    pub fn drop_schema(&self, schema: &str, if_exists: bool) -> Result<bool> {
        Ok(self.catalog.drop_schema(schema, if_exists)?)
    }

    /// Creates a table and its Delta table. Returns `false` if it existed and `if_not_exists`.
    #[instrument(skip(self, columns))]
    pub async fn create_table(
        &self,
        name: ObjectName,
        columns: Vec<ColumnDef>,
        options: TableOptions,
        primary_key: Vec<String>,
        if_not_exists: bool,
    ) -> Result<bool> {
        let _ddl = self.ddl_lock.lock().await;
        if !self.catalog.schema_exists(&name.schema)? {
            return Err(oxbow_catalog::Error::SchemaNotFound(name.schema.clone()).into());
        }
        if self.catalog.table(&name)?.is_some() || self.catalog.view(&name)?.is_some() {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(oxbow_catalog::Error::RelationExists(name.name.clone()).into())
            };
        }
        let mut seen = std::collections::HashSet::new();
        for c in &columns {
            if !seen.insert(c.name.as_str()) {
                return Err(oxbow_catalog::Error::DuplicateColumn(c.name.clone()).into());
            }
        }
        oxbow_catalog::check_identifier(&name.name)?;
        let id = uuid_v4();
        let def = TableDef {
            location: TableDef::location_for_id(&id),
            id,
            name: name.clone(),
            columns,
            options,
            primary_key,
        };
        let table = Arc::new(Table::create(&self.lake, &def).await?);
        if let Err(e) = self.catalog.create_table(&def) {
            // A store error (an I/O error in redb's commit) may come after the write that made
            // the commit durable: the catalog sweep (`fs/catalog_power_loss.rs`) sees such
            // statements land. Deleting the files then would leave a catalog entry without its
            // Delta table at the next start; keeping them leaves, at worst, unreferenced files.
            if matches!(e, oxbow_catalog::Error::Store(_)) {
                warn!(table = %name, error = %e, "the catalog's commit failed and may have landed; the table's files are kept");
            } else if let Err(cleanup) = lake::delete_table_files(&self.lake, &def).await {
                warn!(table = %name, error = %cleanup, "cannot remove the files of a table the catalog refused");
            }
            return Err(e.into());
        }
        self.registry.insert(Arc::clone(&table));
        let table = OxbowTable::new(table, Arc::clone(&self.appender));
        self.tables
            .write()
            .expect("tables lock")
            .insert(name, Arc::new(table));
        Ok(true)
    }

    /// Drops a table and deletes its files. Returns `false` if missing and `if_exists`.
    #[instrument(skip(self))]
    pub async fn drop_table(&self, name: &ObjectName, if_exists: bool) -> Result<bool> {
        let _ddl = self.ddl_lock.lock().await;
        self.refuse_drop_under_views(name)?;
        let def = match self.catalog.drop_table(name) {
            Ok(def) => def,
            Err(oxbow_catalog::Error::RelationNotFound(_)) if if_exists => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        self.tables.write().expect("tables lock").remove(name);
        self.unavailable
            .write()
            .expect("unavailable lock")
            .remove(name);
        let table = self.registry.remove(&def.id);
        self.registry.unpin_wal(&def.id);
        // A flush that runs now would write into the directory deleted below: wait for it, and
        // keep any later one from committing (review D10).
        let _retired = match &table {
            Some(table) => Some(table.retire().await),
            None => None,
        };
        if let Err(e) = lake::delete_table_files(&self.lake, &def).await {
            warn!(table = %name, error = %e, "table dropped but its files could not be deleted");
        }
        Ok(true)
    }

    /// Registers a view whose query the caller has planned into `provider`.
    pub async fn create_view(
        &self,
        def: ViewDef,
        provider: Arc<dyn TableProvider>,
        or_replace: bool,
    ) -> Result<()> {
        let _ddl = self.ddl_lock.lock().await;
        self.catalog.create_view(&def, or_replace)?;
        self.register_view(def.name, provider);
        Ok(())
    }

    /// Drops a view; a materialized view's maintenance stops and its state table is dropped
    /// after it (a crash in between leaves an unused table in `oxbow_rollups`).
    pub async fn drop_view(&self, name: &ObjectName, if_exists: bool) -> Result<bool> {
        let def = {
            let _ddl = self.ddl_lock.lock().await;
            let def = match self.catalog.drop_view(name) {
                Ok(def) => def,
                Err(oxbow_catalog::Error::RelationNotFound(_)) if if_exists => return Ok(false),
                Err(e) => return Err(e.into()),
            };
            self.views.write().expect("views lock").remove(name);
            self.rollups().unregister(name);
            def
        };
        if let Some(rollup) = def.rollup {
            self.drop_table(&rollup.state_table, true).await?;
        }
        Ok(true)
    }

    /// A table that materialized views aggregate, or that holds one's partial aggregates, is
    /// dropped only after them (2BP01, as PostgreSQL refuses a table its views depend on).
    fn refuse_drop_under_views(&self, name: &ObjectName) -> Result<()> {
        let Some(def) = self.catalog.table(name)? else {
            return Ok(());
        };
        let all = self.catalog.materialized_views()?;
        let views: Vec<&ViewDef> = all
            .iter()
            .filter(|v| v.rollup.as_ref().is_some_and(|r| r.source_id == def.id))
            .collect();
        let holder = all
            .iter()
            .find(|v| v.rollup.as_ref().is_some_and(|r| &r.state_table == name));
        let by = match (views.first(), holder) {
            (Some(_), _) => {
                let names: Vec<String> = views.iter().map(|v| v.name.to_string()).collect();
                format!("materialized view {} aggregates it", names.join(", "))
            }
            (None, Some(view)) => format!(
                "it holds the partial aggregates of materialized view {}; DROP MATERIALIZED VIEW drops it",
                view.name
            ),
            (None, None) => return Ok(()),
        };
        Err(oxbow_catalog::Error::DependentObjects {
            kind: "table",
            name: name.to_string(),
            by,
        }
        .into())
    }

    /// Makes a view visible to queries (at startup, or once created).
    pub fn register_view(&self, name: ObjectName, provider: Arc<dyn TableProvider>) {
        self.views
            .write()
            .expect("views lock")
            .insert(name, provider);
    }
}

pub(super) fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

//! `ALTER TABLE ... ADD COLUMN` on a [`Database`]: the catalog, both tiers, and the
//! `TableProvider` queries plan against.
//!
//! Order (under `ddl_lock`): the catalog gets the new definition first, then the table commits
//! the columns to Delta and refits its hot batches ([`Table::add_columns`]), then the provider
//! is replaced so that new plans see the columns. If the table's step fails the catalog change
//! is undone; if the process dies in between, opening the table finishes the Delta commit
//! (the catalog is the authority on columns, see `crate::table`).

use std::sync::Arc;

use oxbow_catalog::{ColumnDef, ObjectName};
use tracing::{instrument, warn};

use super::Database;
use super::system_tables::SYSTEM_SCHEMA;
use crate::{Error, OxbowTable, Result};

impl Database {
    /// Adds `columns` (nullable, at the end) to the table `name`. A column that exists is an
    /// error (42701), or skipped when `if_not_exists`. Returns the names of the columns added.
    #[instrument(skip(self, columns))]
    pub async fn add_columns(
        &self,
        name: &ObjectName,
        columns: Vec<ColumnDef>,
        if_not_exists: bool,
    ) -> Result<Vec<String>> {
        let _ddl = self.ddl_lock.lock().await;
        if name.schema == SYSTEM_SCHEMA {
            return Err(Error::Unsupported(format!(
                "ALTER TABLE on the system table {name}"
            )));
        }
        let provider = self.require_table(name)?;
        let table = Arc::clone(provider.table());
        let old = table.def();
        let mut def = (*old).clone();
        let mut added = Vec::new();
        for column in columns {
            oxbow_catalog::check_identifier(&column.name)?;
            if def.columns.iter().any(|c| c.name == column.name) {
                if if_not_exists {
                    continue;
                }
                return Err(oxbow_catalog::Error::DuplicateColumn(column.name).into());
            }
            if !column.nullable {
                return Err(Error::Unsupported(format!(
                    "ADD COLUMN \"{}\" NOT NULL (existing rows would need a DEFAULT, which is not built yet)",
                    column.name
                )));
            }
            added.push(column.name.clone());
            def.columns.push(column);
        }
        if added.is_empty() {
            return Ok(added);
        }
        self.catalog.replace_table(&def)?;
        if let Err(e) = table.add_columns(def).await {
            if let Err(undo) = self.catalog.replace_table(&old) {
                warn!(table = %name, error = %undo, "cannot undo the catalog change of a failed ADD COLUMN; the next start finishes it in Delta");
            }
            return Err(e);
        }
        let provider = OxbowTable::new(table, Arc::clone(&self.appender));
        self.tables
            .write()
            .expect("tables lock")
            .insert(name.clone(), Arc::new(provider));
        Ok(added)
    }
}

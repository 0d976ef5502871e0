//! `ALTER TABLE | VIEW ... RENAME TO` on a [`Database`]: the catalog first (one transaction,
//! with the grants), then the open table's definition and the name → provider maps.
//!
//! Nothing on disk moves: a table's files are at its id's location and its WAL records name it
//! by id. A view stores its query as text and binds the relations it reads when it is planned
//! (at creation and at every start): a view over a renamed table keeps reading that table
//! until the next start, and from then on reads whatever has the name its text says. Views
//! are not re-planned on a rename; PostgreSQL follows the object, not the name.

use std::sync::Arc;

use oxbow_catalog::{ObjectName, Renamed};
use tracing::instrument;

use super::Database;
use super::system_tables::SYSTEM_SCHEMA;
use crate::{Error, Result};

impl Database {
    /// Renames the table or view `from` to `to` (same schema). Returns `false` when `from` is
    /// missing and `if_exists` is set.
    #[instrument(skip(self))]
    pub async fn rename_relation(
        &self,
        from: &ObjectName,
        to: &ObjectName,
        if_exists: bool,
    ) -> Result<bool> {
        let _ddl = self.ddl_lock.lock().await;
        if from.schema == SYSTEM_SCHEMA {
            return Err(Error::Unsupported(format!(
                "ALTER ... RENAME of the system relation {from}"
            )));
        }
        if self
            .unavailable
            .read()
            .expect("unavailable lock")
            .contains_key(from)
        {
            return Err(Error::TableUnavailable {
                table: from.to_string(),
                reason: "its Delta table could not be opened, so it cannot be renamed".into(),
            });
        }
        let renamed = match self.catalog.rename_relation(from, to) {
            Ok(renamed) => renamed,
            Err(oxbow_catalog::Error::RelationNotFound(_)) if if_exists => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        match renamed {
            Renamed::Table(def) => {
                let mut tables = self.tables.write().expect("tables lock");
                if let Some(provider) = tables.remove(from) {
                    provider.table().rename(def);
                    tables.insert(to.clone(), provider);
                }
            }
            Renamed::View(_) => {
                let mut views = self.views.write().expect("views lock");
                if let Some(provider) = views.remove(from) {
                    views.insert(to.clone(), Arc::clone(&provider));
                }
                self.rollups().rename(from, to);
            }
        }
        Ok(true)
    }
}

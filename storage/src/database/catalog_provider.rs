//! [`OxbowCatalogProvider`]: the DataFusion `CatalogProvider` and `SchemaProvider`s through
//! which queries find an Oxbow database's tables and views by name.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result as DfResult};
use oxbow_catalog::ObjectName;
use tracing::warn;

use super::Database;
use super::system_tables::{SYSTEM_SCHEMA, system_schema};

/// The DataFusion catalog of an Oxbow database: one schema provider per catalog schema, plus
/// system schemas (such as `pg_catalog`) registered in memory by the server.
#[derive(Debug)]
pub struct OxbowCatalogProvider {
    db: Arc<Database>,
    system: RwLock<HashMap<String, Arc<dyn SchemaProvider>>>,
}

impl OxbowCatalogProvider {
    pub fn new(db: Arc<Database>) -> Self {
        let system = HashMap::from([(SYSTEM_SCHEMA.to_string(), system_schema(Arc::clone(&db)))]);
        Self {
            db,
            system: RwLock::new(system),
        }
    }
}

impl CatalogProvider for OxbowCatalogProvider {
    fn schema_names(&self) -> Vec<String> {
        let mut names = self.db.catalog.schemas().unwrap_or_else(|e| {
            warn!(error = %e, "cannot list schemas");
            Vec::new()
        });
        names.extend(self.system.read().expect("system lock").keys().cloned());
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if let Some(s) = self.system.read().expect("system lock").get(name) {
            return Some(Arc::clone(s));
        }
        match self.db.catalog.schema_exists(name) {
            Ok(true) => Some(Arc::new(OxbowSchemaProvider {
                db: Arc::clone(&self.db),
                schema: name.to_string(),
            })),
            _ => None,
        }
    }

    /// Only system schemas are registered this way; user schemas are created through
    /// [`Database::create_schema`] so that they are persisted.
    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
        Ok(self
            .system
            .write()
            .expect("system lock")
            .insert(name.to_string(), schema))
    }
}

#[derive(Debug)]
struct OxbowSchemaProvider {
    db: Arc<Database>,
    schema: String,
}

#[async_trait]
impl SchemaProvider for OxbowSchemaProvider {
    fn table_names(&self) -> Vec<String> {
        self.db.relation_names(&self.schema)
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Ok(self.db.relation(&ObjectName::new(&self.schema, name)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.db
            .relation(&ObjectName::new(&self.schema, name))
            .is_some()
    }

    fn register_table(
        &self,
        name: String,
        _table: Arc<dyn TableProvider>,
    ) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Err(DataFusionError::NotImplemented(format!(
            "registering table \"{name}\" directly; use CREATE TABLE"
        )))
    }
}

/// Name resolution for the providers: the tables and views of a schema, in one namespace.
impl Database {
    pub(super) fn relation_names(&self, schema: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .tables
            .read()
            .expect("tables lock")
            .keys()
            .filter(|n| n.schema == schema)
            .map(|n| n.name.clone())
            .collect();
        names.extend(
            self.unavailable
                .read()
                .expect("unavailable lock")
                .keys()
                .filter(|n| n.schema == schema)
                .map(|n| n.name.clone()),
        );
        names.extend(
            self.views
                .read()
                .expect("views lock")
                .keys()
                .filter(|n| n.schema == schema)
                .map(|n| n.name.clone()),
        );
        names.sort();
        names
    }

    pub(super) fn relation(&self, name: &ObjectName) -> Option<Arc<dyn TableProvider>> {
        if let Some(t) = self.table(name) {
            return Some(t as Arc<dyn TableProvider>);
        }
        // Resolves, so that its queries fail with the reason rather than "does not exist".
        if let Some(t) = self.unavailable_table(name) {
            return Some(t as Arc<dyn TableProvider>);
        }
        self.views.read().expect("views lock").get(name).cloned()
    }
}

//! [`Database`]: the catalog plus every open table and view, and the DataFusion
//! [`CatalogProvider`] that lets queries see them.
//!
//! Opening a database replays the WAL into the hot tier; closing it flushes every table.
//!
//! DDL is serialised by one lock and ordered so that a failure leaves nothing half-made:
//! - `CREATE TABLE` writes the Delta table first and registers it in the catalog last; if the
//!   catalog refuses, the new files are removed again.
//! - `DROP TABLE` removes the catalog entry first and the files after; files left by a crash in
//!   between belong to no table and are cleared when a table of that name is created again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::datasource::TableProvider;
use datafusion::error::{DataFusionError, Result as DfResult};
use futures::{StreamExt, TryStreamExt};
use oxbow_catalog::{Catalog, ColumnDef, ObjectName, TableDef, TableOptions, ViewDef};
use tokio::sync::Notify;
use tracing::{info, instrument, warn};

use crate::flusher::Flusher;
use crate::registry::TableRegistry;
use crate::system_tables::{SYSTEM_SCHEMA, system_schema};
use crate::wal::{WalApply, WalWriter};
use crate::{Appender, Error, LakeRoot, OxbowTable, Result, Table};

pub struct Database {
    catalog: Catalog,
    lake: LakeRoot,
    tables: RwLock<HashMap<ObjectName, Arc<OxbowTable>>>,
    views: RwLock<HashMap<ObjectName, Arc<dyn TableProvider>>>,
    registry: Arc<TableRegistry>,
    appender: Arc<Appender>,
    flusher: Flusher,
    ddl_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("lake", &self.lake.url().as_str())
            .finish_non_exhaustive()
    }
}

/// Where a database keeps its files and how much memory its hot tier may use.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Holds `catalog.redb` and the `wal/` directory.
    pub data_dir: PathBuf,
    pub lake: LakeRoot,
    /// Bytes the hot tier of all tables may hold before writers wait for flushes.
    pub hot_memory_limit: usize,
}

impl Database {
    /// Opens the catalog and every table, replays the WAL into the hot tier (records above
    /// each table's Delta `txn` version), and starts the WAL writer and the flusher. Views are
    /// registered by the caller ([`Database::register_view`]): planning them needs a session.
    pub async fn open(config: DatabaseConfig) -> Result<Arc<Self>> {
        let catalog = Catalog::open(&config.data_dir.join("catalog.redb"))?;
        let lake = config.lake;
        let registry = Arc::new(TableRegistry::default());
        for schema in catalog.schemas()? {
            for def in catalog.tables(&schema)? {
                registry.insert(Arc::new(Table::open(&lake, &def).await?));
            }
        }
        let wal_dir = config.data_dir.join("wal");
        let replay_registry = Arc::clone(&registry);
        let replay_dir = wal_dir.clone();
        let replayed = tokio::task::spawn_blocking(move || {
            crate::wal::replay(&replay_dir, |entry| {
                replay_registry.apply(&entry.table_id, entry.seq, entry.batch);
                Ok(())
            })
        })
        .await
        .map_err(|e| Error::Wal(format!("replay task failed: {e}")))??;
        let max_flushed = registry
            .tables()
            .iter()
            .map(|t| t.flushed_seq())
            .max()
            .unwrap_or(0);
        let next_seq = replayed.last_seq.max(max_flushed) + 1;
        let wal = WalWriter::start(
            &wal_dir,
            next_seq,
            replayed.segments,
            Arc::clone(&registry) as Arc<dyn WalApply>,
        )?;
        let flush_wanted = Arc::new(Notify::new());
        let appender = Arc::new(Appender::new(
            wal,
            Arc::clone(&registry),
            config.hot_memory_limit,
            Arc::clone(&flush_wanted),
        ));
        let tables = registry
            .tables()
            .into_iter()
            .map(|t| {
                (
                    t.def().name.clone(),
                    Arc::new(OxbowTable::new(t, Arc::clone(&appender))),
                )
            })
            .collect::<HashMap<_, _>>();
        let hot_rows: usize = registry.tables().iter().map(|t| t.hot_stats().rows).sum();
        info!(
            tables = tables.len(),
            replayed_records = replayed.records,
            hot_rows,
            next_seq,
            lake = %lake.url(),
            "database opened"
        );
        let flusher = Flusher::start(Arc::clone(&registry), Arc::clone(&appender), flush_wanted)
            .map_err(|source| Error::Io {
                path: "flush runtime".into(),
                source,
            })?;
        Ok(Arc::new(Self {
            catalog,
            lake,
            tables: RwLock::new(tables),
            views: RwLock::new(HashMap::new()),
            registry,
            appender,
            flusher,
            ddl_lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// Stops the flusher, flushes every table to Delta and stops the WAL writer. After this,
    /// the WAL holds nothing that Delta does not.
    pub async fn shutdown(&self) {
        self.flusher.stop().await;
        let (registry, appender) = (Arc::clone(&self.registry), Arc::clone(&self.appender));
        self.flusher
            .run(async move { crate::flusher::flush_all(&registry, &appender).await })
            .await;
        self.appender.wal().shutdown();
        info!("database closed: every hot row is in Delta");
    }

    /// Moves the hot rows of `name` to Delta now (`FLUSH TABLE`).
    pub async fn flush_table(&self, name: &ObjectName) -> Result<Option<u64>> {
        let table = self
            .table(name)
            .ok_or_else(|| oxbow_catalog::Error::RelationNotFound(name.name.clone()))?;
        let table = Arc::clone(table.table());
        let flushed = self.flusher.run(async move { table.flush().await }).await?;
        self.appender.truncate_wal()?;
        Ok(flushed)
    }

    /// Every open table (for introspection).
    pub fn open_tables(&self) -> Vec<Arc<Table>> {
        self.registry.tables()
    }

    pub fn wal_segments(&self) -> usize {
        self.appender.wal().segment_count()
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn lake(&self) -> &LakeRoot {
        &self.lake
    }

    pub fn table(&self, name: &ObjectName) -> Option<Arc<OxbowTable>> {
        self.tables.read().expect("tables lock").get(name).cloned()
    }

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
        let def = TableDef {
            id: uuid_v4(),
            location: TableDef::default_location(&name),
            name: name.clone(),
            columns,
            options,
            primary_key,
        };
        // Files at this location belong to no table in the catalog (checked above).
        self.delete_location(&def.location).await?;
        let table = Arc::new(Table::create(&self.lake, &def).await?);
        if let Err(e) = self.catalog.create_table(&def) {
            self.delete_location(&def.location).await.ok();
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
        let def = match self.catalog.drop_table(name) {
            Ok(def) => def,
            Err(oxbow_catalog::Error::RelationNotFound(_)) if if_exists => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        self.tables.write().expect("tables lock").remove(name);
        self.registry.remove(&def.id);
        if let Err(e) = self.delete_location(&def.location).await {
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

    pub async fn drop_view(&self, name: &ObjectName, if_exists: bool) -> Result<bool> {
        let _ddl = self.ddl_lock.lock().await;
        match self.catalog.drop_view(name) {
            Ok(_) => {}
            Err(oxbow_catalog::Error::RelationNotFound(_)) if if_exists => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.views.write().expect("views lock").remove(name);
        Ok(true)
    }

    /// Makes a view visible to queries (at startup, or once created).
    pub fn register_view(&self, name: ObjectName, provider: Arc<dyn TableProvider>) {
        self.views
            .write()
            .expect("views lock")
            .insert(name, provider);
    }

    /// Deletes every object under a table location, local or remote.
    async fn delete_location(&self, location: &str) -> Result<()> {
        let url = self.lake.table_url(location)?;
        if self.lake.is_local() {
            let path = url.to_file_path().map_err(|()| Error::InvalidLocation {
                location: url.to_string(),
                reason: "not a local path".into(),
            })?;
            return match tokio::fs::remove_dir_all(&path).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(Error::Io {
                    path: path.display().to_string(),
                    source,
                }),
            };
        }
        // The log store's object store is rooted at the table, so this lists only its files.
        let store = deltalake::DeltaTableBuilder::from_url(url)
            .and_then(|b| {
                b.with_storage_options(self.lake.storage_options().clone())
                    .build()
            })
            .map_err(|e| Error::delta(location, e))?
            .log_store()
            .object_store(None);
        let paths = store.list(None).map_ok(|meta| meta.location).boxed();
        store
            .delete_stream(paths)
            .try_collect::<Vec<_>>()
            .await
            .map_err(|e| Error::delta(location, e.into()))?;
        Ok(())
    }

    fn relation_names(&self, schema: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .tables
            .read()
            .expect("tables lock")
            .keys()
            .filter(|n| n.schema == schema)
            .map(|n| n.name.clone())
            .collect();
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

    fn relation(&self, name: &ObjectName) -> Option<Arc<dyn TableProvider>> {
        if let Some(t) = self.table(name) {
            return Some(t as Arc<dyn TableProvider>);
        }
        self.views.read().expect("views lock").get(name).cloned()
    }
}

fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

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

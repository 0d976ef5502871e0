//! [`Database`]: the catalog plus every open table and view, and how they are exposed to
//! DataFusion.
//!
//! - `mod.rs`: the lifecycle. Opening a database opens every table, replays the WAL into the
//!   hot tier and starts the WAL writer and the flusher; shutting it down flushes every table.
//! - `ddl.rs`: CREATE and DROP of schemas, tables and views, ordered so that a failure leaves
//!   nothing half-made; `alter.rs`: `ALTER TABLE ... ADD COLUMN`; `rename.rs`: `RENAME TO`.
//! - `catalog_provider.rs`: [`OxbowCatalogProvider`], the DataFusion catalog and schema
//!   providers that resolve names to tables and views.
//! - [`system_tables`]: the `oxbow` schema: `oxbow.tables`, the engine's state as a table, and
//!   views the server registers (`oxbow.sources`).
//! - [`ingest_tables`]: `oxbow.dead_letters` and `oxbow.source_offsets`, real tables the
//!   ingest pipeline writes in the same WAL transaction as a batch's rows.
//! - `writes.rs`: [`Database::write`], one WAL transaction over several tables by name (the
//!   ingest pipeline's write path).
//! - `rollups.rs`: materialized views: the first fill, `REFRESH`, `TRUNCATE` of their source.
//! - `unavailable.rs`: [`UnavailableTable`], a table whose Delta table could not be opened.
//!
//! This room does not hold rows or plan scans: each table's rows are in its [`Table`], and its
//! `TableProvider` is its [`OxbowTable`].
//!
//! # Invariants
//! - Recovery is complete before the database is returned: every WAL record above its table's
//!   Delta `txn` version is in the hot tier, and new records get higher sequence numbers.
//! - A table exists for queries only once both its Delta table and its catalog entry exist;
//!   a table being dropped disappears from the catalog before its files are deleted, and its
//!   files are deleted only after its running flush, DELETE or UPDATE has finished.
//! - A table's files are at `tables/<id>` under the lake root, never at a path made from its
//!   name (see [`crate::lake`]).
//! - After [`Database::shutdown`], the WAL holds nothing that Delta does not (except the
//!   records of unavailable tables).
//! - One table that cannot be opened (a torn or unreadable Delta version) does not stop the
//!   database: it is kept out of the queryable set as an [`UnavailableTable`], reported in
//!   `oxbow.tables`, every query of it fails with [`Error::TableUnavailable`], and the WAL keeps
//!   every record of it (there is no `txn` to trust), so nothing is lost once it is repaired.

mod alter;
mod catalog_provider;
mod ddl;
pub mod ingest_tables;
mod rename;
mod rollups;
pub mod sinks;
pub mod system_tables;
mod unavailable;
mod writes;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use datafusion::datasource::TableProvider;
use oxbow_catalog::{Catalog, ObjectName};
use tokio::sync::Notify;
use tracing::{error, info};

pub use catalog_provider::OxbowCatalogProvider;
pub use unavailable::UnavailableTable;

use crate::flush::{self, Flusher};
use crate::fs::{DurableFs, StdFs};
use crate::registry::TableRegistry;
use crate::wal::{WalApply, WalLimits, WalWriter};
use crate::{Appender, Error, LakeRoot, OxbowTable, Result, Table};

pub struct Database {
    catalog: Catalog,
    lake: LakeRoot,
    tables: RwLock<HashMap<ObjectName, Arc<OxbowTable>>>,
    /// Tables in the catalog whose Delta table could not be opened at startup.
    unavailable: RwLock<HashMap<ObjectName, Arc<UnavailableTable>>>,
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
    /// Segment and record sizes of the WAL.
    pub wal_limits: WalLimits,
    /// WAL bytes on disk past which the flusher flushes the tables pinning the oldest segment
    /// (`max_wal_size`, see [`crate::flush`]).
    pub max_wal_bytes: u64,
}

impl Database {
    /// Opens the catalog and every table, replays the WAL into the hot tier (records above
    /// each table's Delta `txn` version), and starts the WAL writer and the flusher. Views are
    /// registered by the caller ([`Database::register_view`]): planning them needs a session.
    pub async fn open(config: DatabaseConfig) -> Result<Arc<Self>> {
        // The data dir's name must be durable before anything in it is; the catalog file is
        // created whole and its name fsynced (the catalog power-loss test runs the same steps
        // on the simulated disk, through redb's StorageBackend).
        crate::fs::create_dir_all_durable(&StdFs, &config.data_dir)?;
        let catalog_path = config.data_dir.join("catalog.redb");
        let catalog =
            crate::fs::open_created_whole(&StdFs, &catalog_path, |path| Ok(Catalog::open(path)?))?;
        let lake = config.lake;
        ingest_tables::ensure(&catalog, &lake).await?;
        let registry = Arc::new(TableRegistry::default());
        let mut unavailable = HashMap::new();
        let mut schemas = catalog.schemas()?;
        schemas.push(system_tables::SYSTEM_SCHEMA.to_string());
        for schema in schemas {
            for def in catalog.tables(&schema)? {
                match Table::open(&lake, &def).await {
                    Ok(table) => registry.insert(Arc::new(table)),
                    Err(e) => {
                        error!(table = %def.name, error = %e, "cannot open table; it is unavailable until repaired or dropped, and its WAL records are kept");
                        let table = UnavailableTable::new(def.clone(), e.to_string());
                        unavailable.insert(def.name.clone(), Arc::new(table));
                    }
                }
            }
        }
        let unavailable_ids: std::collections::HashSet<String> =
            unavailable.values().map(|t| t.def().id.clone()).collect();
        let wal_dir = config.data_dir.join("wal");
        let replay_registry = Arc::clone(&registry);
        let replay_dir = wal_dir.clone();
        let fs: Arc<dyn DurableFs> = Arc::new(StdFs);
        let replay_fs = Arc::clone(&fs);
        let replayed = tokio::task::spawn_blocking(move || {
            crate::wal::replay(replay_fs.as_ref(), &replay_dir, |entry| {
                if unavailable_ids.contains(&entry.table_id) {
                    replay_registry.pin_wal(&entry.table_id, entry.seq);
                } else {
                    replay_registry.apply(&entry.table_id, entry.seq, entry.batches);
                }
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
            fs,
            &wal_dir,
            next_seq,
            replayed.segments,
            config.wal_limits,
            Arc::clone(&registry) as Arc<dyn WalApply>,
        )?;
        // Before the flusher starts: the segments sinks have not read must outlive its first
        // truncation.
        sinks::pin_sinks(&catalog, &registry)?;
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
            unavailable = unavailable.len(),
            replayed_records = replayed.records,
            hot_rows,
            next_seq,
            lake = %lake.url(),
            "database opened"
        );
        let flusher = Flusher::start(
            Arc::clone(&registry),
            Arc::clone(&appender),
            flush_wanted,
            config.max_wal_bytes,
        )
        .map_err(|source| Error::Io {
            path: "flush runtime".into(),
            source,
        })?;
        Ok(Arc::new(Self {
            catalog,
            lake,
            tables: RwLock::new(tables),
            unavailable: RwLock::new(unavailable),
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
            .run(async move { flush::flush_all(&registry, &appender).await })
            .await;
        self.appender.wal().shutdown();
        info!("database closed: every hot row is in Delta");
    }

    /// Moves the hot rows of `name` to Delta now (`FLUSH TABLE`).
    pub async fn flush_table(&self, name: &ObjectName) -> Result<Option<u64>> {
        let table = self.require_table(name)?;
        let table = Arc::clone(table.table());
        let flushed = self.flusher.run(async move { table.flush().await }).await?;
        flush::truncate_wal(self.appender.wal(), &self.registry)?;
        Ok(flushed)
    }

    /// Every open table (for introspection).
    pub fn open_tables(&self) -> Vec<Arc<Table>> {
        self.registry.tables()
    }

    /// The materialized views maintained at each write.
    pub fn rollups(&self) -> &crate::rollup::Rollups {
        self.appender.rollups()
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

    /// The open table `name`, or why there is none: [`Error::TableUnavailable`] for a table
    /// that could not be opened, else relation not found.
    pub fn require_table(&self, name: &ObjectName) -> Result<Arc<OxbowTable>> {
        if let Some(table) = self.table(name) {
            return Ok(table);
        }
        if let Some(table) = self.unavailable_table(name) {
            return Err(table.error());
        }
        Err(oxbow_catalog::Error::RelationNotFound(name.name.clone()).into())
    }

    /// The table `name` if it is in the catalog but could not be opened.
    pub fn unavailable_table(&self, name: &ObjectName) -> Option<Arc<UnavailableTable>> {
        self.unavailable
            .read()
            .expect("unavailable lock")
            .get(name)
            .cloned()
    }

    /// Every table that could not be opened (for introspection).
    pub fn unavailable_tables(&self) -> Vec<Arc<UnavailableTable>> {
        self.unavailable
            .read()
            .expect("unavailable lock")
            .values()
            .cloned()
            .collect()
    }
}

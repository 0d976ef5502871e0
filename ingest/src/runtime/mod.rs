//! The source runtime: [`SourceManager`] starts every source in the catalog when the server
//! starts, creates, drops, pauses and resumes them for the SQL statements, takes HTTP pushes,
//! and reports them in `oxbow.sources`.
//!
//! # Layout
//! - `mod.rs`: [`SourceManager`], the sources by name and their lifecycle.
//! - `task.rs`: the loop of a pulling source: next arrival, pipeline, land, retry with backoff.
//! - `push.rs`: an HTTP push, acknowledged once durable, with `Idempotency-Key` receipts.
//! - [`recovery`]: positions, receipts and dedup keys read back at start.
//! - [`stats`]: the counters `oxbow.sources` shows.
//! - [`status_table`]: `oxbow.sources` as a table.
//! - [`partitions_table`]: `oxbow.source_partitions`, offsets and lag per Kafka partition.
//!
//! # Invariants
//! - A source definition is in the catalog exactly when the source is registered here; a
//!   failed `CREATE SOURCE` leaves neither (and drops a table it created for the source).
//! - One batch at a time per source (its pipeline's lock), so its positions only move on.

pub mod partitions_table;
mod push;
pub mod recovery;
pub mod stats;
pub mod status_table;
mod task;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use datafusion::prelude::SessionContext;
use oxbow_catalog::{ObjectName, SourceDef};
use oxbow_storage::Database;
use tokio::sync::Notify;
use tracing::{info, warn};

pub use push::PushOutcome;
pub use stats::{SourceState, SourceStats};

use crate::error::IngestError;
use crate::formats::source_format::SourceFormat;
use crate::pipeline::{BatchOutcome, Pipeline, PipelineOptions};
use crate::sources::Source;
use crate::sources::datagen::{self, DatagenSource};
use crate::sources::files::{FileAccess, FilesSource};
use crate::sources::kafka::KafkaSource;

/// The connectors `CREATE SOURCE ... FROM` knows.
pub const CONNECTORS: &[&str] = &["datagen", "files", "http", "kafka"];

/// What the operator configured for sources.
#[derive(Debug, Clone, Default)]
pub struct SourcesConfig {
    pub files: FileAccess,
    /// `max_wal_size` in bytes, which bounds how far a sink may fall behind.
    pub max_wal_bytes: u64,
}

/// A registered source: its definition, pipeline and counters, and its task if it pulls.
pub struct RunningSource {
    pub def: SourceDef,
    pipeline: tokio::sync::Mutex<Pipeline>,
    pub stats: Arc<SourceStats>,
    /// Receipts of pushes by `Idempotency-Key` (HTTP sources).
    /// Receipts by key with when they were recorded (µs); older than 24 h they are evicted.
    receipts: Mutex<HashMap<String, (BatchOutcome, i64)>>,
    /// Idempotency keys of pushes being written now.
    in_flight: Mutex<std::collections::HashSet<String>>,
    /// Set while a pulling source or a push endpoint must not take input.
    paused: std::sync::atomic::AtomicBool,
    wake: Notify,
    stop: tokio_util_stop::Stop,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Recovery (positions, receipts, dedup keys) has completed.
    ready: std::sync::atomic::AtomicBool,
    ready_wake: Notify,
}

/// A one-way stop signal for a task.
mod tokio_util_stop {
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::sync::Notify;

    #[derive(Debug, Default)]
    pub struct Stop {
        stopped: AtomicBool,
        notify: Notify,
    }

    impl Stop {
        pub fn stop(&self) {
            self.stopped.store(true, Ordering::Release);
            self.notify.notify_waiters();
        }

        pub fn is_stopped(&self) -> bool {
            self.stopped.load(Ordering::Acquire)
        }

        /// Resolves once stopped.
        pub async fn wait(&self) {
            loop {
                let notified = self.notify.notified();
                if self.is_stopped() {
                    return;
                }
                notified.await;
            }
        }
    }
}

impl RunningSource {
    pub fn is_paused(&self) -> bool {
        self.paused.load(std::sync::atomic::Ordering::Acquire)
    }
}

pub struct SourceManager {
    db: Arc<Database>,
    ctx: SessionContext,
    config: SourcesConfig,
    sources: RwLock<BTreeMap<ObjectName, Arc<RunningSource>>>,
    ddl: tokio::sync::Mutex<()>,
    /// The sinks run beside the sources and stop with them.
    sinks: Arc<crate::sinks::SinkManager>,
}

impl std::fmt::Debug for SourceManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceManager").finish_non_exhaustive()
    }
}

impl SourceManager {
    /// Starts every source in the catalog. `ctx` is the server's session (Oxbow's catalog,
    /// the functions): transforms and recovery queries run in it.
    pub async fn start(
        db: Arc<Database>,
        ctx: SessionContext,
        config: SourcesConfig,
    ) -> Result<Arc<Self>, IngestError> {
        let sinks = crate::sinks::SinkManager::start(
            Arc::clone(&db),
            crate::sinks::SinksConfig {
                files: config.files.clone(),
                max_wal_bytes: config.max_wal_bytes,
            },
        )?;
        let manager = Arc::new(Self {
            db: Arc::clone(&db),
            ctx,
            config,
            sources: RwLock::new(BTreeMap::new()),
            ddl: tokio::sync::Mutex::new(()),
            sinks,
        });
        for def in db.catalog().sources()? {
            let name = def.name.clone();
            match manager.register(def) {
                Ok(()) => {}
                Err(e) => {
                    warn!(source = %name, error = %e, "cannot start a source from the catalog; it stays defined, fix or drop it")
                }
            }
        }
        info!(
            sources = manager.sources.read().expect("sources lock").len(),
            "sources started"
        );
        Ok(manager)
    }

    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// The sinks (`CREATE SINK`), started with the sources.
    pub fn sinks(&self) -> &Arc<crate::sinks::SinkManager> {
        &self.sinks
    }

    /// Checks a definition (connector, format and pipeline options, the transform's SQL)
    /// and builds its connector.
    fn build(&self, def: &SourceDef) -> Result<(Pipeline, Option<Box<dyn Source>>), IngestError> {
        let format = SourceFormat::parse(&def.format, &def.format_options)?;
        let mut options = PipelineOptions::parse(&def.options)?;
        let connector: Option<Box<dyn Source>> = match def.connector.as_str() {
            "datagen" => {
                if options.time_column.is_none() {
                    options.time_column = Some(datagen::TIME_COLUMN.into());
                }
                Some(Box::new(DatagenSource::new(&def.connector_options)?))
            }
            "files" if matches!(format, SourceFormat::Avro(_)) => {
                return Err(IngestError::Unsupported(
                    "FORMAT AVRO for FILES (Avro is read from Kafka messages)".into(),
                ));
            }
            "files" => Some(Box::new(FilesSource::new(
                &def.connector_options,
                format.clone(),
                &self.config.files,
            )?)),
            "http" if matches!(format, SourceFormat::Avro(_)) => {
                return Err(IngestError::Unsupported(
                    "FORMAT AVRO for HTTP (Avro is read from Kafka messages)".into(),
                ));
            }
            "http" => {
                if let Some(option) = def.connector_options.keys().next() {
                    return Err(IngestError::UnknownOption {
                        option: format!("{option} (of HTTP)"),
                        valid: "none".into(),
                    });
                }
                None
            }
            "kafka" => {
                if !matches!(format, SourceFormat::Json | SourceFormat::Avro(_)) {
                    return Err(IngestError::Unsupported(format!(
                        "FORMAT {} for KAFKA (supported: JSON, AVRO)",
                        def.format.to_uppercase()
                    )));
                }
                let db = Arc::clone(&self.db);
                Some(Box::new(KafkaSource::new(
                    &def.id,
                    &def.name.to_string(),
                    &def.connector_options,
                    Arc::new(move || db.hot_tier_full()),
                )?))
            }
            "postgres" => {
                return Err(IngestError::Unsupported(format!(
                    "FROM {} sources are not built yet",
                    def.connector.to_uppercase()
                )));
            }
            other => {
                return Err(IngestError::Unsupported(format!(
                    "unknown connector {other} (known: DATAGEN, FILES, HTTP, KAFKA)"
                )));
            }
        };
        if let Some(sql) = &def.transform {
            datafusion::sql::sqlparser::parser::Parser::parse_sql(
                &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
                sql,
            )
            .map_err(|e| IngestError::Transform(e.to_string()))?;
        }
        let pipeline = Pipeline::new(
            Arc::clone(&self.db),
            &self.ctx,
            def.id.clone(),
            def.name.to_string(),
            def.target.clone(),
            format,
            options,
            def.transform.as_deref(),
        )?;
        Ok((pipeline, connector))
    }

    /// Registers `def` and starts it (recovery first, then its task if it pulls).
    fn register(self: &Arc<Self>, def: SourceDef) -> Result<(), IngestError> {
        let (pipeline, connector) = self.build(&def)?;
        let running = Arc::new(RunningSource {
            paused: std::sync::atomic::AtomicBool::new(def.paused),
            def: def.clone(),
            pipeline: tokio::sync::Mutex::new(pipeline),
            stats: Arc::new(SourceStats::default()),
            receipts: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(Default::default()),
            wake: Notify::new(),
            stop: Default::default(),
            task: Mutex::new(None),
            ready: std::sync::atomic::AtomicBool::new(false),
            ready_wake: Notify::new(),
        });
        let handle = tokio::spawn(task::run(Arc::clone(self), Arc::clone(&running), connector));
        *running.task.lock().expect("task lock") = Some(handle);
        self.sources
            .write()
            .expect("sources lock")
            .insert(def.name.clone(), running);
        Ok(())
    }

    /// `CREATE SOURCE`. Returns `false` if it exists and `if_not_exists`. A generator's table
    /// is created now when missing; other connectors create theirs from their first rows.
    pub async fn create(
        self: &Arc<Self>,
        def: SourceDef,
        if_not_exists: bool,
    ) -> Result<bool, IngestError> {
        let _ddl = self.ddl.lock().await;
        if self.db.catalog().source(&def.name)?.is_some() {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(oxbow_catalog::Error::SourceExists(def.name.name.clone()).into())
            };
        }
        oxbow_catalog::check_identifier(&def.name.name)?;
        // Every option is checked before anything is made.
        self.build(&def)?;
        let mut created_table = false;
        if def.connector == "datagen"
            && def.transform.is_none()
            && self.db.table(&def.target).is_none()
        {
            let options = oxbow_catalog::TableOptions {
                time_column: Some(
                    def.options
                        .get("time_column")
                        .cloned()
                        .unwrap_or_else(|| datagen::TIME_COLUMN.into()),
                ),
                ..Default::default()
            };
            created_table = self
                .db
                .create_table(
                    def.target.clone(),
                    DatagenSource::columns(),
                    options,
                    Vec::new(),
                    false,
                )
                .await?;
        }
        let registered = self
            .db
            .catalog()
            .create_source(&def)
            .map_err(IngestError::from)
            .and_then(|()| self.register(def.clone()));
        if let Err(e) = registered {
            let _ = self.db.catalog().drop_source(&def.name);
            if created_table && let Err(cleanup) = self.db.drop_table(&def.target, true).await {
                warn!(table = %def.target, error = %cleanup, "cannot drop the table of a source that failed to register");
            }
            return Err(e);
        }
        info!(source = %def.name, connector = %def.connector, target = %def.target, "source created");
        Ok(true)
    }

    /// `DROP SOURCE`: stops it and removes its definition. Its table, dead letters and
    /// offsets stay (they are data).
    pub async fn drop_source(
        &self,
        name: &ObjectName,
        if_exists: bool,
    ) -> Result<bool, IngestError> {
        let _ddl = self.ddl.lock().await;
        match self.db.catalog().drop_source(name) {
            Ok(_) => {}
            Err(oxbow_catalog::Error::SourceNotFound(_)) if if_exists => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let running = self.sources.write().expect("sources lock").remove(name);
        if let Some(running) = running {
            running.stop.stop();
            running.wake.notify_waiters();
            let handle = running.task.lock().expect("task lock").take();
            if let Some(handle) = handle {
                let _ = handle.await;
            }
        }
        info!(source = %name, "source dropped");
        Ok(true)
    }

    /// `ALTER SOURCE ... PAUSE | RESUME`, kept in the catalog so it survives a restart.
    pub async fn set_paused(&self, name: &ObjectName, paused: bool) -> Result<(), IngestError> {
        let _ddl = self.ddl.lock().await;
        let mut def = self
            .db
            .catalog()
            .source(name)?
            .ok_or_else(|| IngestError::SourceNotFound(name.to_string()))?;
        def.paused = paused;
        self.db.catalog().update_source(&def)?;
        if let Some(running) = self.get(name) {
            running
                .paused
                .store(paused, std::sync::atomic::Ordering::Release);
            running.stats.set_state(if paused {
                SourceState::Paused
            } else {
                SourceState::Running
            });
            running.wake.notify_waiters();
        }
        Ok(())
    }

    pub fn get(&self, name: &ObjectName) -> Option<Arc<RunningSource>> {
        self.sources
            .read()
            .expect("sources lock")
            .get(name)
            .cloned()
    }

    pub fn all(&self) -> Vec<Arc<RunningSource>> {
        self.sources
            .read()
            .expect("sources lock")
            .values()
            .cloned()
            .collect()
    }

    /// Stops every source's and sink's task (at server shutdown, before the database flushes).
    pub async fn shutdown(&self) {
        self.sinks.shutdown().await;
        let all = self.all();
        for running in &all {
            running.stop.stop();
            running.wake.notify_waiters();
        }
        for running in all {
            let handle = running.task.lock().expect("task lock").take();
            if let Some(handle) = handle {
                let _ = handle.await;
            }
        }
    }
}

//! Sinks: rows leave Oxbow exactly once. [`SinkManager`] runs every sink in the catalog, and
//! creates, drops, pauses and resumes them for `CREATE SINK`, `DROP SINK` and `ALTER SINK`.
//!
//! A sink follows its table's committed writes in commit order, straight from the WAL
//! ([`oxbow_storage::wal::WalTail`]), and writes them to its target in batches, each batch one
//! unit that lands whole or not at all. Its position is the WAL sequence number through which
//! the target holds every row.
//!
//! # Layout
//! - `mod.rs`: [`SinkManager`], the sinks by name and their lifecycle.
//! - `task.rs`: the loop of one sink: resume, read the WAL, write a batch, record progress.
//! - [`options`]: `WITH (start, max_batch_rows, batch_interval)`, formats, target options.
//! - [`changes`]: WAL batches to emitted rows (the `op` column of keyed tables).
//! - [`targets`]: FILES, DELTA and KAFKA, each exactly once.
//! - [`stats`], [`status_table`]: `oxbow.sinks`.
//!
//! # Invariants
//! - Progress moves only forward and only after the target committed: target write, then
//!   the catalog's [`oxbow_catalog::SinkProgress`], then the WAL pin. After a crash the sink
//!   resumes from the higher of the catalog's and the target's own position: nothing skipped
//!   (the catalog never leads the target), nothing doubled (a landed batch is seen in the
//!   target, or rewritten under the same name / recognised by its `txn`).
//! - The WAL keeps every segment a sink has not read (its pin, set when the database opens).
//!   A sink that alone holds the oldest segment while the WAL is past `max_wal_size` is marked
//!   failed, with the reason, in the catalog; it never skips what it could not read.
//! - Blocking work (WAL reads, file writes, catalog commits) runs on the blocking pool.

pub mod changes;
pub mod options;
pub mod stats;
pub mod status_table;
pub mod targets;
mod task;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use oxbow_catalog::{ObjectName, SinkDef, SinkProgress};
use oxbow_storage::Database;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::error::IngestError;
use crate::sources::files::FileAccess;
use options::{SinkFormat, SinkOptions, Start};
pub use stats::{SinkState, SinkStats};
use targets::delta::DeltaTarget;
use targets::files::FilesTarget;
use targets::kafka::KafkaTarget;

/// What the operator configured for sinks.
#[derive(Debug, Clone, Default)]
pub struct SinksConfig {
    /// Local directories FILES sinks may write under, and object-store credentials.
    pub files: FileAccess,
    /// `max_wal_size` in bytes (0: no limit): a sink holding the oldest WAL segment alone past
    /// it fails.
    pub max_wal_bytes: u64,
}

/// A registered sink: its definition, counters and task.
pub struct RunningSink {
    pub def: SinkDef,
    pub stats: Arc<SinkStats>,
    paused: AtomicBool,
    stopped: AtomicBool,
    wake: Notify,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl RunningSink {
    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.wake.notify_waiters();
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Waits up to `duration`, less if woken (stop, resume).
    async fn wait(&self, duration: std::time::Duration) {
        if self.is_stopped() {
            return;
        }
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(duration) => {}
        }
    }
}

pub struct SinkManager {
    db: Arc<Database>,
    config: SinksConfig,
    sinks: RwLock<BTreeMap<ObjectName, Arc<RunningSink>>>,
    ddl: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SinkManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkManager").finish_non_exhaustive()
    }
}

impl SinkManager {
    /// Starts every sink in the catalog; each resumes from its durable position.
    pub fn start(db: Arc<Database>, config: SinksConfig) -> Result<Arc<Self>, IngestError> {
        let manager = Arc::new(Self {
            db: Arc::clone(&db),
            config,
            sinks: RwLock::new(BTreeMap::new()),
            ddl: tokio::sync::Mutex::new(()),
        });
        for def in db.catalog().sinks()? {
            manager.register(def);
        }
        info!(
            sinks = manager.sinks.read().expect("sinks lock").len(),
            "sinks started"
        );
        Ok(manager)
    }

    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    fn register(self: &Arc<Self>, def: SinkDef) {
        let running = Arc::new(RunningSink {
            stats: Arc::new(SinkStats::new(def.paused)),
            paused: AtomicBool::new(def.paused),
            stopped: AtomicBool::new(false),
            wake: Notify::new(),
            task: Mutex::new(None),
            def: def.clone(),
        });
        let handle = tokio::spawn(task::run(
            Arc::clone(&self.db),
            Arc::clone(&running),
            self.config.clone(),
        ));
        *running.task.lock().expect("task lock") = Some(handle);
        self.sinks
            .write()
            .expect("sinks lock")
            .insert(def.name.clone(), running);
    }

    /// Checks a definition: its options, format and target options, and its table.
    fn check(&self, def: &SinkDef) -> Result<SinkOptions, IngestError> {
        let options = SinkOptions::parse(&def.options)?;
        match def.target.as_str() {
            "files" => {
                let format = SinkFormat::parse(&def.format)?;
                FilesTarget::open(&def.target_options, format, &def.id, &self.config.files)?;
            }
            "delta" => {
                if def.format != "parquet" {
                    return Err(IngestError::Unsupported(format!(
                        "FORMAT {} for DELTA (a Delta table is Parquet)",
                        def.format.to_ascii_uppercase()
                    )));
                }
                DeltaTarget::check(&def.target_options, &self.config.files)?;
            }
            "kafka" => KafkaTarget::check(&def.target_options, &def.format)?,
            other => {
                return Err(IngestError::Unsupported(format!(
                    "CREATE SINK ... INTO {} (FILES, DELTA and KAFKA are built)",
                    other.to_ascii_uppercase()
                )));
            }
        }
        self.db.require_table(&def.from)?;
        Ok(options)
    }

    /// `CREATE SINK`. Returns `false` if it exists and `if_not_exists`.
    pub async fn create(
        self: &Arc<Self>,
        def: SinkDef,
        if_not_exists: bool,
    ) -> Result<bool, IngestError> {
        let _ddl = self.ddl.lock().await;
        if self.db.catalog().sink(&def.name)?.is_some() {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(oxbow_catalog::Error::SinkExists(def.name.name.clone()).into())
            };
        }
        oxbow_catalog::check_identifier(&def.name.name)?;
        let options = self.check(&def)?;
        // `latest`: the pin goes in before the position is taken, so that no record after it
        // can be deleted in between. `earliest` reads the lake snapshot first (in the task).
        let progress = match options.start {
            Start::Latest => {
                let position = self.db.wal().applied_seq();
                self.db.pin_wal_for_sink(&def.id, position);
                SinkProgress {
                    position: Some(position),
                    failed: None,
                }
            }
            Start::Earliest => SinkProgress::default(),
        };
        if let Err(e) = self.db.catalog().create_sink(&def, &progress) {
            self.db.unpin_wal_for_sink(&def.id);
            return Err(e.into());
        }
        self.register(def.clone());
        info!(sink = %def.name, from = %def.from, target = %def.target, "sink created");
        Ok(true)
    }

    /// `DROP SINK`: stops it and removes its definition and progress. What it wrote stays.
    pub async fn drop_sink(&self, name: &ObjectName, if_exists: bool) -> Result<bool, IngestError> {
        let _ddl = self.ddl.lock().await;
        let def = match self.db.catalog().drop_sink(name) {
            Ok(def) => def,
            Err(oxbow_catalog::Error::SinkNotFound(_)) if if_exists => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let running = self.sinks.write().expect("sinks lock").remove(name);
        if let Some(running) = running {
            running.stop();
            let handle = running.task.lock().expect("task lock").take();
            if let Some(handle) = handle {
                let _ = handle.await;
            }
        }
        self.db.unpin_wal_for_sink(&def.id);
        info!(sink = %name, "sink dropped");
        Ok(true)
    }

    /// `ALTER SINK ... PAUSE | RESUME`, kept in the catalog so it survives a restart. A paused
    /// sink still holds its WAL (and fails past `max_wal_size`).
    pub async fn set_paused(&self, name: &ObjectName, paused: bool) -> Result<(), IngestError> {
        let _ddl = self.ddl.lock().await;
        let mut def = self
            .db
            .catalog()
            .sink(name)?
            .ok_or_else(|| oxbow_catalog::Error::SinkNotFound(name.name.clone()))?;
        def.paused = paused;
        self.db.catalog().update_sink(&def)?;
        if let Some(running) = self.get(name) {
            running.paused.store(paused, Ordering::Release);
            running.stats.set_state(if paused {
                SinkState::Paused
            } else {
                SinkState::Running
            });
            running.wake.notify_waiters();
        }
        Ok(())
    }

    pub fn get(&self, name: &ObjectName) -> Option<Arc<RunningSink>> {
        self.sinks.read().expect("sinks lock").get(name).cloned()
    }

    pub fn all(&self) -> Vec<Arc<RunningSink>> {
        self.sinks
            .read()
            .expect("sinks lock")
            .values()
            .cloned()
            .collect()
    }

    /// Stops every sink's task (at server shutdown, before the database flushes). A batch
    /// being written is finished first.
    pub async fn shutdown(&self) {
        let all = self.all();
        for running in &all {
            running.stop();
        }
        for running in all {
            let handle = running.task.lock().expect("task lock").take();
            if let Some(handle) = handle
                && let Err(e) = handle.await
            {
                warn!(sink = %running.def.name, error = %e, "sink task ended abnormally");
            }
        }
    }
}

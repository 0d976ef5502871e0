//! [`Table`]: one table's two tiers, the hot rows in memory and the Delta table, and the
//! handoff between them.
//!
//! - `mod.rs`: the table's state, opening and creating it, the WAL apply step and the
//!   snapshot a scan reads.
//! - `flush.rs`: the exactly-once handoff of hot rows into Delta.
//! - `dml.rs`: DELETE and UPDATE, which commit to Delta after a flush.
//! - `alter.rs`: `ADD COLUMN`, a Delta metadata commit and a refit of the hot batches.
//! - `maintenance.rs`: `OPTIMIZE` (compaction) and `VACUUM`.
//! - `time_travel.rs`: the Delta history, older versions, and `RESTORE`.
//!
//! This room does not log rows (the WAL and [`crate::write`] do), decide when to flush
//! ([`crate::flush`]), or know where files live beyond asking [`crate::lake`].
//!
//! # Invariants
//! - `flushed_seq` is the version of the Delta `txn` action of this table (app id = table
//!   id): every WAL record of this table with a sequence number at or below it is in Delta.
//! - Every hot batch holds only records above `flushed_seq`. A flush commits the hot batches
//!   it took together with the `txn` of their highest sequence number, then, under the same
//!   lock that scans read through, installs the new Delta state and drops those batches: a
//!   query sees each row in exactly one tier.
//! - Delta commits of a table (flush, DELETE, UPDATE) are serialised by `write_lock`; DELETE
//!   and UPDATE flush first, so they see (and change) the hot rows too.
//! - DROP TABLE takes `write_lock` too ([`Table::retire`]) and marks the table dropped before
//!   its files are deleted: a running flush finishes first, and one queued behind the drop
//!   commits nothing, so no commit is ever written into a directory being deleted.
//! - Flush, DELETE and UPDATE each run as a task of their own ([`run_detached`]) that the caller awaits:
//!   dropping the caller's future (a cancelled query) cannot abandon a commit that has landed
//!   before it is synced and installed.
//! - The installed Delta handle is never knowingly stale: after any commit error the log is
//!   reloaded, and a flush whose commit landed anyway is decided by the reloaded `txn`
//!   version, never by retrying blindly (DESIGN rule 2).
//! - On a local lake every commit is fsynced before it is acknowledged or installed;
//!   `synced_version` is the last version made durable, so versions written while an error
//!   was being reported are synced by the next commit or reload.

mod alter;
mod dml;
mod flush;
mod keyed;
mod lake_rows;
mod maintenance;
mod time_travel;

pub use keyed::{KeyGuard, KeyedView};
pub use maintenance::OptimizeOutcome;
pub use time_travel::{HistoryEntry, RestoreOutcome};

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use deltalake::DeltaTable;
use oxbow_catalog::TableDef;
use tracing::{Instrument, instrument, warn};

use crate::hot::{HotBatch, HotTable};
use crate::lake::{self, LakeRoot};
use crate::{Error, Result};

/// What one query reads: a Delta snapshot and the hot batches above it, taken together.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    pub delta: DeltaTable,
    pub flushed_seq: u64,
    pub hot: Vec<Arc<HotBatch>>,
    /// Keyed tables: what hides older versions of keys from this snapshot.
    pub keyed: Option<KeyedView>,
}

/// Hot-tier figures for introspection and flush decisions.
#[derive(Debug, Clone, Default)]
pub struct HotStats {
    pub rows: usize,
    pub bytes: usize,
    pub batches: usize,
    pub oldest: Option<Instant>,
    pub min_seq: Option<u64>,
}

#[derive(Debug)]
struct TableState {
    delta: DeltaTable,
    flushed_seq: u64,
    hot: HotTable,
    /// The last Delta version made durable on a local lake (`None` before the first sync).
    synced_version: Option<u64>,
    /// Keyed tables: where the newest version of each key is ([`crate::keyed`]).
    keys: Option<crate::keyed::KeyIndex>,
    /// The highest sequence number applied to this table (a keyed snapshot's high-water mark).
    applied_seq: u64,
}

/// What a table's rows look like: its definition and the Arrow schema of its rows. Replaced as
/// a whole by `ADD COLUMN` ([`Table::add_columns`]), so a reader never sees one without the
/// other.
#[derive(Debug)]
struct Shape {
    def: Arc<TableDef>,
    schema: SchemaRef,
}

pub struct Table {
    /// Lock order: `state` before `shape`; `shape` is never held while taking `state`.
    shape: RwLock<Shape>,
    /// The time column's index; columns are only added at the end, so it never moves.
    time_index: Option<usize>,
    /// The lake root on a local lake, down from which new directory entries are fsynced.
    lake_dir: Option<PathBuf>,
    state: RwLock<TableState>,
    write_lock: tokio::sync::Mutex<()>,
    /// Set by [`Table::retire`] under `write_lock`; read under it by every Delta commit.
    dropped: AtomicBool,
    /// Keyed tables: held by a write from deciding its conflicts until its rows are applied,
    /// so that two writers cannot both find a key free ([`Table::lock_keys`]).
    key_lock: tokio::sync::Mutex<()>,
    /// Rewrites the rows a flush hands to Delta into fewer, equivalent ones (a materialized
    /// view's state table merges its partial rows per group).
    compactor: RwLock<Option<Arc<dyn FlushCompactor>>>,
}

/// What a flush may do to the hot rows it hands over: return rows that every query reads as
/// the same answer. Called with the table's write lock held, so it must not write to it.
#[async_trait::async_trait]
pub trait FlushCompactor: Send + Sync {
    async fn compact(&self, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>>;
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("name", &self.def().name)
            .finish_non_exhaustive()
    }
}

impl Table {
    /// Creates the Delta table for `def` (its first commit holds the schema) at its location,
    /// which must be empty: it comes from the table's fresh id.
    #[instrument(skip_all, fields(table = %def.name))]
    pub async fn create(root: &LakeRoot, def: &TableDef) -> Result<Self> {
        let table = lake::create_table(root, def).await?;
        Self::with_state(root, def.clone(), table, 0).await
    }

    /// Opens the existing Delta table of `def` at its latest version and reads how far the
    /// hot tier has been flushed into it. The latest version is synced again: a process that
    /// crashed between a commit and its fsync leaves it in the page cache only.
    #[instrument(skip_all, fields(table = %def.name))]
    pub async fn open(root: &LakeRoot, def: &TableDef) -> Result<Self> {
        let mut table = lake::open_table(root, def).await?;
        let flushed = committed_txn(def, &table).await?;
        if !alter::missing_columns(def, &table).await?.is_empty() {
            // An ADD COLUMN reached the catalog but not Delta before the process stopped: the
            // catalog is the authority, so the Delta commit is made now (the version it builds
            // on is synced first, as it may be the one the crash left in the page cache).
            let lake_dir = root.url().to_file_path().ok().filter(|_| root.is_local());
            lake::sync_commits(&table, lake_dir.as_deref(), None).await?;
            table = alter::commit_missing_columns(def, &table).await?;
            warn!(table = %def.name, "finished an ADD COLUMN that had reached the catalog only");
        }
        Self::with_state(root, def.clone(), table, flushed).await
    }

    async fn with_state(
        root: &LakeRoot,
        def: TableDef,
        delta: DeltaTable,
        flushed_seq: u64,
    ) -> Result<Self> {
        let schema = alter::rows_schema(&def, &delta).await?;
        let time_index = def
            .options
            .time_column
            .as_ref()
            .and_then(|c| schema.index_of(c).ok());
        let keys = keyed::open_key_index(&def, &schema, &delta).await?;
        let hot = if keys.is_some() {
            HotTable::keyed()
        } else {
            HotTable::default()
        };
        let lake_dir = if root.is_local() {
            root.url().to_file_path().ok()
        } else {
            None
        };
        let table = Self {
            shape: RwLock::new(Shape {
                def: Arc::new(def),
                schema,
            }),
            time_index,
            lake_dir,
            state: RwLock::new(TableState {
                delta: delta.clone(),
                flushed_seq,
                hot,
                synced_version: None,
                keys,
                applied_seq: flushed_seq,
            }),
            write_lock: tokio::sync::Mutex::new(()),
            dropped: AtomicBool::new(false),
            key_lock: tokio::sync::Mutex::new(()),
            compactor: RwLock::new(None),
        };
        table.sync(&delta).await?;
        Ok(table)
    }

    /// Makes `delta`'s versions above the last synced one durable (a no-op off a local lake).
    /// Called under `write_lock` (or before the table is shared), so versions are synced in
    /// order and `synced_version` only grows.
    async fn sync(&self, delta: &DeltaTable) -> Result<()> {
        let synced = self.state.read().expect("table state lock").synced_version;
        let now = lake::sync_commits(delta, self.lake_dir.as_deref(), synced).await?;
        let mut state = self.state.write().expect("table state lock");
        state.synced_version = state.synced_version.max(now);
        Ok(())
    }

    /// Reads the log again from `base` on, after a commit returned an error (it may have landed
    /// anyway), syncs whatever versions it finds, and returns the fresh handle with its `txn`
    /// version.
    async fn reload(&self, base: &DeltaTable) -> Result<(DeltaTable, u64)> {
        let mut fresh = base.clone();
        fresh
            .update_state()
            .await
            .map_err(|e| Error::delta(&self.def().name, e))?;
        self.sync(&fresh).await?;
        let txn = committed_txn(&self.def(), &fresh).await?;
        Ok((fresh, txn))
    }

    /// Installs a reloaded handle. Hot batches its `txn` covers are in Delta: they are dropped
    /// under the same lock, so a scan sees each row in exactly one tier.
    fn install_reloaded(&self, fresh: DeltaTable, txn: u64) {
        let mut state = self.state.write().expect("table state lock");
        state.delta = fresh;
        if txn > state.flushed_seq {
            state.flushed_seq = txn;
            state.hot.drop_through(txn);
        }
    }

    /// After a commit (DELETE, UPDATE) returned `error`: reloads the log so the handle is not
    /// stale. If even the reload fails, the next commit fails against the newer log and
    /// reloads again.
    async fn refresh_after_error(&self, base: &DeltaTable, error: &Error) {
        match self.reload(base).await {
            Ok((fresh, txn)) => self.install_reloaded(fresh, txn),
            Err(e) => warn!(
                table = %self.def().name,
                error = %e,
                commit_error = %error,
                "cannot reload the Delta log after a failed commit"
            ),
        }
    }

    /// Waits for the flush, DELETE or UPDATE running on this table, then marks the table
    /// dropped so that none starts after it. The caller deletes the files while it holds the
    /// returned guard (DROP TABLE, review D10).
    pub async fn retire(&self) -> tokio::sync::MutexGuard<'_, ()> {
        let guard = self.write_lock.lock().await;
        self.dropped.store(true, Ordering::Release);
        guard
    }

    fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// For DELETE and UPDATE, which must not commit to a dropped table's log.
    fn check_not_dropped(&self) -> Result<()> {
        if self.is_dropped() {
            return Err(Error::TableDropped(self.def().name.name.clone()));
        }
        Ok(())
    }

    /// The table's definition as it is now (`ADD COLUMN` and `RENAME TO` replace it; the id never
    /// changes).
    pub fn def(&self) -> Arc<TableDef> {
        Arc::clone(&self.shape.read().expect("table shape lock").def)
    }

    /// The Arrow schema of the table's rows, as queries see them and as the hot tier holds them.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.shape.read().expect("table shape lock").schema)
    }

    /// Index of the time column in [`Table::schema`], if the table declares one.
    pub fn time_index(&self) -> Option<usize> {
        self.time_index
    }

    /// The Delta snapshot and the hot rows above it, captured under one lock.
    pub fn snapshot(&self) -> TableSnapshot {
        let state = self.state.read().expect("table state lock");
        TableSnapshot {
            delta: state.delta.clone(),
            flushed_seq: state.flushed_seq,
            hot: state.hot.batches(),
            keyed: state.keys.as_ref().map(|keys| KeyedView {
                high: state.applied_seq,
                shadow: keys.shadow(),
                codec: keys.codec.clone(),
            }),
        }
    }

    pub fn flushed_seq(&self) -> u64 {
        self.state.read().expect("table state lock").flushed_seq
    }

    pub fn hot_stats(&self) -> HotStats {
        let state = self.state.read().expect("table state lock");
        HotStats {
            rows: state.hot.rows(),
            bytes: state.hot.bytes(),
            batches: state.hot.len(),
            oldest: state.hot.oldest(),
            // A keyed table's change that only deletes keys adds no hot batch, yet its WAL
            // record must outlive truncation until a flush covers it: every record above
            // `flushed_seq` is unflushed, so the next one bounds them all from below.
            min_seq: match state.keys {
                Some(_) if state.applied_seq > state.flushed_seq => Some(state.flushed_seq + 1),
                _ => state.hot.min_seq(),
            },
        }
    }

    /// Adds this table's rows of a durable WAL transaction to the hot tier (called in sequence
    /// order, at write time and at replay; `seq` is the transaction's highest record of this
    /// table). All of them go in under one lock, so no flush can take part of a statement.
    /// Records the Delta tier already holds are ignored.
    pub fn apply(&self, seq: u64, batches: Vec<RecordBatch>) {
        let mut state = self.state.write().expect("table state lock");
        if seq <= state.flushed_seq {
            return;
        }
        state.applied_seq = state.applied_seq.max(seq);
        // Records written before an `ADD COLUMN` (and replayed after it) get the new columns
        // as NULL. Under the state lock, so an `ADD COLUMN` cannot come between.
        let schema = self.schema();
        if state.keys.is_some() {
            keyed::apply(&mut state, seq, batches, &schema, self.time_index);
            return;
        }
        for batch in batches {
            let batch = match crate::hot::reshape::fit(&batch, &schema) {
                Ok(fitted) => fitted,
                Err(e) => {
                    warn!(table = %self.def().name, error = %e, "a WAL record does not fit the table's schema; kept as written");
                    batch
                }
            };
            state.hot.insert(seq, batch, self.time_index);
        }
    }

    /// Sets (or clears) how this table's flushes compact their rows.
    pub fn set_flush_compactor(&self, compactor: Option<Arc<dyn FlushCompactor>>) {
        *self.compactor.write().expect("compactor lock") = compactor;
    }

    /// The current Delta handle (a cheap clone: the snapshot is shared).
    fn current_delta(&self) -> DeltaTable {
        self.state.read().expect("table state lock").delta.clone()
    }

    /// The Delta version and number of data files, for introspection.
    pub fn delta_stats(&self) -> (i64, usize) {
        let state = self.state.read().expect("table state lock");
        let version = state.delta.version().map(|v| v as i64).unwrap_or(-1);
        let files = state
            .delta
            .snapshot()
            .map(|s| s.log_data().num_files())
            .unwrap_or(0);
        (version, files)
    }

    /// The bytes of the data files of the current Delta version (what a reader of the lake
    /// tier reads; older versions' files kept for time travel are not counted).
    pub fn delta_bytes(&self) -> u64 {
        let state = self.state.read().expect("table state lock");
        state.delta.snapshot().map_or(0, |s| {
            s.log_data().iter().map(|f| f.size().max(0) as u64).sum()
        })
    }
}

/// The version of the table's `txn` action (app id = table id) in `delta`: the highest WAL
/// sequence number Delta holds. 0 before the first flush.
async fn committed_txn(def: &TableDef, delta: &DeltaTable) -> Result<u64> {
    let version = delta
        .snapshot()
        .map_err(|e| Error::delta(&def.name, e))?
        .transaction_version(delta.log_store().as_ref(), &def.id)
        .await
        .map_err(|e| Error::delta(&def.name, e))?
        .unwrap_or(0);
    Ok(version.max(0) as u64)
}

/// Runs a table's commit work as a task of its own and waits for it. Dropping the returned
/// future (a cancelled statement) does not stop the work, so a commit that lands is always
/// synced and installed, and the write lock the task holds is released only when it is done.
async fn run_detached<T, F>(what: &str, work: F) -> Result<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    match tokio::spawn(work.in_current_span()).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(Error::ShuttingDown(what.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, RecordBatch};
    use oxbow_catalog::{ColumnDef, ObjectName, SqlType, TableDef};

    use super::Table;
    use crate::LakeRoot;

    fn def() -> TableDef {
        let id = "0b7c1f9e-4d6a-4c1e-9a57-0d1f7e1e2a3b".to_string();
        TableDef {
            location: TableDef::location_for_id(&id),
            id,
            name: ObjectName::new("public", "t"),
            columns: vec![ColumnDef {
                name: "v".into(),
                sql_type: SqlType::Integer,
                nullable: true,
            }],
            options: Default::default(),
            primary_key: Vec::new(),
        }
    }

    /// DROP TABLE's order (review D10): a flush that queued behind `retire` commits nothing,
    /// so nothing is written into the directory the drop deletes.
    #[tokio::test]
    async fn a_flush_queued_behind_retire_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = LakeRoot::local(dir.path()).unwrap();
        let table = Arc::new(Table::create(&root, &def()).await.unwrap());
        let batch = RecordBatch::try_new(
            table.schema(),
            vec![Arc::new(Int32Array::from(vec![1, 2, 3]))],
        )
        .unwrap();
        table.apply(1, vec![batch]);
        let retired = table.retire().await;
        let queued = tokio::spawn({
            let table = Arc::clone(&table);
            async move { table.flush().await }
        });
        tokio::task::yield_now().await;
        assert!(!queued.is_finished(), "the flush waits for the drop");
        drop(retired);
        assert_eq!(queued.await.unwrap().unwrap(), None);
        assert_eq!(table.delta_stats(), (0, 0), "only the CREATE commit exists");
        assert!(
            table.delete(None).await.is_err(),
            "DML on a dropped table fails"
        );
    }
}

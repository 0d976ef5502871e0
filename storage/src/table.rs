//! [`Table`]: one table's two tiers, the hot rows in memory and the Delta table, and the
//! handoff between them.
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

use std::sync::{Arc, RwLock};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::logical_expr::Expr;
use deltalake::DeltaTable;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::kernel::{StructType, Transaction};
use deltalake::protocol::SaveMode;
use oxbow_catalog::TableDef;
use tracing::{debug, info, instrument};

use crate::hot::{HotBatch, HotTable};
use crate::{Error, LakeRoot, Result};

/// What one query reads: a Delta snapshot and the hot batches above it, taken together.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    pub delta: DeltaTable,
    pub flushed_seq: u64,
    pub hot: Vec<Arc<HotBatch>>,
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
}

pub struct Table {
    def: TableDef,
    schema: SchemaRef,
    time_index: Option<usize>,
    state: RwLock<TableState>,
    write_lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("name", &self.def.name)
            .finish_non_exhaustive()
    }
}

impl Table {
    /// Creates the Delta table for `def` (its first commit holds the schema). A directory left
    /// at the location by an interrupted create or drop belongs to no table and is replaced.
    #[instrument(skip_all, fields(table = %def.name))]
    pub async fn create(root: &LakeRoot, def: &TableDef) -> Result<Self> {
        let url = root.table_url(&def.location)?;
        let schema: StructType = (&def.arrow_schema())
            .try_into_kernel()
            .map_err(|e| Error::delta(&def.name, e.into()))?;
        let table = deltalake::operations::create::CreateBuilder::new()
            .with_location(url.as_str())
            .with_storage_options(root.storage_options().clone())
            .with_table_name(def.name.name.clone())
            .with_columns(schema.fields().cloned())
            .with_save_mode(SaveMode::Overwrite)
            .await
            .map_err(|e| Error::delta(&def.name, e))?;
        debug!(%url, "created Delta table");
        Self::with_state(def.clone(), table, 0).await
    }

    /// Opens the existing Delta table of `def` at its latest version and reads how far the
    /// hot tier has been flushed into it.
    #[instrument(skip_all, fields(table = %def.name))]
    pub async fn open(root: &LakeRoot, def: &TableDef) -> Result<Self> {
        let url = root.table_url(&def.location)?;
        let table = deltalake::open_table_with_storage_options(url, root.storage_options().clone())
            .await
            .map_err(|e| Error::delta(&def.name, e))?;
        let flushed = table
            .snapshot()
            .map_err(|e| Error::delta(&def.name, e))?
            .transaction_version(table.log_store().as_ref(), &def.id)
            .await
            .map_err(|e| Error::delta(&def.name, e))?
            .unwrap_or(0);
        Self::with_state(def.clone(), table, flushed.max(0) as u64).await
    }

    async fn with_state(def: TableDef, delta: DeltaTable, flushed_seq: u64) -> Result<Self> {
        let schema = delta
            .table_provider()
            .await
            .map_err(Error::DataFusion)?
            .schema();
        let time_index = def
            .options
            .time_column
            .as_ref()
            .and_then(|c| schema.index_of(c).ok());
        Ok(Self {
            def,
            schema,
            time_index,
            state: RwLock::new(TableState {
                delta,
                flushed_seq,
                hot: HotTable::default(),
            }),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    pub fn def(&self) -> &TableDef {
        &self.def
    }

    /// The Arrow schema of the table's rows, as queries see them and as the hot tier holds them.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
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
            min_seq: state.hot.min_seq(),
        }
    }

    /// Adds a durable WAL record to the hot tier (called in sequence order, at write time and
    /// at replay). Records the Delta tier already holds are ignored.
    pub fn apply(&self, seq: u64, batch: RecordBatch) {
        let mut state = self.state.write().expect("table state lock");
        if seq <= state.flushed_seq {
            return;
        }
        state.hot.insert(seq, batch, self.time_index);
    }

    /// Moves every hot row into Delta in one commit that also records, as the table's `txn`
    /// version, the highest sequence number it holds. Returns that number, or `None` if there
    /// was nothing to flush.
    #[instrument(skip_all, fields(table = %self.def.name))]
    pub async fn flush(&self) -> Result<Option<u64>> {
        let _guard = self.write_lock.lock().await;
        self.flush_locked().await
    }

    async fn flush_locked(&self) -> Result<Option<u64>> {
        let (delta, taken) = {
            let mut state = self.state.write().expect("table state lock");
            (state.delta.clone(), state.hot.seal())
        };
        let Some(through) = taken.last().map(|b| b.last_seq) else {
            return Ok(None);
        };
        let rows: usize = taken.iter().map(|b| b.batch.num_rows()).sum();
        let batches: Vec<RecordBatch> = taken.iter().map(|b| b.batch.clone()).collect();
        let started = Instant::now();
        let commit = CommitProperties::default()
            .with_application_transaction(Transaction::new(&self.def.id, through as i64));
        let delta = delta
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .with_commit_properties(commit)
            .await
            .map_err(|e| Error::delta(&self.def.name, e))?;
        sync_commit(&delta).await?;
        {
            let mut state = self.state.write().expect("table state lock");
            state.delta = delta;
            state.flushed_seq = through;
            state.hot.drop_through(through);
        }
        info!(
            rows,
            through,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "flushed hot rows to Delta"
        );
        Ok(Some(through))
    }

    /// Deletes the rows matching `predicate` (all rows when `None`), hot ones included, in one
    /// Delta commit after a flush.
    #[instrument(skip_all, fields(table = %self.def.name))]
    pub async fn delete(&self, predicate: Option<Expr>) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        self.flush_locked().await?;
        let delta = self.state.read().expect("table state lock").delta.clone();
        let mut builder = delta.delete();
        if let Some(predicate) = predicate {
            builder = builder.with_predicate(predicate);
        }
        let (delta, metrics) = builder.await.map_err(|e| Error::delta(&self.def.name, e))?;
        self.state.write().expect("table state lock").delta = delta;
        Ok(metrics.num_deleted_rows.unwrap_or(0) as u64)
    }

    /// Sets `assignments` on the rows matching `predicate`, hot ones included, in one Delta
    /// commit after a flush.
    #[instrument(skip_all, fields(table = %self.def.name))]
    pub async fn update(
        &self,
        assignments: Vec<(String, Expr)>,
        predicate: Option<Expr>,
    ) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        self.flush_locked().await?;
        let delta = self.state.read().expect("table state lock").delta.clone();
        let mut builder = delta.update();
        for (column, value) in assignments {
            builder = builder.with_update(column, value);
        }
        if let Some(predicate) = predicate {
            builder = builder.with_predicate(predicate);
        }
        let (delta, metrics) = builder.await.map_err(|e| Error::delta(&self.def.name, e))?;
        self.state.write().expect("table state lock").delta = delta;
        Ok(metrics.num_updated_rows as u64)
    }

    /// The table's column constraints, checked before anything is logged so that the error
    /// names the column as PostgreSQL would (see [`crate::constraints`]).
    pub fn check_constraints(&self, batch: &RecordBatch) -> Result<()> {
        crate::constraints::check(&self.def, batch)
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
}

/// Makes a flush's files durable on a local lake before the WAL segments holding the same rows
/// may be deleted: object_store's local store does not fsync, and after a power loss the
/// page cache, unlike after a `kill -9`, is gone. (Object stores such as S3 are durable once
/// a put returns.) Syncs the commit file, the Parquet files it adds, and their directories.
async fn sync_commit(delta: &DeltaTable) -> Result<()> {
    let url = delta.table_url().clone();
    if url.scheme() != "file" {
        return Ok(());
    }
    let Some(version) = delta.version() else {
        return Ok(());
    };
    let Ok(root) = url.to_file_path() else {
        return Ok(());
    };
    tokio::task::spawn_blocking(move || -> Result<()> {
        let log_dir = root.join("_delta_log");
        let commit = log_dir.join(format!("{version:020}.json"));
        let text = std::fs::read_to_string(&commit).map_err(|source| Error::Io {
            path: commit.display().to_string(),
            source,
        })?;
        let mut paths = vec![commit];
        for line in text.lines() {
            let Ok(action) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(path) = action.pointer("/add/path").and_then(|p| p.as_str()) {
                let decoded = percent_decode(path);
                paths.push(root.join(decoded));
            }
        }
        let mut dirs: Vec<std::path::PathBuf> = paths
            .iter()
            .filter_map(|p| p.parent().map(|d| d.to_path_buf()))
            .collect();
        dirs.sort();
        dirs.dedup();
        for path in paths.iter().chain(dirs.iter()) {
            std::fs::File::open(path)
                .and_then(|f| f.sync_all())
                .map_err(|source| Error::Io {
                    path: path.display().to_string(),
                    source,
                })?;
        }
        Ok(())
    })
    .await
    .map_err(|e| Error::Wal(format!("sync task failed: {e}")))?
}

/// Delta stores `add.path` percent-encoded (a URI path).
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&path[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

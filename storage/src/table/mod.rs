//! [`Table`]: one table's two tiers, the hot rows in memory and the Delta table, and the
//! handoff between them.
//!
//! - `mod.rs`: the table's state, opening and creating it, the WAL apply step and the
//!   snapshot a scan reads.
//! - `flush.rs`: the exactly-once handoff of hot rows into Delta.
//! - `dml.rs`: DELETE and UPDATE, which commit to Delta after a flush.
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

mod dml;
mod flush;

use std::sync::{Arc, RwLock};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use deltalake::DeltaTable;
use oxbow_catalog::TableDef;
use tracing::instrument;

use crate::hot::{HotBatch, HotTable};
use crate::lake::{self, LakeRoot};
use crate::{Error, Result};

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
        let table = lake::create_table(root, def).await?;
        Self::with_state(def.clone(), table, 0).await
    }

    /// Opens the existing Delta table of `def` at its latest version and reads how far the
    /// hot tier has been flushed into it.
    #[instrument(skip_all, fields(table = %def.name))]
    pub async fn open(root: &LakeRoot, def: &TableDef) -> Result<Self> {
        let table = lake::open_table(root, def).await?;
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

    /// Adds this table's rows of a durable WAL transaction to the hot tier (called in sequence
    /// order, at write time and at replay; `seq` is the transaction's highest record of this
    /// table). All of them go in under one lock, so no flush can take part of a statement.
    /// Records the Delta tier already holds are ignored.
    pub fn apply(&self, seq: u64, batches: Vec<RecordBatch>) {
        let mut state = self.state.write().expect("table state lock");
        if seq <= state.flushed_seq {
            return;
        }
        for batch in batches {
            state.hot.insert(seq, batch, self.time_index);
        }
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

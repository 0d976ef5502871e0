//! [`Appender`]: the write path of `INSERT` and `COPY`, through the WAL into the hot tier.
//!
//! A statement's rows become one WAL record, so a statement is durable and visible all at
//! once or not at all. When the hot tier of all tables holds more than its memory budget,
//! writers wait for the flusher to make room (backpressure) instead of failing.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use tokio::sync::Notify;
use tracing::instrument;

use super::backpressure::MemoryBudget;
use super::{conform_batch, constraints};
use crate::registry::TableRegistry;
use crate::wal::WalWriter;
use crate::{Error, Result, Table};

pub struct Appender {
    wal: WalWriter,
    budget: MemoryBudget,
}

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender")
            .field("hot_memory_limit", &self.budget.limit())
            .finish_non_exhaustive()
    }
}

impl Appender {
    pub fn new(
        wal: WalWriter,
        registry: Arc<TableRegistry>,
        hot_memory_limit: usize,
        flush_wanted: Arc<Notify>,
    ) -> Self {
        Self {
            wal,
            budget: MemoryBudget::new(registry, hot_memory_limit, flush_wanted),
        }
    }

    pub fn wal(&self) -> &WalWriter {
        &self.wal
    }

    pub fn hot_memory_limit(&self) -> usize {
        self.budget.limit()
    }

    /// Whether the hot tier of all tables holds more than its memory budget.
    pub fn over_budget(&self) -> bool {
        self.budget.exceeded()
    }

    /// Appends the rows of one statement. Returns once they are fsynced in the WAL and
    /// visible to queries.
    #[instrument(skip_all, fields(table = %table.def().name))]
    pub async fn append(&self, table: &Table, batches: Vec<RecordBatch>) -> Result<u64> {
        match Self::prepare(table, batches)? {
            Some(batch) => self.write(table, batch).await,
            None => Ok(0),
        }
    }

    /// The rows of one statement as the one batch [`Appender::write`] takes: checked against
    /// the table's constraints and given exactly its schema. `None` for no rows.
    pub fn prepare(table: &Table, batches: Vec<RecordBatch>) -> Result<Option<RecordBatch>> {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows == 0 {
            return Ok(None);
        }
        let schema = table.schema();
        // Before anything is logged, so that the error names the column as PostgreSQL would.
        for batch in &batches {
            constraints::check(table.def(), batch)?;
        }
        let batches = batches
            .into_iter()
            .map(|b| conform_batch(b, &schema))
            .collect::<Result<Vec<_>>>()?;
        let batch = if batches.len() == 1 {
            batches.into_iter().next().expect("one batch")
        } else {
            concat_batches(&schema, &batches).map_err(|e| Error::DataFusion(e.into()))?
        };
        Ok(Some(batch))
    }

    /// Writes a prepared batch as one WAL record. Returns once it is fsynced and visible.
    pub async fn write(&self, table: &Table, batch: RecordBatch) -> Result<u64> {
        let rows = batch.num_rows();
        self.budget.wait_for_room().await;
        self.wal.append(&table.def().id, &[], batch).await?;
        Ok(rows as u64)
    }
}

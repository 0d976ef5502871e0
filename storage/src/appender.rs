//! [`Appender`]: the write path of `INSERT` and `COPY`, through the WAL into the hot tier.
//!
//! A statement's rows become one WAL record, so a statement is durable and visible all at
//! once or not at all. When the hot tier of all tables holds more than its memory budget,
//! writers wait for the flusher to make room (backpressure) instead of failing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::SchemaRef;
use tokio::sync::Notify;
use tracing::{instrument, warn};

use crate::registry::TableRegistry;
use crate::wal::WalWriter;
use crate::{Error, Result, Table};

pub struct Appender {
    wal: WalWriter,
    registry: Arc<TableRegistry>,
    hot_memory_limit: usize,
    /// Wakes the flusher when the budget is exceeded.
    flush_wanted: Arc<Notify>,
}

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender")
            .field("hot_memory_limit", &self.hot_memory_limit)
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
            registry,
            hot_memory_limit,
            flush_wanted,
        }
    }

    pub fn wal(&self) -> &WalWriter {
        &self.wal
    }

    pub fn hot_memory_limit(&self) -> usize {
        self.hot_memory_limit
    }

    pub fn over_budget(&self) -> bool {
        self.registry.hot_bytes() > self.hot_memory_limit
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
        for batch in &batches {
            table.check_constraints(batch)?;
        }
        let batches = batches
            .into_iter()
            .map(|b| conform(b, &schema))
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
        self.wait_for_room().await;
        self.wal.append(&table.def().id, &[], batch).await?;
        Ok(rows as u64)
    }

    async fn wait_for_room(&self) {
        if !self.over_budget() {
            return;
        }
        let started = Instant::now();
        while self.over_budget() {
            self.flush_wanted.notify_one();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let waited = started.elapsed();
        if waited > Duration::from_millis(100) {
            warn!(
                waited_ms = waited.as_millis() as u64,
                "a write waited for the hot tier to flush (memory budget reached)"
            );
        }
    }

    /// Deletes the WAL segments whose records are all in Delta.
    pub fn truncate_wal(&self) -> Result<usize> {
        let applied = self.wal.applied_seq();
        let low_water = self
            .registry
            .lowest_hot_seq()
            .map_or(applied + 1, |s| s.min(applied + 1));
        self.wal.delete_segments_below(low_water)
    }
}

/// Gives a batch exactly the table's schema: DataFusion may hand an INSERT's rows over with
/// other but compatible types (`Utf8` for `Utf8View`, a parameter's `Int64` for `Int32`), and
/// the hot tier must hold batches a scan can union with the Delta tier's.
fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.num_columns() != schema.fields().len() {
        return Err(Error::DataFusion(datafusion::error::DataFusionError::Plan(
            format!(
                "expected {} columns, got {}",
                schema.fields().len(),
                batch.num_columns()
            ),
        )));
    }
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (column, field) in batch.columns().iter().zip(schema.fields()) {
        columns.push(if column.data_type() == field.data_type() {
            Arc::clone(column)
        } else {
            cast(column, field.data_type()).map_err(|e| Error::DataFusion(e.into()))?
        });
    }
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| Error::DataFusion(e.into()))
}

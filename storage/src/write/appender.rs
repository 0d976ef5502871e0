//! [`Appender`]: the write path of `INSERT` and `COPY`, through the WAL into the hot tier.
//!
//! A statement's rows become one WAL transaction (one record, or several of bounded size of
//! which the last commits), so a statement is durable and visible all at once or not at all.
//! Each statement reserves its bytes in the hot tier's memory budget before it is written;
//! when they do not fit, the writer waits for the flusher to make room (backpressure) instead
//! of failing (see `backpressure.rs`).

use std::sync::Arc;

use arrow::array::RecordBatch;
use tokio::sync::Notify;
use tracing::instrument;

use super::backpressure::{MemoryBudget, Reservation, batches_bytes};
use super::{conform_batch, constraints};
use crate::registry::TableRegistry;
use crate::rollup::{RollupRebuild, Rollups};
use crate::wal::{WalPart, WalWriter};
use crate::{Result, Table};

pub struct Appender {
    wal: WalWriter,
    budget: MemoryBudget,
    /// The materialized views whose partial aggregates each write adds to its transaction.
    rollups: Rollups,
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
            rollups: Rollups::default(),
        }
    }

    pub fn rollups(&self) -> &Rollups {
        &self.rollups
    }

    pub fn wal(&self) -> &WalWriter {
        &self.wal
    }

    pub fn hot_memory_limit(&self) -> usize {
        self.budget.limit()
    }

    /// Counts `bytes` of rows a transaction block holds against the budget, waiting for room
    /// like a write. Released when the returned reservation is dropped.
    pub async fn reserve_held(&self, bytes: usize) -> Reservation {
        self.budget.reserve(bytes, true).await
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
            Some(batches) => self.write(table, batches).await,
            None => Ok(0),
        }
    }

    /// The rows of one statement as [`Appender::write`] takes them: checked against the
    /// table's constraints and given exactly its schema, empty batches left out. The batches
    /// are kept apart (not concatenated): the WAL writes them as they are, in records of
    /// bounded size. `None` for no rows.
    pub fn prepare(table: &Table, batches: Vec<RecordBatch>) -> Result<Option<Vec<RecordBatch>>> {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows == 0 {
            return Ok(None);
        }
        let schema = table.schema();
        let def = table.def();
        // Before anything is logged, so that the error names the column as PostgreSQL would.
        for batch in &batches {
            constraints::check(&def, batch)?;
        }
        let batches = batches
            .into_iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| conform_batch(b, &schema))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(batches))
    }

    /// Writes a statement's prepared batches as one WAL transaction. Returns once it is
    /// fsynced and visible.
    pub async fn write(&self, table: &Table, batches: Vec<RecordBatch>) -> Result<u64> {
        self.write_transaction(vec![(table, batches)]).await
    }

    /// Writes the prepared rows of several tables as one WAL transaction (a `COMMIT`): after a
    /// crash, every table has its rows or none has. Returns the number of rows.
    pub async fn write_transaction(&self, parts: Vec<(&Table, Vec<RecordBatch>)>) -> Result<u64> {
        let rows: usize = parts
            .iter()
            .flat_map(|(_, batches)| batches.iter().map(|b| b.num_rows()))
            .sum();
        if rows == 0 {
            return Ok(0);
        }
        let bytes = parts
            .iter()
            .map(|(_, batches)| batches_bytes(batches))
            .sum();
        let reservation = self.budget.reserve(bytes, false).await;
        self.write_reserved(parts, reservation).await
    }

    /// Writes rows whose bytes `reservation` already counts (a block's held rows at `COMMIT`).
    /// The reservation is released once they are in the hot tier, or the write failed.
    pub async fn write_reserved(
        &self,
        parts: Vec<(&Table, Vec<RecordBatch>)>,
        reservation: Reservation,
    ) -> Result<u64> {
        let reservation = reservation.into_write();
        let rows: usize = parts
            .iter()
            .flat_map(|(_, batches)| batches.iter().map(|b| b.num_rows()))
            .sum();
        if rows == 0 {
            return Ok(0);
        }
        // Every write waits while a view is filled or refreshed ([`Rollups::exclusive`]), and
        // only then looks for the views of its tables: a view registered during the wait is
        // maintained by this write, and one filled before it saw none of these rows.
        let _gate = self.rollups.shared().await;
        self.log(parts, reservation).await
    }

    /// Writes the rows of views' state tables while `rebuild` keeps every other write out
    /// (the first fill of a view, a `REFRESH`).
    pub async fn write_while_rebuilding(
        &self,
        _rebuild: &RollupRebuild<'_>,
        table: &Table,
        batches: Vec<RecordBatch>,
    ) -> Result<u64> {
        let reservation = self.budget.reserve(batches_bytes(&batches), false).await;
        self.log(vec![(table, batches)], reservation.into_write())
            .await
    }

    /// Logs `parts` and, for each table with materialized views, the partial aggregates of
    /// its rows for each view, as one WAL transaction: a crash keeps the rows and their
    /// counts in the views together, or neither.
    async fn log(
        &self,
        parts: Vec<(&Table, Vec<RecordBatch>)>,
        reservation: Reservation,
    ) -> Result<u64> {
        let rows: usize = parts
            .iter()
            .flat_map(|(_, batches)| batches.iter().map(|b| b.num_rows()))
            .sum();
        let mut wal_parts = Vec::with_capacity(parts.len());
        for (table, batches) in parts {
            let def = table.def();
            let table_id = def.id.clone();
            let rollups = self.rollups.of_source(&table_id);
            if def.options.rollup_only && rollups.is_empty() {
                return Err(crate::Error::Unsupported(format!(
                    "a write to {}, which keeps no rows of its own (rollup_only) and has no materialized view to count them (create the view first)",
                    def.name
                )));
            }
            for rollup in rollups {
                let delta = rollup.delta(&batches).await?;
                if !delta.is_empty() {
                    wal_parts.push(WalPart {
                        table_id: rollup.state_table.def().id.clone(),
                        offsets: Vec::new(),
                        batches: delta,
                    });
                }
            }
            // A rollup-only table's rows live on only as its views' partial aggregates.
            if !def.options.rollup_only {
                wal_parts.push(WalPart {
                    table_id,
                    offsets: Vec::new(),
                    batches,
                });
            }
        }
        let written = self.wal.append(wal_parts).await;
        // Applied (counted by the tables' hot bytes now) or failed: either way, not in flight.
        drop(reservation);
        written?;
        Ok(rows as u64)
    }
}

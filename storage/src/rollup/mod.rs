//! Continuous rollups, write side: the partial aggregates a write to a table adds to each
//! materialized view over it, computed at the write chokepoint ([`crate::Appender`]) and
//! logged in the same WAL transaction as the rows themselves.
//!
//! That one transaction is the whole consistency argument: a row is visible in its table
//! exactly when its contribution is visible in every view over it, and a crash keeps both or
//! neither, so a view never misses or double-counts a row (DESIGN rule 1 extended to views).
//! Views only ever add partial rows (one per group a write touches), and the view's read
//! query merges them, so late and out-of-order rows are as exact as any other.
//!
//! The SQL meaning (which queries can be maintained, how each aggregate splits into states
//! and a merge) is the server's (`statements::rollup`); this room only runs the partial query
//! it was given over each write's rows, and the compaction query over the rows each flush of
//! a state table hands to Delta (a [`FlushCompactor`]: partial rows merged per group, the same
//! `txn`, so the handoff stays exactly once). `REFRESH` and the first fill of a view hold
//! [`Rollups::exclusive`] so that no write lands between the rebuild's scan and its append.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{LogicalPlan, TableScan};
use datafusion::physical_plan::collect;
use oxbow_catalog::ObjectName;
use tokio::sync::{RwLock as AsyncRwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::table::FlushCompactor;
use crate::{Result, Table, conform_batch};

/// One materialized view's maintenance: the query that turns a write's rows into partial
/// aggregate rows of the view's state table, and the one that merges partial rows per group
/// when the state table flushes.
pub struct Rollup {
    pub view: ObjectName,
    pub source_id: String,
    pub state_table: Arc<Table>,
    partial: BatchQuery,
    compaction: Option<Arc<BatchQuery>>,
}

impl std::fmt::Debug for Rollup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rollup")
            .field("view", &self.view)
            .field("source_id", &self.source_id)
            .finish_non_exhaustive()
    }
}

impl Rollup {
    /// `partial_sql` reads one table (the source) and `compact_sql` reads the state table;
    /// both are planned with `planner`, which must resolve those names. At each use their
    /// scan is pointed at the rows in hand.
    pub fn new(
        view: ObjectName,
        source_id: String,
        state_table: Arc<Table>,
        partial_sql: String,
        compact_sql: Option<String>,
        planner: SessionState,
    ) -> Self {
        let schema = state_table.schema();
        let compaction = compact_sql
            .map(|sql| Arc::new(BatchQuery::new(sql, planner.clone(), Arc::clone(&schema))));
        Self {
            view,
            source_id,
            partial: BatchQuery::new(partial_sql, planner, schema),
            compaction,
            state_table,
        }
    }

    /// The partial aggregate rows of `batches` (rows of the source, already conformed to its
    /// schema), with exactly the state table's schema. Empty when the rows touch no group
    /// (every row filtered out by the view's `WHERE`).
    pub async fn delta(&self, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
        self.partial.over(batches).await
    }

    /// The partial aggregate rows of every row the source holds now (a view's first fill and
    /// its `REFRESH`), with the state table's schema.
    pub async fn full(&self) -> Result<Vec<RecordBatch>> {
        self.partial.over_tables().await
    }

    fn renamed(&self, view: &ObjectName) -> Self {
        Self {
            view: view.clone(),
            source_id: self.source_id.clone(),
            state_table: Arc::clone(&self.state_table),
            partial: self.partial.clone(),
            compaction: self.compaction.clone(),
        }
    }
}

/// A query over one table, run over rows in hand instead: its plan is made once per input
/// schema and its scan swapped for the rows at each run. Its output is conformed to `output`.
struct BatchQuery {
    sql: String,
    planner: SessionState,
    output: SchemaRef,
    /// The query planned for one input schema, reused while inputs keep that schema.
    template: Mutex<Option<(SchemaRef, LogicalPlan)>>,
}

impl Clone for BatchQuery {
    fn clone(&self) -> Self {
        Self::new(
            self.sql.clone(),
            self.planner.clone(),
            Arc::clone(&self.output),
        )
    }
}

impl BatchQuery {
    fn new(sql: String, planner: SessionState, output: SchemaRef) -> Self {
        Self {
            sql,
            planner,
            output,
            template: Mutex::new(None),
        }
    }

    /// The query over `batches` (all of one schema) instead of its table.
    async fn over(&self, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
        let Some(first) = batches.first() else {
            return Ok(Vec::new());
        };
        let schema = first.schema();
        let template = self.template(&schema).await?;
        let rows = Arc::new(MemTable::try_new(
            Arc::clone(&schema),
            vec![batches.to_vec()],
        )?);
        let plan = template
            .transform_up(|node| match node {
                LogicalPlan::TableScan(scan) => {
                    Ok(Transformed::yes(LogicalPlan::TableScan(TableScan {
                        source: provider_as_source(Arc::clone(&rows) as _),
                        ..scan
                    })))
                }
                other => Ok(Transformed::no(other)),
            })?
            .data;
        self.run(&plan).await
    }

    /// The query over its table as it is now.
    async fn over_tables(&self) -> Result<Vec<RecordBatch>> {
        let plan = self.planner.create_logical_plan(&self.sql).await?;
        self.run(&plan).await
    }

    async fn run(&self, plan: &LogicalPlan) -> Result<Vec<RecordBatch>> {
        let physical = self.planner.create_physical_plan(plan).await?;
        let out = collect(physical, self.planner.task_ctx()).await?;
        out.into_iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| conform_batch(b, &self.output))
            .collect()
    }

    async fn template(&self, schema: &SchemaRef) -> Result<LogicalPlan> {
        if let Some((planned_for, plan)) = &*self.template.lock().expect("rollup template")
            && planned_for == schema
        {
            return Ok(plan.clone());
        }
        // Planned again when the input's schema changed (ALTER TABLE ADD COLUMN): the scan's
        // projection indexes the schema it was planned for.
        let plan = self.planner.create_logical_plan(&self.sql).await?;
        *self.template.lock().expect("rollup template") = Some((Arc::clone(schema), plan.clone()));
        Ok(plan)
    }
}

#[async_trait::async_trait]
impl FlushCompactor for BatchQuery {
    /// The partial rows merged per group: the same view answer from fewer rows.
    async fn compact(&self, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
        let merged = self.over(&batches).await?;
        Ok(if merged.is_empty() { batches } else { merged })
    }
}

/// The materialized views of every table, by the id of the table they read.
#[derive(Debug, Default)]
pub struct Rollups {
    by_source: RwLock<HashMap<String, Vec<Arc<Rollup>>>>,
    /// Held shared by every write to a table with views, exclusively by a rebuild.
    gate: AsyncRwLock<()>,
}

impl Rollups {
    pub fn register(&self, rollup: Arc<Rollup>) {
        let mut by_source = self.by_source.write().expect("rollups lock");
        let views = by_source.entry(rollup.source_id.clone()).or_default();
        views.retain(|r| r.view != rollup.view);
        let compactor = rollup
            .compaction
            .clone()
            .map(|c| c as Arc<dyn FlushCompactor>);
        rollup.state_table.set_flush_compactor(compactor);
        views.push(rollup);
    }

    /// Forgets the view `view`; returns its maintenance if it had one.
    pub fn unregister(&self, view: &ObjectName) -> Option<Arc<Rollup>> {
        let mut by_source = self.by_source.write().expect("rollups lock");
        let mut found = None;
        for views in by_source.values_mut() {
            if let Some(i) = views.iter().position(|r| &r.view == view) {
                let rollup = views.remove(i);
                rollup.state_table.set_flush_compactor(None);
                found = Some(rollup);
            }
        }
        by_source.retain(|_, views| !views.is_empty());
        found
    }

    /// Follows a renamed view.
    pub fn rename(&self, from: &ObjectName, to: &ObjectName) {
        if let Some(old) = self.unregister(from) {
            self.register(Arc::new(old.renamed(to)));
        }
    }

    /// The views maintained from the table with id `source_id`.
    pub fn of_source(&self, source_id: &str) -> Vec<Arc<Rollup>> {
        self.by_source
            .read()
            .expect("rollups lock")
            .get(source_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The maintenance of the view `view`.
    pub fn get(&self, view: &ObjectName) -> Option<Arc<Rollup>> {
        let by_source = self.by_source.read().expect("rollups lock");
        by_source
            .values()
            .flatten()
            .find(|r| &r.view == view)
            .cloned()
    }

    /// Whether any view reads the table with id `source_id`.
    pub fn feeds(&self, source_id: &str) -> bool {
        self.by_source
            .read()
            .expect("rollups lock")
            .contains_key(source_id)
    }

    pub(crate) async fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().await
    }

    /// Keeps every write out until dropped, once the writes under way are visible: a rebuild
    /// scans its source and appends the states under it
    /// ([`crate::Appender::write_while_rebuilding`]), so no row is counted twice or missed.
    pub async fn exclusive(&self) -> RollupRebuild<'_> {
        RollupRebuild(self.gate.write().await)
    }
}

/// Proof that every write is held out (see [`Rollups::exclusive`]).
pub struct RollupRebuild<'a>(#[allow(dead_code)] RwLockWriteGuard<'a, ()>);

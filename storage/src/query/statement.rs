//! [`StatementSnapshots`]: one [`TableSnapshot`] per table for the whole of one statement.
//!
//! Every `scan()` of an [`OxbowTable`](super::OxbowTable) happens while DataFusion turns a
//! statement's logical plan into its physical plan, scalar subqueries included (each becomes a
//! plan inside a `ScalarSubqueryExec`, planned in the same pass). [`SnapshotPerStatement`], the
//! session's `QueryPlanner`, runs that pass with a fresh, empty [`StatementSnapshots`] in a
//! task-local: the first scan of a table captures its snapshot, every later scan of it in the
//! same plan reuses that one. A self-join, a subquery on the same table and the `SELECT` of an
//! `INSERT INTO t SELECT ... FROM t` therefore read one state, and the next statement, planned
//! in a pass of its own, sees new data.
//!
//! Why a task-local around the planner and not a field the server resets per statement: the
//! scope of the cache is then exactly one physical plan, whichever path (simple or extended
//! protocol, cursors, `CREATE TABLE AS`, views, the server's own statements) asks for it, and
//! no statement can be left reading a stale snapshot because a reset was missed. A scan
//! outside such a pass (a plan built with another planner) captures a snapshot of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::error::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;

use crate::Table;
use crate::table::TableSnapshot;

tokio::task_local! {
    /// The snapshots of the statement being planned on this task, if any.
    static STATEMENT: StatementSnapshots;
}

/// The snapshots the scans of one statement read, by table id.
#[derive(Debug, Clone, Default)]
pub struct StatementSnapshots {
    tables: Arc<Mutex<HashMap<String, Arc<TableSnapshot>>>>,
}

impl StatementSnapshots {
    /// The snapshot of `table` for the statement being planned: the one its first scan
    /// captured, or, outside a [`SnapshotPerStatement`] pass, a new one.
    pub fn of(table: &Table) -> Arc<TableSnapshot> {
        STATEMENT
            .try_with(|statement| statement.get_or_capture(table))
            .unwrap_or_else(|_| Arc::new(table.snapshot()))
    }

    fn get_or_capture(&self, table: &Table) -> Arc<TableSnapshot> {
        // Held while capturing, so two scans planned concurrently cannot take two snapshots.
        let mut tables = self.tables.lock().expect("statement snapshots lock");
        Arc::clone(
            tables
                .entry(table.def().id.clone())
                .or_insert_with(|| Arc::new(table.snapshot())),
        )
    }
}

/// The session's `QueryPlanner`: the planner it wraps (DataFusion's own by default), run with
/// one [`StatementSnapshots`] per physical plan.
#[derive(Debug)]
pub struct SnapshotPerStatement {
    inner: Arc<dyn QueryPlanner + Send + Sync>,
}

impl SnapshotPerStatement {
    pub fn new(inner: Arc<dyn QueryPlanner + Send + Sync>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl QueryPlanner for SnapshotPerStatement {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // A plan nested in another one's planning (none today) shares the outer statement's.
        if STATEMENT.try_with(|_| ()).is_ok() {
            return self.inner.create_physical_plan(logical_plan, session).await;
        }
        STATEMENT
            .scope(
                StatementSnapshots::default(),
                self.inner.create_physical_plan(logical_plan, session),
            )
            .await
    }
}

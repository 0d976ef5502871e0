//! [`DmlExec`]: the physical plan of an `INSERT`, `UPDATE` or `DELETE` on an Oxbow table.
//!
//! An append goes through the WAL into the hot tier (one WAL record per statement); DELETE
//! and UPDATE flush the hot rows and commit to Delta. The write happens when the plan is
//! executed, not when it is planned, so `EXPLAIN DELETE ...` shows the plan without deleting
//! anything. The plan yields one row, `count`, the number of rows written, which the server
//! turns into the command tag (`DELETE 3`).

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, collect,
};

use super::{MergeSpec, keyed_dml, keyed_merge};
use crate::write::transaction;
use crate::{Appender, Table};

#[derive(Debug, Clone)]
pub enum DmlOp {
    /// Appends every row `input` produces, as one commit.
    Append {
        input: Arc<dyn ExecutionPlan>,
    },
    Delete {
        predicate: Option<Expr>,
    },
    Update {
        assignments: Vec<(String, Expr)>,
        predicate: Option<Expr>,
    },
    /// `MERGE INTO` a keyed table with the rows `source` produces ([`super::keyed_merge`]).
    Merge {
        source: Arc<dyn ExecutionPlan>,
        spec: MergeSpec,
    },
}

#[derive(Debug)]
pub struct DmlExec {
    table: Arc<Table>,
    appender: Arc<Appender>,
    op: DmlOp,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl DmlExec {
    pub fn new(table: Arc<Table>, appender: Arc<Appender>, op: DmlOp) -> Self {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "count",
            DataType::UInt64,
            false,
        )]));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            table,
            appender,
            op,
            schema,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for DmlExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let verb = match &self.op {
            DmlOp::Append { .. } => "Append".to_string(),
            DmlOp::Delete { predicate } => format!("Delete: predicate={predicate:?}"),
            DmlOp::Update { predicate, .. } => format!("Update: predicate={predicate:?}"),
            DmlOp::Merge { spec, .. } => format!("Merge: on={}", spec.on),
        };
        write!(f, "OxbowDmlExec: table={} op={verb}", self.table.def().name)
    }
}

impl ExecutionPlan for DmlExec {
    fn name(&self) -> &str {
        "OxbowDmlExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        match &self.op {
            DmlOp::Append { input } => vec![input],
            DmlOp::Merge { source, .. } => vec![source],
            _ => vec![],
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let op = match (&self.op, children.into_iter().next()) {
            (DmlOp::Append { .. }, Some(input)) => DmlOp::Append { input },
            (DmlOp::Merge { spec, .. }, Some(source)) => DmlOp::Merge {
                source,
                spec: spec.clone(),
            },
            (op, _) => op.clone(),
        };
        Ok(Arc::new(DmlExec::new(
            Arc::clone(&self.table),
            Arc::clone(&self.appender),
            op,
        )))
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(
        &self,
        _partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let table = Arc::clone(&self.table);
        let appender = Arc::clone(&self.appender);
        let op = self.op.clone();
        let schema = Arc::clone(&self.schema);
        let out_schema = Arc::clone(&schema);
        let work = async move {
            let config = context.session_config().clone();
            let rows = match op {
                DmlOp::Append { input } => {
                    let batches = collect(input, context).await?;
                    transaction::append(&config, &table, &appender, batches).await?
                }
                DmlOp::Delete { predicate } if table.is_keyed() => {
                    transaction::write_held(&config).await?;
                    keyed_dml::delete(&table, &appender, &config, predicate).await?
                }
                DmlOp::Update {
                    assignments,
                    predicate,
                } if table.is_keyed() => {
                    transaction::write_held(&config).await?;
                    keyed_dml::update(&table, &appender, &config, assignments, predicate).await?
                }
                DmlOp::Merge { source, spec } => {
                    let source_schema = source.schema();
                    let rows = collect(source, context).await?;
                    transaction::write_held(&config).await?;
                    keyed_merge::merge(&table, &appender, &config, spec, source_schema, rows)
                        .await?
                }
                DmlOp::Delete { predicate } => {
                    transaction::write_held(&config).await?;
                    table.delete(predicate).await?
                }
                DmlOp::Update {
                    assignments,
                    predicate,
                } => {
                    transaction::write_held(&config).await?;
                    table.update(assignments, predicate).await?
                }
            };
            let count: ArrayRef = Arc::new(UInt64Array::from(vec![rows]));
            Ok(RecordBatch::try_new(out_schema, vec![count])?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::once(work),
        )))
    }
}

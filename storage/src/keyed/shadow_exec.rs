//! [`ShadowFilterExec`]: drops the Delta rows of a keyed table whose key a hot change (an
//! upsert or a delete) shadows in the query's snapshot, so the union with the hot rows holds
//! one version of each key.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
};
use futures::StreamExt;

use super::{KeyCodec, ShadowSet};

#[derive(Debug)]
pub struct ShadowFilterExec {
    input: Arc<dyn ExecutionPlan>,
    codec: KeyCodec,
    shadow: Arc<ShadowSet>,
    high: u64,
    /// Positions of the key columns in the input's schema, in key order.
    keys: Vec<usize>,
    /// Positions of the output columns in the input's schema.
    output: Vec<usize>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl ShadowFilterExec {
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        codec: KeyCodec,
        shadow: Arc<ShadowSet>,
        high: u64,
        keys: Vec<usize>,
        output: Vec<usize>,
    ) -> Result<Self> {
        let schema = Arc::new(input.schema().project(&output)?);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            input.output_partitioning().clone(),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Ok(Self {
            input,
            codec,
            shadow,
            high,
            keys,
            output,
            schema,
            properties: Arc::new(properties),
        })
    }
}

impl DisplayAs for ShadowFilterExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "OxbowShadowFilter: keys={} high={}",
            self.codec.names().join(","),
            self.high
        )
    }
}

impl ExecutionPlan for ShadowFilterExec {
    fn name(&self) -> &str {
        "OxbowShadowFilter"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input = children.into_iter().next().expect("one child");
        Ok(Arc::new(Self::try_new(
            input,
            self.codec.clone(),
            Arc::clone(&self.shadow),
            self.high,
            self.keys.clone(),
            self.output.clone(),
        )?))
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let codec = self.codec.clone();
        let shadow = Arc::clone(&self.shadow);
        let (high, keys, output) = (self.high, self.keys.clone(), self.output.clone());
        let schema = Arc::clone(&self.schema);
        let stream = input.map(move |batch| {
            let batch = batch?;
            let columns: Vec<ArrayRef> =
                keys.iter().map(|i| Arc::clone(batch.column(*i))).collect();
            let encoded = codec.encode_columns(&columns)?;
            let keep: BooleanArray = shadow
                .hidden(&encoded, high)
                .into_iter()
                .map(|hidden| Some(!hidden))
                .collect();
            let kept = filter_record_batch(&batch, &keep)?;
            let projected = kept.project(&output)?;
            // With no output column (`count(*)`) the row count must be carried explicitly.
            let options = RecordBatchOptions::new().with_row_count(Some(kept.num_rows()));
            Ok(RecordBatch::try_new_with_options(
                Arc::clone(&schema),
                projected.columns().to_vec(),
                &options,
            )?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }
}

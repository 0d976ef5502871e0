//! `oxbow.sources`: one row per source, computed when queried: its connector, format and
//! target, its state (`starting`, `running`, `paused`, `failed`, `finished`), rows in,
//! refused, deduplicated and filtered, bytes in, rows per second over the last minute, the
//! last position per file or partition, lag where the connector knows it (files waiting; for
//! Kafka the sum over partitions of `oxbow.source_partitions`, computed when queried),
//! the last error, the latest event time landed, and the statement that created it.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::SourceManager;

#[derive(Debug)]
pub struct SourcesTable {
    /// Weak: the manager holds the session that holds this table.
    manager: Weak<SourceManager>,
}

impl SourcesTable {
    pub fn new(manager: &Arc<SourceManager>) -> Self {
        Self {
            manager: Arc::downgrade(manager),
        }
    }
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("schema_name", DataType::Utf8, false),
        Field::new("source_name", DataType::Utf8, false),
        Field::new("connector", DataType::Utf8, false),
        Field::new("format", DataType::Utf8, false),
        Field::new("target_table", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("rows_in", DataType::UInt64, false),
        Field::new("rows_rejected", DataType::UInt64, false),
        Field::new("rows_deduplicated", DataType::UInt64, false),
        Field::new("rows_filtered", DataType::UInt64, false),
        Field::new("bytes_in", DataType::UInt64, false),
        Field::new("rows_per_second", DataType::Float64, false),
        Field::new("last_offsets", DataType::Utf8, false),
        Field::new("lag", DataType::Int64, true),
        Field::new("last_error", DataType::Utf8, true),
        Field::new(
            "last_event_time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("source_id", DataType::Utf8, false),
        Field::new("definition", DataType::Utf8, false),
    ]))
}

#[async_trait]
impl TableProvider for SourcesTable {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let sources = self.manager.upgrade().map(|m| m.all()).unwrap_or_default();
        let rows: Vec<_> = sources.iter().map(|s| (s, s.stats.snapshot())).collect();
        let text =
            |f: &dyn Fn(&(&Arc<super::RunningSource>, super::stats::StatsSnapshot)) -> String| {
                Arc::new(StringArray::from_iter_values(rows.iter().map(f))) as ArrayRef
            };
        let columns: Vec<ArrayRef> = vec![
            text(&|(s, _)| s.def.name.schema.clone()),
            text(&|(s, _)| s.def.name.name.clone()),
            text(&|(s, _)| s.def.connector.clone()),
            text(&|(s, _)| s.def.format.clone()),
            text(&|(s, _)| s.def.target.to_string()),
            text(&|(_, st)| st.state.as_str().to_string()),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|(_, st)| st.rows_in),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|(_, st)| st.rejected),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|(_, st)| st.deduplicated),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|(_, st)| st.filtered),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|(_, st)| st.bytes_in),
            )),
            Arc::new(Float64Array::from_iter_values(
                rows.iter().map(|(_, st)| st.rows_per_second),
            )),
            text(&|(_, st)| st.offsets.clone()),
            Arc::new(Int64Array::from_iter(rows.iter().map(|(_, st)| st.lag))),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|(_, st)| st.last_error.clone()),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter(
                    rows.iter().map(|(_, st)| st.last_event_time_us),
                )
                .with_timezone("UTC"),
            ),
            text(&|(s, _)| s.def.id.clone()),
            text(&|(s, _)| s.def.definition.clone()),
        ];
        let batch = RecordBatch::try_new(schema(), columns)?;
        MemTable::try_new(schema(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

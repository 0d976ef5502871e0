//! `oxbow.source_partitions`: one row per partition of each source whose connector knows its
//! end offsets (Kafka), computed when queried: the durable offset (the next one to land, as
//! `oxbow.source_offsets` holds it), the broker's end offset (the last stable offset, since
//! sources read committed messages only), lag in messages (never negative) and in
//! milliseconds (now minus the event time of the last durable message while behind, 0 when
//! caught up), and that event time.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::SourceManager;

#[derive(Debug)]
pub struct SourcePartitionsTable {
    manager: Weak<SourceManager>,
}

impl SourcePartitionsTable {
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
        Field::new("partition", DataType::Utf8, false),
        Field::new("offset", DataType::Int64, true),
        Field::new("end_offset", DataType::Int64, false),
        Field::new("lag", DataType::Int64, false),
        Field::new("lag_ms", DataType::Int64, true),
        Field::new(
            "last_message_time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
    ]))
}

#[async_trait]
impl TableProvider for SourcePartitionsTable {
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
        let mut rows = Vec::new();
        for s in &sources {
            for p in s.stats.snapshot().partitions {
                rows.push((s.def.name.schema.clone(), s.def.name.name.clone(), p));
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.0.clone()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.1.clone()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.2.key.clone()),
            )),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.2.offset))),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.2.end_offset),
            )),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2.lag))),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.2.lag_ms))),
            Arc::new(
                TimestampMicrosecondArray::from_iter(
                    rows.iter()
                        .map(|r| r.2.last_message_time_ms.map(|ms| ms.saturating_mul(1000))),
                )
                .with_timezone("UTC"),
            ),
        ];
        let batch = RecordBatch::try_new(schema(), columns)?;
        MemTable::try_new(schema(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

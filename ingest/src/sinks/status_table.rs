//! `oxbow.sinks`: one row per sink, computed when queried: its table, target and format, its
//! status (`starting`, `running`, `paused`, `failed`), rows and bytes out, the WAL position
//! emitted through (durable in the target), the lag, the last error, and its statement.
//!
//! `lag_seq` is the number of WAL sequence numbers committed after the position (writes of
//! every table count, as each is a record the sink must read past); `lag_ms` is how long ago
//! the sink last had nothing left to read (0 while caught up).

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::SinkManager;
use super::stats::now_us;

#[derive(Debug)]
pub struct SinksTable {
    /// Weak: the manager lives as long as the server's session.
    manager: Weak<SinkManager>,
}

impl SinksTable {
    pub fn new(manager: &Arc<SinkManager>) -> Self {
        Self {
            manager: Arc::downgrade(manager),
        }
    }
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("schema_name", DataType::Utf8, false),
        Field::new("sink_name", DataType::Utf8, false),
        Field::new("from_table", DataType::Utf8, false),
        Field::new("target", DataType::Utf8, false),
        Field::new("format", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("rows_out", DataType::UInt64, false),
        Field::new("bytes_out", DataType::UInt64, false),
        Field::new("position", DataType::UInt64, true),
        Field::new("lag_seq", DataType::UInt64, true),
        Field::new("lag_ms", DataType::Int64, true),
        Field::new("last_error", DataType::Utf8, true),
        Field::new("sink_id", DataType::Utf8, false),
        Field::new("definition", DataType::Utf8, false),
    ]))
}

#[async_trait]
impl TableProvider for SinksTable {
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
        let manager = self.manager.upgrade();
        let sinks = manager.as_ref().map(|m| m.all()).unwrap_or_default();
        let applied = manager
            .as_ref()
            .map_or(0, |m| m.database().wal().applied_seq());
        let now = now_us();
        let rows: Vec<_> = sinks.iter().map(|s| (s, s.stats.snapshot())).collect();
        let text =
            |f: &dyn Fn(&(&Arc<super::RunningSink>, super::stats::SinkSnapshot)) -> String| {
                Arc::new(StringArray::from_iter_values(rows.iter().map(f))) as ArrayRef
            };
        let target = |def: &oxbow_catalog::SinkDef| {
            let options: Vec<String> = def
                .target_options
                .iter()
                .map(|(k, v)| format!("{k} = '{}'", v.replace('\'', "''")))
                .collect();
            format!("{} ({})", def.target, options.join(", "))
        };
        let columns: Vec<ArrayRef> = vec![
            text(&|(s, _)| s.def.name.schema.clone()),
            text(&|(s, _)| s.def.name.name.clone()),
            text(&|(s, _)| s.def.from.to_string()),
            text(&|(s, _)| target(&s.def)),
            text(&|(s, _)| s.def.format.clone()),
            text(&|(_, st)| st.state.as_str().to_string()),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|(_, st)| st.rows_out),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|(_, st)| st.bytes_out),
            )),
            Arc::new(UInt64Array::from_iter(
                rows.iter().map(|(_, st)| st.position),
            )),
            Arc::new(UInt64Array::from_iter(
                rows.iter()
                    .map(|(_, st)| st.position.map(|p| applied.saturating_sub(p))),
            )),
            Arc::new(Int64Array::from_iter(rows.iter().map(|(_, st)| {
                let behind = st.position.is_none_or(|p| p < applied);
                match (behind, st.caught_up_us) {
                    (false, _) => Some(0),
                    (true, Some(t)) => Some((now - t).max(0) / 1000),
                    (true, None) => None,
                }
            }))),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|(_, st)| st.last_error.clone()),
            )),
            text(&|(s, _)| s.def.id.clone()),
            text(&|(s, _)| s.def.definition.clone()),
        ];
        let batch = RecordBatch::try_new(schema(), columns)?;
        MemTable::try_new(schema(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

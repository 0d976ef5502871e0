//! `oxbow.*`: tables that show the state of the engine, computed when queried.
//!
//! `oxbow.tables` has one row per table: its hot rows and bytes, the last WAL sequence number
//! flushed to Delta, the Delta version and the number of Delta data files, the table's id and
//! the URL of its Delta table (`<lake root>/tables/<id>/`).

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider, Session};
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::Database;

/// The name of the schema holding the system tables.
pub const SYSTEM_SCHEMA: &str = "oxbow";

pub fn system_schema(db: Arc<Database>) -> Arc<dyn SchemaProvider> {
    let schema = MemorySchemaProvider::new();
    schema
        .register_table("tables".into(), Arc::new(TablesTable { db }))
        .expect("a fresh schema has no tables");
    Arc::new(schema)
}

#[derive(Debug)]
struct TablesTable {
    db: Arc<Database>,
}

fn tables_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("schema_name", DataType::Utf8, false),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("hot_rows", DataType::UInt64, false),
        Field::new("hot_bytes", DataType::UInt64, false),
        Field::new("hot_batches", DataType::UInt64, false),
        Field::new("flushed_seq", DataType::UInt64, false),
        Field::new("delta_version", DataType::Int64, false),
        Field::new("delta_files", DataType::UInt64, false),
        // Where the Delta table is, for engines that read it directly (Spark, DuckDB,
        // deltalake): the location comes from the id, so the name does not tell.
        Field::new("table_id", DataType::Utf8, false),
        Field::new("location", DataType::Utf8, false),
    ]))
}

#[async_trait]
impl TableProvider for TablesTable {
    fn schema(&self) -> SchemaRef {
        tables_schema()
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
        let mut tables = self.db.open_tables();
        tables.sort_by(|a, b| a.def().name.cmp(&b.def().name));
        let hot: Vec<_> = tables.iter().map(|t| t.hot_stats()).collect();
        let delta: Vec<_> = tables.iter().map(|t| t.delta_stats()).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                tables.iter().map(|t| t.def().name.schema.clone()),
            )),
            Arc::new(StringArray::from_iter_values(
                tables.iter().map(|t| t.def().name.name.clone()),
            )),
            Arc::new(UInt64Array::from_iter_values(
                hot.iter().map(|h| h.rows as u64),
            )),
            Arc::new(UInt64Array::from_iter_values(
                hot.iter().map(|h| h.bytes as u64),
            )),
            Arc::new(UInt64Array::from_iter_values(
                hot.iter().map(|h| h.batches as u64),
            )),
            Arc::new(UInt64Array::from_iter_values(
                tables.iter().map(|t| t.flushed_seq()),
            )),
            Arc::new(Int64Array::from_iter_values(delta.iter().map(|d| d.0))),
            Arc::new(UInt64Array::from_iter_values(
                delta.iter().map(|d| d.1 as u64),
            )),
            Arc::new(StringArray::from_iter_values(
                tables.iter().map(|t| t.def().id.clone()),
            )),
            Arc::new(StringArray::from_iter_values(
                tables
                    .iter()
                    .map(|t| t.snapshot().delta.table_url().to_string()),
            )),
        ];
        let batch = RecordBatch::try_new(tables_schema(), columns)?;
        MemTable::try_new(tables_schema(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

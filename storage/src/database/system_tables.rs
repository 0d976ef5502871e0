//! `oxbow.*`: tables that show the state of the engine, computed when queried.
//!
//! `oxbow.tables` has one row per table: its hot rows and bytes, the last WAL sequence number
//! flushed to Delta, the Delta version and the number of Delta data files, the table's id, the
//! URL of its Delta table (`<lake root>/tables/<id>/`), and its `status`: `ok`, or
//! `unavailable: <reason>` for a table whose Delta table could not be opened (its figures are
//! then 0, and -1 for the version).

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

/// The `oxbow` schema: views computed from the engine's state (`tables` here, `sources`
/// registered by the server, which runs the sources) and the real tables of the system schema
/// ([`super::ingest_tables`]).
pub fn system_schema(db: Arc<Database>) -> Arc<dyn SchemaProvider> {
    let views = MemorySchemaProvider::new();
    views
        .register_table(
            "tables".into(),
            Arc::new(TablesTable {
                db: Arc::clone(&db),
            }),
        )
        .expect("a fresh schema has no tables");
    Arc::new(SystemSchema { db, views })
}

#[derive(Debug)]
struct SystemSchema {
    db: Arc<Database>,
    views: MemorySchemaProvider,
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.views.table_names();
        names.extend(self.db.relation_names(SYSTEM_SCHEMA));
        names.sort();
        names
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some(view) = self.views.table(name).await? {
            return Ok(Some(view));
        }
        Ok(self
            .db
            .relation(&oxbow_catalog::ObjectName::new(SYSTEM_SCHEMA, name)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.views.table_exist(name)
            || self
                .db
                .relation(&oxbow_catalog::ObjectName::new(SYSTEM_SCHEMA, name))
                .is_some()
    }

    /// How the server adds its views (`oxbow.sources`).
    fn register_table(
        &self,
        name: String,
        table: Arc<dyn TableProvider>,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        self.views.deregister_table(&name)?;
        self.views.register_table(name, table)
    }
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
        Field::new("status", DataType::Utf8, false),
    ]))
}

/// One row of `oxbow.tables`.
struct TableRow {
    name: oxbow_catalog::ObjectName,
    hot_rows: u64,
    hot_bytes: u64,
    hot_batches: u64,
    flushed_seq: u64,
    delta_version: i64,
    delta_files: u64,
    table_id: String,
    location: String,
    status: String,
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
        let mut rows: Vec<TableRow> = self
            .db
            .open_tables()
            .iter()
            .map(|t| {
                let hot = t.hot_stats();
                let (delta_version, delta_files) = t.delta_stats();
                TableRow {
                    name: t.def().name.clone(),
                    hot_rows: hot.rows as u64,
                    hot_bytes: hot.bytes as u64,
                    hot_batches: hot.batches as u64,
                    flushed_seq: t.flushed_seq(),
                    delta_version,
                    delta_files: delta_files as u64,
                    table_id: t.def().id.clone(),
                    location: t.snapshot().delta.table_url().to_string(),
                    status: "ok".into(),
                }
            })
            .collect();
        rows.extend(self.db.unavailable_tables().iter().map(|t| {
            TableRow {
                name: t.def().name.clone(),
                hot_rows: 0,
                hot_bytes: 0,
                hot_batches: 0,
                flushed_seq: 0,
                delta_version: -1,
                delta_files: 0,
                table_id: t.def().id.clone(),
                location: self
                    .db
                    .lake()
                    .table_url(&t.def().location)
                    .map(|u| u.to_string())
                    .unwrap_or_else(|_| t.def().location.clone()),
                status: format!("unavailable: {}", t.reason()),
            }
        }));
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.name.schema.clone()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.name.name.clone()),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.hot_rows),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.hot_bytes),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.hot_batches),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.flushed_seq),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| r.delta_version),
            )),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.delta_files),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.table_id.clone()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.location.clone()),
            )),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.status.clone()),
            )),
        ];
        let batch = RecordBatch::try_new(tables_schema(), columns)?;
        MemTable::try_new(tables_schema(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

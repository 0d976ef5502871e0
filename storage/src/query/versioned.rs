//! [`VersionedTable`]: the `TableProvider` of one older Delta version of an Oxbow table
//! (`SELECT ... FROM t VERSION AS OF n`). Read-only, lake only (`crate::table::time_travel`).
//!
//! Its columns are the table's columns that the version has, in the table's order and with
//! their declared SQL types; the derived partition columns of the Delta table (`ts_day`) are
//! left out, as in a scan of the table itself.

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use deltalake::DeltaTable;

use crate::Table;

#[derive(Debug)]
pub struct VersionedTable {
    version: u64,
    delta: DeltaTable,
    /// For each column of `schema`, its index in the Delta provider's schema.
    columns: Vec<usize>,
    schema: SchemaRef,
}

impl VersionedTable {
    /// `table` as of Delta version `version`.
    pub async fn load(table: &Table, version: u64) -> crate::Result<Self> {
        let delta = table.delta_at(version).await?;
        let provider = delta
            .table_provider()
            .await
            .map_err(crate::Error::DataFusion)?;
        let lake = provider.schema();
        let def = table.def();
        let mut columns = Vec::new();
        let mut fields = Vec::new();
        for column in &def.columns {
            if let Ok(i) = lake.index_of(&column.name) {
                let mut field = lake.field(i).clone();
                if let Some(metadata) = column.sql_type.field_metadata() {
                    field = field.with_metadata(metadata);
                }
                columns.push(i);
                fields.push(field);
            }
        }
        Ok(Self {
            version,
            delta,
            columns,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    pub fn version(&self) -> u64 {
        self.version
    }
}

#[async_trait]
impl TableProvider for VersionedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.delta
            .update_datafusion_session(state)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        let mut builder = self.delta.table_provider();
        if let Some(session) = state.as_any().downcast_ref::<SessionState>() {
            builder = builder.with_session(Arc::new(session.clone()));
        }
        let provider = builder.await?;
        let wanted: Vec<usize> = match projection {
            Some(p) => p.iter().map(|i| self.columns[*i]).collect(),
            None => self.columns.clone(),
        };
        provider.scan(state, Some(&wanted), filters, limit).await
    }
}

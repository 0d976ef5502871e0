//! [`OxbowTable`]: the DataFusion `TableProvider` of an Oxbow table.
//!
//! Reads go to the latest committed Delta snapshot through deltalake's own provider, which
//! prunes files by their statistics and pushes projections and filters into the Parquet scan.
//! Writes become a [`DmlExec`] that commits once when executed.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::not_impl_err;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::LakeTable;
use crate::dml_exec::{DmlExec, DmlOp};

#[derive(Debug)]
pub struct OxbowTable {
    lake: Arc<LakeTable>,
    schema: SchemaRef,
}

impl OxbowTable {
    pub async fn new(lake: Arc<LakeTable>) -> crate::Result<Self> {
        let schema = lake.arrow_schema().await?;
        Ok(Self { lake, schema })
    }

    pub fn lake(&self) -> &Arc<LakeTable> {
        &self.lake
    }
}

/// DML predicates arrive qualified with the table name; deltalake resolves columns against the
/// bare table schema.
fn bare_predicate(filters: Vec<Expr>) -> Option<Expr> {
    conjunction(filters.into_iter().map(unnormalize_col))
}

#[async_trait]
impl TableProvider for OxbowTable {
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
        // File pruning by statistics is inexact: DataFusion re-applies every filter.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let snapshot = self.lake.snapshot().await;
        snapshot
            .update_datafusion_session(state)
            .map_err(|e| crate::Error::delta(&self.lake.def().name, e))?;
        let provider = snapshot.table_provider().await?;
        provider.scan(state, projection, filters, limit).await
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if insert_op != InsertOp::Append {
            return not_impl_err!("{insert_op} is not supported on Oxbow tables");
        }
        Ok(Arc::new(DmlExec::new(
            Arc::clone(&self.lake),
            DmlOp::Append { input },
        )))
    }

    async fn delete_from(
        &self,
        _state: &dyn Session,
        filters: Vec<Expr>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(DmlExec::new(
            Arc::clone(&self.lake),
            DmlOp::Delete {
                predicate: bare_predicate(filters),
            },
        )))
    }

    async fn update(
        &self,
        _state: &dyn Session,
        assignments: Vec<(String, Expr)>,
        filters: Vec<Expr>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let assignments = assignments
            .into_iter()
            .map(|(column, value)| (column, unnormalize_col(value)))
            .collect();
        Ok(Arc::new(DmlExec::new(
            Arc::clone(&self.lake),
            DmlOp::Update {
                assignments,
                predicate: bare_predicate(filters),
            },
        )))
    }
}

//! [`UnavailableTable`]: a table whose Delta table could not be opened at startup (a torn or
//! unreadable log version), kept apart so that the rest of the database serves.
//!
//! It stays in the catalog and answers name resolution, so that a query names the real
//! problem ([`Error::TableUnavailable`]) instead of "relation does not exist", and so that it
//! can be dropped. Every scan and write of it fails. Its WAL records are kept: the WAL is not
//! truncated past the first of them (see [`TableRegistry::pin_wal`](crate::registry::TableRegistry::pin_wal)).

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::physical_plan::ExecutionPlan;
use oxbow_catalog::TableDef;

use crate::Error;

#[derive(Debug, Clone)]
pub struct UnavailableTable {
    def: TableDef,
    schema: SchemaRef,
    reason: String,
}

impl UnavailableTable {
    pub fn new(def: TableDef, reason: String) -> Self {
        let schema = Arc::new(def.arrow_schema());
        Self {
            def,
            schema,
            reason,
        }
    }

    pub fn def(&self) -> &TableDef {
        &self.def
    }

    /// Why the table could not be opened.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub fn error(&self) -> Error {
        Error::TableUnavailable {
            table: self.def.name.to_string(),
            reason: self.reason.clone(),
        }
    }
}

#[async_trait]
impl TableProvider for UnavailableTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(self.error().into())
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        _input: Arc<dyn ExecutionPlan>,
        _insert_op: InsertOp,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(self.error().into())
    }

    async fn delete_from(
        &self,
        _state: &dyn Session,
        _filters: Vec<Expr>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(self.error().into())
    }

    async fn update(
        &self,
        _state: &dyn Session,
        _assignments: Vec<(String, Expr)>,
        _filters: Vec<Expr>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Err(self.error().into())
    }
}

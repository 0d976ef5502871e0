//! `INSERT`, `UPDATE`, `DELETE` and `MERGE`: planned by DataFusion (which calls the table's
//! `insert_into` / `update` / `delete_from`), executed here so that the client gets the
//! PostgreSQL command tag with the row count.

use datafusion::arrow::array::{Array, UInt64Array};
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;

#[derive(Debug, Clone, Copy)]
pub enum DmlKind {
    Insert,
    Update,
    Delete,
    /// `MERGE INTO` (DataFusion plans it; keyed tables run it, others refuse it with 0A000).
    Merge,
}

impl DmlKind {
    pub fn of(statement: &Statement) -> Option<Self> {
        match statement {
            Statement::Insert(_) => Some(DmlKind::Insert),
            Statement::Update(_) => Some(DmlKind::Update),
            Statement::Delete(_) => Some(DmlKind::Delete),
            Statement::Merge(_) => Some(DmlKind::Merge),
            _ => None,
        }
    }

    fn tag(self, rows: usize) -> Tag {
        match self {
            // The OID field of an INSERT tag is always 0 since PostgreSQL 12.
            DmlKind::Insert => Tag::new("INSERT").with_oid(0).with_rows(rows),
            DmlKind::Update => Tag::new("UPDATE").with_rows(rows),
            DmlKind::Delete => Tag::new("DELETE").with_rows(rows),
            DmlKind::Merge => Tag::new("MERGE").with_rows(rows),
        }
    }
}

pub async fn execute_statement(
    kind: DmlKind,
    statement: &Statement,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    let mut statement = statement.clone();
    let _versions = crate::sql::time_travel::resolve(&mut statement, ctx).await?;
    crate::sql::temp_tables::qualify(&mut statement, ctx);
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
        .await?;
    run(kind, plan, ctx).await
}

pub async fn execute_plan(
    kind: DmlKind,
    plan: &LogicalPlan,
    params: &ParamValues,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    let plan = plan.clone().replace_params_with_values(params)?;
    run(kind, plan, ctx).await
}

async fn run(
    kind: DmlKind,
    plan: LogicalPlan,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    let batches = ctx.execute_logical_plan(plan).await?.collect().await?;
    let rows: u64 = batches
        .iter()
        .filter_map(|b| b.column_by_name("count"))
        .filter_map(|c| c.as_any().downcast_ref::<UInt64Array>())
        .filter(|c| !c.is_empty())
        .map(|c| c.value(0))
        .sum();
    Ok(Response::Execution(kind.tag(rows as usize)))
}

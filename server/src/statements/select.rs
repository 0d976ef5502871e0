//! Queries (`SELECT`, `VALUES`, `WITH ...`): planned here, and in the simple protocol run and
//! described here, so that their result columns are named and typed as PostgreSQL would
//! (see `crate::wire::describe`).
//!
//! Planning also accepts what DataFusion refuses and PostgreSQL does not: two result columns
//! with the same name (`SELECT NULL, nspname, NULL`, which psqlODBC's `SQLTables` sends). On
//! that error the select lists are given unique internal aliases and the query is planned
//! again; the client still sees PostgreSQL's names, which come from the original statement.
//!
//! The same holds for a string literal compared with a boolean in a select list
//! (`SELECT flag = 't'`): DataFusion refuses it while planning, so the query is planned again
//! with such literals read as booleans (`crate::sql::rewrite::planning_retries::boolean_literals`).
//!
//! This hook runs last, after every hook that answers a statement of its own.

use std::sync::Arc;

use arrow_pg::datatypes::df::encode_dataframe;
use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Ident, Query, SelectItem, SetExpr, Statement};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::portal::Format;
use pgwire::api::results::Response;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::types::format::FormatOptions;

use crate::wire::cancel::StatementStop;
use crate::wire::encode::adapt_response;

pub struct SelectStatements;

/// Plans a query (after `crate::sql::rewrite::ast`), planning it again in a rewritten form when
/// DataFusion refuses what PostgreSQL accepts: duplicate column names (unique aliases), and a
/// correlated scalar subquery without an aggregate (`first_value`). `client` is the session's
/// connection: its login user, and its time zone, in which timestamptz columns are written.
pub async fn plan_query(
    ctx: &SessionContext,
    statement: &Statement,
    client: &(impl ClientInfo + ?Sized),
) -> datafusion::error::Result<LogicalPlan> {
    let plan = plan_statement(ctx, statement, &login_user(client)).await?;
    match crate::statements::settings::time_zone::of_session(client) {
        Some(zone) => crate::statements::settings::time_zone::relabel(plan, &zone),
        None => Ok(plan),
    }
}

/// [`plan_query`] for callers without a pgwire connection (the HTTP API), as `user`, in UTC.
pub(crate) async fn plan_statement(
    ctx: &SessionContext,
    statement: &Statement,
    user: &str,
) -> datafusion::error::Result<LogicalPlan> {
    let state = ctx.state();
    let mut statement = statement.clone();
    crate::sql::rewrite::ast::rewrite(&mut statement, user);
    // Registered for this planning only: the plan keeps the versions it reads.
    let _versions = crate::sql::time_travel::resolve(&mut statement, ctx).await?;
    crate::sql::temp_tables::qualify(&mut statement, ctx);
    let mut renamed = false;
    let mut aggregated = false;
    let mut booleans = false;
    loop {
        match state
            .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
            .await
        {
            Err(e) if !booleans && is_boolean_text_comparison(&e) => {
                let mut retried = statement.clone();
                crate::sql::rewrite::planning_retries::boolean_literals(&mut retried);
                if state
                    .statement_to_plan(DfStatement::Statement(Box::new(retried.clone())))
                    .await
                    .is_err()
                {
                    return Err(e);
                }
                statement = retried;
                booleans = true;
            }
            Err(e) if !renamed && is_duplicate_name(&e) => {
                if let Statement::Query(query) = &mut statement {
                    alias_uniquely(query);
                }
                renamed = true;
            }
            // DataFusion refuses a correlated scalar subquery without an aggregate only while
            // optimizing (decorrelation), so plans with scalar subqueries are tried once here.
            Ok(plan) if !aggregated && has_scalar_subquery(&plan) => match state.optimize(&plan) {
                Err(e) if is_ungrouped_scalar_subquery(&e) => {
                    crate::sql::rewrite::planning_retries::aggregate_scalar_subqueries(
                        &mut statement,
                    );
                    aggregated = true;
                }
                _ => return Ok(plan),
            },
            result => return result,
        }
    }
}

/// Whether a node of `plan` has a scalar subquery among its expressions.
fn has_scalar_subquery(plan: &LogicalPlan) -> bool {
    use datafusion::common::tree_node::TreeNode;
    use datafusion::logical_expr::Expr;

    plan.exists(|node| {
        Ok(node.expressions().iter().any(|e| {
            e.exists(|e| Ok(matches!(e, Expr::ScalarSubquery(_))))
                .unwrap_or(false)
        }))
    })
    .unwrap_or(false)
}

fn is_ungrouped_scalar_subquery(e: &DataFusionError) -> bool {
    e.to_string()
        .contains("Correlated scalar subquery must be aggregated")
}

/// DataFusion's refusal of `boolean = 'text literal'`, which PostgreSQL reads as a boolean.
fn is_boolean_text_comparison(e: &DataFusionError) -> bool {
    let message = e.to_string();
    message.contains("Cannot infer common argument type for comparison operation")
        && message.contains("Boolean")
        && (message.contains("Utf8") || message.contains("LargeUtf8"))
}

fn is_duplicate_name(e: &DataFusionError) -> bool {
    e.to_string()
        .contains("Projections require unique expression names")
}

/// Gives every expression of every select list of `query`'s body an internal alias of its
/// own position (`*` is left alone).
fn alias_uniquely(query: &mut Query) {
    fn body(set: &mut SetExpr) {
        match set {
            SetExpr::Select(select) => {
                for (i, item) in select.projection.iter_mut().enumerate() {
                    let alias = Ident::with_quote('"', format!("__oxbow_column_{i}"));
                    *item = match std::mem::replace(item, SelectItem::Wildcard(Default::default()))
                    {
                        SelectItem::UnnamedExpr(expr) => SelectItem::ExprWithAlias { expr, alias },
                        SelectItem::ExprWithAlias { expr, .. } => {
                            SelectItem::ExprWithAlias { expr, alias }
                        }
                        other => other,
                    };
                }
            }
            SetExpr::Query(query) => body(&mut query.body),
            SetExpr::SetOperation { left, right, .. } => {
                body(left);
                body(right);
            }
            _ => {}
        }
    }
    body(&mut query.body);
}

/// The user the client logged in as (the startup message's `user`).
fn login_user(client: &(impl ClientInfo + ?Sized)) -> String {
    client
        .metadata()
        .get("user")
        .cloned()
        .unwrap_or_else(|| "oxbow".to_string())
}

/// Plans and runs a query of the simple protocol. The statement's cancel token and
/// `statement_timeout` hold through planning, execution and every row sent
/// (`crate::wire::cancel`).
async fn run(
    statement: &Statement,
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> PgWireResult<Response> {
    let api = |e: DataFusionError| PgWireError::ApiError(Box::new(e));
    let stop = StatementStop::of(&*client);
    let planned = async {
        let plan = plan_query(ctx, statement, &*client).await.map_err(api)?;
        ctx.execute_logical_plan(plan).await.map_err(api)
    };
    let df = stop.run(planned).await?;
    let schema = df.schema().as_arrow().clone();
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let response = encode_dataframe(df, &Format::UnifiedText, Some(options)).await?;
    Ok(Response::Query(stop.guard(adapt_response(
        response,
        &schema,
        Some(statement),
    ))))
}

#[async_trait]
impl QueryHook for SelectStatements {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        match statement {
            Statement::Query(_) => Some(run(statement, ctx, client).await),
            _ => None,
        }
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        match statement {
            Statement::Query(_) => Some(
                plan_query(ctx, statement, client)
                    .await
                    .map_err(|e| PgWireError::ApiError(Box::new(e))),
            ),
            _ => None,
        }
    }

    /// Executed by datafusion-postgres, which knows the portal's result formats;
    /// `OxbowExtendedQuery` then describes the columns.
    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}

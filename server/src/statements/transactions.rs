//! `BEGIN`, `COMMIT` and `ROLLBACK`: datafusion-postgres' hook, which accepts them (Oxbow has
//! no real transactions: each statement commits on its own) and refuses other statements in
//! a block that has failed, with PostgreSQL's SQLSTATE for that refusal.
//!
//! The library refuses with 25P01 (no_active_sql_transaction); PostgreSQL sends 25P02
//! (in_failed_sql_transaction), which drivers map to their own exception (psycopg2's
//! `InFailedSqlTransaction`).

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use pgwire::api::ClientInfo;
use pgwire::api::results::Response;
use pgwire::error::{PgWireError, PgWireResult};

use crate::sqlstate::code;

pub struct TransactionStatements;

/// The library's refusal in an aborted block, with PostgreSQL's code.
fn in_failed_transaction<T>(result: Option<PgWireResult<T>>) -> Option<PgWireResult<T>> {
    match result {
        Some(Err(PgWireError::UserError(mut info)))
            if info.code == code::NO_ACTIVE_SQL_TRANSACTION
                && info.message.starts_with("current transaction is aborted") =>
        {
            info.code = code::IN_FAILED_SQL_TRANSACTION.into();
            Some(Err(PgWireError::UserError(info)))
        }
        other => other,
    }
}

#[async_trait]
impl QueryHook for TransactionStatements {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        in_failed_transaction(
            TransactionStatementHook
                .handle_simple_query(statement, ctx, client)
                .await,
        )
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        in_failed_transaction(
            TransactionStatementHook
                .handle_extended_parse_query(statement, ctx, client)
                .await,
        )
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        in_failed_transaction(
            TransactionStatementHook
                .handle_extended_query(statement, plan, params, ctx, client)
                .await,
        )
    }
}

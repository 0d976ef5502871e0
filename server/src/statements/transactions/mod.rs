//! `BEGIN`, `COMMIT` and `ROLLBACK`: datafusion-postgres' hook answers them and refuses other
//! statements in a block that has failed (with PostgreSQL's SQLSTATE, 25P02, where the library
//! says 25P01); around it, this hook opens and ends the session's
//! [`TransactionWrites`]: a block's `INSERT` and `COPY` rows are written at `COMMIT` and
//! dropped at `ROLLBACK` (see `oxbow_storage::transaction` for what stays outside the block).

pub mod savepoint;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use oxbow_storage::TransactionWrites;
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{CommandComplete, NoticeResponse};

use crate::wire::sqlstate::code;

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

/// Opens or ends the session's held writes as the library's answer to a transaction statement
/// says: `BEGIN` opens a block, `COMMIT` writes its rows (the library answers `ROLLBACK` to a
/// `COMMIT` of a failed block), `ROLLBACK` drops them.
async fn block_writes(
    statement: &Statement,
    response: Response,
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> PgWireResult<Response> {
    let Some(block) = TransactionWrites::of(ctx.state_ref().read().config()) else {
        return Ok(response);
    };
    let commit = match (statement, &response) {
        (Statement::StartTransaction { .. }, Response::TransactionStart(_)) => {
            block.begin();
            return Ok(response);
        }
        (Statement::Commit { .. }, Response::TransactionEnd(tag)) => is_commit(tag),
        (Statement::Rollback { .. }, Response::TransactionEnd(_)) => false,
        _ => return Ok(response),
    };
    let ended = block
        .end(commit)
        .await
        .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
    if !commit && ended.committed_early {
        warn_not_undone(
            client,
            "ROLLBACK could not undo all of the transaction: UPDATE, DELETE, TRUNCATE and DDL \
             commit when they run in Oxbow (with the rows inserted before them)",
        )
        .await?;
    }
    Ok(response)
}

/// Tells the client, as a WARNING notice, that a rollback left statements committed.
pub(super) async fn warn_not_undone(
    client: &mut dyn HookClient,
    message: &str,
) -> PgWireResult<()> {
    let warning = ErrorInfo::new("WARNING".into(), "01000".into(), message.into());
    client
        .send_message(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
            warning,
        )))
        .await
}

fn is_commit(tag: &Tag) -> bool {
    CommandComplete::from(tag.clone()).tag == "COMMIT"
}

#[async_trait]
impl QueryHook for TransactionStatements {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let answer = TransactionStatementHook
            .handle_simple_query(statement, ctx, client)
            .await;
        Some(match in_failed_transaction(answer)? {
            Ok(response) => block_writes(statement, response, ctx, client).await,
            Err(e) => Err(e),
        })
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
        let answer = TransactionStatementHook
            .handle_extended_query(statement, plan, params, ctx, client)
            .await;
        Some(match in_failed_transaction(answer)? {
            Ok(response) => block_writes(statement, response, ctx, client).await,
            Err(e) => Err(e),
        })
    }
}

//! `SAVEPOINT`, `RELEASE [SAVEPOINT]` and `ROLLBACK TO [SAVEPOINT]`, over the rows the
//! session's transaction block holds (`oxbow_storage::transaction`): `ROLLBACK TO` drops the
//! rows inserted or copied since the savepoint. Drivers rely on them: psycopg 3's nested
//! transactions (which SQLAlchemy uses on connect), psqlODBC's statement-level rollback in
//! manual-commit mode, ORMs' nested blocks.
//!
//! A statement that committed on its own since the savepoint (`UPDATE`, `DELETE`, DDL) is not
//! undone; `ROLLBACK TO` then warns. `ROLLBACK TO` after an error does not (yet) clear the
//! aborted state of the block (pgwire keeps the state it saw when the query started). A name
//! that was never set is accepted, as before savepoints held anything.
//!
//! `DEALLOCATE name` is answered here too: drivers (psqlODBC) send it for statements they
//! prepared with the protocol's `Parse`, which DataFusion's SQL-level `DEALLOCATE` cannot see.

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::PgWireResult;

pub struct SavepointHook;

fn tag(statement: &Statement) -> Option<&'static str> {
    match statement {
        Statement::Savepoint { .. } => Some("SAVEPOINT"),
        Statement::ReleaseSavepoint { .. } => Some("RELEASE"),
        Statement::Rollback {
            savepoint: Some(_), ..
        } => Some("ROLLBACK"),
        Statement::Deallocate { .. } => Some("DEALLOCATE"),
        _ => None,
    }
}

#[async_trait]
impl QueryHook for SavepointHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        deallocate(statement, client);
        let tag = tag(statement)?;
        Some(
            held_rows(statement, ctx, client)
                .await
                .map(|_| Response::Execution(Tag::new(tag))),
        )
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        tag(statement).map(|_| Ok(crate::statements::empty_plan()))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        deallocate(statement, client);
        let tag = tag(statement)?;
        Some(
            held_rows(statement, ctx, client)
                .await
                .map(|_| Response::Execution(Tag::new(tag))),
        )
    }
}

/// Sets, releases or rolls back to a savepoint of the session's held rows.
async fn held_rows(
    statement: &Statement,
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> PgWireResult<()> {
    let Some(block) = oxbow_storage::TransactionWrites::of(ctx.state_ref().read().config()) else {
        return Ok(());
    };
    let committed_since = match statement {
        Statement::Savepoint { name } => {
            block.savepoint(&name.value);
            false
        }
        Statement::ReleaseSavepoint { name } => {
            block.release(&name.value);
            false
        }
        Statement::Rollback {
            savepoint: Some(name),
            ..
        } => block.rollback_to(&name.value).unwrap_or(false),
        _ => false,
    };
    if committed_since {
        super::warn_not_undone(
            client,
            "ROLLBACK TO SAVEPOINT could not undo all of it: UPDATE, DELETE, TRUNCATE and DDL \
             commit when they run in Oxbow",
        )
        .await?;
    }
    Ok(())
}

/// Forgets a protocol-level prepared statement (`DEALLOCATE ALL` forgets none: pgwire's store
/// cannot list them; the connection's end frees them).
fn deallocate(statement: &Statement, client: &mut dyn HookClient) {
    if let Statement::Deallocate { name, .. } = statement
        && !name.value.eq_ignore_ascii_case("all")
    {
        use pgwire::api::store::PortalStore;
        client.portal_store().rm_statement(&name.value);
    }
}

//! `SAVEPOINT`, `RELEASE [SAVEPOINT]` and `ROLLBACK TO [SAVEPOINT]`, accepted so that drivers
//! that wrap statements in savepoints work (psycopg 3's nested transactions, which SQLAlchemy
//! uses on connect; psqlODBC in manual-commit mode).
//!
//! Like `BEGIN`/`COMMIT`, they do not make a transaction: every statement commits on its own,
//! so there is nothing to roll back to. `ROLLBACK TO` after an error does not (yet) clear the
//! aborted state of the block (pgwire keeps the state it saw when the query started).
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
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        deallocate(statement, client);
        tag(statement).map(|t| Ok(Response::Execution(Tag::new(t))))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        tag(statement).map(|_| Ok(super::empty_plan()))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        deallocate(statement, client);
        tag(statement).map(|t| Ok(Response::Execution(Tag::new(t))))
    }
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

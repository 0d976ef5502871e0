//! `DECLARE name CURSOR FOR query`, `FETCH`, `MOVE` and `CLOSE`: a cursor's query is planned
//! and described as any other query (`crate::statements::select`), and its rows wait as Arrow
//! batches ([`open::Cursor`]) until a `FETCH` encodes them in the format it asks for.
//!
//! datafusion-postgres has cursors of its own, but it plans the cursor's query with DataFusion
//! directly (no PostgreSQL rewrites, DataFusion's column names and types), encodes every row
//! as text when the cursor is declared, and keeps no plan in the portal. `Describe` of the
//! cursor answered `NoData` and `Describe` of a `FETCH` no columns while `FETCH` sent rows:
//! psycopg's server-side cursors, which read `FETCH` results against those descriptions,
//! crashed in psycopg's C code, and its binary cursors read text as binary numbers. Here
//! `Describe` of the cursor's portal and of a `FETCH` statement or portal answers the
//! cursor's columns (`crate::wire::extended` asks [`fetched_cursor`]), in the format the
//! `FETCH` asked for, and its rows come in that format.
//!
//! The cursor's name is also a portal of the session's portal store (never started), so that
//! `Describe` of the portal finds it as PostgreSQL's does.
//!
//! Cursors scan forward only: `BACKWARD`, `PRIOR`, `ABSOLUTE` and the like are refused with
//! PostgreSQL's 55000, as `MOVE` is (`crate::wire::portals`); `DECLARE ... BINARY` is refused
//! (0A000: the result format is the `FETCH`'s). A `FETCH` stops with 57014 when it is
//! canceled or runs past `statement_timeout`. sqlparser does not parse a `FETCH` without a
//! direction (`FETCH c`) or with a negative count; those get 42601.

pub mod open;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    CloseCursor, Declare, DeclareType, FetchDirection, Ident, Statement, Value, ValueWithSpan,
};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::results::{Response, Tag};
use pgwire::api::stmt::StoredStatement;
use pgwire::api::store::{MemPortalStore, PortalStore};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

use crate::wire::cancel::StatementStop;
use open::{Cursor, Cursors, api_error};

/// A statement as datafusion-postgres keeps it: its SQL text, and its parsed form and plan.
pub type PortalStatement = (String, Option<(Statement, LogicalPlan)>);

pub struct CursorStatements;

fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message.into(),
    )))
}

fn no_cursor(name: &str) -> PgWireError {
    error("34000", format!("cursor \"{name}\" does not exist"))
}

/// A cursor's name as PostgreSQL folds it: unquoted names are lower case.
pub fn cursor_name(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// The open cursor a `FETCH` statement reads, if `statement` is one.
pub fn fetched_cursor(
    client: &(impl ClientInfo + ?Sized),
    statement: &Statement,
) -> Option<Arc<Cursor>> {
    let Statement::Fetch { name, .. } = statement else {
        return None;
    };
    Cursors::of(client).get(&cursor_name(name))
}

async fn declare(
    store: &MemPortalStore<PortalStatement>,
    declarations: &[Declare],
    ctx: &SessionContext,
    client: &(dyn HookClient + '_),
) -> PgWireResult<Response> {
    let cursors = Cursors::of(client);
    for declaration in declarations {
        if declaration.declare_type != Some(DeclareType::Cursor) {
            return Err(error("0A000", "only DECLARE ... CURSOR is supported"));
        }
        if declaration.binary == Some(true) {
            return Err(error(
                "0A000",
                "BINARY cursors are not supported: ask FETCH for binary results",
            ));
        }
        let (Some(name), Some(query)) = (declaration.names.first(), &declaration.for_query) else {
            return Err(error(
                "42601",
                "DECLARE CURSOR needs a name and a FOR query",
            ));
        };
        let name = cursor_name(name);
        if cursors.get(&name).is_some() {
            return Err(error("42P03", format!("cursor \"{name}\" already exists")));
        }
        let statement = Statement::Query(query.clone());
        let stop = StatementStop::of(client);
        let (plan, stream) = stop
            .run(async {
                let plan = crate::statements::select::plan_query(ctx, &statement, client)
                    .await
                    .map_err(api_error)?;
                let df = ctx
                    .execute_logical_plan(plan.clone())
                    .await
                    .map_err(api_error)?;
                Ok((plan, df.execute_stream().await.map_err(api_error)?))
            })
            .await?;
        let stored = Arc::new(StoredStatement::new(
            name.clone(),
            (statement.to_string(), Some((statement, plan))),
            Vec::new(),
        ));
        if !cursors.open(name.clone(), Cursor::new(Arc::clone(&stored), stream)) {
            return Err(error("42P03", format!("cursor \"{name}\" already exists")));
        }
        store.put_portal(Arc::new(Portal::new_cursor(name, stored)));
    }
    Ok(Response::Execution(Tag::new("DECLARE CURSOR")))
}

/// How many rows a `FETCH` direction reads forward (`None`: all of them).
fn forward_rows(direction: &FetchDirection) -> PgWireResult<Option<usize>> {
    let count = |limit: &ValueWithSpan| match &limit.value {
        Value::Number(n, _) => match n.parse::<i64>() {
            Ok(0) => Err(error(
                "0A000",
                "FETCH 0 (the current row again) is not supported",
            )),
            Ok(n) if n > 0 => Ok(Some(n as usize)),
            Ok(_) => Err(error("55000", "cursor can only scan forward")),
            Err(_) => Err(error("42601", format!("invalid FETCH count {n}"))),
        },
        other => Err(error("42601", format!("invalid FETCH count {other}"))),
    };
    match direction {
        FetchDirection::Next | FetchDirection::Forward { limit: None } => Ok(Some(1)),
        FetchDirection::Forward { limit: Some(limit) } | FetchDirection::Count { limit } => {
            count(limit)
        }
        FetchDirection::All | FetchDirection::ForwardAll => Ok(None),
        _ => Err(error("55000", "cursor can only scan forward")),
    }
}

/// Runs a `FETCH` statement, its rows encoded in `format` (the portal's result format in the
/// extended protocol; text in the simple protocol).
pub async fn fetch(
    statement: &Statement,
    format: &Format,
    client: &(impl ClientInfo + ?Sized),
) -> PgWireResult<Response> {
    let Statement::Fetch {
        name,
        direction,
        into,
        ..
    } = statement
    else {
        return Err(error("42601", "not a FETCH statement"));
    };
    if into.is_some() {
        return Err(error("0A000", "FETCH ... INTO is not supported"));
    }
    let rows = forward_rows(direction)?;
    let cursor = fetched_cursor(client, statement).ok_or_else(|| no_cursor(&cursor_name(name)))?;
    let stop = StatementStop::of(client);
    let batches = stop
        .run(async { cursor.take(rows).await.map_err(api_error) })
        .await?;
    Ok(Response::Query(cursor.response(batches, format, client)?))
}

/// `MOVE` over a declared cursor: the number of rows skipped, or `None` if `name` is no
/// cursor (it may be a protocol portal, `crate::wire::portals`).
pub async fn skip(
    client: &(impl ClientInfo + ?Sized),
    name: &str,
    rows: Option<usize>,
) -> Option<PgWireResult<usize>> {
    let cursor = Cursors::of(client).get(name)?;
    if rows == Some(0) {
        return Some(Ok(0));
    }
    let stop = StatementStop::of(client);
    Some(
        stop.run(async { cursor.take(rows).await.map_err(api_error) })
            .await
            .map(|batches| batches.iter().map(|b| b.num_rows()).sum()),
    )
}

fn close(
    store: &MemPortalStore<PortalStatement>,
    cursor: &CloseCursor,
    client: &(dyn HookClient + '_),
) -> PgWireResult<Response> {
    let cursors = Cursors::of(client);
    match cursor {
        CloseCursor::All => {
            cursors.close_all();
            store.clear_portals();
        }
        CloseCursor::Specific { name } => {
            let name = cursor_name(name);
            if !cursors.close(&name) {
                return Err(no_cursor(&name));
            }
            store.rm_portal(&name);
        }
    }
    Ok(Response::Execution(Tag::new("CLOSE CURSOR")))
}

async fn run(
    statement: &Statement,
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> Option<PgWireResult<Response>> {
    let store = client.portal_store();
    Some(match statement {
        Statement::Declare { stmts } => declare(store, stmts, ctx, &*client).await,
        Statement::Fetch { .. } => fetch(statement, &Format::UnifiedText, &*client).await,
        Statement::Close { cursor } => close(store, cursor, &*client),
        _ => return None,
    })
}

#[async_trait]
impl QueryHook for CursorStatements {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        run(statement, ctx, client).await
    }

    /// Planned as nothing: what a `FETCH` returns is described from its cursor
    /// (`crate::wire::extended`), and a `DECLARE` returns no rows.
    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        match statement {
            Statement::Declare { .. } | Statement::Fetch { .. } | Statement::Close { .. } => {
                Some(Ok(LogicalPlan::EmptyRelation(EmptyRelation {
                    produce_one_row: false,
                    schema: Arc::new(DFSchema::empty()),
                })))
            }
            _ => None,
        }
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        run(statement, ctx, client).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn direction(sql: &str) -> PgWireResult<Option<usize>> {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        let Statement::Fetch { direction, .. } = statement else {
            panic!("not a FETCH: {sql}");
        };
        forward_rows(&direction)
    }

    fn code(result: PgWireResult<Option<usize>>) -> String {
        match result {
            Err(PgWireError::UserError(info)) => info.code.clone(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn forward_fetches_count_rows() {
        assert_eq!(direction("FETCH NEXT FROM c").unwrap(), Some(1));
        assert_eq!(direction("FETCH 5 FROM c").unwrap(), Some(5));
        assert_eq!(direction("FETCH FORWARD 7 IN c").unwrap(), Some(7));
        assert_eq!(direction("FETCH ALL FROM c").unwrap(), None);
        assert_eq!(direction("FETCH FORWARD ALL FROM c").unwrap(), None);
    }

    #[test]
    fn backward_and_zero_fetches_are_refused() {
        assert_eq!(code(direction("FETCH BACKWARD 2 FROM c")), "55000");
        assert_eq!(code(direction("FETCH PRIOR FROM c")), "55000");
        assert_eq!(code(direction("FETCH ABSOLUTE 3 FROM c")), "55000");
        assert_eq!(code(direction("FETCH 0 FROM c")), "0A000");
    }

    #[test]
    fn unquoted_cursor_names_fold_to_lower_case() {
        assert_eq!(cursor_name(&Ident::new("Cur")), "cur");
        assert_eq!(cursor_name(&Ident::with_quote('"', "Cur")), "Cur");
    }
}

//! The simple-query handler: Oxbow's statements that PostgreSQL's grammar has no room for
//! (`FLUSH TABLE t`, `MOVE`), then everything else through datafusion-postgres.
//!
//! `MOVE` is answered here too ([`crate::cursor_move`]).
//!
//! `FLUSH TABLE` is recognised only as a whole simple query (psql, `batch_execute`); it is
//! not parsed by sqlparser's PostgreSQL dialect, so it cannot appear in the extended protocol
//! or among other statements.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::prelude::SessionContext;
use datafusion_postgres::DfSessionService;
use futures::Sink;
use oxbow_catalog::ObjectName;
use oxbow_storage::Database;
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::{Response, Tag};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;

use crate::error::ServerError;
use crate::names::current_schema;

pub struct OxbowSimpleQuery {
    pub inner: Arc<DfSessionService>,
    pub ctx: Arc<SessionContext>,
    pub db: Arc<Database>,
}

/// The tables named by `FLUSH TABLE[S] [a[, b ...]]` (empty: all tables), or `None` if the
/// query is something else.
fn parse_flush(query: &str) -> Option<Vec<String>> {
    let query = query.trim().trim_end_matches(';').trim();
    let mut words = query.splitn(3, char::is_whitespace);
    if !words.next()?.eq_ignore_ascii_case("flush") {
        return None;
    }
    let what = words.next()?;
    if !(what.eq_ignore_ascii_case("table") || what.eq_ignore_ascii_case("tables")) {
        return None;
    }
    Some(
        words
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

impl OxbowSimpleQuery {
    async fn flush(&self, names: Vec<String>) -> Result<Response, ServerError> {
        if names.is_empty() {
            for table in self.db.open_tables() {
                self.db.flush_table(&table.def().name).await?;
            }
        }
        for name in names {
            let name = match name.split_once('.') {
                Some((schema, table)) => ObjectName::new(fold(schema), fold(table)),
                None => ObjectName::new(current_schema(&self.ctx), fold(&name)),
            };
            self.db.flush_table(&name).await?;
        }
        Ok(Response::Execution(Tag::new("FLUSH")))
    }
}

/// Folds an identifier as the parser would (quoted: kept, unquoted: lower-cased).
fn fold(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => ident.to_lowercase(),
    }
}

#[async_trait]
impl SimpleQueryHandler for OxbowSimpleQuery {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some(names) = parse_flush(query) {
            return Ok(vec![self.flush(names).await?]);
        }
        match crate::cursor_move::parse(query) {
            Ok(Some(command)) => {
                let store = client
                    .portal_store()
                    .as_any()
                    .downcast_ref::<crate::cursor_move::Portals>()
                    .ok_or_else(|| {
                        PgWireError::ApiError("the connection's portals are of another kind".into())
                    })?;
                return Ok(vec![crate::cursor_move::execute(store, command).await?]);
            }
            Ok(None) => {}
            Err(e) => return Err(e.into_wire()),
        }
        self.inner
            .do_query(client, &crate::sql_rewrites::rewrite(query))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_statements_are_recognised() {
        assert_eq!(parse_flush("FLUSH TABLE t;"), Some(vec!["t".to_string()]));
        assert_eq!(
            parse_flush("flush tables a, s.b"),
            Some(vec!["a".to_string(), "s.b".to_string()])
        );
        assert_eq!(parse_flush("FLUSH TABLES"), Some(vec![]));
        assert_eq!(parse_flush("SELECT 1"), None);
        assert_eq!(parse_flush("FLUSH PRIVILEGES"), None);
    }
}

//! The simple-query handler: the commands PostgreSQL's grammar (as sqlparser parses it) has no
//! room for are taken out first: the source statements (`crate::statements::sources`),
//! `FLUSH TABLE t` (`crate::statements::flush`) and `MOVE`
//! ([`crate::wire::portals`]); everything else goes, after the text rewrites, through
//! datafusion-postgres.
//!
//! A statement runs from the `Query` message until its last row is sent; for that span the
//! connection's [`RunningStatement`] holds a token that a `CancelRequest` can cancel.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::prelude::SessionContext;
use datafusion_postgres::DfSessionService;
use futures::Sink;
use oxbow_storage::Database;
use pgwire::api::query::SimpleQueryHandler;
use pgwire::api::results::Response;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::simplequery::Query;

use crate::wire::cancel::RunningStatement;

pub struct OxbowSimpleQuery {
    pub inner: Arc<DfSessionService>,
    pub ctx: Arc<SessionContext>,
    pub db: Arc<Database>,
    pub sources: Arc<oxbow_ingest::SourceManager>,
    pub running: Arc<RunningStatement>,
}

#[async_trait]
impl SimpleQueryHandler for OxbowSimpleQuery {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.running.begin();
        let started = std::time::Instant::now();
        let result = self._on_query(client, query).await;
        crate::http::metrics::query_done("pgwire", started.elapsed(), result.is_ok());
        self.running.end();
        result
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        use crate::statements::sources::{execute, is_source_statement, split_statements};
        if let Some(parts) = split_statements(query)
            && parts.iter().any(|p| is_source_statement(p))
        {
            // A script mixing source statements with others: each in turn, stopping at the
            // first error as PostgreSQL does.
            let mut responses = Vec::new();
            for part in parts {
                if is_source_statement(part) {
                    crate::statements::sources::access::check(
                        self.sources.database(),
                        &self.ctx,
                        &*client,
                        part,
                    )?;
                    let metadata = client.metadata().clone();
                    responses.push(execute(&self.sources, &self.ctx, part, &metadata).await?);
                } else {
                    responses.extend(self.one_query(client, part).await?);
                }
            }
            return Ok(responses);
        }
        self.one_query(client, query).await
    }
}

impl OxbowSimpleQuery {
    /// A query without source statements.
    async fn one_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if crate::statements::lakehouse::is_lake_statement(query) {
            crate::statements::privileges::require_superuser(
                &self.db,
                &*client,
                "OPTIMIZE, VACUUM, DESCRIBE HISTORY or RESTORE",
            )?;
            let metadata = client.metadata().clone();
            return Ok(vec![
                crate::statements::lakehouse::execute(&self.db, &self.ctx, query, &metadata)
                    .await?,
            ]);
        }
        if let Some(name) = crate::statements::rollup::parse_refresh(query) {
            return Ok(vec![
                crate::statements::rollup::refresh(&self.db, &self.ctx, name).await?,
            ]);
        }
        if let Some(names) = crate::statements::flush::parse(query) {
            return Ok(vec![
                crate::statements::flush::execute(&self.db, &self.ctx, names).await?,
            ]);
        }
        match crate::wire::portals::parse(query) {
            Ok(Some(command)) => {
                let store = client
                    .portal_store()
                    .as_any()
                    .downcast_ref::<crate::wire::portals::Portals>()
                    .ok_or_else(|| {
                        PgWireError::ApiError("the connection's portals are of another kind".into())
                    })?;
                return Ok(vec![
                    crate::wire::portals::execute(store, &*client, command).await?,
                ]);
            }
            Ok(None) => {}
            Err(e) => return Err(e.into_wire()),
        }
        self.inner
            .do_query(client, &crate::sql::rewrite::text::rewrite(query))
            .await
    }
}

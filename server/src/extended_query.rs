//! The extended-query handler: datafusion-postgres' session service, with one correction to
//! `Describe` of a statement.
//!
//! pgwire 0.41 answers `Describe` of a statement that has parameters but returns no rows
//! (`INSERT INTO t VALUES ($1)`) with an empty `RowDescription` instead of `NoData`; pgJDBC
//! then reads the update counts of `executeBatch()` as 0. PostgreSQL sends
//! `ParameterDescription` and `NoData`, and so does this wrapper.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::DfSessionService;
use futures::Sink;
use pgwire::api::portal::Portal;
use pgwire::api::query::{ExtendedQueryHandler, send_describe_response};
use pgwire::api::results::{DescribeResponse, FieldInfo, Response};
use pgwire::api::stmt::StoredStatement;
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::{Describe, TARGET_TYPE_BYTE_STATEMENT};

type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;

pub struct OxbowExtendedQuery {
    pub inner: Arc<DfSessionService>,
}

/// A statement description that is `NoData` whenever there are no result columns.
struct StatementDescription {
    parameters: Vec<Type>,
    fields: Vec<FieldInfo>,
}

impl DescribeResponse for StatementDescription {
    fn parameters(&self) -> Option<&[Type]> {
        Some(&self.parameters)
    }

    fn fields(&self) -> &[FieldInfo] {
        &self.fields
    }

    fn no_data() -> Self {
        Self {
            parameters: Vec::new(),
            fields: Vec::new(),
        }
    }

    fn is_no_data(&self) -> bool {
        self.fields.is_empty()
    }
}

#[async_trait]
impl ExtendedQueryHandler for OxbowExtendedQuery {
    type Statement = Statement;
    type QueryParser = <DfSessionService as ExtendedQueryHandler>::QueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.inner.query_parser()
    }

    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if message.target_type != TARGET_TYPE_BYTE_STATEMENT {
            return self._on_describe(client, message).await;
        }
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let statement = match client.portal_store().get_statement(name) {
            Some(Entry::Value(statement)) => statement,
            _ => return self._on_describe(client, message).await,
        };
        let described = self.do_describe_statement(client, &statement).await?;
        let description = StatementDescription {
            parameters: described
                .parameters()
                .map(<[Type]>::to_vec)
                .unwrap_or_default(),
            fields: described.fields().to_vec(),
        };
        send_describe_response(client, &description).await
    }

    async fn do_describe_statement<C>(
        &self,
        client: &mut C,
        target: &StoredStatement<Self::Statement>,
    ) -> PgWireResult<pgwire::api::results::DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.inner.do_describe_statement(client, target).await
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        target: &Portal<Self::Statement>,
    ) -> PgWireResult<pgwire::api::results::DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.inner.do_describe_portal(client, target).await
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.inner.do_query(client, portal, max_rows).await
    }
}

//! The extended-query handler: datafusion-postgres' session service, with result columns
//! described as PostgreSQL would (`crate::wire::describe`) and one correction to `Describe` of
//! a statement.
//!
//! Parameters that fill `varchar` and `jsonb` columns are described with those types
//! (`crate::wire::parameters`).
//!
//! pgwire 0.41 answers `Describe` of a statement that has parameters but returns no rows
//! (`INSERT INTO t VALUES ($1)`) with an empty `RowDescription` instead of `NoData`; pgJDBC
//! then reads the update counts of `executeBatch()` as 0. PostgreSQL sends
//! `ParameterDescription` and `NoData`, and so does this wrapper.
//!
//! `Describe` of a `FETCH` (statement or portal) answers its cursor's columns, as PostgreSQL
//! does (`crate::statements::cursors`).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::DfSessionService;
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::portal::Format;
use pgwire::api::portal::Portal;
use pgwire::api::portal::PortalExecutionState;
use pgwire::api::query::{ExtendedQueryHandler, send_describe_response};
use pgwire::api::results::{
    DescribePortalResponse, DescribeResponse, DescribeStatementResponse, FieldInfo, QueryResponse,
    Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, DEFAULT_NAME, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::extendedquery::{Describe, Execute, TARGET_TYPE_BYTE_STATEMENT};

use crate::sql::rewrite;
use crate::statements::cursors;
use crate::wire::cancel::{RunningStatement, StatementStop};
use crate::wire::{describe, parameters};

type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;

/// `fields` described from the plan and select list of `statement`, if it is a query.
fn describe_query(statement: &Statement, fields: &[FieldInfo]) -> Vec<FieldInfo> {
    match statement {
        (_, Some((query @ datafusion::sql::sqlparser::ast::Statement::Query(_), plan))) => {
            describe::describe(fields, plan.schema().as_arrow(), Some(query))
        }
        _ => fields.to_vec(),
    }
}

pub struct OxbowExtendedQuery {
    pub inner: Arc<DfSessionService>,
    pub parser: Arc<OxbowParser>,
    /// For the source statements, which datafusion-postgres cannot plan.
    pub sources: Arc<oxbow_ingest::SourceManager>,
    pub ctx: Arc<datafusion::prelude::SessionContext>,
    /// The statement this connection runs, from `Execute` until its last row is sent.
    pub running: Arc<RunningStatement>,
}

/// datafusion-postgres' parser, given the SQL after `crate::sql::rewrite::text`.
pub struct OxbowParser {
    pub inner: Arc<datafusion_postgres::Parser>,
}

#[async_trait]
impl QueryParser for OxbowParser {
    type Statement = Statement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        // Kept as text without a plan; run by `do_query` (`crate::statements::sources`).
        if crate::statements::sources::is_source_statement(sql) {
            return Ok(Some((sql.to_string(), None)));
        }
        self.inner
            .parse_sql(client, &rewrite::text::rewrite(sql), types)
            .await
    }

    fn get_parameter_types(&self, statement: &Self::Statement) -> PgWireResult<Vec<Type>> {
        self.inner.get_parameter_types(statement)
    }

    fn get_result_schema(
        &self,
        statement: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        self.inner.get_result_schema(statement, column_format)
    }
}

/// The most rows one `Execute` with a row limit returns before `PortalSuspended`.
///
/// pgwire reserves room for the whole limit before fetching (`Vec::with_capacity(max_rows)`):
/// an `Execute` asking for 2^31 - 1 rows made the server abort on a 55 GB allocation (found
/// by `tests/sqllogictest/tests/wire_fuzz.rs`), and a negative limit read as a huge one. A
/// larger limit is answered in portions of this many rows, which the protocol allows
/// (drivers fetch again on `PortalSuspended`); a negative one means no limit, like 0.
const MAX_FETCH_ROWS: i32 = 1 << 16;

fn fetch_limit(max_rows: i32) -> i32 {
    if max_rows < 0 {
        0
    } else {
        max_rows.min(MAX_FETCH_ROWS)
    }
}

/// The same portal (its execution state too), with the parameter values as Oxbow reads them.
fn decoded_portal(
    portal: &Portal<Statement>,
    parameters: Vec<Option<bytes::Bytes>>,
) -> Portal<Statement> {
    let mut decoded = Portal::default();
    decoded.name = portal.name.clone();
    decoded.statement = Arc::clone(&portal.statement);
    decoded.parameter_format = portal.parameter_format.clone();
    decoded.parameters = parameters;
    decoded.result_column_format = portal.result_column_format.clone();
    decoded.state = Arc::clone(&portal.state);
    decoded
}

/// A portal of `cursor`'s query with `format`, to describe what a `FETCH` from it returns.
fn cursor_portal(cursor: &cursors::open::Cursor, format: &Format) -> Portal<Statement> {
    let mut portal = Portal::default();
    portal.name = cursor.statement.id.clone();
    portal.statement = Arc::clone(&cursor.statement);
    portal.result_column_format = format.clone();
    portal
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

/// Sends every row of `rows` to the client as it is produced and returns the command tag.
///
/// pgwire's `Execute` without a row limit collects the whole result in memory before the
/// first row leaves (`Portal::fetch(0)`): a 10-million-row `SELECT` through psycopg, pgJDBC
/// or asyncpg held it all and answered only at the end. Streaming here answers the first row
/// at once with flat memory, as the simple protocol does. An `Execute` with a row limit
/// (JDBC fetch size, cursors) keeps pgwire's suspended portal.
async fn stream_rows<C>(client: &mut C, rows: QueryResponse) -> PgWireResult<Tag>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let QueryResponse {
        command_tag,
        mut data_rows,
        ..
    } = rows;
    let mut count = 0;
    while let Some(row) = data_rows.next().await {
        client.feed(PgWireBackendMessage::DataRow(row?)).await?;
        count += 1;
    }
    Ok(Tag::new(&command_tag).with_rows(count))
}

#[async_trait]
impl ExtendedQueryHandler for OxbowExtendedQuery {
    type Statement = Statement;
    type QueryParser = OxbowParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        Arc::clone(&self.parser)
    }

    async fn on_execute<C>(&self, client: &mut C, mut message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        message.max_rows = fetch_limit(message.max_rows);
        self.running.begin();
        let started = std::time::Instant::now();
        let result = self._on_execute(client, message).await;
        crate::http::metrics::query_done("pgwire", started.elapsed(), result.is_ok());
        self.running.end();
        result
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
        // A prepared `FETCH` returns its cursor's rows: described as the cursor is.
        if let (_, Some((fetch, _))) = &statement.statement
            && let Some(cursor) = cursors::fetched_cursor(&*client, fetch)
        {
            let portal = cursor_portal(&cursor, &Format::UnifiedText);
            let fields = self.do_describe_portal(client, &portal).await?;
            let description = StatementDescription {
                parameters: Vec::new(),
                fields: fields.fields().to_vec(),
            };
            return send_describe_response(client, &description).await;
        }
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
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let described = self.inner.do_describe_statement(client, target).await?;
        // asyncpg encodes the type OIDs it looks up as `oid[]`, the one integer array it has a
        // codec for without asking; DataFusion's `$1::oid[]` is an `int4[]` of the same bytes.
        let parameters = match &target.statement {
            (sql, _) if rewrite::text::is_asyncpg_typeinfo(sql) => vec![Type::OID_ARRAY],
            (_, Some((statement, plan))) => parameters::describe(
                described.parameters,
                &parameters::declared(statement, plan, &target.parameter_types),
            ),
            (_, None) => described.parameters,
        };
        Ok(DescribeStatementResponse::new(
            parameters,
            describe_query(&target.statement, &described.fields),
        ))
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        target: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // A portal bound to `FETCH` returns its cursor's rows: described as the cursor is
        // (psycopg reads `FETCH` results against this description).
        let cursor = match &target.statement.statement {
            (_, Some((fetch, _))) => cursors::fetched_cursor(&*client, fetch)
                .map(|cursor| cursor_portal(&cursor, &target.result_column_format)),
            _ => None,
        };
        let target = cursor.as_ref().unwrap_or(target);
        let described = self.inner.do_describe_portal(client, target).await?;
        Ok(DescribePortalResponse::new(describe_query(
            &target.statement.statement,
            &described.fields,
        )))
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
        if let (text, None) = &portal.statement.statement
            && crate::statements::sources::is_source_statement(text)
        {
            crate::statements::sources::access::check(
                self.sources.database(),
                &self.ctx,
                &*client,
                text,
            )?;
            let metadata = client.metadata().clone();
            return Ok(crate::statements::sources::execute(
                &self.sources,
                &self.ctx,
                text,
                &metadata,
            )
            .await?);
        }
        // A `FETCH` encodes its cursor's rows in this portal's result format.
        if let (_, Some((fetch @ datafusion::sql::sqlparser::ast::Statement::Fetch { .. }, _))) =
            &portal.statement.statement
        {
            let response = cursors::fetch(fetch, &portal.result_column_format, &*client).await?;
            return match response {
                Response::Query(rows) if max_rows == 0 => {
                    let tag = stream_rows(client, rows).await?;
                    Ok(Response::Execution(tag))
                }
                response => Ok(response),
            };
        }
        let stripped = match &portal.statement.statement {
            (_, Some((statement, plan))) => parameters::strip_jsonb_versions(
                &portal.parameters,
                &portal.parameter_format,
                &parameters::declared(statement, plan, &portal.statement.parameter_types),
            ),
            _ => None,
        };
        // Only queries may be stopped half-way (`crate::wire::cancel` says why).
        let is_query = matches!(
            &portal.statement.statement,
            (
                _,
                Some((datafusion::sql::sqlparser::ast::Statement::Query(_), _))
            )
        );
        let stop = StatementStop::of(client);
        let response = match stripped {
            Some(parameters) if is_query => {
                let decoded = decoded_portal(portal, parameters);
                stop.run(self.inner.do_query(client, &decoded, max_rows))
                    .await?
            }
            Some(parameters) => {
                let decoded = decoded_portal(portal, parameters);
                self.inner.do_query(client, &decoded, max_rows).await?
            }
            None if is_query => {
                stop.run(self.inner.do_query(client, portal, max_rows))
                    .await?
            }
            None => self.inner.do_query(client, portal, max_rows).await?,
        };
        let response = match (response, &portal.statement.statement) {
            (
                Response::Query(rows),
                (_, Some((query @ datafusion::sql::sqlparser::ast::Statement::Query(_), plan))),
            ) => Response::Query(stop.guard(crate::wire::encode::adapt_response(
                rows,
                plan.schema().as_arrow(),
                Some(query),
            ))),
            (response, _) => response,
        };
        match response {
            Response::Query(rows) if max_rows == 0 => {
                let tag = stream_rows(client, rows).await?;
                // The result is complete: a repeated Execute of this portal returns no rows.
                *portal.state().lock().await = PortalExecutionState::Finished;
                Ok(Response::Execution(tag))
            }
            response => Ok(response),
        }
    }
}

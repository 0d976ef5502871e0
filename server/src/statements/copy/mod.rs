//! `COPY t FROM STDIN` and `COPY t|(query) TO STDOUT`.
//!
//! `COPY FROM` is a conversation: the statement hook records the target in the connection's
//! [`CopyInSlot`] and answers `CopyInResponse`; pgwire then feeds `CopyData` to
//! [`CopyInHandler`], and at `CopyDone` the whole input is decoded and appended as one WAL
//! record. One bad value fails the statement and nothing of it is written.
//!
//! The input is buffered whole before it is decoded, so it is capped at the hot memory limit
//! (the table's [`OxbowTable::hot_memory_limit`]): the `CopyData` that passes the cap frees
//! the buffer, later `CopyData` is discarded, and the COPY fails with 54000 (PostgreSQL's
//! answer to an impossible allocation) at `CopyDone`. The error waits for `CopyDone` because
//! pgwire's copy-in state machine cannot resume a connection after an error in the middle
//! of the data when the client pipelined its `Sync` (as rust-postgres does); the memory is
//! bounded the moment the cap is passed. Not done yet: decoding in bounded chunks as the
//! data streams in, which would remove the cap (review D8).

mod options;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, RecordBatch, new_null_array};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{CopySource, CopyTarget, Statement};
use datafusion_postgres::hooks::HookClient;
use futures::{Sink, SinkExt, StreamExt};
use oxbow_catalog::TableDef;
use oxbow_ingest::formats::{CopyEncoder, CopyFormat, CopyKind, TargetColumn, decode};
use oxbow_storage::{Database, OxbowTable};
use pgwire::api::ClientInfo;
use pgwire::api::copy::CopyHandler;
use pgwire::api::results::{CopyResponse, Response, Tag};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use tracing::{info, instrument};

use crate::error::ServerError;
use crate::sql::names::{ident, object_name};

/// A `COPY FROM STDIN` in progress on one connection.
struct CopyIn {
    table: Arc<OxbowTable>,
    /// The session's config, whose transaction block may hold the rows.
    session: datafusion::execution::config::SessionConfig,
    /// Indexes (into the table's columns) of the columns the input supplies, in input order.
    columns: Vec<usize>,
    format: CopyFormat,
    data: Vec<u8>,
    /// The most `data` may hold (the hot memory limit).
    cap: usize,
    /// The input passed `cap`: `data` was freed and the rest of the input is discarded.
    too_large: bool,
}

/// The connection's pending `COPY FROM STDIN`, shared by the statement hook and the
/// [`CopyInHandler`] of the same connection.
#[derive(Default)]
pub struct CopyInSlot(Mutex<Option<CopyIn>>);

impl CopyInSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<CopyIn>> {
        self.0.lock().expect("copy slot lock")
    }
}

pub async fn execute(
    db: &Arc<Database>,
    slot: &CopyInSlot,
    statement: &Statement,
    ctx: &SessionContext,
    _client: &mut dyn HookClient,
) -> Result<Response, ServerError> {
    let Statement::Copy {
        source,
        to,
        target,
        options,
        legacy_options,
        ..
    } = statement
    else {
        unreachable!("only COPY statements are routed here")
    };
    let format = options::copy_format(options, legacy_options)?;
    match (to, target) {
        (false, CopyTarget::Stdin) => {
            let CopySource::Table {
                table_name,
                columns,
            } = source
            else {
                return Err(ServerError::Unsupported("COPY (query) FROM".into()));
            };
            let name = object_name(table_name, ctx)?;
            let table = db.require_table(&name)?;
            let def = table.table().def();
            let columns = if columns.is_empty() {
                (0..def.columns.len()).collect()
            } else {
                columns
                    .iter()
                    .map(|c| {
                        let c = ident(c);
                        def.columns.iter().position(|d| d.name == c).ok_or_else(|| {
                            ServerError::UndefinedColumn {
                                table: def.name.name.clone(),
                                column: c,
                            }
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            let count = columns.len();
            let overall_format = i8::from(format.kind == CopyKind::Binary);
            *slot.lock() = Some(CopyIn {
                session: ctx.copied_config(),
                columns,
                format,
                data: Vec::new(),
                cap: table.hot_memory_limit(),
                too_large: false,
                table,
            });
            Ok(Response::CopyIn(CopyResponse::new(
                overall_format,
                count,
                futures::stream::empty(),
            )))
        }
        (true, CopyTarget::Stdout) if format.kind == CopyKind::Binary => Err(
            ServerError::Unsupported("COPY TO in binary format (FROM is supported)".into()),
        ),
        (true, CopyTarget::Stdout) => copy_out(source, format, ctx).await,
        _ => Err(ServerError::Unsupported(format!(
            "COPY {} {target}: the server reads and writes no client files; use psql's \\copy, which streams through STDIN/STDOUT",
            if *to { "TO" } else { "FROM" }
        ))),
    }
}

async fn copy_out(
    source: &CopySource,
    format: CopyFormat,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    let query = match source {
        CopySource::Table {
            table_name,
            columns,
        } => {
            let list = if columns.is_empty() {
                "*".to_string()
            } else {
                columns
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Statement::Query(
                datafusion::sql::sqlparser::parser::Parser::new(
                    &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
                )
                .try_with_sql(&format!("SELECT {list} FROM {table_name}"))
                .and_then(|mut p| p.parse_query())
                .map_err(|e| datafusion::error::DataFusionError::SQL(Box::new(e), None))?,
            )
        }
        CopySource::Query(query) => Statement::Query(query.clone()),
    };
    let mut query = query;
    let _versions = crate::sql::time_travel::resolve(&mut query, ctx).await?;
    crate::sql::temp_tables::qualify(&mut query, ctx);
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(query)))
        .await?;
    let df = ctx.execute_logical_plan(plan).await?;
    let schema = df.schema().as_arrow().clone();
    let columns = schema.fields().len();
    let encoder = Arc::new(CopyEncoder::new(format));
    let header = encoder.header(&schema);
    let batches = df.execute_stream().await?;
    let rows = batches.flat_map(move |batch| {
        let rows: Vec<PgWireResult<CopyData>> = match batch
            .map_err(ServerError::from)
            .and_then(|b| encoder.encode(&b).map_err(ServerError::from))
        {
            Ok(rows) => rows.into_iter().map(|r| Ok(CopyData::new(r))).collect(),
            Err(e) => vec![Err(e.into())],
        };
        futures::stream::iter(rows)
    });
    let stream = futures::stream::iter(header.map(|h| Ok(CopyData::new(h)))).chain(rows);
    Ok(Response::CopyOut(CopyResponse::new(0, columns, stream)))
}

/// Receives the data of a `COPY FROM STDIN` (pgwire's copy sub-protocol).
pub struct CopyInHandler {
    slot: Arc<CopyInSlot>,
}

impl CopyInHandler {
    pub fn new(slot: Arc<CopyInSlot>) -> Self {
        Self { slot }
    }
}

#[async_trait]
impl CopyHandler for CopyInHandler {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut slot = self.slot.lock();
        let copy = slot.as_mut().ok_or_else(|| {
            ServerError::Unsupported("COPY data outside of COPY FROM STDIN".into())
        })?;
        if copy.too_large {
            return Ok(());
        }
        if copy.data.len().saturating_add(copy_data.data.len()) > copy.cap {
            copy.too_large = true;
            copy.data = Vec::new();
            return Ok(());
        }
        copy.data.extend_from_slice(&copy_data.data);
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let copy = self.slot.lock().take().ok_or_else(|| {
            ServerError::Unsupported("COPY done outside of COPY FROM STDIN".into())
        })?;
        if copy.too_large {
            return Err(ServerError::CopyInputTooLarge { cap: copy.cap }.into());
        }
        let rows = load(copy).await?;
        client
            .send(PgWireBackendMessage::CommandComplete(
                Tag::new("COPY").with_rows(rows as usize).into(),
            ))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.slot.lock().take();
        ServerError::CopyAborted(fail.message).into()
    }
}

/// Decodes the whole input (off the async runtime: it is CPU-bound) and appends it as one WAL
/// record: acknowledged once durable, visible at once, flushed to Delta later.
#[instrument(skip_all, fields(table = %copy.table.table().def().name, bytes = copy.data.len()))]
async fn load(copy: CopyIn) -> Result<u64, ServerError> {
    let def = copy.table.table().def().clone();
    let schema = copy.table.table().schema();
    let batches = tokio::task::spawn_blocking(move || {
        let targets: Vec<TargetColumn> = copy
            .columns
            .iter()
            .map(|&i| TargetColumn {
                field: schema.field(i).clone(),
                pg_type: def.columns[i].sql_type.pg_name(),
                sql_type: def.columns[i].sql_type.clone(),
            })
            .collect();
        let decoded = decode(&copy.data, &copy.format, &def.name.name, &targets)?;
        decoded
            .into_iter()
            .map(|b| widen(b, &copy.columns, &schema, &def))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| ServerError::Unsupported(format!("COPY decoder failed: {e}")))??;
    let rows = copy.table.append_in(&copy.session, batches).await?;
    info!(rows, "COPY committed");
    Ok(rows)
}

/// Places the decoded columns at their positions in the table; columns the input did not
/// supply are NULL.
fn widen(
    batch: RecordBatch,
    supplied: &[usize],
    schema: &Schema,
    def: &TableDef,
) -> Result<RecordBatch, ServerError> {
    let mut arrays: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f: &Arc<Field>| new_null_array(f.data_type(), batch.num_rows()))
        .collect();
    for (input, &position) in supplied.iter().enumerate() {
        arrays[position] = Arc::clone(batch.column(input));
    }
    for (field, array) in schema.fields().iter().zip(&arrays) {
        if !field.is_nullable() && array.null_count() > 0 {
            return Err(oxbow_storage::Error::NotNullViolation {
                table: def.name.name.clone(),
                column: field.name().clone(),
            }
            .into());
        }
    }
    RecordBatch::try_new(Arc::new(schema.clone()), arrays).map_err(|e| ServerError::InvalidValue {
        message: e.to_string(),
    })
}

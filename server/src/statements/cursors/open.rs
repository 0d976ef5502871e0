//! The open cursors of a connection: each one's statement and plan (what describes its rows)
//! and the record batches its query has not yet returned.
//!
//! Rows stay Arrow until a `FETCH` takes them, and are encoded then, in the result format
//! that `FETCH` asked for: psycopg's binary server-side cursors read `FETCH` results in the
//! binary format, which rows encoded as text when the cursor was declared would have
//! misread as garbage numbers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use pgwire::api::ClientInfo;
use pgwire::api::portal::Format;
use pgwire::api::results::QueryResponse;
use pgwire::api::stmt::StoredStatement;
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::types::format::FormatOptions;

use super::PortalStatement;
use crate::wire::encode::adapt_response;

/// One declared cursor.
pub struct Cursor {
    /// The cursor's query and plan, named after the cursor: `Describe` reads its columns here.
    pub statement: Arc<StoredStatement<PortalStatement>>,
    schema: SchemaRef,
    rows: tokio::sync::Mutex<Pending>,
}

/// What the cursor's query has not yet returned.
struct Pending {
    /// `None` once the query has returned its last batch.
    stream: Option<SendableRecordBatchStream>,
    /// The rest of a batch a `FETCH` took only part of.
    partial: Option<RecordBatch>,
}

impl Cursor {
    pub fn new(
        statement: Arc<StoredStatement<PortalStatement>>,
        stream: SendableRecordBatchStream,
    ) -> Self {
        Self {
            statement,
            schema: stream.schema(),
            rows: tokio::sync::Mutex::new(Pending {
                stream: Some(stream),
                partial: None,
            }),
        }
    }

    /// The next `rows` rows (`None`: all that remain), as batches.
    pub async fn take(&self, rows: Option<usize>) -> Result<Vec<RecordBatch>, DataFusionError> {
        let mut pending = self.rows.lock().await;
        let mut wanted = rows;
        let mut taken = Vec::new();
        while wanted != Some(0) {
            let batch = match pending.partial.take() {
                Some(batch) => batch,
                None => match pending.stream.as_mut() {
                    None => break,
                    Some(stream) => match stream.next().await {
                        Some(batch) => batch?,
                        None => {
                            pending.stream = None;
                            break;
                        }
                    },
                },
            };
            match wanted {
                Some(n) if batch.num_rows() > n => {
                    taken.push(batch.slice(0, n));
                    pending.partial = Some(batch.slice(n, batch.num_rows() - n));
                    wanted = Some(0);
                }
                Some(n) => {
                    wanted = Some(n - batch.num_rows());
                    taken.push(batch);
                }
                None => taken.push(batch),
            }
        }
        Ok(taken)
    }

    /// `batches` encoded in `format` and described as the cursor's query, tagged `FETCH`.
    pub fn response(
        &self,
        batches: Vec<RecordBatch>,
        format: &Format,
        client: &(impl ClientInfo + ?Sized),
    ) -> PgWireResult<QueryResponse> {
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        let fields = Arc::new(arrow_schema_to_pg_fields(
            &self.schema,
            format,
            Some(options),
        )?);
        let encoded = Arc::clone(&fields);
        let rows = batches
            .into_iter()
            .flat_map(move |batch| encode_recordbatch(Arc::clone(&encoded), batch));
        let mut response = QueryResponse::new(fields, futures::stream::iter(rows));
        // PostgreSQL tags it `FETCH <rows>`, whatever the cursor's query is.
        response.command_tag = "FETCH".into();
        let query = self.statement.statement.1.as_ref().map(|(query, _)| query);
        Ok(adapt_response(response, &self.schema, query))
    }
}

/// A connection's open cursors by name, kept in its session extensions.
#[derive(Default)]
pub struct Cursors {
    open: Mutex<HashMap<String, Arc<Cursor>>>,
}

impl Cursors {
    /// The connection's cursors.
    pub fn of(client: &(impl ClientInfo + ?Sized)) -> Arc<Self> {
        client
            .session_extensions()
            .get_or_insert_with(Self::default)
    }

    pub fn get(&self, name: &str) -> Option<Arc<Cursor>> {
        self.open.lock().expect("cursors lock").get(name).cloned()
    }

    /// Opens `cursor` as `name`; false if a cursor of that name is open.
    pub fn open(&self, name: String, cursor: Cursor) -> bool {
        let mut open = self.open.lock().expect("cursors lock");
        if open.contains_key(&name) {
            return false;
        }
        open.insert(name, Arc::new(cursor));
        true
    }

    /// Closes the cursor `name`; false if there is none.
    pub fn close(&self, name: &str) -> bool {
        self.open
            .lock()
            .expect("cursors lock")
            .remove(name)
            .is_some()
    }

    pub fn close_all(&self) {
        self.open.lock().expect("cursors lock").clear();
    }
}

pub fn api_error(e: DataFusionError) -> PgWireError {
    PgWireError::ApiError(Box::new(e))
}

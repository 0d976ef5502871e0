//! The operations endpoints: `/ready` for load balancers and orchestrators, and the engine's
//! state as JSON for the console and scripts.
//!
//! - `GET /ready` (no credentials, like `/health`): 200 `{"status": "ready", "tables": N,
//!   "tables_unavailable": M}` once the database is open, the sources started and the
//!   PostgreSQL listener bound, and while `oxbow.tables` answers; 503 `{"status":
//!   "starting" | "stopping" | "unavailable", ...}` otherwise. A table whose Delta table could
//!   not be opened does not make the server unready: it is *reported* (counted in
//!   `tables_unavailable`, its reason in `oxbow.tables.status`), as the rest of the database
//!   still serves. Only counts are shown, never names, since the probe has no role.
//! - `GET /v1/tables`: `{"tables": [rows of oxbow.tables]}`.
//! - `GET /v1/sources`: `{"sources": [rows of oxbow.sources, each with "partitions": its
//!   rows of oxbow.source_partitions]}`.
//! - `GET /v1/sources/{name}/dead_letters?limit=N`: the newest N (default 100, at most 10000)
//!   rows of `oxbow.dead_letters` of that source, newest first.
//!
//! The JSON comes from the very system tables SQL users read, so the two always agree. Each
//! needs any role that may log in (as `/metrics`): the `oxbow` schema is readable by every
//! role. The dead letters, a real table, are read as the caller all the same, so that a
//! future privilege on them applies here too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::json::WriterBuilder;
use datafusion::arrow::json::writer::JsonArray;
use futures::TryStreamExt;
use oxbow_storage::TierScan;
use serde::Deserialize;
use serde_json::{Value, json};

use super::HttpState;
use super::error::ApiError;
use super::query::QueryRequest;

/// Where the server is in its life, for `/ready`.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicU8>);

const STARTING: u8 = 0;
const READY: u8 = 1;
const STOPPING: u8 = 2;

impl Readiness {
    /// Every listener is up: queries are answered from now on.
    pub fn set_ready(&self) {
        let _ = self
            .0
            .compare_exchange(STARTING, READY, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Shutdown began: a balancer should stop sending work.
    pub fn set_stopping(&self) {
        self.0.store(STOPPING, Ordering::Release);
    }

    fn state(&self) -> u8 {
        self.0.load(Ordering::Acquire)
    }
}

/// The rows of `batches` as JSON objects (nulls written, so every row has every key).
pub fn json_rows(batches: &[RecordBatch]) -> Result<Vec<Value>, ApiError> {
    let mut writer = WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, JsonArray>(Vec::new());
    for batch in batches {
        writer.write(batch).map_err(|e| ApiError::from_error(&e))?;
    }
    writer.finish().map_err(|e| ApiError::from_error(&e))?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            crate::wire::sqlstate::code::INTERNAL_ERROR,
            format!("the rows did not encode as JSON: {e}"),
        )
    })
}

/// Runs `sql` in the server's template session: the system views need no privilege.
async fn system_rows(state: &HttpState, sql: &str) -> Result<Vec<Value>, ApiError> {
    let df = state
        .engine
        .base
        .sql(sql)
        .await
        .map_err(|e| ApiError::from_error(&e))?;
    let batches = df.collect().await.map_err(|e| ApiError::from_error(&e))?;
    json_rows(&batches)
}

pub async fn ready(State(state): State<HttpState>) -> Response {
    let not_ready = |status: &str, detail: Option<String>| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "1")],
            Json(json!({ "status": status, "detail": detail })),
        )
            .into_response()
    };
    match state.readiness.state() {
        STARTING => return not_ready("starting", None),
        STOPPING => return not_ready("stopping", None),
        _ => {}
    }
    let rows = system_rows(
        &state,
        "SELECT count(*) AS tables, count(*) FILTER (WHERE status <> 'ok') AS unavailable \
         FROM oxbow.tables",
    )
    .await;
    match rows.as_deref() {
        Ok([row]) => Json(json!({
            "status": "ready",
            "tables": row["tables"],
            "tables_unavailable": row["unavailable"],
        }))
        .into_response(),
        Ok(_) => not_ready("unavailable", Some("oxbow.tables gave no count".into())),
        Err(e) => not_ready("unavailable", Some(e.message.clone())),
    }
}

pub async fn tables(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let result = async {
        state.auth.caller(&headers)?;
        let tables = system_rows(
            &state,
            "SELECT * FROM oxbow.tables ORDER BY schema_name, table_name",
        )
        .await?;
        Ok::<_, ApiError>(Json(json!({ "tables": tables })))
    }
    .await;
    result.map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

pub async fn sources(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    let result = async {
        state.auth.caller(&headers)?;
        let mut sources = system_rows(
            &state,
            "SELECT * FROM oxbow.sources ORDER BY schema_name, source_name",
        )
        .await?;
        let partitions = system_rows(
            &state,
            "SELECT * FROM oxbow.source_partitions ORDER BY schema_name, source_name, partition",
        )
        .await?;
        for source in &mut sources {
            let mine: Vec<Value> = partitions
                .iter()
                .filter(|p| {
                    p["schema_name"] == source["schema_name"]
                        && p["source_name"] == source["source_name"]
                })
                .cloned()
                .collect();
            source["partitions"] = Value::Array(mine);
        }
        Ok::<_, ApiError>(Json(json!({ "sources": sources })))
    }
    .await;
    result.map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

#[derive(Debug, Deserialize)]
pub struct DeadLetterParams {
    limit: Option<u64>,
}

/// Dead letters shown by default, and at most.
const DEAD_LETTERS_DEFAULT: u64 = 100;
const DEAD_LETTERS_MAX: u64 = 10_000;

pub async fn dead_letters(
    State(state): State<HttpState>,
    Path(name): Path<String>,
    Query(params): Query<DeadLetterParams>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let role = state.auth.caller(&headers)?;
        // `oxbow.dead_letters.source` holds the qualified name.
        let source = if name.contains('.') {
            name.clone()
        } else {
            format!("{}.{name}", oxbow_catalog::DEFAULT_SCHEMA)
        };
        let limit = params
            .limit
            .unwrap_or(DEAD_LETTERS_DEFAULT)
            .min(DEAD_LETTERS_MAX);
        let params = [json!(source)];
        // The limit is a number we bound, so it is written into the text.
        let sql = format!(
            "SELECT received_at, stage, field, error, payload, position, table_name \
             FROM oxbow.dead_letters WHERE source = $1 ORDER BY received_at DESC LIMIT {limit}"
        );
        let started = state
            .engine
            .start(
                &role,
                QueryRequest {
                    sql: &sql,
                    params: &params,
                    tiers: TierScan::Both,
                    timeout: Some(Duration::from_secs(30)),
                },
            )
            .await?;
        let batches: Vec<RecordBatch> = started.batches.try_collect().await?;
        let rows = json_rows(&batches)?;
        Ok::<_, ApiError>(Json(json!({ "source": source, "dead_letters": rows })))
    }
    .await;
    result.map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

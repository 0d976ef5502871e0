//! `POST /v1/sql` and `GET /v1/sql`: one query, its result streamed in the format asked for.
//!
//! - `POST` with a JSON body `{"query": "...", "params": [...], "format": "...",
//!   "statement_timeout": "1s"}` (`sql` is accepted for `query`), or with the SQL text itself as
//!   the body (any other `Content-Type`).
//! - `GET /v1/sql?q=...&format=...&statement_timeout=...`.
//! - The format is the body's `format`, else `?format=`, else the `Accept` header, else JSON
//!   (see [`super::formats`]). `$1`, `$2`, ... take `params` (JSON null, booleans, numbers,
//!   strings; cast to the placeholder's type when the plan knows it).
//! - `statement_timeout` (milliseconds, or PostgreSQL's `500ms`, `2s`, `1min`) stops the query
//!   with 57014 while it is planned, computed or streamed.
//!
//! The status is decided by the first batch: errors before it (syntax, privileges, planning,
//! memory, timeout) are answered as [`ApiError`]s. An error after rows have been sent cannot
//! change the status any more: the body is then cut off without its end (an incomplete chunked
//! transfer that clients report as an error), never ended as if complete.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use oxbow_storage::TierScan;
use serde::Deserialize;

use super::HttpState;
use super::error::ApiError;
use super::formats::Format;
use super::query::{QueryRequest, Started};

#[derive(Debug, Default, Deserialize)]
pub struct SqlParams {
    q: Option<String>,
    format: Option<String>,
    statement_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlBody {
    #[serde(alias = "sql")]
    query: String,
    #[serde(default)]
    params: Vec<serde_json::Value>,
    format: Option<String>,
    statement_timeout: Option<serde_json::Value>,
}

pub async fn get(
    State(state): State<HttpState>,
    Query(params): Query<SqlParams>,
    headers: HeaderMap,
) -> Response {
    let Some(sql) = params.q.clone() else {
        return ApiError::bad_request("GET /v1/sql needs the query in ?q=").into_response();
    };
    let timeout = params.statement_timeout.as_deref().map(parse_timeout);
    run(
        &state,
        &headers,
        &sql,
        &[],
        params.format.as_deref(),
        timeout,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

pub async fn post(
    State(state): State<HttpState>,
    Query(params): Query<SqlParams>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let request = if is_json {
        match serde_json::from_slice::<SqlBody>(&body) {
            Ok(b) => b,
            Err(e) => {
                return ApiError::bad_request(format!("the JSON body is not a query request: {e}"))
                    .into_response();
            }
        }
    } else {
        match String::from_utf8(body.to_vec()) {
            Ok(sql) => SqlBody {
                query: sql,
                ..Default::default()
            },
            Err(_) => return ApiError::bad_request("the body is not UTF-8").into_response(),
        }
    };
    let timeout = match &request.statement_timeout {
        Some(serde_json::Value::Number(n)) => Some(
            n.as_u64()
                .map(Duration::from_millis)
                .ok_or_else(|| format!("invalid statement_timeout {n}")),
        ),
        Some(serde_json::Value::String(s)) => Some(parse_timeout(s)),
        Some(other) => Some(Err(format!("invalid statement_timeout {other}"))),
        None => params.statement_timeout.as_deref().map(parse_timeout),
    };
    let format = request.format.as_deref().or(params.format.as_deref());
    run(
        &state,
        &headers,
        &request.query,
        &request.params,
        format,
        timeout,
    )
    .await
    .unwrap_or_else(IntoResponse::into_response)
}

async fn run(
    state: &HttpState,
    headers: &HeaderMap,
    sql: &str,
    params: &[serde_json::Value],
    format: Option<&str>,
    timeout: Option<Result<Duration, String>>,
) -> Result<Response, ApiError> {
    let role = state.auth.caller(headers)?;
    let format = choose_format(format, headers)?;
    let timeout = timeout.transpose().map_err(ApiError::bad_request)?;
    let started = Instant::now();
    let result = state
        .engine
        .start(
            &role,
            QueryRequest {
                sql,
                params,
                tiers: TierScan::Both,
                timeout: timeout.filter(|t| !t.is_zero()),
            },
        )
        .await;
    let result = match result {
        Ok(started) => stream(started, format, Bytes::new(), Bytes::new()).await,
        Err(e) => Err(e),
    };
    super::metrics::query_done("http", started.elapsed(), result.is_ok());
    result
}

/// The format named, else the one `Accept` asks for, else JSON.
pub fn choose_format(name: Option<&str>, headers: &HeaderMap) -> Result<Format, ApiError> {
    if let Some(name) = name {
        return Format::from_name(name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown format \"{name}\": json, jsonl, csv, arrow or parquet"
            ))
        });
    }
    Ok(headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(Format::from_accept)
        .unwrap_or(Format::Json))
}

/// The response of a started query: its first batch is awaited (so that an early error still
/// gets its status), then the rest streams. `prefix` and `suffix` wrap the encoded result
/// (the Obsrv envelope).
pub async fn stream(
    started: Started,
    format: Format,
    prefix: Bytes,
    suffix: Bytes,
) -> Result<Response, ApiError> {
    let Started {
        schema,
        mut batches,
    } = started;
    let mut encoder = format
        .encoder(&schema)
        .map_err(|e| ApiError::from_error(&e))?;
    let first = batches.next().await.transpose()?;
    let mut head = prefix.to_vec();
    if let Some(batch) = &first {
        head.extend_from_slice(&encoder.batch(batch).map_err(|e| ApiError::from_error(&e))?);
    }
    let finished = first.is_none();
    let state = (batches, encoder, suffix, finished);
    let rest = futures::stream::unfold(
        Some(state),
        |state| async move {
            let (mut batches, mut encoder, suffix, finished) = state?;
            let end = |mut encoder: Box<dyn super::formats::Encoder>, suffix: Bytes| {
                let mut tail = match encoder.finish() {
                    Ok(b) => b.to_vec(),
                    Err(e) => return Err(std::io::Error::other(e)),
                };
                tail.extend_from_slice(&suffix);
                Ok(Bytes::from(tail))
            };
            if finished {
                return Some((end(encoder, suffix), None));
            }
            match batches.next().await {
                None => Some((end(encoder, suffix), None)),
                Some(Ok(batch)) => {
                    let bytes = encoder.batch(&batch).map_err(std::io::Error::other);
                    Some((bytes, Some((batches, encoder, suffix, false))))
                }
                Some(Err(e)) => {
                    tracing::info!(code = e.code, message = %e.message, "an HTTP query failed while streaming; the body is cut off");
                    Some((
                        Err(std::io::Error::other(format!("{}: {}", e.code, e.message))),
                        None,
                    ))
                }
            }
        },
    )
    .filter(|chunk| std::future::ready(!matches!(chunk, Ok(b) if b.is_empty())));
    let body = futures::stream::once(std::future::ready(Ok::<_, std::io::Error>(Bytes::from(
        head,
    ))))
    .chain(rest);
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        Body::from_stream(body),
    )
        .into_response())
}

/// A `statement_timeout` value: milliseconds, or a number with `ms`, `s`, `min` or `h`.
pub(crate) fn parse_timeout(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid statement_timeout \"{text}\""))?;
    let ms = match unit.trim() {
        "" | "ms" => value,
        "s" => value * 1000.0,
        "min" => value * 60_000.0,
        "h" => value * 3_600_000.0,
        _ => {
            return Err(format!(
                "invalid statement_timeout \"{text}\": units are ms, s, min, h"
            ));
        }
    };
    Ok(Duration::from_millis(ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_postgresql_writes_them() {
        assert_eq!(parse_timeout("1500"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_timeout("1min"), Ok(Duration::from_secs(60)));
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("3 days").is_err());
    }
}

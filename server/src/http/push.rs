//! `POST /v1/sources/<name>`: a JSON array, NDJSON or CSV body (by `Content-Type`; the
//! source's format otherwise) into an HTTP source.
//!
//! Answers:
//! - 200 `{"accepted":990,"rejected":10,"deduplicated":0,"replayed":false}` once the rows are
//!   durable; bad rows are counted as rejected and are in `oxbow.dead_letters`, never a 500.
//! - 200 with the first answer and `"replayed":true` for an `Idempotency-Key` already applied
//!   within 24 hours (also across a restart); nothing is added.
//! - 401 without valid credentials (see `super::auth`), 403 (42501) when the role may not
//!   INSERT into the source's table (a superuser may).
//! - 404 for an unknown source (or one that is not an HTTP source), 409 while it is paused,
//!   413 for a body over `--http-body-limit-mb`, 503 with `Retry-After` while the hot tier is
//!   full or the disk is.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use oxbow_catalog::{DEFAULT_SCHEMA, ObjectName};
use oxbow_ingest::IngestError;
use serde_json::json;

use super::HttpState;
use super::error::ApiError;

/// The longest `Idempotency-Key` kept.
const MAX_KEY_BYTES: usize = 256;

pub async fn push(
    State(state): State<HttpState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let manager = &state.sources;
    let name = match name.split_once('.') {
        Some((schema, name)) => ObjectName::new(schema, name),
        None => ObjectName::new(DEFAULT_SCHEMA, name),
    };
    let role = match state.auth.caller(&headers) {
        Ok(role) => role,
        Err(e) => return e.into_response(),
    };
    // A source that does not exist falls through to the push, which answers 404.
    if let Some(source) = manager.get(&name)
        && let Err(e) = crate::statements::privileges::check_insert(
            manager.database(),
            &role,
            &source.def.target,
        )
    {
        return ApiError::from_error(&e).into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    if key.is_some_and(|k| k.len() > MAX_KEY_BYTES) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("Idempotency-Key is longer than {MAX_KEY_BYTES} bytes"),
        );
    }
    match manager.push(&name, body, content_type, key).await {
        Ok(pushed) => (
            StatusCode::OK,
            Json(json!({
                "accepted": pushed.outcome.accepted,
                "rejected": pushed.outcome.rejected,
                "deduplicated": pushed.outcome.deduplicated,
                "filtered": pushed.outcome.filtered,
                "replayed": pushed.replayed,
            })),
        )
            .into_response(),
        Err(IngestError::SourceNotFound(name)) => error(
            StatusCode::NOT_FOUND,
            format!("no HTTP source named {name}"),
        ),
        Err(e @ IngestError::HotTierFull) => retry_later(e.to_string()),
        Err(IngestError::Connector(message)) => error(StatusCode::CONFLICT, message),
        Err(IngestError::Storage(e)) if is_full(&e) => retry_later(e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn is_full(e: &oxbow_storage::Error) -> bool {
    match e {
        oxbow_storage::Error::WalWrite { source } | oxbow_storage::Error::Io { source, .. } => {
            source.kind() == std::io::ErrorKind::StorageFull
        }
        _ => false,
    }
}

fn error(status: StatusCode, message: String) -> Response {
    let code = match status {
        StatusCode::NOT_FOUND => crate::wire::sqlstate::code::UNDEFINED_OBJECT,
        StatusCode::CONFLICT => "55000",
        StatusCode::SERVICE_UNAVAILABLE => "53000",
        StatusCode::BAD_REQUEST => crate::wire::sqlstate::code::INVALID_PARAMETER_VALUE,
        _ => crate::wire::sqlstate::code::INTERNAL_ERROR,
    };
    (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

fn retry_later(message: String) -> Response {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

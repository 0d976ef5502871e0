//! The HTTP API, served by axum on `--http-listen` (default 127.0.0.1:8080, `off` to disable)
//! beside the PostgreSQL listener, and stopped with it. Every endpoint but `/health` takes
//! the credentials of an Oxbow role ([`auth`]) and applies its privileges.
//!
//! # Layout
//! - [`auth`]: who a request acts as (HTTP Basic against the roles' SCRAM keys; trust rules).
//! - [`error`]: every error answer, `{"error": {"code": SQLSTATE, "message"}}` with its status.
//! - [`push`]: `POST /v1/sources/<name>`, rows into an HTTP source (needs INSERT on its table).
//! - [`sql`]: `POST /v1/sql`, `GET /v1/sql`; [`query`] runs the query (session, privileges,
//!   planning, timeout), [`formats`] writes it (JSON, NDJSON, CSV, Arrow IPC, Parquet).
//! - [`obsrv`]: `POST /data/v1/sql-query`, Obsrv's endpoint with realtime / datalake routing.
//! - [`metrics`]: `GET /metrics` in Prometheus text.
//! - [`ops`]: `GET /ready` (no credentials), `GET /v1/tables`, `GET /v1/sources`,
//!   `GET /v1/sources/{name}/dead_letters`: the system tables as JSON.
//! - [`console`]: the web console at `/` and its files under `/console/`.
//! - `GET /health` answers `ok` with no credentials (the process is up).
//!
//! Not here yet: Arrow Flight SQL.

mod auth;
mod console;
mod error;
mod formats;
pub mod metrics;
mod obsrv;
mod ops;
mod push;
mod query;
pub(crate) mod sql;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use oxbow_ingest::SourceManager;
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use auth::HttpAuth;
pub use ops::Readiness;
pub use query::QueryEngine;

/// What every handler shares.
#[derive(Clone)]
pub struct HttpState {
    pub sources: Arc<SourceManager>,
    pub engine: QueryEngine,
    pub auth: HttpAuth,
    pub readiness: Readiness,
}

/// Binds the HTTP listener, with the sentence the operator needs when the port is taken.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| {
        format!(
            "cannot listen for HTTP on {addr}: {e} (is another service using it? choose another address with --http-listen, or --http-listen off)"
        )
    })
}

pub fn router(state: HttpState, body_limit: usize) -> Router {
    metrics::install();
    Router::new()
        .route("/", get(console::index))
        .route("/console/{file}", get(console::asset))
        .route("/health", get(|| async { "ok" }))
        .route("/ready", get(ops::ready))
        .route("/v1/tables", get(ops::tables))
        .route("/v1/sources", get(ops::sources))
        .route("/v1/sources/{name}", post(push::push))
        .route("/v1/sources/{name}/dead_letters", get(ops::dead_letters))
        .route("/v1/sql", get(sql::get).post(sql::post))
        .route("/data/v1/sql-query", post(obsrv::sql_query))
        .route("/metrics", get(metrics::render))
        .layer(axum::middleware::from_fn(count_request))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Counts each request by route and status (`oxbow_http_requests_total`).
async fn count_request(request: Request, next: Next) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    ::metrics::counter!(
        "oxbow_http_requests_total",
        "path" => path,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    response
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let addr = listener.local_addr().ok();
    info!(http_listen = ?addr, "HTTP API is ready");
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        warn!(error = %e, "the HTTP listener stopped");
    }
}

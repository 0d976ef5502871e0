//! The HTTP API: `POST /v1/sources/<name>` pushes rows into an HTTP source (see [`push`]),
//! `GET /health` answers `ok`. Served by axum on `--http-listen` (default 127.0.0.1:8080,
//! `off` to disable) beside the PostgreSQL listener, and stopped with it.
//!
//! Not here yet: the JSON query API and the web console (they will be rooms beside `push`).

mod push;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use oxbow_ingest::SourceManager;
use tokio::net::TcpListener;
use tracing::{info, warn};

/// Binds the HTTP listener, with the sentence the operator needs when the port is taken.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| {
        format!(
            "cannot listen for HTTP on {addr}: {e} (is another service using it? choose another address with --http-listen, or --http-listen off)"
        )
    })
}

pub fn router(manager: Arc<SourceManager>, body_limit: usize) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/sources/{name}", post(push::push))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(manager)
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

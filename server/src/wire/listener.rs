//! The accept loop: one task per PostgreSQL connection, until shutdown.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tracing::{Instrument, info, info_span, warn};

use crate::wire::connection::{self, ConnectionLimits};
use crate::wire::frontend::Frontend;

/// Accepts connections until `shutdown` completes. Connections still open then are dropped
/// with the runtime: every acknowledged statement has already committed, so none is lost.
pub async fn run(
    listener: TcpListener,
    frontend: Arc<Frontend>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut next_id: u64 = 0;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    next_id += 1;
                    let handlers = frontend.connection();
                    let tls = frontend.tls();
                    let span = info_span!("connection", id = next_id, %peer);
                    tokio::spawn(
                        async move {
                            if let Err(e) = connection::serve(socket, tls, handlers, limits).await {
                                warn!(error = %e, "connection ended with an error");
                            }
                        }
                        .instrument(span),
                    );
                }
                Err(e) => warn!(error = %e, "accept failed"),
            },
            () = &mut shutdown => {
                info!("shutting down: no longer accepting connections");
                return;
            }
        }
    }
}

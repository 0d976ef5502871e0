//! One connection's message loop: pgwire's `process_socket`, with a cap on the size of a
//! message a client may send (`--max-message-bytes`).
//!
//! The decrypted byte stream passes through [`MessageLimit`] (`crate::wire::framing`), which
//! fails the read of a message over the cap (FATAL 54000, before its body is buffered) or of
//! an extended-query message whose contents do not fit its length (FATAL 08P01, before pgwire
//! decodes it: pgwire's decoders read past such a message and can panic).
//!
//! A session idle inside a transaction block past `--idle-in-transaction-timeout-ms` (or its
//! own `SET idle_in_transaction_session_timeout`) is ended with FATAL 25P03, as PostgreSQL's
//! `idle_in_transaction_session_timeout` does.
//!
//! The loop itself is pgwire's (`tokio::server::process_socket_messages!`, not exported),
//! built on its public pieces: `negotiate_tls`, `process_message`, `process_error`.

use std::io;
use std::time::Duration;

use futures::StreamExt;
use pgwire::api::{ClientInfo, ErrorHandler};
use pgwire::api::{PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::PgWireFrontendMessage;
use pgwire::messages::response::TransactionStatus;
use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, FramedParts};

use crate::wire::framing::{self, MessageLimit};
use crate::wire::sqlstate::code;

/// pgwire's: a client must finish startup and authentication within this time.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The default of `--max-message-bytes`: far above what clients send (psql and drivers send
/// COPY data in chunks of kilobytes), far below pgwire's 1 GiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Serves one TCP connection until the client leaves, the startup times out, or a message
/// breaks the protocol or the size cap.
/// What one connection may do (`--max-message-bytes`, `--idle-in-transaction-timeout-ms`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_message_bytes: usize,
    /// How long a session may sit idle inside a transaction block before it is ended (FATAL
    /// 25P03), so that an abandoned block does not hold its rows forever; `None`: no limit.
    pub idle_in_transaction: Option<Duration>,
}

pub async fn serve<H: PgWireServerHandlers>(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    handlers: H,
    limits: ConnectionLimits,
) -> io::Result<()> {
    let startup_timeout = tokio::time::sleep(STARTUP_TIMEOUT);
    tokio::pin!(startup_timeout);
    let negotiated = tokio::select! {
        () = &mut startup_timeout => return Ok(()),
        socket = negotiate_tls(tcp, tls) => socket?,
    };
    // None: a direct TLS handshake while TLS is off.
    let Some(socket) = negotiated else {
        return Ok(());
    };
    let parts = socket.into_parts();
    let mut limit = MessageLimit::new(parts.io, limits.max_message_bytes);
    // What negotiation read past the SSLRequest is already buffered: it is framed too.
    let buffered = limit.scan(&parts.read_buf);
    let mut limited = FramedParts::new(limit, parts.codec);
    limited.read_buf = parts.read_buf;
    limited.write_buf = parts.write_buf;
    let mut socket = Framed::from_parts(limited);
    let error_handler = handlers.error_handler();
    if let Err(e) = buffered {
        return refuse(&mut socket, error_handler.as_ref(), e).await;
    }

    let startup_handler = handlers.startup_handler();
    let simple_query_handler = handlers.simple_query_handler();
    let extended_query_handler = handlers.extended_query_handler();
    let copy_handler = handlers.copy_handler();
    let cancel_handler = handlers.cancel_handler();
    loop {
        let starting = matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
        );
        let idle_in_transaction = matches!(socket.state(), PgWireConnectionState::ReadyForQuery)
            && !matches!(socket.transaction_status(), TransactionStatus::Idle);
        let next = if starting {
            tokio::select! {
                () = &mut startup_timeout => None,
                next = socket.next() => next,
            }
        } else if let (true, Some(limit)) = (
            idle_in_transaction,
            crate::statements::settings::idle_timeout::session_limit(&socket)
                .unwrap_or(limits.idle_in_transaction),
        ) {
            match tokio::time::timeout(limit, socket.next()).await {
                Ok(next) => next,
                Err(_) => {
                    tracing::info!(?limit, "ended a session idle in a transaction block");
                    let error = PgWireError::UserError(Box::new(ErrorInfo::new(
                        "FATAL".into(),
                        code::IDLE_IN_TRANSACTION_SESSION_TIMEOUT.into(),
                        "terminating connection due to idle-in-transaction timeout".into(),
                    )));
                    process_error(&mut socket, error, false).await?;
                    return Ok(());
                }
            }
        } else {
            socket.next().await
        };
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(PgWireError::IoError(e))) if framing::sqlstate(&e).is_some() => {
                return refuse(&mut socket, error_handler.as_ref(), e).await;
            }
            // A message pgwire cannot decode, or the connection is gone: close, as pgwire does.
            Some(Err(_)) | None => return Ok(()),
        };
        // Terminate: close now (asyncpg waits for the server to drop the socket).
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            return Ok(());
        }
        let is_extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        if let Err(mut e) = process_message(
            message,
            &mut socket,
            startup_handler.clone(),
            simple_query_handler.clone(),
            extended_query_handler.clone(),
            copy_handler.clone(),
            cancel_handler.clone(),
        )
        .await
        {
            error_handler.on_error(&socket, &mut e);
            if starting {
                // Whatever goes wrong before login ends the connection: pgwire would otherwise
                // move a connection whose startup failed with an ERROR to ReadyForQuery.
                let mut info = pgwire::error::ErrorInfo::from(e);
                info.severity = "FATAL".into();
                e = PgWireError::UserError(Box::new(info));
            }
            process_error(&mut socket, e, is_extended_query).await?;
        }
    }
}

/// Answers a message over the cap (FATAL 54000) or a malformed one (FATAL 08P01) and closes;
/// any other read error is returned as it is.
async fn refuse<T, S>(
    socket: &mut Framed<T, pgwire::tokio::server::PgWireMessageServerCodec<S>>,
    error_handler: &impl ErrorHandler,
    e: io::Error,
) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
{
    let Some(code) = framing::sqlstate(&e) else {
        return Err(e);
    };
    tracing::info!(error = %e, "closed a connection for a message it may not send");
    let mut error = PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        e.to_string(),
    )));
    error_handler.on_error(&*socket, &mut error);
    process_error(socket, error, false).await
}

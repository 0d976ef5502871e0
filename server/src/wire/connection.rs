//! One connection's message loop: pgwire's `process_socket`, with a cap on the size of a
//! message a client may send (`--max-message-bytes`).
//!
//! pgwire buffers a whole frontend message before decoding it and allows up to 1 GiB, so a
//! client could make the server hold 1 GiB per connection just by announcing it. Here the
//! decrypted byte stream passes through [`MessageLimit`], which follows the message framing
//! (the untyped startup message, then a type byte and a length per message) and fails the
//! read as soon as a header announces more than the cap, before the body is buffered. The
//! client gets a FATAL 54000 naming the cap, and the connection is closed.
//!
//! The loop itself is pgwire's (`tokio::server::process_socket_messages!`, not exported),
//! built on its public pieces: `negotiate_tls`, `process_message`, `process_error`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::StreamExt;
use pgwire::api::{ClientInfo, ErrorHandler};
use pgwire::api::{PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::PgWireFrontendMessage;
use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::server::{negotiate_tls, process_error, process_message};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::codec::{Framed, FramedParts};

use crate::wire::sqlstate::code;

/// pgwire's: a client must finish startup and authentication within this time.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// The default of `--max-message-bytes`: far above what clients send (psql and drivers send
/// COPY data in chunks of kilobytes), far below pgwire's 1 GiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Serves one TCP connection until the client leaves, the startup times out, or a message
/// breaks the protocol or the size cap.
pub async fn serve<H: PgWireServerHandlers>(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    handlers: H,
    max_message_bytes: usize,
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
    let mut limit = MessageLimit::new(parts.io, max_message_bytes);
    // What negotiation read past the SSLRequest is already buffered: it is framed too.
    let buffered = limit.scan(&parts.read_buf);
    let mut limited = FramedParts::new(limit, parts.codec);
    limited.read_buf = parts.read_buf;
    limited.write_buf = parts.write_buf;
    let mut socket = Framed::from_parts(limited);
    let error_handler = handlers.error_handler();
    if let Err(e) = buffered {
        return refuse_oversized(&mut socket, error_handler.as_ref(), e).await;
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
        let next = if starting {
            tokio::select! {
                () = &mut startup_timeout => None,
                next = socket.next() => next,
            }
        } else {
            socket.next().await
        };
        let message = match next {
            Some(Ok(message)) => message,
            Some(Err(PgWireError::IoError(e))) if is_too_large(&e) => {
                return refuse_oversized(&mut socket, error_handler.as_ref(), e).await;
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
            process_error(&mut socket, e, is_extended_query).await?;
        }
    }
}

/// Answers a message over the cap with FATAL 54000 and closes; any other read error of the
/// buffered start is returned as it is.
async fn refuse_oversized<T, S>(
    socket: &mut Framed<T, pgwire::tokio::server::PgWireMessageServerCodec<S>>,
    error_handler: &impl ErrorHandler,
    e: io::Error,
) -> io::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + Sync + 'static,
{
    if !is_too_large(&e) {
        return Err(e);
    }
    tracing::info!(error = %e, "closed a connection for an oversized message");
    let mut error = PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code::PROGRAM_LIMIT_EXCEEDED.into(),
        e.to_string(),
    )));
    error_handler.on_error(&*socket, &mut error);
    process_error(socket, error, false).await
}

/// The error a [`MessageLimit`] read fails with.
#[derive(Debug, thiserror::Error)]
#[error(
    "message of {announced} bytes exceeds the server's limit of {limit} bytes (--max-message-bytes)"
)]
struct MessageTooLarge {
    announced: u64,
    limit: usize,
}

fn is_too_large(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<MessageTooLarge>().is_some())
}

/// A byte stream that follows PostgreSQL's frontend framing and fails the read that brings a
/// header announcing a message over `limit` bytes (or a length below 4, which no message has).
pub(super) struct MessageLimit<T> {
    io: T,
    limit: usize,
    /// The first message (startup or cancel) has no type byte.
    startup: bool,
    header: [u8; 5],
    header_len: usize,
    /// Body bytes of the current message still to come.
    body_left: u64,
}

impl<T> MessageLimit<T> {
    pub(super) fn new(io: T, limit: usize) -> Self {
        Self {
            io,
            limit,
            startup: true,
            header: [0; 5],
            header_len: 0,
            body_left: 0,
        }
    }

    /// Follows the framing over `bytes`, the next bytes of the stream.
    pub(super) fn scan(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = (self.body_left.min(bytes.len() as u64)) as usize;
                self.body_left -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            let header_size = if self.startup { 4 } else { 5 };
            self.header[self.header_len] = bytes[0];
            self.header_len += 1;
            bytes = &bytes[1..];
            if self.header_len < header_size {
                continue;
            }
            let length_bytes: [u8; 4] = self.header[header_size - 4..header_size]
                .try_into()
                .expect("four bytes");
            let announced = i32::from_be_bytes(length_bytes);
            let body = u64::try_from(announced).unwrap_or(0);
            if announced < 4 || body as usize > self.limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    MessageTooLarge {
                        // A negative length reads as its unsigned value, as pgwire reads it.
                        announced: announced as u32 as u64,
                        limit: self.limit,
                    },
                ));
            }
            self.body_left = body - 4;
            self.header_len = 0;
            self.startup = false;
        }
        Ok(())
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for MessageLimit<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let filled = buf.filled()[before..].to_vec();
                Poll::Ready(self.scan(&filled))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for MessageLimit<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn startup() -> Vec<u8> {
        let mut m = 12i32.to_be_bytes().to_vec();
        m.extend_from_slice(&196608i32.to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m
    }

    #[test]
    fn messages_under_the_limit_pass_whatever_the_read_boundaries() {
        let mut stream = startup();
        stream.extend(message(b'Q', &[b'x'; 100]));
        stream.extend(message(b'Q', &[b'y'; 96]));
        for chunk in [1, 3, 7, 64, stream.len()] {
            // The length field counts itself: a 100-byte body is a 104-byte message.
            let mut limit = MessageLimit::new((), 104);
            for piece in stream.chunks(chunk) {
                limit.scan(piece).unwrap();
            }
            assert_eq!((limit.header_len, limit.body_left), (0, 0));
        }
    }

    #[test]
    fn a_header_over_the_limit_fails_before_its_body_arrives() {
        let mut limit = MessageLimit::new((), 100);
        limit.scan(&startup()).unwrap();
        let e = limit.scan(&message(b'Q', &[b'x'; 101])[..5]).unwrap_err();
        assert!(is_too_large(&e));
        assert!(e.to_string().contains("105 bytes"), "{e}");
    }

    #[test]
    fn negative_and_impossible_lengths_fail() {
        for length in [-1i32, 0, 3, i32::MIN] {
            let mut limit = MessageLimit::new((), 100);
            limit.scan(&startup()).unwrap();
            let mut header = vec![b'Q'];
            header.extend_from_slice(&length.to_be_bytes());
            assert!(limit.scan(&header).is_err(), "length {length}");
        }
    }
}

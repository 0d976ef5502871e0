//! [`MessageLimit`]: the client's byte stream, followed message by message before pgwire sees
//! it, refusing what pgwire would mishandle.
//!
//! - **Size.** pgwire buffers a whole message before decoding it and allows up to 1 GiB, so a
//!   client could make the server hold 1 GiB per connection just by announcing it. A header
//!   announcing more than the cap (`--max-message-bytes`), or a length below 4, fails the read
//!   at once.
//! - **Shape of extended-query messages.** pgwire's decoders of `Parse`, `Bind`, `Describe`,
//!   `Close` and `Execute` read counts and lengths from the connection's buffer without
//!   checking them against the message's own length: a `Parse` announcing more parameter types
//!   than it holds panicked in `bytes` ("advance out of bounds"; found by
//!   `tests/sqllogictest/tests/wire_fuzz.rs`), and a short one reads into the next message.
//!   Their bodies are kept until complete and checked to fill their length exactly. So is the
//!   first password message, which pgwire's SCRAM handler reads as `SASLInitialResponse`
//!   (a mechanism, then a length it splits off unchecked: a panic in `bytes` otherwise).
//! - **The startup message.** pgwire stops reading it at the end of its parameters, so bytes
//!   after them inside its length were read as the next message (a forged SASL message inside
//!   a startup packet panicked pgwire's SCRAM decoder). It must be exactly its parameters
//!   (protocol 3), a cancel request, or an SSL/GSS request.
//! - **Boundaries.** pgwire reads a `Query` or `CopyFail` string up to the first NUL of the
//!   connection's buffer, and does not skip a body sent with `Sync`, `Flush`, `Terminate` or
//!   `CopyDone`: either would make it read the rest of the stream out of step, from inside a
//!   message. Their strings must end exactly at the end of the message (followed as the bytes
//!   pass, nothing kept), and those four must have empty bodies.
//!
//! A refused read reaches the connection loop (`crate::wire::connection`) as an `io::Error`
//! that [`sqlstate`] recognises; the client gets a FATAL error and the connection closes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::wire::sqlstate::code;

/// A message over the size cap.
#[derive(Debug, thiserror::Error)]
#[error(
    "message of {announced} bytes exceeds the server's limit of {limit} bytes (--max-message-bytes)"
)]
struct MessageTooLarge {
    announced: u64,
    limit: usize,
}

/// A message whose contents do not fit its length (PostgreSQL's "invalid message format").
#[derive(Debug, thiserror::Error)]
#[error("invalid message format: a '{tag}' message whose contents do not fit its length")]
struct MalformedMessage {
    tag: char,
}

/// The SQLSTATE of a read [`MessageLimit`] refused; `None` for any other error.
pub fn sqlstate(e: &io::Error) -> Option<&'static str> {
    let inner = e.get_ref()?;
    if inner.downcast_ref::<MessageTooLarge>().is_some() {
        Some(code::PROGRAM_LIMIT_EXCEEDED)
    } else if inner.downcast_ref::<MalformedMessage>().is_some() {
        Some(code::PROTOCOL_VIOLATION)
    } else {
        None
    }
}

/// Whether the body of a message of `tag` is checked before pgwire decodes it; `first_password`:
/// no password message has come yet.
fn is_checked(tag: u8, first_password: bool) -> bool {
    matches!(tag, b'P' | b'B' | b'D' | b'C' | b'E') || (tag == b'p' && first_password)
}

/// Whether a message of `tag` must have an empty body.
fn is_empty_bodied(tag: u8) -> bool {
    matches!(tag, b'S' | b'H' | b'X' | b'c')
}

/// Whether the body of a message of `tag` is one NUL-terminated string.
fn is_one_string(tag: u8) -> bool {
    matches!(tag, b'Q' | b'f')
}

/// Reads a message body front to back; every step fails on running out.
struct Body<'a>(&'a [u8]);

impl Body<'_> {
    fn cstring(&mut self) -> Option<()> {
        let end = self.0.iter().position(|b| *b == 0)?;
        self.0 = &self.0[end + 1..];
        Some(())
    }

    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
    }

    fn i32(&mut self) -> Option<i32> {
        self.take(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// PostgreSQL's (and pgwire's) limit on the startup packet.
const MAX_STARTUP_BYTES: u64 = 10_000;

/// The tag [`MessageLimit`] keeps the untyped first message under.
const STARTUP: u8 = 0;

/// Whether `body` (after the length) is exactly a startup-phase message.
fn well_formed_startup(body: &[u8]) -> bool {
    let mut b = Body(body);
    let Some(code) = b.i32() else {
        return false;
    };
    match code {
        // CancelRequest: the process id and a secret key of 4 to 256 bytes.
        80877102 => (8..=260).contains(&b.0.len()),
        // SSLRequest, GSSENCRequest.
        80877103 | 80877104 => b.0.is_empty(),
        // StartupMessage of protocol 3.x: name/value pairs, then an empty name, and no more.
        _ if code >> 16 == 3 => loop {
            let Some(end) = b.0.iter().position(|c| *c == 0) else {
                return false;
            };
            if end == 0 {
                return b.0.len() == 1;
            }
            b.0 = &b.0[end + 1..];
            if b.cstring().is_none() {
                return false;
            }
        },
        // Another protocol: pgwire refuses it with a FATAL error of its own.
        _ => true,
    }
}

/// Whether `body` is exactly a well-formed message of `tag` (one of [`is_checked`]'s).
fn well_formed(tag: u8, body: &[u8]) -> bool {
    let mut b = Body(body);
    let parsed = match tag {
        // Parse: name, query, the parameter type OIDs.
        b'P' => (|| {
            b.cstring()?;
            b.cstring()?;
            let types = b.u16()?;
            b.take(types * 4).map(|_| ())
        })(),
        // Bind: portal, statement, parameter formats, parameters, result formats.
        b'B' => (|| {
            b.cstring()?;
            b.cstring()?;
            let formats = b.u16()?;
            b.take(formats * 2)?;
            for _ in 0..b.u16()? {
                let length = b.i32()?;
                if length >= 0 {
                    b.take(length as usize)?;
                } else if length != -1 {
                    return None;
                }
            }
            let results = b.u16()?;
            b.take(results * 2).map(|_| ())
        })(),
        // Describe and Close: 'S' or 'P', then a name.
        b'D' | b'C' => (|| {
            b.take(1)?;
            b.cstring()
        })(),
        // Execute: the portal, then a row limit.
        b'E' => (|| {
            b.cstring()?;
            b.i32().map(|_| ())
        })(),
        // SASLInitialResponse: the mechanism, then the client's first message (-1: none).
        b'p' => (|| {
            b.cstring()?;
            match b.i32()? {
                -1 => Some(()),
                length if length >= 0 => b.take(length as usize).map(|_| ()),
                _ => None,
            }
        })(),
        _ => Some(()),
    };
    parsed.is_some() && b.0.is_empty()
}

/// A byte stream that follows PostgreSQL's frontend framing and fails the read that brings a
/// message it refuses (see the module doc).
pub(super) struct MessageLimit<T> {
    io: T,
    limit: usize,
    /// The first message (startup or cancel) has no type byte.
    startup: bool,
    header: [u8; 5],
    header_len: usize,
    /// Body bytes of the current message still to come.
    body_left: u64,
    /// The body so far of a message whose shape is checked.
    kept: Option<(u8, Vec<u8>)>,
    /// No password message has come yet.
    first_password: bool,
    /// For a message that is one string: whether its NUL has passed (`None`: another kind).
    string_ended: Option<bool>,
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
            kept: None,
            first_password: true,
            string_ended: None,
        }
    }

    /// Follows the framing over `bytes`, the next bytes of the stream.
    pub(super) fn scan(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = (self.body_left.min(bytes.len() as u64)) as usize;
                if let Some((_, body)) = &mut self.kept {
                    body.extend_from_slice(&bytes[..n]);
                }
                if let Some(ended) = &mut self.string_ended {
                    let piece = &bytes[..n];
                    let last_of_message = self.body_left == n as u64;
                    match piece.iter().position(|b| *b == 0) {
                        _ if *ended => return Err(malformed(self.header[0])),
                        Some(at) if at + 1 != n || !last_of_message => {
                            return Err(malformed(self.header[0]));
                        }
                        Some(_) => *ended = true,
                        None => {}
                    }
                }
                self.body_left -= n as u64;
                bytes = &bytes[n..];
                if self.body_left == 0 {
                    self.check_kept()?;
                }
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
            let length = u64::try_from(announced).unwrap_or(0);
            if announced < 4 || length as usize > self.limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    MessageTooLarge {
                        // A negative length reads as its unsigned value, as pgwire reads it.
                        announced: announced as u32 as u64,
                        limit: self.limit,
                    },
                ));
            }
            let tag = self.header[0];
            if !self.startup && is_empty_bodied(tag) && length != 4 {
                return Err(malformed(tag));
            }
            self.string_ended = (!self.startup && is_one_string(tag)).then_some(false);
            if self.startup && length > MAX_STARTUP_BYTES {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    MessageTooLarge {
                        announced: length,
                        limit: MAX_STARTUP_BYTES as usize,
                    },
                ));
            }
            // Room for what has arrived, not for what is announced.
            let room = ((length - 4) as usize).min(64 * 1024);
            if self.startup {
                self.kept = Some((STARTUP, Vec::with_capacity(room)));
            } else if is_checked(tag, self.first_password) {
                self.kept = Some((tag, Vec::with_capacity(room)));
            }
            if !self.startup && tag == b'p' {
                self.first_password = false;
            }
            self.body_left = length - 4;
            self.header_len = 0;
            self.startup = false;
            if self.body_left == 0 {
                self.check_kept()?;
            }
        }
        Ok(())
    }

    fn check_kept(&mut self) -> io::Result<()> {
        if self.string_ended.take() == Some(false) {
            return Err(malformed(self.header[0]));
        }
        match self.kept.take() {
            Some((STARTUP, body)) if !well_formed_startup(&body) => Err(malformed(b'?')),
            Some((tag, body)) if tag != STARTUP && !well_formed(tag, &body) => Err(malformed(tag)),
            _ => Ok(()),
        }
    }
}

fn malformed(tag: u8) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        MalformedMessage { tag: tag as char },
    )
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
        let params = b"user\0u\0\0";
        let mut m = ((8 + params.len()) as i32).to_be_bytes().to_vec();
        m.extend_from_slice(&196608i32.to_be_bytes());
        m.extend_from_slice(params);
        m
    }

    #[test]
    fn the_startup_message_is_its_parameters_and_nothing_more() {
        let mut startup_then_sasl = b"user\0p\0\0".to_vec();
        startup_then_sasl.extend(message(b'p', b"c=biws,r=x,p=AAAA"));
        for (params, ok) in [
            (b"user\0u\0\0".to_vec(), true),
            (b"user\0u\0database\0d\0\0".to_vec(), true),
            (startup_then_sasl, false), // pgwire read the 'p' inside as a message
            (b"user\0u\0".to_vec(), false),
            (b"user\0".to_vec(), false),
        ] {
            let mut m = ((8 + params.len()) as i32).to_be_bytes().to_vec();
            m.extend_from_slice(&196608i32.to_be_bytes());
            m.extend_from_slice(&params);
            let result = MessageLimit::new((), 1 << 20).scan(&m);
            assert_eq!(result.is_ok(), ok, "{params:?}");
        }
        let mut cancel = 16i32.to_be_bytes().to_vec();
        cancel.extend_from_slice(&80877102i32.to_be_bytes());
        cancel.extend_from_slice(&[0; 8]);
        MessageLimit::new((), 1 << 20).scan(&cancel).unwrap();
    }

    fn parse(types_announced: u16, types_sent: usize) -> Vec<u8> {
        let mut body = b"\0SELECT $1\0".to_vec();
        body.extend_from_slice(&types_announced.to_be_bytes());
        body.extend(std::iter::repeat_n(0u8, types_sent * 4));
        message(b'P', &body)
    }

    #[test]
    fn messages_under_the_limit_pass_whatever_the_read_boundaries() {
        let mut stream = startup();
        let mut query = vec![b'x'; 99];
        query.push(0);
        stream.extend(message(b'Q', &query));
        stream.extend(parse(2, 2));
        stream.extend(message(b'S', b""));
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
        assert_eq!(sqlstate(&e), Some(code::PROGRAM_LIMIT_EXCEEDED));
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

    #[test]
    fn extended_query_messages_must_fill_their_length_exactly() {
        for (bytes, ok) in [
            (parse(1, 1), true),
            (parse(3, 1), false), // pgwire panicked on this one
            (parse(0, 1), false),
            (message(b'E', b"\0\0\0\0\0"), true),
            (message(b'E', b"\0\0"), false),
            (message(b'D', b"S\0"), true),
            (message(b'D', b"S"), false),
            (message(b'C', b"P\0"), true),
            (message(b'B', b"\0\0\0\0\0\x01\xff\xff\xff\xff\0\0"), true),
            (message(b'B', b"\0\0\0\0\0\x01\0\0\0\x09ab\0\0"), false),
            (message(b'B', b"\0\0\0\0\0\x01\xff\xff\xff\xfe\0\0"), false),
            (message(b'p', b"SCRAM-SHA-256\0\0\0\0\x02n,"), true),
            (message(b'p', b"SCRAM-SHA-256\0\0\0\0\x09n,"), false), // pgwire panicked
            (message(b'Q', b"SELECT 1\0"), true),
            (message(b'Q', b"SELECT 1"), false),
            (message(b'Q', b"SELECT 1\0X\0\0\0\x04"), false),
            (message(b'Q', b""), false),
            (message(b'f', b"stop\0"), true),
            (message(b'S', b""), true),
            (message(b'S', b"\0\0"), false),
            (message(b'c', b"x"), false),
        ] {
            let mut limit = MessageLimit::new((), 1 << 20);
            limit.scan(&startup()).unwrap();
            let result = limit.scan(&bytes);
            assert_eq!(result.is_ok(), ok, "{bytes:?}");
            if let Err(e) = result {
                assert_eq!(sqlstate(&e), Some(code::PROTOCOL_VIOLATION));
            }
        }
    }
}

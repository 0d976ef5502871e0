//! The PostgreSQL wire protocol (pgwire): connections, startup, the simple and extended query
//! flows, how results are described and encoded, and how errors reach clients.
//!
//! Owns the protocol and nothing of SQL's meaning: statements are answered by
//! `crate::statements` (through datafusion-postgres' hooks) and planned by DataFusion.
//!
//! # Layout
//! - [`listener`]: the accept loop, one task per connection, until shutdown; [`tls`]: its
//!   rustls acceptor.
//! - [`connection`]: one connection's message loop (pgwire's); [`framing`]: the client's byte
//!   stream checked message by message (the size cap, the shape of extended-query messages).
//! - [`startup`]: a connection's start: TLS policy, connection slots, trust or SCRAM-SHA-256.
//! - [`cancel`]: stopping a running query (CancelRequest, `statement_timeout`), also while
//!   its rows stream; [`memory_watchdog`]: stopping the largest query when the server passes
//!   its memory budget.
//! - [`frontend`]: [`Frontend`](frontend::Frontend), the handlers of one connection (startup,
//!   ParameterStatus, cancel, COPY) wired over datafusion-postgres' session service.
//! - [`simple`]: the simple-query flow; [`extended`]: Parse, Bind, Describe and Execute.
//! - [`parameters`]: how statement parameters are described and decoded.
//! - [`describe`]: the RowDescription of a result (PostgreSQL's names, type OIDs, typmods).
//! - [`encode`]: row values where PostgreSQL's wire form differs from arrow-pg's;
//!   [`float_text`]: PostgreSQL's spelling of text floats.
//! - [`portals`]: protocol portals and cursors, and `MOVE`.
//! - [`sqlstate`]: the one mapping of every crate's errors to SQLSTATE codes.
//!
//! Invariant: an error reaches the client with its SQLSTATE and the connection stays usable.
//!
//! The HTTP API (push ingest, JSON query, metrics, health) is a sibling room,
//! `crate::http`, sharing the session and statements with this one, not a second server.

pub mod cancel;
pub mod connection;
pub mod describe;
pub mod encode;
pub mod extended;
mod float_text;
pub mod framing;
pub mod frontend;
#[cfg(test)]
mod fuzz;
pub mod listener;
pub mod memory_watchdog;
pub mod parameters;
pub mod portals;
pub mod simple;
pub mod sqlstate;
pub mod startup;
pub mod tls;

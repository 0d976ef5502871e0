//! The write-ahead log: every acknowledged write is in it, fsynced, before it is acknowledged.
//!
//! # Files
//! `<data-dir>/wal/<first-seq>.wal`, segments of at most [`SEGMENT_BYTES`] each, named by the
//! sequence number of their first record (20 digits, so names sort in order). A new segment is
//! started at every server start; old segments are deleted once every record in them is in
//! the Delta tier (see [`WalWriter::delete_segments_below`]).
//!
//! # Record format (version 1)
//! ```text
//! frame   := len:u32le  crc:u32le  seq:u64le  body          len = 8 + |body|, crc = crc32(seq ‖ body)
//! body    := version:u8 (=1)  kind:u8 (=1, rows)
//!            table_id_len:u16le  table_id:utf8
//!            offsets_count:u16le  offset*
//!            arrow_ipc_len:u32le  arrow_ipc:bytes          (one Arrow IPC stream, one batch)
//! offset  := source_len:u16le  source:utf8  partition:i32le  offset:i64le
//! ```
//! `offset*` carries the source positions (Kafka partition offsets, file positions) of the
//! rows in the same record, so recovery hands data and offsets back together (DESIGN rule 4);
//! INSERT and COPY write none.
//!
//! # Guarantees
//! - [`WalWriter::append`] returns only after the record is written and fsynced, and after the
//!   [`WalApply`] target has applied it: acknowledged means durable and visible.
//! - Sequence numbers are assigned in file order and records are applied in that order.
//! - Many concurrent appends share one fsync (group commit).
//! - A torn record at the end of the last segment (a crash mid-write) is cut off at startup;
//!   a bad record anywhere else is reported as corruption, never skipped silently.
//! - An fsync failure aborts the process: after a failed fsync the page cache cannot be
//!   trusted (PostgreSQL's rule), and recovery from the WAL is the only safe continuation.

mod record;
mod replay;
mod writer;

pub use record::{SourceOffset, WalEntry};
pub use replay::replay;
pub use writer::{WalApply, WalWriter};

/// A segment is closed and a new one started once it passes this size.
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_suffix(".wal")?.parse().ok()
}

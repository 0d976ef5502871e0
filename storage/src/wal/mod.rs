//! The write-ahead log: every acknowledged write is in it, fsynced, before it is acknowledged.
//!
//! # Files
//! `<data-dir>/wal/<first-seq>.wal`, segments of at most [`SEGMENT_BYTES`] each, named by the
//! sequence number of their first record (20 digits, so names sort in order). A new segment is
//! started at every server start; old segments are deleted once every record in them is in
//! the Delta tier (see [`WalWriter::delete_segments_below`]).
//!
//! # Record format (version 2)
//! ```text
//! frame   := len:u32le  crc:u32le  seq:u64le  body          len = 8 + |body|, crc = crc32(seq ‖ body)
//! body    := version:u8 (=2)  kind:u8 (=1, rows)  flags:u8 (bit 0: commit)
//!            table_id_len:u16le  table_id:utf8
//!            offsets_count:u16le  offset*
//!            streams:u32le  (ipc_len:u32le  arrow_ipc:bytes)*   (each an Arrow IPC stream)
//! offset  := source_len:u16le  source:utf8  partition:i32le  offset:i64le
//! ```
//! A body is at most [`WalLimits::record_bytes`] (64 MiB by default), far below the `u32`
//! frame length. A transaction is the records up to and including one whose commit flag is
//! set: a statement larger than one record, or a `COMMIT` that wrote several tables, is
//! several records of which only the last commits, so replay restores all of it or none.
//! Version 1 records (one batch, no flags) are still read, each a transaction of its own.
//!
//! `offset*` carries the source positions (Kafka partition offsets, file positions) of the
//! rows in the same record, so recovery hands data and offsets back together (DESIGN rule 4);
//! INSERT and COPY write none. Offsets must outlive WAL truncation: when a flush makes a
//! source's rows durable in Delta, the same commit carries the source's offsets (one Delta
//! `txn` action per source partition, app id `<source id>/<partition>`, version = offset), so
//! a source resumes from the newer of the WAL's and the lake's offsets. (Sources are not built
//! yet; this is the rule they follow.)
//!
//! # Guarantees
//! - [`WalWriter::append`] returns only after the whole transaction is written and fsynced,
//!   and after the [`WalApply`] target has applied it: acknowledged means durable and visible.
//! - Sequence numbers are assigned in file order and records are applied in that order; a
//!   transaction never spans segments.
//! - Many concurrent appends share one fsync (group commit).
//! - A torn record at the end of the last segment (a crash mid-write) is cut off at startup;
//!   a bad record followed by a valid one, a bad record anywhere else, and a record whose
//!   checksum matches but that cannot be decoded are reported as corruption, never skipped.
//! - A failed write (a full disk) refuses the statements of its group and cuts the file back;
//!   the server goes on. An fsync failure aborts the process: after a failed fsync the page
//!   cache cannot be trusted (PostgreSQL's rule), and recovery from the WAL is the only safe
//!   continuation.
//! - A segment without records is deleted at replay, and the segment being written is never
//!   deleted by retention.

mod record;
mod replay;
mod writer;

pub use record::{MAX_RECORD_BYTES, SourceOffset, WalEntry};
pub use replay::{Replayed, replay};
pub use writer::{WalApply, WalPart, WalWriter};

/// A segment is closed and a new one started once it passes this size (by default).
pub const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// Sizes of the WAL's files and records. Tests make them small to reach segment rollover and
/// record splitting with little data.
#[derive(Debug, Clone, Copy)]
pub struct WalLimits {
    /// A segment is closed once it passes this size.
    pub segment_bytes: u64,
    /// The largest body of one record.
    pub record_bytes: usize,
}

impl Default for WalLimits {
    fn default() -> Self {
        Self {
            segment_bytes: SEGMENT_BYTES,
            record_bytes: MAX_RECORD_BYTES,
        }
    }
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_suffix(".wal")?.parse().ok()
}

#[cfg(test)]
mod tests;

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
//! body    := version:u8 (=2)  kind:u8 (=1, rows)  flags:u8 (bit 0: commit, bit 1: write start)
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
//! The writer writes a group of transactions with one `write` and one fsync; the first record
//! of each such write carries the write-start flag (see "Torn tails").
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
//! - A torn tail of the last segment (a crash or a power loss during a write) is cut off at
//!   startup; damage anywhere else, and a record whose checksum matches but that cannot be
//!   decoded, are reported as corruption, never skipped (see "Torn tails").
//! - A failed write (a full disk) refuses the statements of its group and cuts the file back,
//!   with an fsync, so that no power loss brings a refused statement back; the server goes on.
//!   An fsync failure aborts the process ([`crate::fs::DurableFs::abort`]): after a failed
//!   fsync the page cache cannot be trusted (PostgreSQL's rule), and recovery from the WAL is
//!   the only safe continuation.
//! - Replay fsyncs every segment before it applies its records: after a crash they may be in
//!   the page cache only, and rows that queries have seen must not vanish at a later power
//!   loss (PostgreSQL fsyncs its data directory at crash recovery for the same reason).
//! - A segment without records is deleted at replay, and the segment being written is never
//!   deleted by retention. The `wal` directory's own name is fsynced into its parent at start.
//!
//! # Torn tails
//! Acknowledged data is always before the last fsync that returned, and the writer starts a
//! write only after the previous write's fsync returned. So at a power loss the only bytes that
//! are not durable are those of the last write, and a disk may keep any sectors of it: later
//! ones without earlier ones (a torn group of unacknowledged records: zeros, then valid
//! records), or a prefix. Replay therefore reads damage (a record whose length or checksum is
//! wrong) in the last segment that holds bytes like this:
//! - if a valid record that starts a write (flag bit 1) and continues the sequence follows the
//!   damage, that write began after the damaged one was fsynced: the damage is in acknowledged
//!   data, and replay fails as corruption;
//! - otherwise every byte from the damage on may belong to the last, unsynced write: it is a
//!   torn tail and is cut off (with an fsync), records after the damage included. Whole
//!   transactions before the damage replay (they were written, maybe not acknowledged).
//!
//! What this rule cannot tell apart: bit rot inside the very last write after it was fsynced
//! looks exactly like a torn write, and is cut (PostgreSQL, which stops at the first bad
//! record, does the same everywhere). Segments written before the write-start flag existed
//! (no record of theirs has it) keep the stricter old rule: any valid record after damage is
//! corruption. Damage in any segment but the last that holds bytes is always corruption:
//! segments roll over only after an fsync. Segments after that one are empty (a rollover
//! whose segment's name reached the disk but no record did) and are deleted.

mod record;
mod replay;
mod tail;
mod writer;

pub use record::{MAX_RECORD_BYTES, SourceOffset, WalEntry};
pub use replay::{Replayed, replay};
pub use tail::{TailRead, TailTransaction, WalTail};
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

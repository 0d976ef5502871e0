//! Keyed tables: one row per `PRIMARY KEY` value, the newest version winning, across the hot
//! tier and Delta.
//!
//! # Design (merge on write in memory, merge on flush in Delta)
//! - Every change to a keyed table is a WAL record like an INSERT's: upserted rows as a batch
//!   of the table's schema, deleted keys as a batch of the key columns marked by
//!   [`change::DELETE_MARK`] in its schema metadata. Uniqueness (23505, `ON CONFLICT`) is
//!   decided before the record is logged, under the table's key lock, so the WAL holds only
//!   changes that apply as they are and replay repeats them exactly.
//! - [`KeyIndex`] keeps, in memory, the newest hot version of every key changed since the last
//!   flush (a row id, or "deleted") and the set of keys the Delta table holds (read once when
//!   the table opens, then kept up to date by each flush). Existence checks and `ON CONFLICT`
//!   lookups are hash probes, never scans.
//! - A hot row that a newer version replaces is not moved: its batch's [`DeadMarks`] record
//!   the sequence number that replaced it. A query whose snapshot was taken at high-water
//!   sequence `H` skips hot rows dead at or below `H`, and Delta rows whose key is in the
//!   snapshot's [`ShadowSet`] at or below `H`: hot versions shadow lake versions, deletes hide
//!   them, and each query sees exactly one version of each key before any flush.
//! - A flush takes the sealed hot batches, keeps their rows still live at its `through`
//!   sequence, adds the keys deleted at or below it, and commits them to Delta as one MERGE
//!   (a plain append when none of those keys is in Delta yet) carrying the `txn` watermark,
//!   so the exactly-once handoff holds and any Delta reader sees one row per key.
//!
//! # Layout
//! - `codec.rs`: [`KeyCodec`], key columns to comparable bytes (arrow's row format).
//! - `change.rs`: how a delete travels in a batch.
//! - `index.rs`: [`KeyIndex`], [`DeadMarks`], [`ShadowSet`].
//! - `shadow_exec.rs`: [`ShadowFilterExec`], the filter over the Delta scan.
//! - `merge.rs`: the Delta side of a keyed flush.
//!
//! This room decides nothing about when rows are flushed or logged; [`crate::table`] calls it
//! under the table's locks.

pub mod change;
mod codec;
mod index;
pub mod merge;
mod shadow_exec;

pub use codec::{Key, KeyCodec};
pub use index::{DeadMarks, HotSlot, KeyIndex, Located, ShadowSet};
pub use shadow_exec::ShadowFilterExec;

/// What a write does with a row whose key already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Fail the statement with 23505, as PostgreSQL's plain INSERT does.
    Error,
    /// Skip the row (`ON CONFLICT DO NOTHING`).
    Nothing,
    /// Replace the existing row (upsert tables, sources, `ON CONFLICT DO UPDATE`).
    Replace,
}

//! When hot rows move to Delta, and what the WAL may then forget.
//!
//! - `flusher.rs`: [`Flusher`], the background task that flushes tables by age, size and
//!   memory pressure, on a runtime of its own; [`flush_due`] and [`flush_all`] are its steps.
//! - `retention.rs`: [`truncate_wal`], deleting the WAL segments that are all in Delta, and
//!   [`WalSizeLimit`], the `max_wal_size` rule: past it (`--max-wal-size-mb`, 1024 MiB by
//!   default), the tables whose hot rows begin in the oldest segment are flushed early, so one
//!   table with a long `flush_interval` cannot keep every segment (review D11).
//!
//! This room decides only when. How one table's rows move, exactly once, is
//! [`Table::flush`](crate::Table::flush) in [`crate::table`].
//!
//! # Invariants
//! - A WAL segment is deleted only once every record in it is below the low-water mark: in
//!   Delta, with the commit made durable, for every table.
//! - A failed flush leaves its rows hot, and the WAL keeps them; the table is tried again after
//!   a backoff that doubles from 100 ms to 30 s and resets on success ([`FlushBackoff`]).
//! - The WAL's size on disk is brought back under `max_wal_size` within a flush tick (100 ms)
//!   after it passes it (a soft limit: writes are not held back), except for two deliberate pins: the segment being written, and the records
//!   of a table that could not be opened ([`TableRegistry::pin_wal`](crate::registry::TableRegistry::pin_wal)),
//!   which are kept until it is repaired or dropped and are only logged.
//! - The background task is owned by [`Flusher`] and stopped by [`Flusher::stop`] at shutdown.

mod flusher;
mod retention;

pub use flusher::{FlushBackoff, Flusher, flush_all, flush_due};
pub use retention::{WalSizeLimit, tables_pinning_oldest_segment, truncate_wal};

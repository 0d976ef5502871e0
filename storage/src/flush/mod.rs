//! When hot rows move to Delta, and what the WAL may then forget.
//!
//! - `flusher.rs`: [`Flusher`], the background task that flushes tables by age, size and
//!   memory pressure, on a runtime of its own; [`flush_due`] and [`flush_all`] are its steps.
//! - `retention.rs`: [`truncate_wal`], deleting the WAL segments that are all in Delta.
//!
//! This room decides only when. How one table's rows move, exactly once, is
//! [`Table::flush`](crate::Table::flush) in [`crate::table`].
//!
//! # Invariants
//! - A WAL segment is deleted only once every record in it is below the low-water mark: in
//!   Delta, with the commit made durable, for every table.
//! - A failed flush leaves its rows hot, and the WAL keeps them; the table is tried again after
//!   a backoff that doubles from 100 ms to 30 s and resets on success ([`FlushBackoff`]).
//! - The background task is owned by [`Flusher`] and stopped by [`Flusher::stop`] at shutdown.

mod flusher;
mod retention;

pub use flusher::{FlushBackoff, Flusher, flush_all, flush_due};
pub use retention::truncate_wal;

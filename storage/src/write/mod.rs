//! The write path of `INSERT` and `COPY`: a statement's rows are checked, given the table's
//! schema, and logged as one WAL record, which the WAL's apply step then adds to the hot tier.
//!
//! - `appender.rs`: [`Appender`], one statement's rows through the WAL into the hot tier.
//! - [`constraints`]: what each row must satisfy first (NOT NULL, `varchar(n)`, JSON).
//! - `conform.rs`: [`conform_batch`], casting rows to the table's stored types.
//! - `backpressure.rs`: the hot tier's memory budget. A statement reserves its bytes before
//!   it is written and waits for flushes when they do not fit; rows held by transaction
//!   blocks are counted too.
//! - [`transaction`]: the rows a session's open transaction block holds until `COMMIT`.
//! - [`keyed`]: writes to keyed tables, conflicts decided under the table's key lock.
//!
//! This room does not move rows out of the hot tier ([`crate::table`] and [`crate::flush`]
//! do) and does not parse input formats (the server does).
//!
//! # Invariants
//! - Acknowledged means durable: [`Appender::write`] returns only after the record is fsynced
//!   in the WAL and applied to the hot tier.
//! - A statement is one WAL record, so it is durable and visible all at once or not at all; a
//!   statement whose rows break a constraint or do not fit the schema logs nothing.
//! - Rows held by a transaction block are checked and conformed when their statement runs,
//!   so `COMMIT` cannot fail on a bad row.
//! - Bytes counted by the budget (hot tier + reserved + held) exceed the hot memory limit by at
//!   most one statement: a statement is admitted when it fits or when it is alone in flight.
//!   Not counted yet (review D8): in-flight WAL requests' copies, batches that scans pin after a
//!   flush, and rows replayed at startup.

mod appender;
mod backpressure;
mod conform;
pub mod constraints;
pub mod keyed;
pub mod transaction;

pub use appender::Appender;
pub use backpressure::Reservation;
pub use conform::conform_batch;

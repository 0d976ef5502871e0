//! The hot tier: a table's rows that are durable in the WAL but not yet in Delta, and how a
//! query reads them.
//!
//! - `table.rs`: [`HotTable`], one table's batches in sequence order, each a [`HotBatch`]
//!   knowing its WAL sequence range and time range.
//! - [`prune`]: which batches a query's time filters rule out.
//! - `scan.rs`: [`HotScanExec`], the DataFusion plan node that emits the batches left in.
//! - [`reshape`]: fitting a batch written under an older schema (before `ALTER TABLE ... ADD
//!   COLUMN`) to the table's current one.
//!
//! This room does not decide when rows enter or leave it: the WAL's apply step
//! ([`crate::Table::apply`]) adds them and a flush ([`crate::table`]) drops them, both under
//! the table's state lock. It knows nothing of Delta.
//!
//! # Invariants
//! - Batches are in sequence order, and each knows the first and last WAL sequence number it
//!   holds; a flush takes a prefix of them and drops exactly that prefix.
//! - A batch a flush has taken (sealed) is never changed again: later rows start a new batch.
//! - A batch is shared (`Arc`), never copied, between the tier and the scans holding it.
//! - Every batch has the table's current schema: an `ADD COLUMN` refits them all
//!   ([`HotTable::refit`]) under the table's state lock.

pub mod prune;
pub mod reshape;
mod scan;
mod table;

pub use scan::HotScanExec;
pub use table::{HotBatch, HotTable};

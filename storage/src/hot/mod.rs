//! The hot tier: a table's rows that are durable in the WAL but not yet in Delta, and how a
//! query reads them.
//!
//! - `table.rs`: [`HotTable`], one table's batches in sequence order, each a [`HotBatch`]
//!   knowing its WAL sequence range and time range.
//! - [`prune`]: which batches a query's time filters rule out.
//! - `scan.rs`: [`HotScanExec`], the DataFusion plan node that emits the batches left in.
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

pub mod prune;
mod scan;
mod table;

pub use scan::HotScanExec;
pub use table::{HotBatch, HotTable};

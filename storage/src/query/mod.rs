//! How DataFusion reads and writes one Oxbow table: the `TableProvider` and the plan nodes
//! it returns.
//!
//! - `provider.rs`: [`OxbowTable`], the `TableProvider` whose scan unions a Delta scan with a
//!   [`HotScanExec`](crate::hot::HotScanExec) over the hot rows above it (and the rows the
//!   session's open transaction block holds).
//! - `dml_exec.rs`: [`DmlExec`], the plan of an `INSERT`, `UPDATE` or `DELETE`, which writes
//!   when executed, not when planned.
//!
//! This room does not name tables or schemas (the catalog and schema providers in
//! [`crate::database`] do) and holds no state of its own: the rows are in [`crate::table`],
//! the write path in [`crate::write`].
//!
//! # Invariants
//! - One snapshot per scan: a scan reads the Delta snapshot and the hot batches above its
//!   `txn` version, captured under one lock, so every row is in exactly one of the two inputs.
//!   (Per `scan()` call, not per query: a self-join takes two snapshots, review D9.)
//! - Pushed-down filters are `Inexact`: each tier prunes with them, DataFusion re-applies them.

mod dml_exec;
mod provider;

pub use dml_exec::{DmlExec, DmlOp};
pub use provider::OxbowTable;

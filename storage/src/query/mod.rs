//! How DataFusion reads and writes one Oxbow table: the `TableProvider` and the plan nodes
//! it returns.
//!
//! - `provider.rs`: [`OxbowTable`], the `TableProvider` whose scan unions a Delta scan with a
//!   [`HotScanExec`](crate::hot::HotScanExec) over the hot rows above it (and the rows the
//!   session's open transaction block holds).
//! - `statement.rs`: [`SnapshotPerStatement`], the session's `QueryPlanner`, and the
//!   [`StatementSnapshots`] it gives each statement: one snapshot per table for all its scans.
//! - `versioned.rs`: [`VersionedTable`], one older Delta version of a table (time travel).
//! - `tiers.rs`: [`TierScan`], a session setting that limits scans to one tier (the HTTP
//!   API's realtime / datalake routing).
//! - `dml_exec.rs`: [`DmlExec`], the plan of an `INSERT`, `UPDATE` or `DELETE`, which writes
//!   when executed, not when planned; `keyed_dml.rs`: UPDATE and DELETE of keyed tables,
//!   through the WAL.
//!
//! This room does not name tables or schemas (the catalog and schema providers in
//! [`crate::database`] do) and holds no state of its own: the rows are in [`crate::table`],
//! the write path in [`crate::write`].
//!
//! # Invariants
//! - One snapshot per statement: a scan reads the Delta snapshot and the hot batches above its
//!   `txn` version, captured under one lock, so every row is in exactly one of the two inputs;
//!   and every scan of a table within one statement (self-joins, subqueries, the `SELECT` of
//!   `INSERT INTO t SELECT ... FROM t`) reads the snapshot the first one captured. The scope
//!   of "one statement" is one physical planning pass of a session built with
//!   [`SnapshotPerStatement`]; all scans happen while planning, and the writes of a statement
//!   happen when its plan runs, after its snapshots are taken. The rows the session's own
//!   transaction block holds are added to every scan as they are at planning time.
//! - Pushed-down filters are `Inexact`: each tier prunes with them, DataFusion re-applies them.

mod dml_exec;
mod key_lookup;
mod keyed_dml;
mod keyed_merge;
mod provider;
mod statement;
mod tiers;
mod versioned;

pub use dml_exec::{DmlExec, DmlOp};
pub use keyed_merge::MergeSpec;
pub use provider::OxbowTable;
pub use statement::{SnapshotPerStatement, StatementSnapshots};
pub use tiers::TierScan;
pub use versioned::VersionedTable;

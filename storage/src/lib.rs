//! Oxbow's table engine: where rows live and how queries read them.
//!
//! # Layout
//! Each module is a room; dependencies point down this list, never up.
//! - [`database`]: [`Database`], the lifecycle (open, WAL replay, shutdown), DDL, and the
//!   DataFusion catalog and schema providers ([`OxbowCatalogProvider`], `oxbow.tables`).
//! - [`query`]: [`OxbowTable`], the DataFusion `TableProvider` that unions the Delta snapshot
//!   with the hot rows above it, and the plan node of INSERT, UPDATE and DELETE.
//! - [`flush`]: the background flusher (when to flush) and WAL retention (what to delete after).
//! - [`write`](mod@write): [`Appender`], the INSERT/COPY write path (WAL, then hot tier, with
//!   backpressure); constraints, conforming rows to the table's schema, transaction blocks.
//! - [`registry`]: the open tables by id, through which WAL records reach their table.
//! - [`table`]: [`Table`], one table's two tiers and the exactly-once handoff (flush) between
//!   them, and DELETE/UPDATE.
//! - [`keyed`]: tables with an enforced primary key: the key index, how newer versions hide
//!   older ones in both tiers, and the MERGE a keyed flush commits.
//! - [`hot`]: the hot tier, a table's rows that are in the WAL but not yet in Delta, and its
//!   scan plan and time pruning.
//! - [`lake`]: [`LakeRoot`], the root of the lakehouse tier (a local directory or an
//!   object-store URL such as `s3://bucket/prefix`), and the Delta table I/O under it.
//! - [`wal`]: the write-ahead log (record format, group-commit writer, replay).
//! - [`fs`]: the file layer the WAL and the catalog go through ([`fs::DurableFs`]): the real
//!   files, and in tests a simulated disk that loses power and fails chosen operations.
//! - [`error`]: [`Error`], one enum for the crate, with the table or file at fault.
//!
//! # Invariants (see `../shared/DESIGN.md`, consistency rules)
//! - Acknowledged means durable: an INSERT or COPY returns after its WAL record is fsynced.
//! - Exactly-once handoff: a flush commits hot rows to Delta with a `txn` action carrying the
//!   highest WAL sequence number it holds; recovery replays only records above it.
//! - One snapshot per query: a scan reads a Delta snapshot and the hot rows above its `txn`
//!   version, captured under one lock, so every row is in exactly one tier.
//! - A table exists for queries only once both its Delta table and its catalog entry exist;
//!   a table being dropped disappears from the catalog before its files are deleted.
//!
//! This crate knows no SQL text and no network protocol.

pub mod database;
pub mod error;
pub mod flush;
pub mod fs;
pub mod hot;
pub mod keyed;
pub mod lake;
pub mod query;
pub mod registry;
pub mod rollup;
pub mod table;
pub mod wal;
pub mod write;

pub use database::{Database, DatabaseConfig, OxbowCatalogProvider};
pub use error::{Error, Result};
pub use lake::LakeRoot;
pub use query::{OxbowTable, SnapshotPerStatement, TierScan, VersionedTable};
pub use table::Table;
pub use write::transaction::{TransactionWrites, write_held};
pub use write::{Appender, conform_batch};

//! Oxbow's table engine: where rows live and how queries read them.
//!
//! # Layout
//! - [`lake`]: [`LakeRoot`], the root of the lakehouse tier (a local directory or an
//!   object-store URL such as `s3://bucket/prefix`) and how table locations resolve under it.
//! - [`wal`]: the write-ahead log (record format, group-commit writer, replay).
//! - [`hot`]: [`hot::HotTable`], a table's rows that are in the WAL but not yet in Delta.
//! - [`table`]: [`Table`], one table's two tiers and the exactly-once handoff (flush) between them.
//! - [`appender`]: [`Appender`], the INSERT/COPY write path: WAL, then hot tier, with backpressure;
//!   [`constraints`]: what each written row must satisfy first (NOT NULL, `varchar(n)`, JSON).
//! - [`flusher`]: the background task that flushes by age, size and memory pressure.
//! - [`provider`] and [`hot_scan`]: [`OxbowTable`], the DataFusion `TableProvider` that unions
//!   the Delta snapshot with the hot rows above it.
//! - [`transaction`]: the rows a session's open transaction block holds until `COMMIT`.
//! - [`database`]: [`Database`], the catalog plus every open table, and the DataFusion catalog
//!   and schema providers that expose them; [`system_tables`]: `oxbow.tables`.
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

pub mod appender;
pub mod constraints;
pub mod database;
pub mod dml_exec;
pub mod error;
pub mod flusher;
pub mod hot;
pub mod hot_scan;
pub mod lake;
pub mod provider;
pub mod registry;
pub mod system_tables;
pub mod table;
pub mod transaction;
pub mod wal;

pub use appender::Appender;
pub use database::{Database, DatabaseConfig, OxbowCatalogProvider};
pub use error::{Error, Result};
pub use lake::LakeRoot;
pub use provider::OxbowTable;
pub use table::Table;
pub use transaction::TransactionWrites;

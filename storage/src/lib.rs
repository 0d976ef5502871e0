//! Oxbow's table engine: where rows live and how queries read them.
//!
//! # Layout
//! - [`lake`]: [`LakeRoot`], the root of the lakehouse tier (a local directory or an
//!   object-store URL such as `s3://bucket/prefix`) and how table locations resolve under it.
//! - [`lake_table`]: [`LakeTable`], one Delta table: create, open, append, delete, update.
//! - [`provider`]: [`OxbowTable`], the DataFusion `TableProvider` over a table, through which
//!   `SELECT`, `INSERT`, `UPDATE` and `DELETE` reach the Delta tier.
//! - [`database`]: [`Database`], the catalog plus every open table, and the DataFusion catalog
//!   and schema providers that expose them.
//!
//! # Invariants
//! - Each write statement is exactly one Delta commit: a statement that fails commits nothing.
//! - A table exists for queries only once both its Delta table and its catalog entry exist;
//!   a table being dropped disappears from the catalog before its files are deleted.
//!
//! This crate knows no SQL text and no network protocol.

pub mod database;
pub mod dml_exec;
pub mod error;
pub mod lake;
pub mod lake_table;
pub mod provider;

pub use database::{Database, OxbowCatalogProvider};
pub use error::{Error, Result};
pub use lake::LakeRoot;
pub use lake_table::LakeTable;
pub use provider::OxbowTable;

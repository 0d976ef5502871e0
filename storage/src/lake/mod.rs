//! The lakehouse tier's files: where tables live under the [`LakeRoot`], and the Delta Lake
//! I/O that has nothing to do with hot rows (creating, opening and deleting a table's Delta
//! table, and making a commit durable on a local disk).
//!
//! This room does not decide what to commit or when: the flush and DML in [`crate::table`]
//! do. It holds no per-table state.
//!
//! # Invariants
//! - Every table URL is resolved by [`LakeRoot::table_url`] from the table's location, relative
//!   to the root. (The location comes from the table's name unchecked, so today it can point
//!   outside its own directory: review D2. The check belongs in `table_url`.)
//! - On a local lake, every commit Oxbow makes (create, flush, DELETE, UPDATE, TRUNCATE) is
//!   fsynced by `sync_commits` (commit file, added files, every new directory entry, and any
//!   earlier version not yet synced) before it is acknowledged: the WAL segments holding a
//!   flush's rows are deleted on the strength of it. A failed fsync aborts the process.

mod commit_sync;
mod delta_table;
mod root;

pub(crate) use commit_sync::sync_commits;
pub(crate) use delta_table::{create_table, delete_table_files, open_table};
pub use root::LakeRoot;

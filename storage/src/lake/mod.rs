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
//! - On a local lake, a flush's commit is fsynced (`sync_commit`) before it counts as done,
//!   because the WAL segments holding the same rows are deleted on the strength of it.

mod commit_sync;
mod delta_table;
mod root;

pub(crate) use commit_sync::sync_commit;
pub(crate) use delta_table::{create_table, delete_table_files, open_table};
pub use root::LakeRoot;

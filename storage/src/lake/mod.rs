//! The lakehouse tier's files: where tables live under the [`LakeRoot`], and the Delta Lake
//! I/O that has nothing to do with hot rows (creating, opening and deleting a table's Delta
//! table, and making a commit durable on a local disk), and [`partition_pruning`], the
//! partition filters a time filter implies.
//!
//! This room does not decide what to commit or when: the flush and DML in [`crate::table`]
//! do. It holds no per-table state.
//!
//! # Layout
//! `<root>/tables/<table id>/` holds one Delta table (`_delta_log/`, Parquet files). The id is
//! a uuid given at CREATE TABLE, so the directory never depends on the table's name: any name
//! PostgreSQL accepts (`..`, `a/b`, `a#x`) is safe, and a table created again under an old
//! name gets a fresh directory. Catalogs of older versions hold `tables/<schema>/<name>`;
//! those tables still open.
//!
//! # Invariants
//! - Every table URL is resolved by [`LakeRoot::table_url`] from the table's location, relative
//!   to the root, and is strictly under the root: a location with `.`/`..` segments (plain or
//!   `%2e`), `#`, `?`, `\`, a scheme or a leading `/` is refused, and so is any URL that does
//!   not start with the root's URL (review D2).
//! - Files are deleted (`delete_table_files`) only at a location that is `tables/<id>` for the
//!   table's own id; nothing else (another table, the WAL, a legacy name-based location) is
//!   ever deleted. CREATE TABLE never deletes: its location is new, and a Delta table already
//!   there is an error.
//! - On a local lake, every commit Oxbow makes (create, flush, DELETE, UPDATE, TRUNCATE) is
//!   fsynced by `sync_commits` (commit file, added files, every new directory entry, and any
//!   earlier version not yet synced) before it is acknowledged: the WAL segments holding a
//!   flush's rows are deleted on the strength of it. A failed fsync aborts the process.

mod commit_sync;
mod delta_table;
pub mod partition_pruning;
mod root;
mod sink_delta;

pub(crate) use commit_sync::sync_commits;
pub(crate) use delta_table::{create_table, delete_table_files, open_table};
pub use root::{LakeRoot, s3_options_from_env};
pub use sink_delta::DeltaSinkTable;

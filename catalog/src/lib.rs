//! The Oxbow catalog: the names and definitions of schemas, tables and views.
//!
//! # Layout
//! - [`types`]: the SQL column types Oxbow accepts and the Arrow type each is stored as.
//! - [`model`]: the definitions kept for each object ([`TableDef`], [`ViewDef`], ...);
//!   [`partition`]: how a table's Delta files are partitioned.
//! - [`source`]: [`SourceDef`], what `CREATE SOURCE` declared, and its place in the store.
//! - [`sink`]: [`SinkDef`], what `CREATE SINK` declared, and [`SinkProgress`], how far it got.
//! - [`store`]: [`Catalog`], which persists those definitions in an embedded redb database.
//! - [`rename`]: `RENAME TO` of a table or view, with its grants.
//! - [`roles`]: the roles that may log in ([`RoleDef`]) and their SCRAM keys, in the same store;
//!   [`grants`]: what each role may do with each table or view ([`TablePrivileges`]) and
//!   schema ([`SchemaPrivileges`]); [`members`]: which roles belong to which ([`Membership`]).
//!
//! The catalog owns no row data. Every change is one redb write transaction, so a statement
//! that fails leaves the catalog exactly as it was, and a crash never leaves a half-written
//! definition behind.

pub mod error;
pub mod grants;
pub mod members;
pub mod model;
pub mod partition;
pub mod rename;
pub mod roles;
pub mod sink;
pub mod source;
pub mod store;
pub mod types;

pub use error::{Error, Result};
pub use grants::{SchemaPrivileges, TablePrivileges};
pub use members::Membership;
pub use model::{
    ColumnDef, MAX_IDENTIFIER_BYTES, ObjectName, ROLLUP_SCHEMA, RollupDef, TABLE_DIR, TableDef,
    TableOptions, ViewDef, check_identifier,
};
pub use partition::{PartitionColumn, PartitionTransform};
pub use rename::Renamed;
pub use roles::{
    PREDEFINED_ROLES, READ_SERVER_FILES, RoleDef, ScramKey, WRITE_SERVER_FILES, predefined_role,
};
pub use sink::{SinkDef, SinkProgress};
pub use source::SourceDef;
pub use store::Catalog;
pub use types::{SQL_TYPE_METADATA_KEY, SqlType};

/// The schema every new catalog starts with and unqualified names resolve to.
pub const DEFAULT_SCHEMA: &str = "public";

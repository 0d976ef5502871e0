//! PostgreSQL compatibility: the system catalogs, `information_schema` and the functions that
//! drivers, psql and BI tools read to learn what a database holds, answered from Oxbow's own
//! catalog as PostgreSQL 16 would answer them.
//!
//! Owns what a client sees when it introspects. Does not own: the session that registers these
//! (`crate::sql::session`), statement execution, or the wire.
//!
//! # Layout
//! - [`pg_catalog`]: datafusion-pg-catalog's `pg_catalog`, with the tables it cannot fill from
//!   Arrow schemas (`pg_attribute`, `pg_class`, `pg_index`, `pg_constraint`) corrected.
//! - [`information_schema`]: a PostgreSQL-shaped `information_schema`, as views over
//!   `pg_catalog`; [`table_grants`]: its `table_privileges` and `role_table_grants`, from the
//!   catalog's grants.
//! - [`functions`]: PostgreSQL functions DataFusion lacks or the library answers wrongly.
//!
//! Invariant: every OID a catalog table shows is the same in every other catalog table and in
//! `'name'::regclass` (see [`pg_catalog`]'s fixed-OID remap).

pub mod functions;
pub mod information_schema;
pub mod pg_catalog;
pub mod table_grants;

/// The name of the one database an Oxbow server holds (`current_database()`).
pub const DATABASE_NAME: &str = "oxbow";

/// The PostgreSQL version Oxbow presents itself as (`server_version`, `version()`).
pub const SERVER_VERSION: &str = "16.6";
pub const SERVER_VERSION_NUM: &str = "160006";

/// What `SELECT version()` answers. Clients (SQLAlchemy, Grafana) parse the leading
/// `PostgreSQL <major>.<minor>` to choose their code paths.
pub fn version_banner() -> String {
    format!(
        "PostgreSQL {SERVER_VERSION} (Oxbow {}) on {}, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}

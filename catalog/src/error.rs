//! Errors of the catalog layer. They carry the object at fault; the server maps each variant
//! to its SQLSTATE at the wire.

/// What can go wrong while reading or changing the catalog.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("schema \"{0}\" does not exist")]
    SchemaNotFound(String),

    #[error("schema \"{0}\" already exists")]
    SchemaExists(String),

    #[error(
        "cannot drop schema \"{schema}\" because other objects depend on it ({objects} tables or views)"
    )]
    SchemaNotEmpty { schema: String, objects: usize },

    #[error("relation \"{0}\" does not exist")]
    RelationNotFound(String),

    #[error("relation \"{0}\" already exists")]
    RelationExists(String),

    #[error("\"{name}\" is not a {expected}")]
    WrongObjectType {
        name: String,
        expected: &'static str,
    },

    /// A relation another object is built on (a materialized view over a table), dropped
    /// without CASCADE: 2BP01, as in PostgreSQL.
    #[error(
        "cannot drop {kind} \"{name}\" because other objects depend on it ({by}); use DROP ... CASCADE to drop the dependent objects too"
    )]
    DependentObjects {
        kind: &'static str,
        name: String,
        by: String,
    },

    /// A relation another object depends on by name, which a rename would leave dangling: 55006.
    #[error("cannot rename \"{name}\": {by}")]
    RelationInUse { name: String, by: String },

    #[error("source \"{0}\" does not exist")]
    SourceNotFound(String),

    #[error("source \"{0}\" already exists")]
    SourceExists(String),

    #[error("sink \"{0}\" does not exist")]
    SinkNotFound(String),

    #[error("sink \"{0}\" already exists")]
    SinkExists(String),

    #[error("type \"{0}\" is not supported")]
    UnsupportedType(String),

    #[error("column \"{0}\" specified more than once")]
    DuplicateColumn(String),

    /// A name no object can have (empty, or containing NUL): 42602.
    #[error("invalid name \"{name}\": {reason}")]
    InvalidName { name: String, reason: &'static str },

    /// A name over PostgreSQL's 63-byte limit: 42622. Refused rather than truncated
    /// (`model::check_identifier` says why).
    #[error(
        "identifier \"{name}\" is {bytes} bytes long; at most 63 bytes are allowed (NAMEDATALEN - 1)"
    )]
    NameTooLong { name: String, bytes: usize },

    #[error("role \"{0}\" already exists")]
    RoleExists(String),

    #[error("role \"{0}\" does not exist")]
    RoleNotFound(String),

    /// A `pg_` role name given to CREATE ROLE, or a predefined role altered or dropped: 42939.
    #[error("{0}")]
    ReservedRole(String),

    /// A membership grant PostgreSQL refuses (one that would close a cycle): 0LP01.
    #[error("{0}")]
    InvalidGrant(String),

    #[error("catalog store error: {0}")]
    Store(String),

    #[error("catalog entry {key} cannot be decoded: {source}")]
    Corrupt {
        key: String,
        source: serde_json::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! store_error {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Store(e.to_string())
            }
        }
    )*};
}
store_error!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

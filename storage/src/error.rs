//! Errors of the storage layer, with the table or file at fault. Mapped to SQLSTATE at the wire.

use datafusion::error::DataFusionError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Catalog(#[from] oxbow_catalog::Error),

    #[error("Delta table {table}: {source}")]
    Delta {
        table: String,
        #[source]
        source: deltalake::DeltaTableError,
    },

    #[error(
        "null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
    )]
    NotNullViolation { table: String, column: String },

    /// A value its column's type refuses (a `varchar(n)` too long, text that is no JSON).
    #[error("{reason} (column \"{column}\" of relation \"{table}\", row {row} of the statement)")]
    InvalidValue {
        table: String,
        column: String,
        /// 1-based, within the statement's rows.
        row: usize,
        reason: String,
        /// The value is too long for its column (22001), rather than malformed (22P02).
        too_long: bool,
    },

    /// A write would give a keyed table a second row with an existing key (23505).
    /// The key travels apart from the message: the wire sends it as PostgreSQL's DETAIL.
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation {
        table: String,
        constraint: String,
        /// `(id)=(1)`.
        key: String,
    },

    /// `ON CONFLICT DO UPDATE` met the same key twice in one statement (21000).
    #[error("ON CONFLICT DO UPDATE command cannot affect row a second time")]
    CardinalityViolation,

    /// `MERGE` matched one target row with several source rows (21000).
    #[error("MERGE command cannot affect row a second time")]
    MergeCardinalityViolation,

    #[error("write-ahead log: {0}")]
    Wal(String),

    /// A location that is not a plain path under the lake root (see `LakeRoot::table_url`),
    /// such as one an older version built from a table name like `..`.
    #[error("invalid lakehouse location {location}: {reason}")]
    InvalidLocation { location: String, reason: String },

    /// The files of `table` were not deleted because its location is not provably its own
    /// (not `tables/<its id>`: a location an older version built from the name).
    #[error(
        "the files of table {table} at {location} were kept: only a location made from the table's id is deleted"
    )]
    ForeignLocation { table: String, location: String },

    /// The table was dropped while the statement waited for it (a flush, DELETE or UPDATE
    /// that queued behind DROP TABLE).
    #[error("relation \"{0}\" was dropped")]
    TableDropped(String),

    /// One row of a statement is larger than a WAL record may be (54000).
    #[error(
        "a row of {bytes} bytes is larger than a WAL record may be ({limit} bytes; table id {table_id})"
    )]
    RecordTooLarge {
        table_id: String,
        bytes: usize,
        limit: usize,
    },

    /// A statement inside a transaction block would make the block hold more rows than its
    /// cap (a share of the hot memory limit): held rows cannot be flushed before `COMMIT`
    /// (54000). The statement's rows are not held; the block stays open.
    #[error(
        "the transaction block would hold {held} + {statement} bytes of rows, more than its cap of {cap} bytes (a quarter of the hot memory limit); commit in smaller blocks"
    )]
    TransactionTooLarge {
        held: usize,
        statement: usize,
        cap: usize,
    },

    /// The WAL could not write a statement (the disk is full, an I/O error): nothing of it
    /// was acknowledged, and the server keeps serving reads. `ENOSPC` maps to 53100.
    #[error("could not write to the WAL: {source}")]
    WalWrite {
        #[source]
        source: std::io::Error,
    },

    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A table whose Delta table could not be opened (a torn or unreadable log version): it is
    /// kept out of queries, and its WAL records are kept, until an operator repairs or drops it.
    #[error("table {table} is unavailable: {reason}")]
    TableUnavailable { table: String, reason: String },

    /// A time-travel read or `RESTORE` of a version the table does not have (22023).
    #[error("table {table} has no {wanted}: {oldest}")]
    NoSuchVersion {
        table: String,
        wanted: String,
        oldest: String,
    },

    /// Work that must not be abandoned halfway (a Delta commit and installing it) runs as a
    /// task of its own; this is its runtime shutting down before it finished.
    #[error("{0} did not finish: the server is shutting down")]
    ShuttingDown(String),

    /// A statement or clause the storage layer does not implement (0A000), such as `ADD
    /// COLUMN ... NOT NULL` without a default.
    #[error("not supported: {0}")]
    Unsupported(String),

    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn delta(table: impl std::fmt::Display, source: deltalake::DeltaTableError) -> Self {
        Error::Delta {
            table: table.to_string(),
            source,
        }
    }
}

/// Storage errors travel through DataFusion (from inside a `TableProvider`) as
/// `DataFusionError::External`; the server unwraps them again to pick the SQLSTATE.
impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        match e {
            Error::DataFusion(e) => e,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

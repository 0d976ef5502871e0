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

    #[error("write-ahead log: {0}")]
    Wal(String),

    #[error("invalid lakehouse location {location}: {reason}")]
    InvalidLocation { location: String, reason: String },

    /// One row of a statement is larger than a WAL record may be (54000).
    #[error(
        "a row of {bytes} bytes is larger than a WAL record may be ({limit} bytes; table id {table_id})"
    )]
    RecordTooLarge {
        table_id: String,
        bytes: usize,
        limit: usize,
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

//! Errors raised by the server's own statement handling (everything DataFusion does not plan).

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0} is not supported")]
    Unsupported(String),

    #[error("type \"{0}\" is not supported")]
    UnsupportedType(String),

    #[error("invalid type modifier: {0}")]
    InvalidTypeModifier(String),

    /// An argument no function or setting accepts (22023), e.g. an unknown privilege name.
    #[error("{0}")]
    InvalidParameterValue(String),

    /// A value that is not valid input for its column's type (22P02); the message names the
    /// value, the column and where it came from.
    #[error("{message}")]
    InvalidValue { message: String },

    /// COPY input its format cannot read (`oxbow_ingest::formats`).
    #[error(transparent)]
    Format(#[from] oxbow_ingest::FormatError),

    /// An INSERT whose shape is wrong (more values than columns, uneven VALUES rows).
    #[error("{0}")]
    InvalidInsert(String),

    /// A value outside its column's type (`numeric(p,s)` too small for it).
    #[error("{0}")]
    OutOfRange(String),

    #[error("COPY from stdin failed: {0}")]
    CopyAborted(String),

    /// A `COPY FROM STDIN` whose input passed the cap on buffered input (the hot memory
    /// limit): the input is decoded only at `CopyDone`, so it is held whole (54000).
    #[error(
        "COPY input exceeds {cap} bytes (the hot memory limit), the most a COPY may buffer; nothing was written: split the input into smaller COPY statements"
    )]
    CopyInputTooLarge { cap: usize },

    /// The session's role lacks a privilege (42501): the message names what it lacks, as
    /// PostgreSQL's does (`permission denied for table t`).
    #[error("{0}")]
    InsufficientPrivilege(String),

    /// An object the session itself uses (its own role) cannot be changed this way (55006).
    #[error("{0}")]
    ObjectInUse(String),

    /// `ON CONFLICT (cols)` that names no key of the table (42P10), as PostgreSQL words it.
    #[error("there is no unique or exclusion constraint matching the ON CONFLICT specification{0}")]
    NoConflictTarget(String),

    /// A table definition PostgreSQL refuses as such (42P16), e.g. a temporary table in a
    /// schema that is not `pg_temp`.
    #[error("{0}")]
    InvalidTableDefinition(String),

    #[error("column \"{column}\" of relation \"{table}\" does not exist")]
    UndefinedColumn { table: String, column: String },

    #[error(transparent)]
    Storage(#[from] oxbow_storage::Error),

    /// Creating, changing or running a source (`oxbow_ingest`).
    #[error(transparent)]
    Ingest(#[from] oxbow_ingest::IngestError),

    #[error(transparent)]
    Catalog(#[from] oxbow_catalog::Error),

    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    /// An error raised by pgwire itself (encoding a result, talking to the client); it already
    /// has the form the client will see.
    #[error(transparent)]
    Wire(#[from] pgwire::error::PgWireError),
}

impl From<ServerError> for pgwire::error::PgWireError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::Wire(e) => e,
            other => pgwire::error::PgWireError::ApiError(Box::new(other)),
        }
    }
}

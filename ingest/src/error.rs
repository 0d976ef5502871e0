//! Errors of the ingest layer. Each variant says which input or option is at fault; the
//! server maps them to SQLSTATE at the wire (this crate knows no protocol).

use oxbow_storage::Error as StorageError;

/// A value, line or file that its format cannot read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Text input (CSV, PostgreSQL's text format) with a value that is not of its column's
    /// type, or a line with the wrong number of fields; the message names the line and column
    /// (SQLSTATE 22P02).
    #[error("{message}")]
    InvalidText { message: String },

    /// Binary COPY input that is not in the binary format of its column's type (22P03).
    #[error("{message}")]
    InvalidBinary { message: String },

    /// Encoding output failed (a type the formatter cannot print).
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
}

pub type Result<T, E = FormatError> = std::result::Result<T, E>;

/// What can go wrong creating or running a source.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An option with a value it cannot take (22023, invalid_parameter_value).
    #[error("invalid value for option \"{option}\": \"{value}\" (expected {expected})")]
    InvalidOption {
        option: String,
        value: String,
        expected: String,
    },

    /// An option the connector, format or pipeline does not know (22023).
    #[error("unrecognized option \"{option}\" (valid options: {valid})")]
    UnknownOption { option: String, valid: String },

    /// A required option is missing (22023).
    #[error("option \"{0}\" is required")]
    MissingOption(String),

    /// Something Oxbow does not implement (0A000).
    #[error("{0}")]
    Unsupported(String),

    /// A local path outside the roots the operator allowed (42501, insufficient_privilege).
    #[error("path \"{path}\" is outside the file roots this server may read (--allow-file-root)")]
    PathNotAllowed { path: String },

    #[error("source \"{0}\" does not exist")]
    SourceNotFound(String),

    /// The hot tier is over its memory budget: a push is refused so that its client retries
    /// (HTTP 503 with `Retry-After`).
    #[error("the hot tier is full; retry shortly")]
    HotTierFull,

    /// A connector cannot reach or read its input (a missing directory, a bad URL).
    #[error("{0}")]
    Connector(String),

    /// The `AS SELECT` transform does not plan.
    #[error("transform: {0}")]
    Transform(String),

    #[error(transparent)]
    Storage(#[from] StorageError),

    #[error(transparent)]
    Catalog(#[from] oxbow_catalog::Error),

    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
}

impl IngestError {
    pub fn invalid_option(option: &str, value: &str, expected: &str) -> Self {
        IngestError::InvalidOption {
            option: option.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }
}

//! Errors of the ingest layer. Each variant says which input is at fault; the server maps them
//! to SQLSTATE at the wire (`crate` knows no protocol).

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

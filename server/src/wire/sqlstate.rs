//! The one place where errors become PostgreSQL `ErrorResponse`s with a SQLSTATE.
//!
//! Errors reach the wire wrapped several layers deep (our `ServerError` around a storage error,
//! DataFusion's `External` around either, Arrow errors inside DataFusion's). [`classify`] walks
//! the chain from the outside in and stops at the first error it knows the meaning of, so the
//! client sees `42P01` for a missing table rather than pgwire's default `XX000`.

use std::error::Error;

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use pgwire::error::{ErrorInfo, PgWireError};

use crate::error::ServerError;

/// SQLSTATE codes used by Oxbow (PostgreSQL Appendix A).
pub mod code {
    pub const SYNTAX_ERROR: &str = "42601";
    pub const INVALID_NAME: &str = "42602";
    pub const NAME_TOO_LONG: &str = "42622";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const DUPLICATE_COLUMN: &str = "42701";
    pub const AMBIGUOUS_COLUMN: &str = "42702";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const INVALID_SCHEMA_NAME: &str = "3F000";
    pub const DUPLICATE_SCHEMA: &str = "42P06";
    pub const WRONG_OBJECT_TYPE: &str = "42809";
    pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const GROUPING_ERROR: &str = "42803";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const INVALID_BINARY_REPRESENTATION: &str = "22P03";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const STRING_DATA_RIGHT_TRUNCATION: &str = "22001";
    pub const DATA_EXCEPTION: &str = "22000";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const INVALID_COLUMN_REFERENCE: &str = "42P10";
    pub const CARDINALITY_VIOLATION: &str = "21000";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const NO_ACTIVE_SQL_TRANSACTION: &str = "25P01";
    pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
    pub const QUERY_CANCELED: &str = "57014";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const IO_ERROR: &str = "58030";
    pub const ADMIN_SHUTDOWN: &str = "57P01";
    pub const DATA_CORRUPTED: &str = "XX001";
    pub const DISK_FULL: &str = "53100";
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    pub const INTERNAL_ERROR: &str = "XX000";
    pub const DUPLICATE_OBJECT: &str = "42710";
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const IDLE_IN_TRANSACTION_SESSION_TIMEOUT: &str = "25P03";
    pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
    pub const INVALID_GRANT_OPERATION: &str = "0LP01";
    pub const RESERVED_NAME: &str = "42939";
    pub const OBJECT_IN_USE: &str = "55006";
    pub const INVALID_TABLE_DEFINITION: &str = "42P16";
    pub const INVALID_PASSWORD: &str = "28P01";
    pub const INVALID_AUTHORIZATION_SPECIFICATION: &str = "28000";
    pub const TOO_MANY_CLIENTS: &str = "53300";
}

/// Rewrites an engine error into a user error carrying its SQLSTATE. Errors that already
/// carry one (raised by pgwire or by us as `UserError`) are left as they are.
pub fn to_user_error(error: &mut PgWireError) {
    if let PgWireError::ApiError(inner) = error {
        let (code, message) = classify(inner.as_ref());
        let mut info = ErrorInfo::new("ERROR".into(), code.into(), message);
        info.detail = detail(inner.as_ref());
        *error = PgWireError::UserError(Box::new(info));
    }
}

/// The DETAIL line PostgreSQL sends with an error, where Oxbow has one: `Key (id)=(1) already
/// exists.` for a unique violation (drivers and ORMs show it, some parse it).
pub fn detail(error: &(dyn Error + 'static)) -> Option<String> {
    if let Some(oxbow_storage::Error::UniqueViolation { key, .. }) =
        error.downcast_ref::<oxbow_storage::Error>()
    {
        return Some(format!("Key {key} already exists."));
    }
    if let Some(ServerError::Storage(inner)) = error.downcast_ref::<ServerError>() {
        return detail(inner);
    }
    if let Some(e) = error.downcast_ref::<DataFusionError>() {
        return match e {
            DataFusionError::External(inner) => detail(inner.as_ref()),
            DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
                detail(inner.as_ref())
            }
            DataFusionError::Shared(inner) => detail(inner.as_ref()),
            _ => None,
        };
    }
    error.source().and_then(detail)
}

/// The SQLSTATE and message of an error.
pub fn classify(error: &(dyn Error + 'static)) -> (&'static str, String) {
    if let Some(e) = error.downcast_ref::<ServerError>() {
        return server_error(e);
    }
    if let Some(e) = error.downcast_ref::<oxbow_ingest::FormatError>() {
        return format_error(e);
    }
    if let Some(e) = error.downcast_ref::<oxbow_storage::Error>() {
        return storage_error(e);
    }
    if let Some(e) = error.downcast_ref::<oxbow_catalog::Error>() {
        return (catalog_code(e), e.to_string());
    }
    if let Some(e) = error.downcast_ref::<DataFusionError>() {
        return datafusion_error(e);
    }
    if let Some(e) = error.downcast_ref::<ArrowError>() {
        return arrow_error(e);
    }
    if let Some(e) = error.downcast_ref::<ParserError>() {
        return (code::SYNTAX_ERROR, parser_message(e));
    }
    match error.source() {
        Some(source) => {
            let (code, _) = classify(source);
            (code, error.to_string())
        }
        None => (code::INTERNAL_ERROR, error.to_string()),
    }
}

fn server_error(e: &ServerError) -> (&'static str, String) {
    match e {
        ServerError::Unsupported(_) | ServerError::UnsupportedType(_) => {
            (code::FEATURE_NOT_SUPPORTED, e.to_string())
        }
        ServerError::InvalidTypeModifier(_) | ServerError::InvalidParameterValue(_) => {
            (code::INVALID_PARAMETER_VALUE, e.to_string())
        }
        ServerError::InvalidValue { .. } => (code::INVALID_TEXT_REPRESENTATION, e.to_string()),
        ServerError::Format(inner) => format_error(inner),
        ServerError::OutOfRange(_) => (code::NUMERIC_VALUE_OUT_OF_RANGE, e.to_string()),
        ServerError::CopyAborted(_) => (code::QUERY_CANCELED, e.to_string()),
        ServerError::CopyInputTooLarge { .. } => (code::PROGRAM_LIMIT_EXCEEDED, e.to_string()),
        ServerError::InvalidInsert(_) => (code::SYNTAX_ERROR, e.to_string()),
        ServerError::NoConflictTarget(_) => (code::INVALID_COLUMN_REFERENCE, e.to_string()),
        ServerError::UndefinedColumn { .. } => (code::UNDEFINED_COLUMN, e.to_string()),
        ServerError::InvalidTableDefinition(_) => (code::INVALID_TABLE_DEFINITION, e.to_string()),
        ServerError::InsufficientPrivilege(_) => (code::INSUFFICIENT_PRIVILEGE, e.to_string()),
        ServerError::ObjectInUse(_) => (code::OBJECT_IN_USE, e.to_string()),
        ServerError::Storage(inner) => storage_error(inner),
        ServerError::Ingest(inner) => ingest_error(inner),
        ServerError::Catalog(inner) => (catalog_code(inner), inner.to_string()),
        ServerError::DataFusion(inner) => datafusion_error(inner),
        ServerError::Wire(inner) => (code::INTERNAL_ERROR, inner.to_string()),
    }
}

fn ingest_error(e: &oxbow_ingest::IngestError) -> (&'static str, String) {
    use oxbow_ingest::IngestError as I;
    match e {
        I::InvalidOption { .. } | I::UnknownOption { .. } | I::MissingOption(_) => {
            (code::INVALID_PARAMETER_VALUE, e.to_string())
        }
        I::Unsupported(_) => (code::FEATURE_NOT_SUPPORTED, e.to_string()),
        I::PathNotAllowed { .. } => (code::INSUFFICIENT_PRIVILEGE, e.to_string()),
        I::SourceNotFound(_) => (code::UNDEFINED_OBJECT, e.to_string()),
        I::HotTierFull => (code::PROGRAM_LIMIT_EXCEEDED, e.to_string()),
        I::Connector(_) => (code::IO_ERROR, e.to_string()),
        I::Transform(_) => (code::SYNTAX_ERROR, e.to_string()),
        I::Storage(inner) => storage_error(inner),
        I::Catalog(inner) => (catalog_code(inner), inner.to_string()),
        I::DataFusion(inner) => datafusion_error(inner),
        I::Arrow(_) => (code::INTERNAL_ERROR, e.to_string()),
    }
}

fn format_error(e: &oxbow_ingest::FormatError) -> (&'static str, String) {
    use oxbow_ingest::FormatError as F;
    let code = match e {
        F::InvalidText { .. } => code::INVALID_TEXT_REPRESENTATION,
        F::InvalidBinary { .. } => code::INVALID_BINARY_REPRESENTATION,
        F::Arrow(_) => code::INTERNAL_ERROR,
    };
    (code, e.to_string())
}

fn storage_error(e: &oxbow_storage::Error) -> (&'static str, String) {
    use oxbow_storage::Error as S;
    match e {
        S::Catalog(inner) => (catalog_code(inner), inner.to_string()),
        S::NotNullViolation { .. } => (code::NOT_NULL_VIOLATION, e.to_string()),
        S::UniqueViolation { .. } => (code::UNIQUE_VIOLATION, e.to_string()),
        S::CardinalityViolation | S::MergeCardinalityViolation => {
            (code::CARDINALITY_VIOLATION, e.to_string())
        }
        S::InvalidValue { too_long: true, .. } => {
            (code::STRING_DATA_RIGHT_TRUNCATION, e.to_string())
        }
        S::InvalidValue { .. } => (code::INVALID_TEXT_REPRESENTATION, e.to_string()),
        S::DataFusion(inner) => datafusion_error(inner),
        S::RecordTooLarge { .. } | S::TransactionTooLarge { .. } => {
            (code::PROGRAM_LIMIT_EXCEEDED, e.to_string())
        }
        S::WalWrite { source } if is_disk_full(source) => (
            code::DISK_FULL,
            format!("could not write to the WAL: no space left on device ({source})"),
        ),
        S::Io { source, .. } if is_disk_full(source) => (code::DISK_FULL, e.to_string()),
        S::Io { .. } | S::Wal(_) | S::WalWrite { .. } => (code::IO_ERROR, e.to_string()),
        S::TableDropped(_) => (code::UNDEFINED_TABLE, e.to_string()),
        S::Delta { .. } | S::InvalidLocation { .. } | S::ForeignLocation { .. } => {
            (code::INTERNAL_ERROR, e.to_string())
        }
        // Its Delta log could not be read at startup: PostgreSQL reports an unreadable page
        // the same way.
        S::TableUnavailable { .. } => (code::DATA_CORRUPTED, e.to_string()),
        S::ShuttingDown(_) => (code::ADMIN_SHUTDOWN, e.to_string()),
        S::Unsupported(_) => (code::FEATURE_NOT_SUPPORTED, e.to_string()),
        S::NoSuchVersion { .. } => (code::INVALID_PARAMETER_VALUE, e.to_string()),
    }
}

/// `ENOSPC` (and `EDQUOT`, a full quota): PostgreSQL's `disk_full`.
fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.kind() == std::io::ErrorKind::QuotaExceeded
}

fn catalog_code(e: &oxbow_catalog::Error) -> &'static str {
    use oxbow_catalog::Error as C;
    match e {
        C::SchemaNotFound(_) => code::INVALID_SCHEMA_NAME,
        C::SchemaExists(_) => code::DUPLICATE_SCHEMA,
        C::SchemaNotEmpty { .. } | C::DependentObjects { .. } => {
            code::DEPENDENT_OBJECTS_STILL_EXIST
        }
        C::RelationNotFound(_) => code::UNDEFINED_TABLE,
        C::RelationExists(_) => code::DUPLICATE_TABLE,
        C::WrongObjectType { .. } => code::WRONG_OBJECT_TYPE,
        C::RelationInUse { .. } => code::OBJECT_IN_USE,
        C::UnsupportedType(_) => code::FEATURE_NOT_SUPPORTED,
        C::DuplicateColumn(_) => code::DUPLICATE_COLUMN,
        C::InvalidName { .. } => code::INVALID_NAME,
        C::NameTooLong { .. } => code::NAME_TOO_LONG,
        C::SourceNotFound(_) => code::UNDEFINED_OBJECT,
        C::SourceExists(_) => code::DUPLICATE_OBJECT,
        C::SinkNotFound(_) => code::UNDEFINED_OBJECT,
        C::SinkExists(_) => code::DUPLICATE_OBJECT,
        C::RoleExists(_) => code::DUPLICATE_OBJECT,
        C::RoleNotFound(_) => code::UNDEFINED_OBJECT,
        C::InvalidGrant(_) => code::INVALID_GRANT_OPERATION,
        C::ReservedRole(_) => code::RESERVED_NAME,
        C::Store(_) | C::Corrupt { .. } => code::INTERNAL_ERROR,
    }
}

fn datafusion_error(e: &DataFusionError) -> (&'static str, String) {
    use DataFusionError as D;
    match e {
        D::External(inner) => classify(inner.as_ref()),
        D::Context(_, inner) | D::Diagnostic(_, inner) => datafusion_error(inner),
        D::Shared(inner) => datafusion_error(inner),
        D::Collection(errors) if !errors.is_empty() => datafusion_error(&errors[0]),
        D::ArrowError(inner, _) => arrow_error(inner),
        D::SQL(inner, _) => (code::SYNTAX_ERROR, parser_message(inner)),
        D::SchemaError(inner, _) => {
            let code = match inner.as_ref() {
                SchemaError::FieldNotFound { .. } => code::UNDEFINED_COLUMN,
                SchemaError::AmbiguousReference { .. } => code::AMBIGUOUS_COLUMN,
                SchemaError::DuplicateQualifiedField { .. }
                | SchemaError::DuplicateUnqualifiedField { .. } => code::DUPLICATE_COLUMN,
            };
            (code, inner.to_string())
        }
        D::NotImplemented(m) => (code::FEATURE_NOT_SUPPORTED, m.clone()),
        D::Plan(m) => plan_error(m),
        D::Configuration(m) => (code::UNDEFINED_OBJECT, m.clone()),
        D::Execution(m) => execution_error(m),
        D::ResourcesExhausted(m) => (code::OUT_OF_MEMORY, m.clone()),
        D::IoError(_) | D::ObjectStore(_) => (code::IO_ERROR, e.message().into_owned()),
        _ => (code::INTERNAL_ERROR, e.message().into_owned()),
    }
}

/// DataFusion reports most semantic errors as `Plan` strings; these patterns are the ones
/// clients act on. Anything else stays a plain syntax/semantic error.
fn plan_error(message: &str) -> (&'static str, String) {
    let lower = message.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("table '")
        && let Some(name) = rest.strip_suffix("' not found")
    {
        let name = name.rsplit('.').next().unwrap_or(name);
        return (
            code::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        );
    }
    let code = if lower.contains("invalid function") || lower.contains("no function matches") {
        code::UNDEFINED_FUNCTION
    } else if lower.contains("cannot be cast") || lower.contains("cannot coerce") {
        code::DATATYPE_MISMATCH
    } else if lower.contains("must appear in the group by clause")
        || lower.contains("must be in group by")
    {
        // PostgreSQL: column "t.x" must appear in the GROUP BY clause or be used in an
        // aggregate function.
        code::GROUPING_ERROR
    } else {
        code::SYNTAX_ERROR
    };
    (code, message.to_string())
}

fn execution_error(message: &str) -> (&'static str, String) {
    let lower = message.to_ascii_lowercase();
    let code = if lower.contains("divide by zero") || lower.contains("division by zero") {
        code::DIVISION_BY_ZERO
    } else if lower.contains("cast") || lower.contains("parse") {
        code::INVALID_TEXT_REPRESENTATION
    } else if lower.contains("overflow") {
        code::NUMERIC_VALUE_OUT_OF_RANGE
    } else if lower.contains("non-nullable") || lower.contains("non nullable") {
        code::NOT_NULL_VIOLATION
    } else {
        code::INTERNAL_ERROR
    };
    (code, message.to_string())
}

fn arrow_error(e: &ArrowError) -> (&'static str, String) {
    if let ArrowError::InvalidArgumentError(m) = e
        && m.contains("non-nullable")
    {
        // Raised when DataFusion builds an INSERT's rows against the table's NOT NULL columns.
        return (
            code::NOT_NULL_VIOLATION,
            format!("null value violates not-null constraint: {m}"),
        );
    }
    if let ArrowError::InvalidArgumentError(m) | ArrowError::ComputeError(m) = e
        && (m.contains("too large to store") || m.to_ascii_lowercase().contains("overflow"))
    {
        // A value outside numeric(p,s) (Arrow's decimal validation) or an integer overflow.
        return (code::NUMERIC_VALUE_OUT_OF_RANGE, e.to_string());
    }
    let code = match e {
        ArrowError::ExternalError(inner) => return classify(inner.as_ref()),
        ArrowError::CastError(_) | ArrowError::ParseError(_) | ArrowError::CsvError(_) => {
            code::INVALID_TEXT_REPRESENTATION
        }
        ArrowError::DivideByZero => code::DIVISION_BY_ZERO,
        ArrowError::ArithmeticOverflow(_) => code::NUMERIC_VALUE_OUT_OF_RANGE,
        ArrowError::ComputeError(_) | ArrowError::InvalidArgumentError(_) => code::DATA_EXCEPTION,
        ArrowError::MemoryError(_) => code::OUT_OF_MEMORY,
        _ => code::INTERNAL_ERROR,
    };
    (code, e.to_string())
}

fn parser_message(e: &ParserError) -> String {
    match e {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => {
            format!("syntax error: {m}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tables_are_42p01_with_postgres_wording() {
        let e = DataFusionError::Plan("table 'oxbow.public.nope' not found".into());
        let (code, message) = classify(&e);
        assert_eq!(code, "42P01");
        assert_eq!(message, "relation \"nope\" does not exist");
    }

    #[test]
    fn a_column_outside_group_by_is_a_grouping_error() {
        let e = DataFusionError::Plan("Column in SELECT must be in GROUP BY or an aggregate function: column \"t.x\" must appear in the GROUP BY clause".into());
        assert_eq!(classify(&e).0, "42803");
    }

    #[test]
    fn errors_wrapped_by_datafusion_keep_their_code() {
        let inner = oxbow_storage::Error::NotNullViolation {
            table: "t".into(),
            column: "id".into(),
        };
        let wrapped = DataFusionError::Context(
            "while inserting".into(),
            Box::new(DataFusionError::External(Box::new(inner))),
        );
        assert_eq!(classify(&wrapped).0, "23502");
    }

    #[test]
    fn arrow_cast_failures_are_bad_input_values() {
        let e = DataFusionError::ArrowError(
            Box::new(ArrowError::CastError(
                "Cannot cast string 'x' to value of Int64 type".into(),
            )),
            None,
        );
        assert_eq!(classify(&e).0, "22P02");
    }

    #[test]
    fn numeric_values_out_of_range_are_22003() {
        let e = DataFusionError::ArrowError(
            Box::new(ArrowError::InvalidArgumentError(
                "123456789012 is too large to store in a Decimal128 of precision 12".into(),
            )),
            None,
        );
        assert_eq!(classify(&e).0, "22003");
    }

    #[test]
    fn names_no_table_can_have_are_42602_and_too_long_ones_42622() {
        let e = oxbow_storage::Error::Catalog(oxbow_catalog::Error::InvalidName {
            name: String::new(),
            reason: "zero-length identifier",
        });
        assert_eq!(classify(&e).0, "42602");
        let e = oxbow_catalog::check_identifier(&"n".repeat(64)).unwrap_err();
        assert_eq!(classify(&e).0, "42622");
    }

    #[test]
    fn unknown_errors_are_internal() {
        let e = std::io::Error::other("boom");
        assert_eq!(classify(&e).0, "XX000");
    }
}

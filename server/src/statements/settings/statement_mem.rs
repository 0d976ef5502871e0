//! `SET statement_mem = '256MB'` (Greenplum's name for a per-query memory limit; PostgreSQL's
//! `work_mem` bounds each sort or hash instead, and keeps its meaning: it is accepted and kept
//! as a setting): the session's query memory limit (`crate::sql::memory`). A bare number is in
//! kilobytes, as PostgreSQL reads memory settings; units are `kB`, `MB`, `GB`, `TB`.
//! `DEFAULT` (and `RESET statement_mem`, `RESET ALL`) go back to `--query-memory-mb`.

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

use crate::sql::memory::StatementMemory;
use crate::wire::sqlstate::code;

pub const NAME: &str = "statement_mem";

/// The value a `SET statement_mem` statement sets (`None` inside: `DEFAULT`).
fn set_by(statement: &Statement) -> Option<Option<String>> {
    super::assigned(statement, NAME)
}

/// Whether `statement` sets `statement_mem` (answered by [`set`], with no plan of its own).
pub fn set_statement(statement: &Statement) -> bool {
    set_by(statement).is_some()
}

fn invalid(message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code::INVALID_PARAMETER_VALUE.into(),
        message,
    )))
}

/// `'256MB'` as bytes; a bare number is kilobytes.
pub fn parse_bytes(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().ok()?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "kb" => 1 << 10,
        "b" => 1,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        "tb" => 1 << 40,
        _ => return None,
    };
    number.checked_mul(scale)
}

/// How `SHOW statement_mem` prints `bytes` (`None`: no limit, `0`).
pub fn shown(bytes: Option<usize>) -> String {
    match bytes {
        None => "0".to_string(),
        Some(b) if b % (1 << 30) == 0 => format!("{}GB", b >> 30),
        Some(b) if b % (1 << 20) == 0 => format!("{}MB", b >> 20),
        Some(b) => format!("{}kB", b >> 10),
    }
}

/// The session's limit handle.
pub fn of(ctx: &SessionContext) -> Option<std::sync::Arc<StatementMemory>> {
    ctx.state().config().get_extension::<StatementMemory>()
}

/// Answers `SET statement_mem`, or `None` for another statement.
pub fn set(statement: &Statement, ctx: &SessionContext) -> Option<PgWireResult<Response>> {
    let value = set_by(statement)?;
    Some(apply(value, ctx))
}

fn apply(value: Option<String>, ctx: &SessionContext) -> PgWireResult<Response> {
    let bytes = match &value {
        None => None,
        Some(text) => Some(parse_bytes(text).ok_or_else(|| {
            invalid(format!(
                "invalid value for parameter \"{NAME}\": \"{text}\" (a size such as '256MB')"
            ))
        })?),
    };
    let Some(memory) = of(ctx) else {
        return Err(invalid(format!("{NAME} cannot be set in this session")));
    };
    memory.set(bytes).map_err(invalid)?;
    Ok(Response::Execution(Tag::new("SET")))
}

/// `RESET statement_mem`.
pub fn reset(ctx: &SessionContext) {
    if let Some(memory) = of(ctx) {
        let _ = memory.set(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print_as_postgresql_memory_settings() {
        assert_eq!(parse_bytes("256MB"), Some(256 << 20));
        assert_eq!(parse_bytes("64kB"), Some(64 << 10));
        assert_eq!(parse_bytes("1024"), Some(1 << 20));
        assert_eq!(parse_bytes("2 GB"), Some(2 << 30));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("5XB"), None);
        assert_eq!(shown(Some(256 << 20)), "256MB");
        assert_eq!(shown(Some(3 << 30)), "3GB");
        assert_eq!(shown(Some(96 << 10)), "96kB");
        assert_eq!(shown(None), "0");
    }
}

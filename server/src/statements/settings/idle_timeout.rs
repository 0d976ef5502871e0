//! `SET idle_in_transaction_session_timeout = '30s'`: how long this session may sit idle inside
//! a transaction block before the server ends it (FATAL 25P03, `crate::wire::connection`).
//! The session's value replaces `--idle-in-transaction-timeout-ms`, as PostgreSQL's user-set
//! value replaces the server's; `0` turns it off, `DEFAULT` and `RESET` go back to the
//! server's. A bare number is milliseconds; units are `ms`, `s`, `min`, `h`.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

use crate::wire::sqlstate::code;

pub const NAME: &str = "idle_in_transaction_session_timeout";

/// Where the session's value is kept, in milliseconds (connection metadata, which the
/// connection's message loop reads).
pub const METADATA_KEY: &str = "idle_in_transaction_session_timeout_ms";

/// The value a `SET` of this setting sets (`None` inside: `DEFAULT`).
fn set_by(statement: &Statement) -> Option<Option<String>> {
    super::assigned(statement, NAME)
}

/// Whether `statement` sets this setting (answered by [`set`], with no plan of its own).
pub fn set_statement(statement: &Statement) -> bool {
    set_by(statement).is_some()
}

/// Answers the `SET`, or `None` for another statement.
pub fn set(statement: &Statement, client: &mut dyn HookClient) -> Option<PgWireResult<Response>> {
    let value = set_by(statement)?;
    let Some(text) = value else {
        client.metadata_mut().remove(METADATA_KEY);
        return Some(Ok(Response::Execution(Tag::new("SET"))));
    };
    Some(match crate::http::sql::parse_timeout(&text) {
        Ok(limit) => {
            client
                .metadata_mut()
                .insert(METADATA_KEY.into(), limit.as_millis().to_string());
            Ok(Response::Execution(Tag::new("SET")))
        }
        Err(_) => Err(PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".into(),
            code::INVALID_PARAMETER_VALUE.into(),
            format!("invalid value for parameter \"{NAME}\": \"{text}\""),
        )))),
    })
}

/// The session's limit: its own value if it set one (`Some(None)`: turned off), else `None`.
pub fn session_limit(client: &(impl ClientInfo + ?Sized)) -> Option<Option<std::time::Duration>> {
    let ms: u64 = client.metadata().get(METADATA_KEY)?.parse().ok()?;
    Some((ms > 0).then(|| std::time::Duration::from_millis(ms)))
}

/// `--idle-in-transaction-timeout-ms`, set once at start, for `SHOW`.
pub static SERVER_LIMIT: std::sync::OnceLock<Option<std::time::Duration>> =
    std::sync::OnceLock::new();

/// How `SHOW` prints the session's value (PostgreSQL's unit forms), or the server's.
pub fn shown(client: &(impl ClientInfo + ?Sized)) -> String {
    let server = SERVER_LIMIT.get().copied().flatten();
    let limit = session_limit(client).unwrap_or(server);
    match limit.map(|d| d.as_millis()) {
        None | Some(0) => "0".to_string(),
        Some(ms) if ms % 60_000 == 0 => format!("{}min", ms / 60_000),
        Some(ms) if ms % 1000 == 0 => format!("{}s", ms / 1000),
        Some(ms) => format!("{ms}ms"),
    }
}

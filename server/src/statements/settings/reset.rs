//! `RESET name` and `RESET ALL` (connection pools send them when they hand a connection back):
//! a session setting back to its default.
//!
//! Oxbow acts on four session settings: the time zone, the search path (the schema
//! unqualified names resolve to), `statement_timeout` and `statement_mem`; drivers' other settings
//! (`application_name`, `extra_float_digits`, ...) are kept as connection metadata. Each is
//! reset here; resetting a setting nobody changed is a no-op, as in PostgreSQL.

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Reset, Statement};
use datafusion_postgres::hooks::HookClient;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::startup::ParameterStatus;

/// Connection metadata keys datafusion-postgres' `SET` keeps values under.
const SESSION_KEYS: &[&str] = &[
    "timezone",
    "statement_timeout_ms",
    "datestyle",
    "bytea_output",
    "intervalstyle",
    "application_name",
    "extra_float_digits",
    "search_path",
    super::statement_mem::NAME,
    super::idle_timeout::METADATA_KEY,
];

/// Answers `RESET`, or `None` for another statement.
pub async fn reset(
    statement: &Statement,
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> Option<PgWireResult<Response>> {
    let Statement::Reset(reset) = statement else {
        return None;
    };
    let names: Vec<String> = match &reset.reset {
        Reset::ALL => SESSION_KEYS.iter().map(|k| k.to_string()).collect(),
        Reset::ConfigurationParameter(name) => vec![name.to_string().to_ascii_lowercase()],
    };
    Some(apply(&names, ctx, client).await)
}

/// `RESET ALL`, which `DISCARD ALL` includes.
pub async fn reset_all(ctx: &SessionContext, client: &mut dyn HookClient) -> PgWireResult<()> {
    let names: Vec<String> = SESSION_KEYS.iter().map(|k| k.to_string()).collect();
    apply(&names, ctx, client).await.map(|_| ())
}

async fn apply(
    names: &[String],
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> PgWireResult<Response> {
    for name in names {
        let key = match name.as_str() {
            "statement_timeout" => "statement_timeout_ms",
            super::idle_timeout::NAME => super::idle_timeout::METADATA_KEY,
            "time zone" | "timezone" => "timezone",
            other => other,
        };
        client.metadata_mut().remove(key);
        match key {
            "timezone" => {
                client
                    .send_message(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                        "TimeZone".into(),
                        "Etc/UTC".into(),
                    )))
                    .await?;
            }
            super::statement_mem::NAME => super::statement_mem::reset(ctx),
            "search_path" => {
                ctx.sql(&format!(
                    "SET datafusion.catalog.default_schema = '{}'",
                    oxbow_catalog::DEFAULT_SCHEMA
                ))
                .await
                .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
            }
            _ => {}
        }
    }
    Ok(Response::Execution(Tag::new("RESET")))
}

//! `SHOW name` and `SHOW ALL` for the settings clients read on connect, answered as
//! PostgreSQL 16 would.

use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, lit};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use pgwire::api::ClientInfo;

use crate::pg_compat::{SERVER_VERSION, SERVER_VERSION_NUM};

/// The column name and value `SHOW` answers for `variable` (lower-cased words), if known here.
fn setting(
    variable: &[String],
    ctx: &SessionContext,
    client: &(dyn ClientInfo + Send + Sync),
) -> Option<(&'static str, String)> {
    let words: Vec<&str> = variable.iter().map(String::as_str).collect();
    let fixed = |name: &'static str, value: &str| Some((name, value.to_string()));
    match words.as_slice() {
        ["server_version"] => fixed("server_version", SERVER_VERSION),
        ["server_version_num"] => fixed("server_version_num", SERVER_VERSION_NUM),
        ["transaction", "isolation", "level"] | ["transaction_isolation"] => {
            fixed("transaction_isolation", "read committed")
        }
        ["default_transaction_isolation"] => {
            fixed("default_transaction_isolation", "read committed")
        }
        ["transaction_read_only"] => fixed("transaction_read_only", "off"),
        ["default_transaction_read_only"] => fixed("default_transaction_read_only", "off"),
        ["standard_conforming_strings"] => fixed("standard_conforming_strings", "on"),
        ["integer_datetimes"] => fixed("integer_datetimes", "on"),
        ["server_encoding"] => fixed("server_encoding", "UTF8"),
        ["client_encoding"] => fixed("client_encoding", "UTF8"),
        ["max_identifier_length"] => fixed("max_identifier_length", "63"),
        ["max_index_keys"] => fixed("max_index_keys", "32"),
        ["is_superuser"] => fixed(
            "is_superuser",
            match client
                .session_extensions()
                .get::<crate::wire::startup::IsSuperuser>()
                .map(|s| s.0)
            {
                Some(false) => "off",
                _ => "on",
            },
        ),
        ["lc_collate"] => fixed("lc_collate", "C.UTF-8"),
        ["lc_ctype"] => fixed("lc_ctype", "C.UTF-8"),
        ["timezone"] | ["time", "zone"] => Some((
            "TimeZone",
            client
                .metadata()
                .get("timezone")
                .cloned()
                .unwrap_or_else(|| "Etc/UTC".to_string()),
        )),
        ["idle_in_transaction_session_timeout"] => Some((
            "idle_in_transaction_session_timeout",
            super::idle_timeout::shown(client),
        )),
        ["statement_mem"] => Some((
            "statement_mem",
            super::statement_mem::shown(
                super::statement_mem::of(ctx).and_then(|memory| memory.limit()),
            ),
        )),
        ["search_path"] => Some((
            "search_path",
            match ctx
                .state()
                .config()
                .options()
                .catalog
                .default_schema
                .as_str()
            {
                "public" => "\"$user\", public".to_string(),
                schema => schema.to_string(),
            },
        )),
        _ => None,
    }
}

fn show_plan(name: &str, value: String) -> datafusion::error::Result<LogicalPlan> {
    LogicalPlanBuilder::empty(true)
        .project(vec![lit(value).alias(name)])?
        .build()
}

/// The settings `SHOW ALL` lists (each answered by [`setting`]).
const ALL_SETTINGS: &[&str] = &[
    "client_encoding",
    "default_transaction_isolation",
    "default_transaction_read_only",
    "idle_in_transaction_session_timeout",
    "integer_datetimes",
    "is_superuser",
    "lc_collate",
    "lc_ctype",
    "max_identifier_length",
    "max_index_keys",
    "search_path",
    "server_encoding",
    "server_version",
    "server_version_num",
    "standard_conforming_strings",
    "statement_mem",
    "timezone",
    "transaction_isolation",
    "transaction_read_only",
];

/// `SHOW ALL`: PostgreSQL's three columns, one row per setting.
fn show_all_plan(
    ctx: &SessionContext,
    client: &(dyn ClientInfo + Send + Sync),
) -> datafusion::error::Result<LogicalPlan> {
    let rows: Vec<Vec<datafusion::logical_expr::Expr>> = ALL_SETTINGS
        .iter()
        .filter_map(|name| {
            let (shown, value) = setting(&[name.to_string()], ctx, client)?;
            Some(vec![lit(shown), lit(value), lit("")])
        })
        .collect();
    let columns = ["name", "setting", "description"];
    let values = LogicalPlanBuilder::values(rows)?.build()?;
    let projection: Vec<_> = values
        .schema()
        .columns()
        .into_iter()
        .zip(columns)
        .map(|(c, name)| datafusion::logical_expr::col(c).alias(name))
        .collect();
    LogicalPlanBuilder::from(values)
        .project(projection)?
        .build()
}

pub fn shown(statement: &Statement) -> Option<Vec<String>> {
    match statement {
        Statement::ShowVariable { variable } => {
            Some(variable.iter().map(|v| v.value.to_lowercase()).collect())
        }
        _ => None,
    }
}

/// The plan answering `SHOW variable` (or `SHOW ALL` for `["all"]`), if the setting is
/// known here.
pub fn plan(
    variable: &[String],
    ctx: &SessionContext,
    client: &(dyn ClientInfo + Send + Sync),
) -> Option<datafusion::error::Result<LogicalPlan>> {
    if variable == ["all"] {
        return Some(show_all_plan(ctx, client));
    }
    let (name, value) = setting(variable, ctx, client)?;
    Some(show_plan(name, value))
}

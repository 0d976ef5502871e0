//! `SHOW` of the settings clients read on connect, answered as PostgreSQL 16 would, `SET` of
//! the time zone (`super::time_zone`), `RESET` (`super::reset`), and `DISCARD ALL`, which connection pools and Power BI send when they hand a connection back.
//!
//! datafusion-postgres answers `SHOW` too, but with DataFusion's version as `server_version`,
//! `read_committed` (with an underscore) as the isolation level, and an
//! `unsupported_show_statement` column for settings it does not know, such as `timezone` and
//! `standard_conforming_strings` (Metabase and Superset read both). Settings this hook does
//! not know still go on to datafusion-postgres, which also answers those a `SET` changed.

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, lit};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{PgWireError, PgWireResult};

use crate::session::{SERVER_VERSION, SERVER_VERSION_NUM};

pub struct SessionStatements;

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
        ["is_superuser"] => fixed("is_superuser", "on"),
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

fn shown(statement: &Statement) -> Option<Vec<String>> {
    match statement {
        Statement::ShowVariable { variable } => {
            Some(variable.iter().map(|v| v.value.to_lowercase()).collect())
        }
        _ => None,
    }
}

fn is_discard(statement: &Statement) -> bool {
    matches!(statement, Statement::Discard { .. })
}

/// The response to `DISCARD` or to a `SHOW` of a setting known here (text format, as
/// datafusion-postgres answers `SHOW`).
async fn answer(
    statement: &Statement,
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> Option<PgWireResult<Response>> {
    if is_discard(statement) {
        let reset = super::reset::reset_all(ctx, client).await;
        return Some(reset.map(|_| Response::Execution(Tag::new("DISCARD ALL"))));
    }
    let variable = shown(statement)?;
    let plan = if variable == ["all"] {
        show_all_plan(ctx, client)
    } else {
        let (name, value) = setting(&variable, ctx, client)?;
        show_plan(name, value)
    };
    let api = |e| PgWireError::ApiError(Box::new(e));
    let result = async {
        let df = ctx
            .execute_logical_plan(plan.map_err(api)?)
            .await
            .map_err(api)?;
        arrow_pg::datatypes::df::encode_dataframe(
            df,
            &pgwire::api::portal::Format::UnifiedText,
            None,
        )
        .await
        .map(Response::Query)
    };
    Some(result.await)
}

#[async_trait]
impl QueryHook for SessionStatements {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if let Some(result) = super::time_zone::set(statement, client).await {
            return Some(result);
        }
        if let Some(result) = super::reset::reset(statement, ctx, client).await {
            return Some(result);
        }
        answer(statement, ctx, client).await
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if is_discard(statement)
            || super::time_zone::set_statement(statement)
            || matches!(statement, Statement::Reset(_))
        {
            return Some(Ok(super::empty_plan()));
        }
        let variable = shown(statement)?;
        let plan = if variable == ["all"] {
            show_all_plan(ctx, client)
        } else {
            let (name, value) = setting(&variable, ctx, client)?;
            show_plan(name, value)
        };
        Some(plan.map_err(|e| PgWireError::ApiError(Box::new(e))))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if let Some(result) = super::time_zone::set(statement, client).await {
            return Some(result);
        }
        if let Some(result) = super::reset::reset(statement, ctx, client).await {
            return Some(result);
        }
        answer(statement, ctx, client).await
    }
}

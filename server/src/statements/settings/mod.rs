//! Session settings: `SHOW` of the settings clients read on connect ([`show`]), `SET TIME ZONE`
//! ([`time_zone`]), `SET search_path` ([`search_path`]), `SET statement_mem`
//! ([`statement_mem`]), `SET idle_in_transaction_session_timeout` ([`idle_timeout`]), `RESET`
//! ([`reset`]), and `DISCARD
//! ALL`, which connection pools and Power BI send when they hand a connection back.
//!
//! datafusion-postgres answers `SHOW` too, but with DataFusion's version as `server_version`,
//! `read_committed` (with an underscore) as the isolation level, and an
//! `unsupported_show_statement` column for settings it does not know, such as `timezone` and
//! `standard_conforming_strings` (Metabase and Superset read both). Settings this hook does
//! not know still go on to datafusion-postgres, which also answers those a `SET` changed.

pub mod idle_timeout;
pub mod reset;
pub mod search_path;
mod show;
pub mod statement_mem;
pub mod time_zone;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::{PgWireError, PgWireResult};

/// The value `SET name = value` (or `SET name TO value`) gives the setting `name`, if
/// `statement` is that; `None` inside for `DEFAULT`. Shared by the settings Oxbow acts on.
pub(crate) fn assigned(statement: &Statement, name: &str) -> Option<Option<String>> {
    use datafusion::sql::sqlparser::ast::Set;
    let Statement::Set(Set::SingleAssignment {
        variable, values, ..
    }) = statement
    else {
        return None;
    };
    if !variable.to_string().eq_ignore_ascii_case(name) || values.len() != 1 {
        return None;
    }
    let text = value_text(&values[0]);
    Some((!text.eq_ignore_ascii_case("default")).then_some(text))
}

/// A `SET` value as PostgreSQL reads it: a literal's contents, an identifier's name, else the
/// expression as written.
pub(crate) fn value_text(value: &datafusion::sql::sqlparser::ast::Expr) -> String {
    use datafusion::sql::sqlparser::ast::Expr;
    match value {
        Expr::Value(v) => v.clone().into_string().unwrap_or_else(|| v.to_string()),
        Expr::Identifier(ident) => ident.value.clone(),
        other => other.to_string(),
    }
}

/// The `QueryHook` that answers `SHOW`, `SET TIME ZONE`, `RESET` and `DISCARD`.
pub struct SessionStatements;

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
    if let Statement::Discard { object_type } = statement {
        use datafusion::sql::sqlparser::ast::DiscardObject;
        if matches!(object_type, DiscardObject::ALL | DiscardObject::TEMP)
            && let Some(temp) = crate::sql::temp_tables::TempTables::of(ctx)
        {
            temp.clear();
        }
        if matches!(object_type, DiscardObject::TEMP) {
            return Some(Ok(Response::Execution(Tag::new("DISCARD TEMP"))));
        }
        let reset = reset::reset_all(ctx, client).await;
        return Some(reset.map(|_| Response::Execution(Tag::new("DISCARD ALL"))));
    }
    let variable = show::shown(statement)?;
    let plan = show::plan(&variable, ctx, client)?;
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
        if let Some(result) = time_zone::set(statement, client).await {
            return Some(result);
        }
        if let Some(result) = statement_mem::set(statement, ctx) {
            return Some(result);
        }
        if let Some(result) = idle_timeout::set(statement, client) {
            return Some(result);
        }
        if let Some(result) = reset::reset(statement, ctx, client).await {
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
            || time_zone::set_statement(statement)
            || statement_mem::set_statement(statement)
            || idle_timeout::set_statement(statement)
            || matches!(statement, Statement::Reset(_))
        {
            return Some(Ok(crate::statements::empty_plan()));
        }
        let variable = show::shown(statement)?;
        let plan = show::plan(&variable, ctx, client)?;
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
        if let Some(result) = time_zone::set(statement, client).await {
            return Some(result);
        }
        if let Some(result) = statement_mem::set(statement, ctx) {
            return Some(result);
        }
        if let Some(result) = idle_timeout::set(statement, client) {
            return Some(result);
        }
        if let Some(result) = reset::reset(statement, ctx, client).await {
            return Some(result);
        }
        answer(statement, ctx, client).await
    }
}

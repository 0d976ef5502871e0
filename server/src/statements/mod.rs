//! The statements Oxbow executes itself instead of handing them to DataFusion: DDL that must
//! reach the persistent catalog and the Delta tier, `COPY`, DML whose command tag clients read
//! (`INSERT 0 3`, `DELETE 2`), transaction blocks and session settings.
//!
//! [`OxbowStatements`] is a datafusion-postgres `QueryHook`: it sees every parsed statement
//! before DataFusion does and either answers it or lets it pass. The other hooks here
//! ([`SessionStatements`], [`TransactionStatements`], [`SavepointHook`], [`SelectStatements`])
//! are installed beside it by `crate::wire::frontend`.
//!
//! # Layout
//! - [`ddl`]: `CREATE SCHEMA | TABLE [AS] | VIEW`, `ALTER TABLE ... ADD COLUMN`, `DROP`, and
//!   `WITH (...)` table options.
//! - [`truncate`], [`show_tables`]: `TRUNCATE` and `SHOW TABLES`.
//! - [`insert_values`]: the `INSERT ... VALUES` fast path (no DataFusion plan);
//!   [`on_conflict`]: `INSERT ... ON CONFLICT` on keyed tables;
//!   [`dml`]: the command tags of planned `INSERT`, `UPDATE` and `DELETE`.
//! - [`copy`]: the `COPY ... FROM STDIN | TO STDOUT` conversation (the formats themselves are
//!   `oxbow_ingest::formats`).
//! - [`select`]: query planning retries and the result rewrites of `SELECT`;
//!   [`cursors`]: `DECLARE ... CURSOR`, `FETCH`, `CLOSE`, planned as `SELECT` is.
//! - [`transactions`]: `BEGIN`/`COMMIT`/`ROLLBACK` and savepoints.
//! - [`settings`]: `SHOW`, `SET TIME ZONE`, `SET search_path`, `RESET`, `DISCARD`.
//! - [`privileges`]: the 42501 check every statement passes first; [`roles`]: `CREATE ROLE`,
//!   `ALTER ROLE`, `DROP ROLE`, `GRANT`, `REVOKE`.
//! - [`rollup`]: `CREATE | REFRESH MATERIALIZED VIEW`, continuous rollups maintained at
//!   each write (`DROP MATERIALIZED VIEW` is in [`ddl`]).
//! - `FLUSH TABLE` is not in sqlparser's grammar: `crate::wire::simple` recognises it, and
//!   [`lakehouse`]'s `OPTIMIZE` and `VACUUM` the same way.
//!
//! - [`sources`]: `CREATE | DROP | ALTER SOURCE` and `SHOW SOURCES`, parsed here and handed
//!   to the `ingest` crate's `SourceManager`; this room keeps only the SQL meaning, never a
//!   connector. (`CREATE SINK` will sit beside it.)
//!
//! Invariant: a clause Oxbow does not implement is refused with 0A000
//! (`ServerError::Unsupported`), never accepted and ignored.

mod copy;
pub mod cursors;
mod ddl;
mod dml;
pub mod flush;
mod insert_values;
pub mod lakehouse;
mod on_conflict;
pub mod privileges;
mod roles;
pub mod rollup;
pub(crate) mod select;
pub mod settings;
mod show_tables;
pub mod sinks;
pub mod sources;
pub mod transactions;
mod truncate;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::{DFSchema, ParamValues};
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use oxbow_storage::Database;
use pgwire::api::ClientInfo;
use pgwire::api::results::Response;
use pgwire::error::PgWireResult;

pub use copy::{CopyInHandler, CopyInSlot};
pub use ddl::plan_view;
pub use privileges::{PrivilegeHook, SessionRole};
pub use roles::RoleStatements;
pub use select::SelectStatements;
pub use settings::SessionStatements;
pub use transactions::TransactionStatements;
pub use transactions::savepoint::SavepointHook;

pub struct OxbowStatements {
    db: Arc<Database>,
    copy_in: Arc<CopyInSlot>,
}

impl OxbowStatements {
    pub fn new(db: Arc<Database>, copy_in: Arc<CopyInSlot>) -> Self {
        Self { db, copy_in }
    }

    /// Statements answered here without a DataFusion plan (in the extended protocol they are
    /// parsed into an empty plan and executed at `Execute`).
    fn is_own(statement: &Statement) -> bool {
        matches!(
            statement,
            Statement::CreateSchema { .. }
                | Statement::CreateTable(_)
                | Statement::AlterTable(_)
                | Statement::CreateView(_)
                | Statement::Drop { .. }
                | Statement::Copy { .. }
                | Statement::Truncate(_)
                | Statement::ShowTables { .. }
        )
    }

    async fn execute(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let result = match statement {
            Statement::CreateSchema { .. }
            | Statement::CreateTable(_)
            | Statement::AlterTable(_)
            | Statement::CreateView(_)
            | Statement::Drop { .. } => {
                // A relation that existed already (`IF NOT EXISTS`) was not created by this
                // statement, and its privileges stay as they are.
                let created = created_relation(statement)
                    .and_then(|name| crate::sql::names::object_name(name, ctx).ok())
                    .filter(|name| {
                        let catalog = self.db.catalog();
                        !matches!(catalog.table(name), Ok(Some(_)))
                            && !matches!(catalog.view(name), Ok(Some(_)))
                    });
                let result = ddl::execute(&self.db, statement, ctx).await;
                if result.is_ok()
                    && let Some(name) = created
                    && let Err(e) = privileges::grant_to_creator(&self.db, &*client, &name)
                {
                    return Some(Err(e.into()));
                }
                result
            }
            Statement::Truncate(truncate) => truncate::execute(&self.db, truncate, ctx).await,
            Statement::ShowTables { .. } => show_tables::show_tables(ctx, client).await,
            Statement::Copy { .. } => {
                copy::execute(&self.db, &self.copy_in, statement, ctx, client).await
            }
            _ => return None,
        };
        Some(result.map_err(Into::into))
    }
}

/// The relation a `CREATE TABLE | VIEW` made in the catalog (not a temporary table, which is
/// the session's own, nor a materialized view, which only a superuser creates).
fn created_relation(statement: &Statement) -> Option<&datafusion::sql::sqlparser::ast::ObjectName> {
    match statement {
        Statement::CreateTable(create) if !create.temporary => Some(&create.name),
        Statement::CreateView(create) if !create.materialized && !create.temporary => {
            Some(&create.name)
        }
        _ => None,
    }
}

/// The plan a statement answered by a hook gets at `Parse` in the extended protocol.
pub(crate) fn empty_plan() -> LogicalPlan {
    LogicalPlan::EmptyRelation(EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(DFSchema::empty()),
    })
}

#[async_trait]
impl QueryHook for OxbowStatements {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if let Some(result) = on_conflict::try_execute(statement, None, ctx, &self.db).await {
            return Some(result.map_err(Into::into));
        }
        if let Some(result) = insert_values::try_execute(statement, ctx, &self.db).await {
            return Some(result.map_err(Into::into));
        }
        if let Some(kind) = dml::DmlKind::of(statement) {
            return Some(
                dml::execute_statement(kind, statement, ctx)
                    .await
                    .map_err(Into::into),
            );
        }
        if let Err(e) = settings::search_path::apply(statement, ctx, &self.db).await {
            return Some(Err(e.into()));
        }
        self.execute(statement, ctx, client).await
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        if on_conflict::is_own(statement) {
            return Some(
                on_conflict::plan_for_parse(statement, ctx)
                    .await
                    .map_err(Into::into),
            );
        }
        // DML naming a temporary table is planned here, where the name can be qualified.
        if dml::DmlKind::of(statement).is_some() {
            let mut qualified = statement.clone();
            crate::sql::temp_tables::qualify(&mut qualified, ctx);
            if &qualified != statement {
                return Some(
                    ctx.state()
                        .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                            qualified,
                        )))
                        .await
                        .map_err(|e| pgwire::error::PgWireError::ApiError(Box::new(e))),
                );
            }
        }
        Self::is_own(statement).then(|| Ok(empty_plan()))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if on_conflict::is_own(statement) {
            return on_conflict::try_execute(statement, Some(params), ctx, &self.db)
                .await
                .map(|r| r.map_err(Into::into));
        }
        if let Some(kind) = dml::DmlKind::of(statement) {
            return Some(
                dml::execute_plan(kind, plan, params, ctx)
                    .await
                    .map_err(Into::into),
            );
        }
        if let Err(e) = settings::search_path::apply(statement, ctx, &self.db).await {
            return Some(Err(e.into()));
        }
        self.execute(statement, ctx, client).await
    }
}

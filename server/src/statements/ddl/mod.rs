//! DDL against the persistent catalog: `CREATE SCHEMA`, `CREATE TABLE [AS]`, `CREATE VIEW`,
//! `ALTER TABLE ... ADD COLUMN | RENAME TO` and `DROP`; and `CREATE TEMP TABLE`, whose tables
//! are the connection's own ([`temporary`]). Each statement is one catalog transaction (see `oxbow_storage::Database`); the
//! parsing of `WITH (...)` table options is in [`table_options`].
//!
//! Owns: turning sqlparser's DDL into catalog definitions, and refusing (0A000) every clause
//! Oxbow does not implement instead of ignoring it. Does not own: how a table is created or
//! dropped on disk (`oxbow_storage`).
//!
//! Later `CREATE SOURCE` / `CREATE SINK` (the `ingest` crate's connectors) get a sibling room
//! under `statements/`, not a branch here.

mod alter_table;
mod create_table;
mod drop;
mod like;
mod partition_by;
mod table_as;
pub mod table_options;
mod temporary;
mod view;

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{SchemaName, Statement};
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

pub use view::plan_view;

use crate::error::ServerError;
use crate::sql::names::ident;

pub async fn execute(
    db: &Arc<Database>,
    statement: &Statement,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    // DDL and TRUNCATE commit when they run, so they see the rows an open transaction block
    // holds: those are written first (`oxbow_storage::transaction`).
    oxbow_storage::write_held(&ctx.copied_config()).await?;
    match statement {
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => {
            let name = match schema_name {
                SchemaName::Simple(name) | SchemaName::NamedAuthorization(name, _) => name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(ident)
                    .ok_or_else(|| ServerError::Unsupported(format!("schema name {name}")))?,
                SchemaName::UnnamedAuthorization(user) => ident(user),
            };
            db.create_schema(&name, *if_not_exists)?;
            Ok(Response::Execution(Tag::new("CREATE SCHEMA")))
        }
        Statement::CreateTable(create) => create_table::create_table(db, create, ctx).await,
        Statement::AlterTable(alter) => alter_table::alter_table(db, alter, ctx).await,
        Statement::CreateView(create) => view::create_view(db, create, ctx).await,
        Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } => drop::execute(db, *object_type, names, *if_exists, *cascade, ctx).await,
        other => Err(ServerError::Unsupported(format!("statement {other}"))),
    }
}

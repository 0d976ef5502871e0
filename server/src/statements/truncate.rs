//! `TRUNCATE t [, u ...]`: every named table emptied in both tiers (a temporary table: in
//! memory), or none if a name is unknown.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Truncate;
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;
use crate::sql::names::object_name;
use crate::sql::temp_tables::{TEMP_SCHEMA, TempTables};

pub async fn execute(
    db: &Arc<Database>,
    truncate: &Truncate,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    // TRUNCATE commits when it runs, so it sees the rows an open transaction block holds:
    // those are written first (`oxbow_storage::transaction`).
    oxbow_storage::write_held(&ctx.copied_config()).await?;
    // Resolve every name first so that a missing table truncates nothing.
    let temp = TempTables::of(ctx);
    let mut tables = Vec::new();
    let mut temporary = Vec::new();
    for target in &truncate.table_names {
        let name = object_name(&target.name, ctx)?;
        if name.schema == TEMP_SCHEMA {
            match temp.as_ref().filter(|t| t.contains(&name.name)) {
                Some(_) => temporary.push(name.name),
                None => return Err(oxbow_catalog::Error::RelationNotFound(name.name).into()),
            }
            continue;
        }
        let table = db.require_table(&name)?;
        tables.push(table);
    }
    if let Some(temp) = &temp {
        for name in temporary {
            temp.truncate(&name)?;
        }
    }
    for table in tables {
        db.truncate_table(table.table()).await?;
    }
    Ok(Response::Execution(Tag::new("TRUNCATE TABLE")))
}

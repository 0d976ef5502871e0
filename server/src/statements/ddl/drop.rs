//! `DROP TABLE | VIEW | SCHEMA name [, ...] [IF EXISTS] [CASCADE]`. A table name that is one of the
//! connection's temporary tables drops that one (`crate::sql::temp_tables`).

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{ObjectName as SqlObjectName, ObjectType};
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;
use crate::sql::names::{ident, object_name};
use crate::sql::temp_tables::{TEMP_SCHEMA, TempTables};

pub async fn execute(
    db: &Arc<Database>,
    object_type: ObjectType,
    names: &[SqlObjectName],
    if_exists: bool,
    cascade: bool,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    for name in names {
        match object_type {
            ObjectType::Table => {
                let name = object_name(name, ctx)?;
                if name.schema == TEMP_SCHEMA {
                    let dropped = TempTables::of(ctx).is_some_and(|t| t.remove(&name.name));
                    if !dropped && !if_exists {
                        return Err(oxbow_catalog::Error::RelationNotFound(name.name).into());
                    }
                } else {
                    db.drop_table(&name, if_exists).await?;
                }
            }
            ObjectType::View => {
                db.drop_view(&object_name(name, ctx)?, if_exists).await?;
            }
            ObjectType::Schema if !cascade => {
                db.drop_schema(&ident_of(name)?, if_exists)?;
            }
            ObjectType::Schema => drop_schema_cascade(db, &ident_of(name)?, if_exists).await?,
            other => return Err(ServerError::Unsupported(format!("DROP {other}"))),
        }
    }
    Ok(Response::Execution(Tag::new(&format!(
        "DROP {object_type}"
    ))))
}

/// `DROP SCHEMA s CASCADE`: its views, then its tables (files included), then the schema. A
/// schema holding a table that a source writes into is refused before anything is dropped
/// (drop the source first). Each object is dropped in its own catalog transaction, so a
/// failure part way leaves the objects not yet reached (the error names the one at fault).
async fn drop_schema_cascade(
    db: &Arc<Database>,
    schema: &str,
    if_exists: bool,
) -> Result<(), ServerError> {
    let catalog = db.catalog();
    if !catalog.schema_exists(schema)? {
        if if_exists {
            return Ok(());
        }
        return Err(oxbow_catalog::Error::SchemaNotFound(schema.to_string()).into());
    }
    if let Some(source) = catalog
        .sources()?
        .into_iter()
        .find(|s| s.target.schema == schema)
    {
        return Err(ServerError::ObjectInUse(format!(
            "cannot drop schema \"{schema}\": source \"{}\" writes into its table \"{}\" (DROP SOURCE first)",
            source.name, source.target.name
        )));
    }
    for view in catalog.views(schema)? {
        db.drop_view(&view.name, true).await?;
    }
    for table in catalog.tables(schema)? {
        db.drop_table(&table.name, true).await?;
    }
    db.drop_schema(schema, if_exists)?;
    Ok(())
}

fn ident_of(name: &datafusion::sql::sqlparser::ast::ObjectName) -> Result<String, ServerError> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(ident)
            .ok_or_else(|| ServerError::Unsupported(format!("the name {name}"))),
        _ => Err(ServerError::Unsupported(format!("the name {name}"))),
    }
}

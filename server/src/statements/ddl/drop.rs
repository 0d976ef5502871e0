//! `DROP TABLE | VIEW | MATERIALIZED VIEW | SCHEMA name [, ...] [IF EXISTS] [CASCADE]`. A table name that is one of the
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
                    if cascade {
                        drop_views_over(db, &name).await?;
                    }
                    db.drop_table(&name, if_exists).await?;
                }
            }
            ObjectType::View | ObjectType::MaterializedView => {
                let name = object_name(name, ctx)?;
                let materialized = match db.catalog().view(&name)? {
                    Some(def) => def.rollup.is_some(),
                    None => object_type == ObjectType::MaterializedView,
                };
                if materialized != (object_type == ObjectType::MaterializedView) {
                    return Err(oxbow_catalog::Error::WrongObjectType {
                        name: name.to_string(),
                        expected: match materialized {
                            true => "view (use DROP MATERIALIZED VIEW)",
                            false => "materialized view",
                        },
                    }
                    .into());
                }
                db.drop_view(&name, if_exists).await?;
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
        drop_views_over(db, &table.name).await?;
        db.drop_table(&table.name, true).await?;
    }
    db.drop_schema(schema, if_exists)?;
    Ok(())
}

/// `DROP TABLE t CASCADE`: the materialized views over `t` (in any schema) go first.
async fn drop_views_over(
    db: &Arc<Database>,
    table: &oxbow_catalog::ObjectName,
) -> Result<(), ServerError> {
    let Some(def) = db.catalog().table(table)? else {
        return Ok(());
    };
    for view in db.catalog().rollups_over(&def.id)? {
        db.drop_view(&view.name, true).await?;
    }
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

//! `DROP TABLE | VIEW | SCHEMA name [, ...] [IF EXISTS]`.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{ObjectName as SqlObjectName, ObjectType};
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;
use crate::sql::names::{ident, object_name};

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
                db.drop_table(&object_name(name, ctx)?, if_exists).await?;
            }
            ObjectType::View => {
                db.drop_view(&object_name(name, ctx)?, if_exists).await?;
            }
            ObjectType::Schema if !cascade => {
                db.drop_schema(&ident_of(name)?, if_exists)?;
            }
            ObjectType::Schema => {
                return Err(ServerError::Unsupported("DROP SCHEMA ... CASCADE".into()));
            }
            other => return Err(ServerError::Unsupported(format!("DROP {other}"))),
        }
    }
    Ok(Response::Execution(Tag::new(&format!(
        "DROP {object_type}"
    ))))
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

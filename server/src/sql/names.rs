//! Resolving the names a statement uses to catalog [`ObjectName`]s, the way PostgreSQL does:
//! unquoted identifiers fold to lower case, quoted ones keep their case, and an unqualified
//! name is the session's temporary table of that name if there is one, else lives in the
//! session's current schema.

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{self, Ident};
use oxbow_catalog::ObjectName;

use crate::error::ServerError;

/// The identifier as PostgreSQL stores it.
pub fn ident(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// The schema unqualified names resolve to in this session.
pub fn current_schema(ctx: &SessionContext) -> String {
    ctx.state().config_options().catalog.default_schema.clone()
}

/// `[catalog.][schema.]name` as a catalog object name; the catalog part, if any, is ignored
/// because an Oxbow server holds one database.
pub fn object_name(
    name: &ast::ObjectName,
    ctx: &SessionContext,
) -> Result<ObjectName, ServerError> {
    let parts = name
        .0
        .iter()
        .map(|part| {
            part.as_ident()
                .map(ident)
                .ok_or_else(|| ServerError::Unsupported(format!("the name {name}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    match parts.as_slice() {
        // The connection's temporary tables are searched first, as in PostgreSQL.
        [name]
            if crate::sql::temp_tables::TempTables::of(ctx).is_some_and(|t| t.contains(name)) =>
        {
            Ok(ObjectName::new(
                crate::sql::temp_tables::TEMP_SCHEMA,
                name.clone(),
            ))
        }
        [name] => Ok(ObjectName::new(current_schema(ctx), name.clone())),
        [schema, name] | [_, schema, name] => Ok(ObjectName::new(schema.clone(), name.clone())),
        _ => Err(ServerError::Unsupported(format!("the name {name}"))),
    }
}

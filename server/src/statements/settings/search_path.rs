//! `SET search_path`: the first schema of the path that exists becomes the one unqualified
//! names resolve to (DataFusion's default schema for this session).
//!
//! The statement is not answered here: datafusion-postgres' `SET` hook still records the value
//! and sends the `ParameterStatus` drivers expect. Only the first existing schema counts;
//! PostgreSQL's search along the whole path is not reproduced.

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{Expr, Set, Statement};
use oxbow_storage::Database;

use crate::error::ServerError;

pub async fn apply(
    statement: &Statement,
    ctx: &SessionContext,
    db: &Database,
) -> Result<(), ServerError> {
    let Statement::Set(Set::SingleAssignment {
        variable, values, ..
    }) = statement
    else {
        return Ok(());
    };
    if !variable.to_string().eq_ignore_ascii_case("search_path") {
        return Ok(());
    }
    let schemas: Vec<String> = values
        .iter()
        .flat_map(|v| match v {
            Expr::Value(v) => v
                .clone()
                .into_string()
                .map(|s| s.split(',').map(|p| p.trim().to_string()).collect())
                .unwrap_or_default(),
            Expr::Identifier(ident) => vec![crate::sql::names::ident(ident)],
            other => vec![other.to_string()],
        })
        .map(|s| s.trim_matches('"').to_string())
        .filter(|s| !s.is_empty() && s != "$user")
        .collect();
    for schema in schemas {
        if db.catalog().schema_exists(&schema)? || schema == "pg_catalog" {
            ctx.sql(&format!(
                "SET datafusion.catalog.default_schema = '{}'",
                schema.replace('\'', "''")
            ))
            .await?;
            return Ok(());
        }
    }
    Ok(())
}

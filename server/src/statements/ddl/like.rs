//! `CREATE [TEMP] TABLE t (LIKE other)`: the columns of another relation (a table, a view, a
//! temporary table), with their names, SQL types and nullability, as PostgreSQL copies them
//! by default. Nothing else is copied: no key (PostgreSQL copies one only with `INCLUDING
//! INDEXES`), no table options; Oxbow has no column defaults, so `INCLUDING | EXCLUDING
//! DEFAULTS` copy the same.

use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::CreateTableLikeKind;
use oxbow_catalog::{ColumnDef, SqlType};

use crate::error::ServerError;
use crate::pg_compat::DATABASE_NAME;
use crate::sql::names::object_name;

pub async fn like_columns(
    like: &CreateTableLikeKind,
    ctx: &SessionContext,
) -> Result<Vec<ColumnDef>, ServerError> {
    let (CreateTableLikeKind::Parenthesized(like) | CreateTableLikeKind::Plain(like)) = like;
    let name = object_name(&like.name, ctx)?;
    let reference = TableReference::full(DATABASE_NAME, name.schema.as_str(), name.name.as_str());
    let Ok(provider) = ctx.table_provider(reference).await else {
        return Err(oxbow_catalog::Error::RelationNotFound(name.name).into());
    };
    provider
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let sql_type = SqlType::from_field(f)
                .or_else(|| SqlType::from_arrow(f.data_type()))
                .ok_or_else(|| ServerError::UnsupportedType(f.data_type().to_string()))?;
            Ok(ColumnDef {
                name: f.name().clone(),
                sql_type,
                nullable: f.is_nullable(),
            })
        })
        .collect()
}

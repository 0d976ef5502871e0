//! `ALTER TABLE [IF EXISTS] t ADD [COLUMN] [IF NOT EXISTS] c type [NULL] [, ADD ...]`: new
//! nullable columns in both tiers (`oxbow_storage::Database::add_columns`). Rows written before
//! read NULL in them.
//!
//! `ALTER TABLE [IF EXISTS] t RENAME TO u`, alone in its statement, renames a table or a view
//! (as in PostgreSQL, where `ALTER TABLE` renames views too; `ALTER VIEW v RENAME TO w`
//! arrives here through a text rewrite, `crate::sql::rewrite::text`).
//!
//! Every other `ALTER TABLE` operation (DROP, RENAME COLUMN, ALTER COLUMN TYPE, DEFAULT, NOT
//! NULL, constraints) is refused with 0A000, and so is the whole statement when one of its
//! operations is: nothing of it is applied.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    AlterTable, AlterTableOperation, ColumnOption, RenameTableNameKind,
};
use oxbow_catalog::{ColumnDef, ObjectName};
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;
use crate::sql::names::{ident, object_name};
use crate::sql::types::sql_type;

pub async fn alter_table(
    db: &Arc<Database>,
    alter: &AlterTable,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    if alter.table_type.is_some() || alter.on_cluster.is_some() || alter.location.is_some() {
        return Err(ServerError::Unsupported(format!("{alter}")));
    }
    let name = object_name(&alter.name, ctx)?;
    if let [AlterTableOperation::RenameTable { table_name }] = alter.operations.as_slice() {
        return rename(db, &name, table_name, alter.if_exists).await;
    }
    // (column, IF NOT EXISTS) per ADD COLUMN: the flag applies per operation in PostgreSQL.
    let mut adds: Vec<(ColumnDef, bool)> = Vec::new();
    for operation in &alter.operations {
        let AlterTableOperation::AddColumn {
            if_not_exists,
            column_def,
            column_position,
            ..
        } = operation
        else {
            return Err(ServerError::Unsupported(format!(
                "ALTER TABLE ... {operation} (only ADD COLUMN, and RENAME TO alone, are built)"
            )));
        };
        if column_position.is_some() {
            return Err(ServerError::Unsupported(
                "ADD COLUMN ... FIRST | AFTER".into(),
            ));
        }
        for option in &column_def.options {
            match &option.option {
                ColumnOption::Null | ColumnOption::Comment(_) => {}
                other => {
                    return Err(ServerError::Unsupported(format!(
                        "ADD COLUMN option {other} (column \"{}\"; added columns are nullable, without a default)",
                        column_def.name
                    )));
                }
            }
        }
        adds.push((
            ColumnDef {
                name: ident(&column_def.name),
                sql_type: sql_type(&column_def.data_type)?,
                nullable: true,
            },
            *if_not_exists,
        ));
    }
    if adds.is_empty() {
        return Err(ServerError::Unsupported(
            "ALTER TABLE without an operation".into(),
        ));
    }
    if db.table(&name).is_none() && alter.if_exists && db.unavailable_table(&name).is_none() {
        return Ok(Response::Execution(Tag::new("ALTER TABLE")));
    }
    // One call, so one Delta commit for all of them and nothing applied if one fails: the
    // columns that `IF NOT EXISTS` skips are left out first.
    let existing: Vec<String> = db
        .table(&name)
        .map(|t| {
            t.table()
                .def()
                .columns
                .iter()
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let columns: Vec<ColumnDef> = adds
        .into_iter()
        .filter(|(c, if_not_exists)| !(*if_not_exists && existing.contains(&c.name)))
        .map(|(c, _)| c)
        .collect();
    if !columns.is_empty() {
        db.add_columns(&name, columns, false).await?;
    }
    Ok(Response::Execution(Tag::new("ALTER TABLE")))
}

/// `RENAME TO new`: the new name is a bare identifier and the relation stays in its schema,
/// as in PostgreSQL (which refuses a qualified new name as a syntax error).
async fn rename(
    db: &Arc<Database>,
    from: &ObjectName,
    to: &RenameTableNameKind,
    if_exists: bool,
) -> Result<Response, ServerError> {
    let RenameTableNameKind::To(to) = to else {
        return Err(ServerError::Unsupported(format!(
            "ALTER TABLE ... RENAME {to}"
        )));
    };
    let new_name = match to.0.as_slice() {
        [part] => part
            .as_ident()
            .map(ident)
            .ok_or_else(|| ServerError::Unsupported(format!("the name {to}")))?,
        _ => {
            return Err(ServerError::Unsupported(format!(
                "RENAME TO {to}: the new name cannot be qualified (a relation keeps its schema; SET SCHEMA is not built)"
            )));
        }
    };
    db.rename_relation(
        from,
        &ObjectName::new(from.schema.clone(), new_name),
        if_exists,
    )
    .await?;
    Ok(Response::Execution(Tag::new("ALTER TABLE")))
}

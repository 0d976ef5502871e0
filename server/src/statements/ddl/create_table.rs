//! `CREATE TABLE name (columns ...) [WITH (...)]`: a table in the catalog and its Delta table.
//! `CREATE TABLE ... AS` goes on to [`super::table_as`].

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{ColumnOption, CreateTable, Expr, TableConstraint};
use oxbow_catalog::ColumnDef;
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

use super::table_options::table_options;
use crate::error::ServerError;
use crate::sql::names::{ident, object_name};
use crate::sql::types::sql_type;

pub async fn create_table(
    db: &Arc<Database>,
    create: &CreateTable,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    if create.external {
        return Err(ServerError::Unsupported("CREATE EXTERNAL TABLE".into()));
    }
    if create.or_replace {
        return Err(ServerError::Unsupported("CREATE OR REPLACE TABLE".into()));
    }
    refuse_unbuilt_clauses(create)?;
    if create.temporary {
        return super::temporary::create_temporary(create, ctx).await;
    }
    let name = object_name(&create.name, ctx)?;
    if let Some(query) = &create.query {
        if create.partition_by.is_some() {
            return Err(ServerError::Unsupported(
                "CREATE TABLE ... PARTITION BY ... AS SELECT (create the table, then INSERT ... SELECT)".into(),
            ));
        }
        return super::table_as::create_table_as(db, name, query, create.if_not_exists, ctx).await;
    }
    let mut columns = match &create.like {
        Some(like) => super::like::like_columns(like, ctx).await?,
        None => Vec::with_capacity(create.columns.len()),
    };
    let mut primary_key = primary_key_of(&create.constraints)?;
    for column in &create.columns {
        let mut nullable = true;
        for option in &column.options {
            match &option.option {
                ColumnOption::PrimaryKey(_) => {
                    nullable = false;
                    primary_key = vec![ident(&column.name)];
                }
                ColumnOption::NotNull => nullable = false,
                ColumnOption::Null | ColumnOption::Comment(_) => {}
                // Only the primary key is enforced; a UNIQUE that did nothing would mislead.
                ColumnOption::Unique(_) => {
                    return Err(ServerError::Unsupported(format!(
                        "UNIQUE constraints other than the PRIMARY KEY (column \"{}\")",
                        column.name
                    )));
                }
                other => {
                    return Err(ServerError::Unsupported(format!(
                        "column option {other} (column \"{}\")",
                        column.name
                    )));
                }
            }
        }
        columns.push(ColumnDef {
            name: ident(&column.name),
            sql_type: sql_type(&column.data_type)?,
            nullable,
        });
    }
    if columns.is_empty() {
        return Err(ServerError::Unsupported("tables without columns".into()));
    }
    for key in &primary_key {
        match columns.iter_mut().find(|c| &c.name == key) {
            Some(column) => column.nullable = false,
            None => {
                return Err(ServerError::UndefinedColumn {
                    table: name.name.clone(),
                    column: key.clone(),
                });
            }
        }
    }
    let mut options = table_options(&create.table_options, &columns)?;
    if options.upsert && primary_key.is_empty() {
        return Err(ServerError::InvalidTypeModifier(
            "upsert = true needs a PRIMARY KEY".into(),
        ));
    }
    // Every table declared with a key keeps one row per key (tables created before keyed
    // tables existed have `keyed = false` and stay append-only).
    options.keyed = !primary_key.is_empty();
    if let Some(expr) = &create.partition_by {
        if options.keyed {
            // A keyed flush is a Delta MERGE, which does not fill derived partition columns
            // (`ts_day`) the way an append does.
            return Err(ServerError::Unsupported(
                "PARTITION BY on a table with a PRIMARY KEY".into(),
            ));
        }
        options.partition_by = super::partition_by::partition_by(expr, &columns)?;
    }
    db.create_table(name, columns, options, primary_key, create.if_not_exists)
        .await?;
    Ok(Response::Execution(Tag::new("CREATE TABLE")))
}

/// Clauses sqlparser reads that Oxbow does not implement: refused with 0A000 rather than
/// accepted and ignored (a `PARTITION BY` that silently did nothing would mislead).
fn refuse_unbuilt_clauses(create: &CreateTable) -> Result<(), ServerError> {
    let clause = if create.partition_of.is_some() {
        "PARTITION OF (Oxbow partitions a table's Delta files: PARTITION BY (day(ts)))"
    } else if create.inherits.is_some() {
        "INHERITS"
    } else if create.clone.is_some() {
        "CREATE TABLE ... CLONE"
    } else if create.cluster_by.is_some() || create.clustered_by.is_some() {
        "CLUSTER BY"
    } else if create.order_by.is_some() || create.primary_key.is_some() {
        "ORDER BY / PRIMARY KEY clauses after the column list"
    } else if create.on_commit.is_some() {
        "ON COMMIT"
    } else if create.location.is_some() || create.file_format.is_some() {
        "LOCATION / STORED AS"
    } else {
        return Ok(());
    };
    Err(ServerError::Unsupported(clause.into()))
}

/// The columns of a table-level `PRIMARY KEY (a, b)`, if the statement declares one. Other
/// constraints (UNIQUE, CHECK, FOREIGN KEY) are refused rather than silently ignored.
fn primary_key_of(constraints: &[TableConstraint]) -> Result<Vec<String>, ServerError> {
    let mut key = Vec::new();
    for constraint in constraints {
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                key = pk
                    .columns
                    .iter()
                    .map(|c| match &c.column.expr {
                        Expr::Identifier(i) => Ok(ident(i)),
                        other => Err(ServerError::Unsupported(format!("key expression {other}"))),
                    })
                    .collect::<Result<_, _>>()?;
            }
            other => {
                return Err(ServerError::Unsupported(format!(
                    "table constraint {other}"
                )));
            }
        }
    }
    Ok(key)
}

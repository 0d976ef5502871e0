//! `CREATE TEMP[ORARY] TABLE t (columns) | AS query`: a table of this connection only, in
//! memory ([`crate::sql::temp_tables`] says what they are and what is not built).
//!
//! A temporary table is in `pg_temp`: its name is unqualified or qualified with `pg_temp`, as
//! in PostgreSQL, which refuses any other schema (42P16). Its columns take Oxbow's types and
//! `NULL`/`NOT NULL`; keys, defaults and table options are refused (0A000).

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{ColumnOption, CreateTable, Statement};
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;
use crate::sql::names::ident;
use crate::sql::temp_tables::{TEMP_SCHEMA, TempTables, qualify};
use crate::sql::types::sql_type;

pub async fn create_temporary(
    create: &CreateTable,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    let temp = TempTables::of(ctx).ok_or_else(|| {
        ServerError::Unsupported("temporary tables outside a PostgreSQL connection".into())
    })?;
    let name = temp_name(create)?;
    if !create.constraints.is_empty() || create.partition_by.is_some() {
        return Err(ServerError::Unsupported(
            "constraints and PARTITION BY on a temporary table".into(),
        ));
    }
    if !matches!(
        create.table_options,
        datafusion::sql::sqlparser::ast::CreateTableOptions::None
    ) {
        return Err(ServerError::Unsupported(
            "WITH (...) options on a temporary table".into(),
        ));
    }
    if temp.contains(&name) {
        if create.if_not_exists {
            return Ok(Response::Execution(Tag::new("CREATE TABLE")));
        }
        return Err(oxbow_catalog::Error::RelationExists(name).into());
    }
    let (table, tag) = match &create.query {
        Some(query) => {
            let mut statement = Statement::Query(query.clone());
            qualify(&mut statement, ctx);
            let plan = ctx
                .state()
                .statement_to_plan(DfStatement::Statement(Box::new(statement)))
                .await?;
            let df = ctx.execute_logical_plan(plan).await?;
            // Every column nullable, as a table's columns are, so later INSERTs of NULL fit.
            let schema = Arc::new(Schema::new(
                df.schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone().with_nullable(true))
                    .collect::<Vec<Field>>(),
            ));
            let batches = df
                .collect()
                .await?
                .into_iter()
                .map(|b| b.with_schema(Arc::clone(&schema)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(datafusion::error::DataFusionError::from)?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            let table = MemTable::try_new(schema, vec![batches])?;
            (table, Tag::new("SELECT").with_rows(rows))
        }
        None => {
            let mut fields = Vec::with_capacity(create.columns.len());
            if let Some(like) = &create.like {
                for column in super::like::like_columns(like, ctx).await? {
                    let mut field =
                        Field::new(&column.name, column.sql_type.arrow_type(), column.nullable);
                    if let Some(metadata) = column.sql_type.field_metadata() {
                        field = field.with_metadata(metadata);
                    }
                    fields.push(field);
                }
            }
            for column in &create.columns {
                let mut nullable = true;
                for option in &column.options {
                    match &option.option {
                        ColumnOption::NotNull => nullable = false,
                        ColumnOption::Null | ColumnOption::Comment(_) => {}
                        other => {
                            return Err(ServerError::Unsupported(format!(
                                "column option {other} on a temporary table (column \"{}\")",
                                column.name
                            )));
                        }
                    }
                }
                let sql_type = sql_type(&column.data_type)?;
                let mut field = Field::new(ident(&column.name), sql_type.arrow_type(), nullable);
                if let Some(metadata) = sql_type.field_metadata() {
                    field = field.with_metadata(metadata);
                }
                fields.push(field);
            }
            if fields.is_empty() {
                return Err(ServerError::Unsupported("tables without columns".into()));
            }
            let table = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
            (table, Tag::new("CREATE TABLE"))
        }
    };
    temp.create(&name, Arc::new(table))?;
    Ok(Response::Execution(tag))
}

/// The table's name in `pg_temp`: `t` or `pg_temp.t` (a database name before it is ignored,
/// as everywhere).
fn temp_name(create: &CreateTable) -> Result<String, ServerError> {
    let parts = create
        .name
        .0
        .iter()
        .map(|p| p.as_ident().map(ident))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ServerError::Unsupported(format!("the name {}", create.name)))?;
    match parts.as_slice() {
        [name] => Ok(name.clone()),
        [schema, name] | [_, schema, name] if schema == TEMP_SCHEMA => Ok(name.clone()),
        _ => Err(ServerError::InvalidTableDefinition(format!(
            "cannot create temporary relation in non-temporary schema (\"{}\")",
            create.name
        ))),
    }
}

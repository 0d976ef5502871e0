//! DDL against the persistent catalog: `CREATE SCHEMA`, `CREATE TABLE [AS]`, `CREATE VIEW`,
//! `DROP ...`, `TRUNCATE`, and `SHOW TABLES`.

use std::sync::Arc;

use arrow_pg::datatypes::df::encode_dataframe;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::view::ViewTable;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    ColumnOption, CreateTable, CreateView, Expr, ObjectType, Query, SchemaName, Statement,
    TableConstraint,
};
use datafusion_postgres::hooks::HookClient;
use oxbow_catalog::{ColumnDef, ObjectName, SqlType, ViewDef};
use oxbow_storage::Database;
use pgwire::api::portal::Format;
use pgwire::api::results::{Response, Tag};
use pgwire::types::format::FormatOptions;

use crate::error::ServerError;
use crate::names::{ident, object_name};
use crate::sql_types::sql_type;
use crate::table_options::table_options;

pub async fn execute(
    db: &Arc<Database>,
    statement: &Statement,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    // DDL and TRUNCATE commit when they run, so they see the rows an open transaction block
    // holds: those are written first (`oxbow_storage::transaction`).
    oxbow_storage::transaction::write_held(&ctx.copied_config()).await?;
    match statement {
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => {
            let name = match schema_name {
                SchemaName::Simple(name) | SchemaName::NamedAuthorization(name, _) => name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(ident)
                    .ok_or_else(|| ServerError::Unsupported(format!("schema name {name}")))?,
                SchemaName::UnnamedAuthorization(user) => ident(user),
            };
            db.create_schema(&name, *if_not_exists)?;
            Ok(Response::Execution(Tag::new("CREATE SCHEMA")))
        }
        Statement::CreateTable(create) => create_table(db, create, ctx).await,
        Statement::CreateView(create) => create_view(db, create, ctx).await,
        Statement::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            ..
        } => {
            for name in names {
                match object_type {
                    ObjectType::Table => {
                        db.drop_table(&object_name(name, ctx)?, *if_exists).await?;
                    }
                    ObjectType::View => {
                        db.drop_view(&object_name(name, ctx)?, *if_exists).await?;
                    }
                    ObjectType::Schema if !*cascade => {
                        db.drop_schema(&ident_of(name)?, *if_exists)?;
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
        Statement::Truncate(truncate) => {
            // Resolve every name first so that a missing table truncates nothing.
            let mut tables = Vec::new();
            for target in &truncate.table_names {
                let name = object_name(&target.name, ctx)?;
                let table = db
                    .table(&name)
                    .ok_or_else(|| oxbow_catalog::Error::RelationNotFound(name.name.clone()))?;
                tables.push(table);
            }
            for table in tables {
                table.table().delete(None).await?;
            }
            Ok(Response::Execution(Tag::new("TRUNCATE TABLE")))
        }
        other => Err(ServerError::Unsupported(format!("statement {other}"))),
    }
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

async fn create_table(
    db: &Arc<Database>,
    create: &CreateTable,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    if create.temporary {
        return Err(ServerError::Unsupported("temporary tables".into()));
    }
    if create.external {
        return Err(ServerError::Unsupported("CREATE EXTERNAL TABLE".into()));
    }
    if create.or_replace {
        return Err(ServerError::Unsupported("CREATE OR REPLACE TABLE".into()));
    }
    let name = object_name(&create.name, ctx)?;
    if let Some(query) = &create.query {
        return create_table_as(db, name, query, create.if_not_exists, ctx).await;
    }
    let mut columns = Vec::with_capacity(create.columns.len());
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
                ColumnOption::Null | ColumnOption::Unique(_) | ColumnOption::Comment(_) => {}
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
    let options = table_options(&create.table_options, &columns)?;
    db.create_table(name, columns, options, primary_key, create.if_not_exists)
        .await?;
    Ok(Response::Execution(Tag::new("CREATE TABLE")))
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

/// `CREATE TABLE t AS SELECT ...`: the table takes the query's column names and types, and
/// its rows arrive in the same statement as one commit after the table is created.
async fn create_table_as(
    db: &Arc<Database>,
    name: ObjectName,
    query: &Query,
    if_not_exists: bool,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(Statement::Query(
            Box::new(query.clone()),
        ))))
        .await?;
    let df = ctx.execute_logical_plan(plan).await?;
    let columns = df
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
                nullable: true,
            })
        })
        .collect::<Result<Vec<_>, ServerError>>()?;
    if !db
        .create_table(
            name.clone(),
            columns,
            Default::default(),
            Vec::new(),
            if_not_exists,
        )
        .await?
    {
        return Ok(Response::Execution(Tag::new("CREATE TABLE AS")));
    }
    let table = db.table(&name).expect("a table just created is registered");
    let batches = df.collect().await?;
    let schema = table.table().schema();
    let batches = batches
        .into_iter()
        .map(|b| conform(b, &schema))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = match table.append(batches).await {
        Ok(rows) => rows,
        Err(e) => {
            // The statement failed, so the table it was creating must not stay behind.
            db.drop_table(&name, true).await.ok();
            return Err(e.into());
        }
    };
    Ok(Response::Execution(
        Tag::new("SELECT").with_rows(rows as usize),
    ))
}

/// Casts a batch to the table's stored types (a query may produce `Utf8View` where the table
/// stores `Utf8`, or `Int64` where it stores `Int32`).
pub fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ServerError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| cast(column, field.data_type()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(datafusion::error::DataFusionError::from)?;
    Ok(RecordBatch::try_new(schema.clone(), columns)
        .map_err(datafusion::error::DataFusionError::from)?)
}

async fn create_view(
    db: &Arc<Database>,
    create: &CreateView,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    if create.materialized {
        return Err(ServerError::Unsupported("materialized views".into()));
    }
    if !create.columns.is_empty() {
        return Err(ServerError::Unsupported(
            "a column list in CREATE VIEW (alias the columns in the query instead)".into(),
        ));
    }
    let name = object_name(&create.name, ctx)?;
    let query_sql = create.query.to_string();
    let provider = plan_view(ctx, &query_sql).await?;
    db.create_view(
        ViewDef {
            name,
            query: query_sql,
        },
        provider,
        create.or_replace,
    )
    .await?;
    Ok(Response::Execution(Tag::new("CREATE VIEW")))
}

/// Plans a view's query into a provider that re-runs it at every use.
pub async fn plan_view(
    ctx: &SessionContext,
    query_sql: &str,
) -> Result<Arc<ViewTable>, ServerError> {
    let plan = ctx.state().create_logical_plan(query_sql).await?;
    Ok(Arc::new(ViewTable::new(plan, Some(query_sql.to_string()))))
}

/// `SHOW TABLES`: the user's tables and views (system schemas left out).
pub async fn show_tables(
    ctx: &SessionContext,
    client: &mut dyn HookClient,
) -> Result<Response, ServerError> {
    let df = ctx
        .sql(
            "SELECT table_schema AS schema, table_name AS name, \
             CASE table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END AS type \
             FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'oxbow') \
             ORDER BY table_schema, table_name",
        )
        .await?;
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    Ok(Response::Query(
        encode_dataframe(df, &Format::UnifiedText, Some(options)).await?,
    ))
}

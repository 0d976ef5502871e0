//! `CREATE TABLE t AS SELECT ...`.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Query, Statement};
use oxbow_catalog::{ColumnDef, ObjectName, SqlType};
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;

/// `CREATE TABLE t AS SELECT ...`: the table takes the query's column names and types, and
/// its rows arrive in the same statement as one commit after the table is created.
///
/// The query runs before the table is created, so a query that fails leaves nothing behind;
/// a failed append drops the new table again. (A crash between the create and the append's
/// commit still leaves the empty table.)
pub async fn create_table_as(
    db: &Arc<Database>,
    name: ObjectName,
    query: &Query,
    if_not_exists: bool,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    let mut statement = Statement::Query(Box::new(query.clone()));
    let _versions = crate::sql::time_travel::resolve(&mut statement, ctx).await?;
    crate::sql::temp_tables::qualify(&mut statement, ctx);
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(statement)))
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
    if if_not_exists && db.table(&name).is_some() {
        return Ok(Response::Execution(Tag::new("CREATE TABLE AS")));
    }
    let batches = df.collect().await?;
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
    // `append` conforms the query's types to the table's (`Utf8View` to `Utf8`, and so on).
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

//! Continuous rollups: `CREATE MATERIALIZED VIEW`, `REFRESH MATERIALIZED VIEW`, and the
//! planning of a stored materialized view at start.
//!
//! Owns the SQL meaning: which queries can be maintained and how each splits into partial
//! states and a merge ([`split`]), the hidden state table in `oxbow_rollups`, and the view's
//! provider (the merge, cast to the types and names the query itself would give). Does not
//! own when states are written: `oxbow_storage::rollup` adds them at each write, in the same
//! WAL transaction as the rows.
//!
//! A materialized view here is always current, unlike PostgreSQL's (which is a snapshot
//! until `REFRESH`): every acknowledged row is in it. `REFRESH` rebuilds the states from the
//! source, which is only ever needed after a crash during a `TRUNCATE` or `REFRESH`.

mod split;

use std::sync::Arc;

use datafusion::catalog::view::ViewTable;
use datafusion::common::Column;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::CreateView;
use oxbow_catalog::{ColumnDef, ObjectName, ROLLUP_SCHEMA, RollupDef, SqlType, ViewDef};
use oxbow_storage::Database;
use oxbow_storage::rollup::Rollup;
use pgwire::api::results::{Response, Tag};
use tracing::warn;

use crate::error::ServerError;
use crate::sql::names::object_name;
use crate::sql::temp_tables::TEMP_SCHEMA;

/// `CREATE MATERIALIZED VIEW [IF NOT EXISTS] v AS SELECT ...`.
pub async fn create(
    db: &Arc<Database>,
    create: &CreateView,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    let done = || Ok(Response::Execution(Tag::new("CREATE MATERIALIZED VIEW")));
    if create.or_replace || create.or_alter {
        return Err(ServerError::Unsupported(
            "CREATE OR REPLACE MATERIALIZED VIEW (drop it and create it again)".into(),
        ));
    }
    if !create.columns.is_empty() {
        return Err(ServerError::Unsupported(
            "a column list in CREATE MATERIALIZED VIEW (alias the columns in the query instead)"
                .into(),
        ));
    }
    if create.temporary || create.to.is_some() || !create.cluster_by.is_empty() {
        return Err(ServerError::Unsupported(
            "this clause of CREATE MATERIALIZED VIEW".into(),
        ));
    }
    if !matches!(
        create.options,
        datafusion::sql::sqlparser::ast::CreateTableOptions::None
    ) {
        return Err(ServerError::Unsupported(
            "options on a materialized view".into(),
        ));
    }
    let name = object_name(&create.name, ctx)?;
    if db.catalog().table(&name)?.is_some() || db.catalog().view(&name)?.is_some() {
        if create.if_not_exists {
            return done();
        }
        return Err(oxbow_catalog::Error::RelationExists(name.name).into());
    }
    let query = create.query.to_string();
    // The query as a plain query first: its errors (an unknown column, a non-grouped output)
    // are the ones the user should see.
    ctx.state().create_logical_plan(&query).await?;
    let split = split::split(&create.query)?;
    let source = object_name(&split.source, ctx)?;
    let source_table = db
        .table(&source)
        .ok_or_else(|| refuse_source(db, &source))?;
    if source.schema == ROLLUP_SCHEMA || source.schema == TEMP_SCHEMA {
        return Err(ServerError::Unsupported(format!(
            "a materialized view over {source} (a temporary table or another view's state)"
        )));
    }
    let source_def = source_table.table().def();
    if source_table.table().is_keyed() {
        return Err(ServerError::Unsupported(format!(
            "a materialized view over {source}, a table with a primary key (its updates and deletes would need retractions, not built yet)"
        )));
    }
    let partial_sql = split.partial_sql(&source);
    let partial = ctx.state().create_logical_plan(&partial_sql).await?;
    let mut scans = 0;
    partial.apply_with_subqueries(|node| {
        if matches!(node, LogicalPlan::TableScan(_)) {
            scans += 1;
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if scans != 1 {
        return Err(ServerError::Unsupported(
            "a subquery in a materialized view (it reads one table)".into(),
        ));
    }
    let columns = partial
        .schema()
        .fields()
        .iter()
        .map(|field| {
            let sql_type = SqlType::from_arrow(field.data_type()).ok_or_else(|| {
                ServerError::Unsupported(format!(
                    "a materialized view output of type {}",
                    field.data_type()
                ))
            })?;
            Ok(ColumnDef {
                name: field.name().clone(),
                sql_type,
                nullable: true,
            })
        })
        .collect::<Result<Vec<_>, ServerError>>()?;
    let state_name = ObjectName::new(ROLLUP_SCHEMA, state_table_name(&name));
    db.create_schema(ROLLUP_SCHEMA, true)?;
    db.create_table(
        state_name.clone(),
        columns,
        oxbow_catalog::TableOptions::default(),
        Vec::new(),
        false,
    )
    .await?;
    let def = ViewDef {
        name: name.clone(),
        query,
        rollup: Some(RollupDef {
            source,
            source_id: source_def.id.clone(),
            read_sql: split.read_sql(&state_name),
            compact_sql: Some(split.compact_sql(&state_name)),
            state_table: state_name.clone(),
            partial_sql,
        }),
    };
    let made = async {
        let provider = plan(ctx, &def).await?;
        let rollup = maintenance(db, &def, ctx)?;
        db.create_rollup(def, provider, rollup).await?;
        Ok::<_, ServerError>(())
    }
    .await;
    if let Err(e) = made {
        if let Err(cleanup) = db.drop_table(&state_name, true).await {
            warn!(table = %state_name, error = %cleanup, "cannot drop the state table of a materialized view that failed");
        }
        return Err(e);
    }
    done()
}

fn refuse_source(db: &Database, source: &ObjectName) -> ServerError {
    match db.catalog().view(source) {
        Ok(Some(_)) => ServerError::Unsupported(format!(
            "a materialized view over the view {source} (over a table only)"
        )),
        _ => match db.unavailable_table(source) {
            Some(t) => t.error().into(),
            None => oxbow_catalog::Error::RelationNotFound(source.to_string()).into(),
        },
    }
}

/// `<schema>_<view>_<8 hex digits>`, within the 63-byte limit on names.
fn state_table_name(view: &ObjectName) -> String {
    let mut stem = format!("{}_{}", view.schema, view.name);
    let mut cut = stem.len().min(50);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    stem.truncate(cut);
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{stem}_{}", &id[..8])
}

/// The provider of a materialized view: the merge of its state rows, with the names and
/// types its query has when run over the source itself.
pub async fn plan(ctx: &SessionContext, def: &ViewDef) -> Result<Arc<ViewTable>, ServerError> {
    let rollup = def
        .rollup
        .as_ref()
        .ok_or_else(|| ServerError::Unsupported("a view without a rollup".into()))?;
    let shape = ctx.state().create_logical_plan(&def.query).await?;
    let read = ctx.state().create_logical_plan(&rollup.read_sql).await?;
    let columns: Vec<Expr> = shape
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(n, field)| {
            cast(
                Expr::Column(Column::new_unqualified(format!("c{n}"))),
                field.data_type().clone(),
            )
            .alias(field.name())
        })
        .collect();
    let plan = LogicalPlanBuilder::from(read).project(columns)?.build()?;
    Ok(Arc::new(ViewTable::new(plan, Some(def.query.clone()))))
}

/// The write-time maintenance of a stored materialized view.
pub fn maintenance(
    db: &Database,
    def: &ViewDef,
    ctx: &SessionContext,
) -> Result<Arc<Rollup>, ServerError> {
    let rollup = def
        .rollup
        .as_ref()
        .ok_or_else(|| ServerError::Unsupported("a view without a rollup".into()))?;
    let state = db.require_table(&rollup.state_table)?;
    Ok(Arc::new(Rollup::new(
        def.name.clone(),
        rollup.source_id.clone(),
        Arc::clone(state.table()),
        rollup.partial_sql.clone(),
        rollup.compact_sql.clone(),
        ctx.state(),
    )))
}

/// The view named after `REFRESH MATERIALIZED VIEW [CONCURRENTLY]`, or `None` if the query is
/// something else. sqlparser's PostgreSQL dialect does not parse it, so `crate::wire::simple`
/// recognises it as a whole simple query, like `FLUSH TABLE`.
pub fn parse_refresh(query: &str) -> Option<&str> {
    let query = query.trim().trim_end_matches(';').trim();
    let mut rest = query;
    for word in ["refresh", "materialized", "view"] {
        let (head, tail) = rest.split_once(char::is_whitespace)?;
        if !head.eq_ignore_ascii_case(word) {
            return None;
        }
        rest = tail.trim_start();
    }
    if let Some((head, tail)) = rest.split_once(char::is_whitespace) {
        if head.eq_ignore_ascii_case("concurrently") {
            rest = tail.trim_start();
        }
    }
    Some(rest)
}

/// The name after `REFRESH MATERIALIZED VIEW`, alone.
fn refresh_target(name: &str) -> Result<datafusion::sql::sqlparser::ast::ObjectName, ServerError> {
    use datafusion::sql::sqlparser::{
        dialect::PostgreSqlDialect, parser::Parser, tokenizer::Token,
    };

    let syntax = |e| ServerError::DataFusion(datafusion::error::DataFusionError::from(e));
    let mut parser = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(name)
        .map_err(syntax)?;
    let parsed = parser.parse_object_name(false).map_err(syntax)?;
    if parser.peek_token().token != Token::EOF {
        return Err(ServerError::Unsupported(format!(
            "REFRESH MATERIALIZED VIEW ... {} (a materialized view is always populated)",
            parser.peek_token().token
        )));
    }
    Ok(parsed)
}

/// `REFRESH MATERIALIZED VIEW v`: its states rebuilt from its source's rows, every write held
/// out meanwhile. `WITH [NO] DATA` is refused: a view here is always populated.
pub async fn refresh(
    db: &Database,
    ctx: &SessionContext,
    name: &str,
) -> Result<Response, ServerError> {
    let parsed = refresh_target(name)?;
    let view = object_name(&parsed, ctx)?;
    match db.catalog().view(&view)? {
        Some(ViewDef {
            rollup: Some(rollup),
            ..
        }) => {
            if db
                .table(&rollup.source)
                .is_some_and(|t| t.table().def().options.rollup_only)
            {
                return Err(ServerError::Unsupported(format!(
                    "REFRESH of {view}, whose table {} keeps no rows to rebuild it from (rollup_only)",
                    rollup.source
                )));
            }
        }
        None if db.catalog().table(&view)?.is_none() => {
            return Err(oxbow_catalog::Error::RelationNotFound(view.to_string()).into());
        }
        _ => {
            return Err(oxbow_catalog::Error::WrongObjectType {
                name: view.to_string(),
                expected: "materialized view",
            }
            .into());
        }
    }
    db.refresh_rollup(&view).await?;
    Ok(Response::Execution(Tag::new("REFRESH MATERIALIZED VIEW")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_statements_are_recognised() {
        assert_eq!(parse_refresh("REFRESH MATERIALIZED VIEW v;"), Some("v"));
        assert_eq!(
            parse_refresh("refresh  materialized view concurrently s.\"V\""),
            Some("s.\"V\"")
        );
        assert_eq!(parse_refresh("REFRESH VIEW v"), None);
        assert_eq!(parse_refresh("SELECT 1"), None);
    }

    #[test]
    fn state_table_names_fit_the_name_limit() {
        let long = ObjectName::new("public", &"é".repeat(40));
        let name = state_table_name(&long);
        assert!(name.len() <= 63, "{name}");
        assert!(oxbow_catalog::check_identifier(&name).is_ok());
    }
}

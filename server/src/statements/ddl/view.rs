//! `CREATE [OR REPLACE] VIEW`, and the planning of a view's query that catalog reload shares.

use std::sync::Arc;

use datafusion::catalog::view::ViewTable;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::CreateView;
use oxbow_catalog::ViewDef;
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;
use crate::sql::names::object_name;

pub async fn create_view(
    db: &Arc<Database>,
    create: &CreateView,
    ctx: &SessionContext,
) -> Result<Response, ServerError> {
    if create.materialized {
        return crate::statements::rollup::create(db, create, ctx).await;
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
            rollup: None,
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

//! `SHOW TABLES`: the user's tables and views (system schemas left out).

use std::sync::Arc;

use arrow_pg::datatypes::df::encode_dataframe;
use datafusion::prelude::SessionContext;
use datafusion_postgres::hooks::HookClient;
use pgwire::api::portal::Format;
use pgwire::api::results::Response;
use pgwire::types::format::FormatOptions;

use crate::error::ServerError;

/// Lists schema, name and type (`table` or `view`) from `information_schema.tables`.
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

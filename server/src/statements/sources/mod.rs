//! `CREATE SOURCE`, `DROP SOURCE`, `ALTER SOURCE ... PAUSE | RESUME` and `SHOW SOURCES`: the
//! SQL meaning of sources. The statement becomes an [`oxbow_catalog::SourceDef`] handed to
//! `oxbow_ingest`'s [`SourceManager`], which owns the connectors and the pipeline.
//!
//! - [`parse`]: the grammar (sqlparser does not know it).
//! - [`access`]: who may run them (sources and sinks).
//!
//! They are recognised in simple queries (also among other statements of a script) and as
//! whole statements of the extended protocol (JDBC, psycopg with parameters), where they are
//! kept as text at `Parse` and run at `Execute`; they take no parameters.

pub mod access;
pub mod parse;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_pg::datatypes::df::encode_dataframe;
use datafusion::prelude::SessionContext;
use oxbow_catalog::SourceDef;
use oxbow_ingest::SourceManager;
use pgwire::api::portal::Format;
use pgwire::api::results::{Response, Tag};
use pgwire::types::format::FormatOptions;

use crate::error::ServerError;
use crate::sql::names::object_name;
use parse::SourceStatement;

pub use parse::{is_source_statement, split_statements};

/// Runs a source statement (or a sink statement, which travels the same way: see
/// `crate::statements::sinks`).
pub async fn execute(
    manager: &Arc<SourceManager>,
    ctx: &SessionContext,
    query: &str,
    client_metadata: &HashMap<String, String>,
) -> Result<Response, ServerError> {
    if crate::statements::sinks::is_sink_statement(query) {
        return crate::statements::sinks::execute(manager.sinks(), ctx, query, client_metadata)
            .await;
    }
    match parse::parse(query)? {
        SourceStatement::Create(c) => {
            let def = SourceDef {
                id: uuid::Uuid::new_v4().to_string(),
                name: object_name(&c.name, ctx)?,
                connector: c.connector,
                connector_options: c.connector_options,
                format: c.format,
                format_options: c.format_options,
                target: object_name(&c.target, ctx)?,
                options: c.options,
                transform: c.transform,
                paused: false,
                definition: query.trim().trim_end_matches(';').trim().to_string(),
                owner: client_metadata.get(pgwire::api::METADATA_USER).cloned(),
            };
            manager.create(def, c.if_not_exists).await?;
            Ok(Response::Execution(Tag::new("CREATE SOURCE")))
        }
        SourceStatement::Drop { names, if_exists } => {
            for name in names {
                manager
                    .drop_source(&object_name(&name, ctx)?, if_exists)
                    .await?;
            }
            Ok(Response::Execution(Tag::new("DROP SOURCE")))
        }
        SourceStatement::Alter { name, pause } => {
            manager.set_paused(&object_name(&name, ctx)?, pause).await?;
            Ok(Response::Execution(Tag::new("ALTER SOURCE")))
        }
        SourceStatement::Show => {
            let df = ctx
                .sql(
                    "SELECT schema_name AS schema, source_name AS name, connector, format, \
                     target_table, status, rows_in, rows_rejected, last_error \
                     FROM oxbow.sources ORDER BY schema_name, source_name",
                )
                .await?;
            let options = Arc::new(FormatOptions::from_client_metadata(client_metadata));
            Ok(Response::Query(
                encode_dataframe(df, &Format::UnifiedText, Some(options)).await?,
            ))
        }
    }
}

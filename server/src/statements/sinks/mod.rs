//! `CREATE SINK`, `DROP SINK`, `ALTER SINK ... PAUSE | RESUME` and `SHOW SINKS`: the SQL
//! meaning of sinks. The statement becomes an [`oxbow_catalog::SinkDef`] handed to
//! `oxbow_ingest`'s [`SinkManager`], which follows the table's WAL and owns the targets.
//!
//! - [`parse`]: the grammar (sqlparser does not know it).
//!
//! They travel the same way as the source statements (`is_source_statement` recognises them
//! too), in simple queries and as whole statements of the extended protocol; who may run them
//! is decided with the sources' (`crate::statements::sources::access`).

pub mod parse;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_pg::datatypes::df::encode_dataframe;
use datafusion::prelude::SessionContext;
use oxbow_catalog::SinkDef;
use oxbow_ingest::SinkManager;
use pgwire::api::portal::Format;
use pgwire::api::results::{Response, Tag};
use pgwire::types::format::FormatOptions;

use crate::error::ServerError;
use crate::sql::names::object_name;
use parse::SinkStatement;

pub use parse::is_sink_statement;

/// Runs a sink statement.
pub async fn execute(
    manager: &Arc<SinkManager>,
    ctx: &SessionContext,
    query: &str,
    client_metadata: &HashMap<String, String>,
) -> Result<Response, ServerError> {
    match parse::parse(query)? {
        SinkStatement::Create(c) => {
            // A Delta table is Parquet; FILES and KAFKA write JSON unless told otherwise.
            let format = c.format.unwrap_or_else(|| {
                if c.target == "delta" {
                    "parquet".into()
                } else {
                    "json".into()
                }
            });
            let def = SinkDef {
                id: uuid::Uuid::new_v4().to_string(),
                name: object_name(&c.name, ctx)?,
                from: object_name(&c.from, ctx)?,
                target: c.target,
                target_options: c.target_options,
                format,
                options: c.options,
                paused: false,
                definition: query.trim().trim_end_matches(';').trim().to_string(),
                owner: client_metadata.get(pgwire::api::METADATA_USER).cloned(),
            };
            manager.create(def, c.if_not_exists).await?;
            Ok(Response::Execution(Tag::new("CREATE SINK")))
        }
        SinkStatement::Drop { names, if_exists } => {
            for name in names {
                manager
                    .drop_sink(&object_name(&name, ctx)?, if_exists)
                    .await?;
            }
            Ok(Response::Execution(Tag::new("DROP SINK")))
        }
        SinkStatement::Alter { name, pause } => {
            manager.set_paused(&object_name(&name, ctx)?, pause).await?;
            Ok(Response::Execution(Tag::new("ALTER SINK")))
        }
        SinkStatement::Show => {
            let df = ctx
                .sql(
                    "SELECT schema_name AS schema, sink_name AS name, from_table, target, format, \
                     status, rows_out, position, lag_seq, last_error \
                     FROM oxbow.sinks ORDER BY schema_name, sink_name",
                )
                .await?;
            let options = Arc::new(FormatOptions::from_client_metadata(client_metadata));
            Ok(Response::Query(
                encode_dataframe(df, &Format::UnifiedText, Some(options)).await?,
            ))
        }
    }
}

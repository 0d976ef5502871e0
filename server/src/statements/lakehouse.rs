//! The Delta maintenance statements, spelled as Delta/Databricks SQL spells them:
//! `OPTIMIZE t` (compaction), `VACUUM t [RETAIN n HOURS] [DRY RUN]`, `DESCRIBE HISTORY t
//! [LIMIT n]` (the table's Delta commits) and `RESTORE [TABLE] t TO VERSION AS OF n | TO
//! TIMESTAMP AS OF '...'` (`oxbow_storage::table` says what a restore keeps).
//!
//! sqlparser's PostgreSQL dialect parses neither (its `VACUUM` is Redshift's), so, like
//! `FLUSH TABLE`, they are recognised as a whole simple query (psql, `batch_execute`), not in
//! the extended protocol. Clauses not built (`OPTIMIZE ... WHERE`, `ZORDER BY`, `VACUUM LITE`)
//! are refused with 0A000.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow_pg::datatypes::df::encode_dataframe;
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;
use oxbow_storage::Database;
use pgwire::api::portal::Format;
use pgwire::api::results::Response;
use pgwire::types::format::FormatOptions;

use crate::error::ServerError;
use crate::sql::names::object_name;

#[derive(Debug, PartialEq)]
pub enum LakeStatement {
    Optimize {
        table: ast::ObjectName,
    },
    Vacuum {
        table: ast::ObjectName,
        retain: Option<Duration>,
        dry_run: bool,
    },
    History {
        table: ast::ObjectName,
        limit: Option<usize>,
    },
    Restore {
        table: ast::ObjectName,
        to: RestoreTo,
    },
}

#[derive(Debug, PartialEq)]
pub enum RestoreTo {
    Version(u64),
    /// The timestamp literal's text.
    Timestamp(String),
}

/// Whether `query` is one of these statements (its first word): then [`parse`] decides.
pub fn is_lake_statement(query: &str) -> bool {
    let mut words = query
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty());
    let first = words.next().unwrap_or("");
    ["optimize", "vacuum", "restore"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w))
        || (first.eq_ignore_ascii_case("describe")
            && words
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("history")))
}

fn syntax(message: String) -> ServerError {
    ServerError::DataFusion(DataFusionError::from(ParserError::ParserError(message)))
}

pub fn parse(query: &str) -> Result<LakeStatement, ServerError> {
    let text = query.trim().trim_end_matches(';');
    let mut parser = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .map_err(|e| ServerError::DataFusion(e.into()))?;
    let word = |p: &mut Parser, w: &str| match &p.peek_token().token {
        Token::Word(x) if x.value.eq_ignore_ascii_case(w) => {
            p.next_token();
            true
        }
        _ => false,
    };
    let statement = if word(&mut parser, "optimize") {
        let table = parser
            .parse_object_name(false)
            .map_err(|e| ServerError::DataFusion(e.into()))?;
        if parser.parse_keyword(Keyword::WHERE) || word(&mut parser, "zorder") {
            return Err(ServerError::Unsupported(
                "OPTIMIZE ... WHERE / ZORDER BY (OPTIMIZE t compacts the whole table)".into(),
            ));
        }
        LakeStatement::Optimize { table }
    } else if word(&mut parser, "vacuum") {
        if word(&mut parser, "lite") || word(&mut parser, "full") {
            return Err(ServerError::Unsupported(
                "VACUUM LITE | FULL (VACUUM t is always FULL: it also removes unreferenced files)"
                    .into(),
            ));
        }
        let table = parser
            .parse_object_name(false)
            .map_err(|e| ServerError::DataFusion(e.into()))?;
        let mut retain = None;
        let mut dry_run = false;
        loop {
            if word(&mut parser, "retain") {
                let n = match parser.next_token().token {
                    Token::Number(n, _) => n.parse::<f64>().ok().filter(|h| *h >= 0.0),
                    _ => None,
                }
                .ok_or_else(|| syntax("expected a number of hours after RETAIN".into()))?;
                if !word(&mut parser, "hours") && !word(&mut parser, "hour") {
                    return Err(syntax("expected HOURS after RETAIN n".into()));
                }
                retain = Some(Duration::from_secs_f64(n * 3600.0));
            } else if word(&mut parser, "dry") {
                if !word(&mut parser, "run") {
                    return Err(syntax("expected RUN after DRY".into()));
                }
                dry_run = true;
            } else {
                break;
            }
        }
        LakeStatement::Vacuum {
            table,
            retain,
            dry_run,
        }
    } else if word(&mut parser, "describe") && word(&mut parser, "history") {
        let table = parser
            .parse_object_name(false)
            .map_err(|e| ServerError::DataFusion(e.into()))?;
        let limit = if parser.parse_keyword(Keyword::LIMIT) {
            match parser.next_token().token {
                Token::Number(n, _) => n.parse::<usize>().ok(),
                _ => None,
            }
            .map(Some)
            .ok_or_else(|| syntax("expected a number after LIMIT".into()))?
        } else {
            None
        };
        LakeStatement::History { table, limit }
    } else if word(&mut parser, "restore") {
        word(&mut parser, "table");
        let table = parser
            .parse_object_name(false)
            .map_err(|e| ServerError::DataFusion(e.into()))?;
        if !parser.parse_keyword(Keyword::TO) {
            return Err(syntax(
                "expected TO VERSION AS OF n or TO TIMESTAMP AS OF '...'".into(),
            ));
        }
        let by_version = word(&mut parser, "version");
        if !by_version && !parser.parse_keyword(Keyword::TIMESTAMP) {
            return Err(syntax(
                "expected VERSION or TIMESTAMP after RESTORE ... TO".into(),
            ));
        }
        if !parser.parse_keyword(Keyword::AS) || !parser.parse_keyword(Keyword::OF) {
            return Err(syntax("expected AS OF".into()));
        }
        let to = match (by_version, parser.next_token().token) {
            (true, Token::Number(n, _)) => n
                .parse::<u64>()
                .map(RestoreTo::Version)
                .map_err(|_| syntax(format!("not a version: {n}")))?,
            (false, Token::SingleQuotedString(s)) => RestoreTo::Timestamp(s),
            (_, other) => return Err(syntax(format!("unexpected {other} after AS OF"))),
        };
        LakeStatement::Restore { table, to }
    } else {
        return Err(syntax(format!("not a lakehouse statement: {text}")));
    };
    if parser.peek_token().token != Token::EOF {
        return Err(syntax(format!(
            "unexpected {} in {text}",
            parser.peek_token().token
        )));
    }
    Ok(statement)
}

pub async fn execute(
    db: &Database,
    ctx: &SessionContext,
    query: &str,
    client_metadata: &HashMap<String, String>,
) -> Result<Response, ServerError> {
    let batch = match parse(query)? {
        LakeStatement::Optimize { table } => {
            let name = object_name(&table, ctx)?;
            let table = db.require_table(&name)?;
            let done = table.table().optimize().await?;
            let schema = Arc::new(Schema::new(vec![
                Field::new("files_removed", DataType::Int64, false),
                Field::new("files_added", DataType::Int64, false),
                Field::new("partitions_optimized", DataType::Int64, false),
            ]));
            RecordBatch::try_new(
                schema,
                vec![
                    Arc::new(Int64Array::from(vec![done.files_removed as i64])),
                    Arc::new(Int64Array::from(vec![done.files_added as i64])),
                    Arc::new(Int64Array::from(vec![done.partitions_optimized as i64])),
                ],
            )
            .map_err(|e| ServerError::DataFusion(e.into()))?
        }
        LakeStatement::Vacuum {
            table,
            retain,
            dry_run,
        } => {
            let name = object_name(&table, ctx)?;
            let table = db.require_table(&name)?;
            let mut files = table.table().vacuum(retain, dry_run).await?;
            files.sort();
            let schema = Arc::new(Schema::new(vec![Field::new("path", DataType::Utf8, false)]));
            RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(files))])
                .map_err(|e| ServerError::DataFusion(e.into()))?
        }
        LakeStatement::History { table, limit } => {
            let name = object_name(&table, ctx)?;
            let table = db.require_table(&name)?;
            history_batch(table.table().history(limit).await?)?
        }
        LakeStatement::Restore { table, to } => {
            let name = object_name(&table, ctx)?;
            let table = db.require_table(&name)?;
            let version = match to {
                RestoreTo::Version(v) => v,
                RestoreTo::Timestamp(text) => {
                    let at = crate::sql::time_travel::parse_time(&text)?;
                    table.table().version_at(at).await?
                }
            };
            let done = table.table().restore(version).await?;
            let schema = Arc::new(Schema::new(vec![
                Field::new("restored_version", DataType::Int64, false),
                Field::new("table_version", DataType::Int64, false),
                Field::new("files_removed", DataType::Int64, false),
                Field::new("files_restored", DataType::Int64, false),
            ]));
            RecordBatch::try_new(
                schema,
                vec![
                    Arc::new(Int64Array::from(vec![version as i64])),
                    Arc::new(Int64Array::from(vec![done.version as i64])),
                    Arc::new(Int64Array::from(vec![done.files_removed as i64])),
                    Arc::new(Int64Array::from(vec![done.files_restored as i64])),
                ],
            )
            .map_err(|e| ServerError::DataFusion(e.into()))?
        }
    };
    let df = ctx.read_batch(batch)?;
    let options = Arc::new(FormatOptions::from_client_metadata(client_metadata));
    Ok(Response::Query(
        encode_dataframe(df, &Format::UnifiedText, Some(options)).await?,
    ))
}

/// `DESCRIBE HISTORY`'s rows, newest first, with Delta's column names in snake case.
fn history_batch(
    entries: Vec<oxbow_storage::table::HistoryEntry>,
) -> Result<RecordBatch, ServerError> {
    use datafusion::arrow::array::{BooleanArray, TimestampMillisecondArray};
    use datafusion::arrow::datatypes::TimeUnit;

    let schema = Arc::new(Schema::new(vec![
        Field::new("version", DataType::Int64, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("operation", DataType::Utf8, true),
        Field::new("operation_parameters", DataType::Utf8, true),
        Field::new("read_version", DataType::Int64, true),
        Field::new("is_blind_append", DataType::Boolean, true),
        Field::new("operation_metrics", DataType::Utf8, true),
        Field::new("engine_info", DataType::Utf8, true),
    ]));
    let text = |f: fn(&oxbow_storage::table::HistoryEntry) -> Option<String>| {
        Arc::new(StringArray::from(entries.iter().map(f).collect::<Vec<_>>()))
    };
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(
                entries.iter().map(|e| e.version as i64).collect::<Vec<_>>(),
            )),
            Arc::new(
                TimestampMillisecondArray::from(
                    entries.iter().map(|e| e.timestamp_ms).collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
            text(|e| e.operation.clone()),
            text(|e| e.parameters.clone()),
            Arc::new(Int64Array::from(
                entries.iter().map(|e| e.read_version).collect::<Vec<_>>(),
            )),
            Arc::new(BooleanArray::from(
                entries.iter().map(|e| e.blind_append).collect::<Vec<_>>(),
            )),
            text(|e| e.metrics.clone()),
            text(|e| e.engine_info.clone()),
        ],
    )
    .map_err(|e| ServerError::DataFusion(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delta_spellings_parse() {
        assert!(is_lake_statement("OPTIMIZE t"));
        assert!(is_lake_statement(" vacuum t"));
        assert!(!is_lake_statement("SELECT 1"));
        assert!(matches!(
            parse("OPTIMIZE s.t;").unwrap(),
            LakeStatement::Optimize { .. }
        ));
        match parse("VACUUM t RETAIN 200 HOURS DRY RUN").unwrap() {
            LakeStatement::Vacuum {
                retain, dry_run, ..
            } => {
                assert_eq!(retain, Some(Duration::from_secs(200 * 3600)));
                assert!(dry_run);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("OPTIMIZE t ZORDER BY (a)"),
            Err(ServerError::Unsupported(_))
        ));
        assert!(matches!(
            parse("VACUUM LITE t"),
            Err(ServerError::Unsupported(_))
        ));
        assert!(parse("VACUUM t RETAIN soon").is_err());
        assert!(is_lake_statement("describe history t"));
        assert!(!is_lake_statement("DESCRIBE t"));
        assert!(is_lake_statement("RESTORE TABLE t TO VERSION AS OF 1"));
        assert_eq!(
            parse("DESCRIBE HISTORY s.t LIMIT 2").unwrap(),
            LakeStatement::History {
                table: ast::ObjectName::from(vec![ast::Ident::new("s"), ast::Ident::new("t")]),
                limit: Some(2)
            }
        );
        match parse("RESTORE TABLE t TO VERSION AS OF 3").unwrap() {
            LakeStatement::Restore { to, .. } => assert_eq!(to, RestoreTo::Version(3)),
            other => panic!("{other:?}"),
        }
        match parse("restore t to timestamp as of '2026-12-01 10:00:00'").unwrap() {
            LakeStatement::Restore { to, .. } => {
                assert_eq!(to, RestoreTo::Timestamp("2026-12-01 10:00:00".into()))
            }
            other => panic!("{other:?}"),
        }
        assert!(parse("RESTORE t TO VERSION AS OF 'x'").is_err());
        assert!(parse("VACUUM t EXTRA").is_err());
    }
}

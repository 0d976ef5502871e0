//! The Delta maintenance statements, spelled as Delta/Databricks SQL spells them:
//! `OPTIMIZE t` (compaction) and `VACUUM t [RETAIN n HOURS] [DRY RUN]`.
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
}

/// Whether `query` is one of these statements (its first word): then [`parse`] decides.
pub fn is_lake_statement(query: &str) -> bool {
    let first = query
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    first.eq_ignore_ascii_case("optimize") || first.eq_ignore_ascii_case("vacuum")
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
    };
    let df = ctx.read_batch(batch)?;
    let options = Arc::new(FormatOptions::from_client_metadata(client_metadata));
    Ok(Response::Query(
        encode_dataframe(df, &Format::UnifiedText, Some(options)).await?,
    ))
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
        assert!(parse("VACUUM t EXTRA").is_err());
    }
}

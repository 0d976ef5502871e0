//! `FLUSH TABLE[S] [a[, b ...]]`: hand a table's hot rows to the lake tier now, instead of at
//! its next size or age trigger.
//!
//! It is recognised only as a whole simple query (psql, `batch_execute`): sqlparser's
//! PostgreSQL dialect does not parse it, so it cannot appear in the extended protocol or among
//! other statements.

use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;
use crate::sql::names::object_name;

/// The list of table names after `FLUSH TABLE[S]` (empty: all tables), or `None` if the query
/// is something else.
pub fn parse(query: &str) -> Option<&str> {
    let query = query.trim().trim_end_matches(';').trim();
    let mut words = query.splitn(3, char::is_whitespace);
    if !words.next()?.eq_ignore_ascii_case("flush") {
        return None;
    }
    let what = words.next()?;
    if !(what.eq_ignore_ascii_case("table") || what.eq_ignore_ascii_case("tables")) {
        return None;
    }
    Some(words.next().unwrap_or("").trim())
}

/// The names in `list` (`a, s.b, "x.y"`), parsed by sqlparser so that quoted names may hold
/// any character, `.` and `,` included.
fn table_names(list: &str) -> Result<Vec<ast::ObjectName>, ServerError> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let syntax = |e| ServerError::DataFusion(DataFusionError::from(e));
    let mut parser = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(list)
        .map_err(syntax)?;
    let names = parser
        .parse_comma_separated(|p| p.parse_object_name(false))
        .map_err(syntax)?;
    if parser.peek_token().token != Token::EOF {
        return Err(syntax(ParserError::ParserError(format!(
            "expected , or the end of FLUSH TABLE, found {}",
            parser.peek_token().token
        ))));
    }
    Ok(names)
}

/// Flushes the tables named in `list` (all open tables when it is empty) to the lake tier.
pub async fn execute(
    db: &Database,
    ctx: &SessionContext,
    list: &str,
) -> Result<Response, ServerError> {
    let names = table_names(list)?;
    if names.is_empty() {
        for table in db.open_tables() {
            db.flush_table(&table.def().name).await?;
        }
    }
    for name in &names {
        db.flush_table(&object_name(name, ctx)?).await?;
    }
    Ok(Response::Execution(Tag::new("FLUSH")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_statements_are_recognised() {
        assert_eq!(parse("FLUSH TABLE t;"), Some("t"));
        assert_eq!(parse("flush tables a, s.b"), Some("a, s.b"));
        assert_eq!(parse("FLUSH TABLES"), Some(""));
        assert_eq!(parse("SELECT 1"), None);
        assert_eq!(parse("FLUSH PRIVILEGES"), None);
    }

    #[test]
    fn quoted_names_may_hold_dots_commas_and_quotes() {
        let names = table_names(r#"a, S.B, "..", "x.y", "a,b", "q""q", s."../../wal""#).unwrap();
        let parts: Vec<Vec<String>> = names
            .iter()
            .map(|n| {
                n.0.iter()
                    .map(|p| crate::sql::names::ident(p.as_ident().unwrap()))
                    .collect()
            })
            .collect();
        assert_eq!(
            parts,
            vec![
                vec!["a".to_string()],
                vec!["s".into(), "b".into()],
                vec!["..".into()],
                vec!["x.y".into()],
                vec!["a,b".into()],
                vec!["q\"q".into()],
                vec!["s".into(), "../../wal".into()],
            ]
        );
        assert!(table_names("a b").is_err());
        assert!(table_names("").unwrap().is_empty());
    }
}

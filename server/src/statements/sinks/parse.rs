//! The grammar of the sink statements, which sqlparser does not know; parsed with its
//! tokenizer and parser helpers, like the source statements.
//!
//! ```text
//! CREATE SINK [IF NOT EXISTS] name
//!   FROM table
//!   INTO FILES | DELTA | KAFKA ( key = 'value' [, ...] )
//!   [FORMAT JSON | CSV | PARQUET]
//!   [WITH ( key = 'value' [, ...] )]
//! DROP SINK [IF EXISTS] name [, ...]
//! ALTER SINK name PAUSE | RESUME
//! SHOW SINKS
//! ```

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::ast::ObjectName;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::Token;

use crate::error::ServerError;
use crate::statements::sources::parse::{
    expect_end, expect_word, parse_drop_names, parse_options, parse_pause_or_resume, parser_error,
    syntax, without_leading_comments,
};

#[derive(Debug, Clone, PartialEq)]
pub enum SinkStatement {
    Create(CreateSink),
    Drop {
        names: Vec<ObjectName>,
        if_exists: bool,
    },
    Alter {
        name: ObjectName,
        pause: bool,
    },
    Show,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateSink {
    pub name: ObjectName,
    pub if_not_exists: bool,
    pub from: ObjectName,
    /// `files`, `delta`, `kafka` (checked by the sink runtime).
    pub target: String,
    pub target_options: BTreeMap<String, String>,
    /// Lower case; `None` when not written.
    pub format: Option<String>,
    pub options: BTreeMap<String, String>,
}

/// Whether `query` is a sink statement (its first two words), without parsing it.
pub fn is_sink_statement(query: &str) -> bool {
    let mut words = without_leading_comments(query)
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty());
    let (Some(first), Some(second)) = (words.next(), words.next()) else {
        return false;
    };
    matches!(
        (
            first.to_ascii_lowercase().as_str(),
            second.to_ascii_lowercase().as_str()
        ),
        ("create", "sink") | ("drop", "sink") | ("alter", "sink") | ("show", "sinks")
    )
}

/// Parses a sink statement (`is_sink_statement` said it is one).
pub fn parse(query: &str) -> Result<SinkStatement, ServerError> {
    let dialect = PostgreSqlDialect {};
    let mut p = Parser::new(&dialect)
        .try_with_sql(query)
        .map_err(parser_error)?;
    let statement = if p.parse_keyword(Keyword::CREATE) {
        expect_word(&mut p, "SINK")?;
        SinkStatement::Create(parse_create(&mut p)?)
    } else if p.parse_keyword(Keyword::DROP) {
        expect_word(&mut p, "SINK")?;
        let (names, if_exists) = parse_drop_names(&mut p)?;
        SinkStatement::Drop { names, if_exists }
    } else if p.parse_keyword(Keyword::ALTER) {
        expect_word(&mut p, "SINK")?;
        let (name, pause) = parse_pause_or_resume(&mut p, "SINK")?;
        SinkStatement::Alter { name, pause }
    } else if p.parse_keyword(Keyword::SHOW) {
        expect_word(&mut p, "SINKS")?;
        SinkStatement::Show
    } else {
        return Err(syntax("expected a sink statement".into()));
    };
    expect_end(&mut p, "sink")?;
    Ok(statement)
}

fn parse_create(p: &mut Parser) -> Result<CreateSink, ServerError> {
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = p.parse_object_name(false).map_err(parser_error)?;
    p.expect_keyword(Keyword::FROM).map_err(parser_error)?;
    if p.peek_token().token == Token::LParen {
        return Err(ServerError::Unsupported(
            "CREATE SINK ... FROM (SELECT ...) is not built yet: a sink follows a table".into(),
        ));
    }
    let from = p.parse_object_name(false).map_err(parser_error)?;
    p.expect_keyword(Keyword::INTO).map_err(parser_error)?;
    let target = p
        .parse_identifier()
        .map_err(parser_error)?
        .value
        .to_ascii_lowercase();
    let target_options = parse_options(p)?;
    let format = if p.parse_keyword(Keyword::FORMAT) {
        let format = p
            .parse_identifier()
            .map_err(parser_error)?
            .value
            .to_ascii_lowercase();
        if p.peek_token().token == Token::LParen {
            return Err(ServerError::Unsupported(
                "format options of sinks (FORMAT ... (...))".into(),
            ));
        }
        Some(format)
    } else {
        None
    };
    let options = if p.parse_keyword(Keyword::WITH) {
        let options = parse_options(p)?;
        if options.is_empty() {
            return Err(syntax("WITH needs at least one option".into()));
        }
        options
    } else {
        BTreeMap::new()
    };
    Ok(CreateSink {
        name,
        if_not_exists,
        from,
        target,
        target_options,
        format,
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_forms_parse() {
        let SinkStatement::Create(c) = parse(
            "CREATE SINK IF NOT EXISTS out FROM public.events INTO FILES (path = '/tmp/out') FORMAT CSV WITH (start = 'earliest', max_batch_rows = 100);",
        )
        .unwrap() else {
            panic!()
        };
        assert!(c.if_not_exists);
        assert_eq!(c.from.to_string(), "public.events");
        assert_eq!(c.target, "files");
        assert_eq!(c.target_options["path"], "/tmp/out");
        assert_eq!(c.format.as_deref(), Some("csv"));
        assert_eq!(c.options["max_batch_rows"], "100");
        let SinkStatement::Create(c) =
            parse("create sink d from t into delta (location = '/x')").unwrap()
        else {
            panic!()
        };
        assert_eq!(c.format, None);
        assert!(matches!(
            parse("CREATE SINK s FROM (SELECT 1) INTO FILES (path = '/x')"),
            Err(ServerError::Unsupported(_))
        ));
        assert!(matches!(
            parse("ALTER SINK s RESUME").unwrap(),
            SinkStatement::Alter { pause: false, .. }
        ));
        assert!(parse("SHOW SINKS").is_ok());
        assert!(is_sink_statement("-- x\n drop SINK a"));
        assert!(!is_sink_statement("create table sink (a int)"));
    }
}

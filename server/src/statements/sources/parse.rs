//! The grammar of the source statements, which sqlparser does not know; parsed with its
//! tokenizer and parser helpers so that names, quoting and literals follow PostgreSQL's rules.
//!
//! ```text
//! CREATE SOURCE [IF NOT EXISTS] name
//!   FROM connector [( key = 'value' [, ...] )]
//!   FORMAT format [( key = 'value' [, ...] )]
//!   INTO table
//!   [WITH ( key = 'value' [, ...] )]
//!   [AS SELECT ... FROM input ...]
//! DROP SOURCE [IF EXISTS] name [, ...]
//! ALTER SOURCE name PAUSE | RESUME
//! SHOW SOURCES
//! ```

use std::collections::BTreeMap;

use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::ast::ObjectName;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::ServerError;
use crate::sql::rewrite::text::ByteOffsets;

#[derive(Debug, Clone, PartialEq)]
pub enum SourceStatement {
    Create(CreateSource),
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
pub struct CreateSource {
    pub name: ObjectName,
    pub if_not_exists: bool,
    pub connector: String,
    pub connector_options: BTreeMap<String, String>,
    pub format: String,
    pub format_options: BTreeMap<String, String>,
    pub target: ObjectName,
    pub options: BTreeMap<String, String>,
    pub transform: Option<String>,
}

/// The statements of a simple query, split at the semicolons outside literals, quoted names
/// and comments (empty ones left out). `None` if it does not tokenize (then it is passed on
/// whole, for the parser to report).
pub fn split_statements(query: &str) -> Option<Vec<&str>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, query)
        .tokenize_with_location()
        .ok()?;
    let mut offsets = ByteOffsets::new(query);
    let mut parts = Vec::new();
    let mut start = 0;
    for token in tokens {
        if token.token == Token::SemiColon {
            let end = offsets.at(token.span.start.line, token.span.start.column);
            parts.push(&query[start..end]);
            start = offsets.at(token.span.end.line, token.span.end.column);
        }
    }
    parts.push(&query[start..]);
    Some(parts.into_iter().filter(|p| !p.trim().is_empty()).collect())
}

/// Whether `query` is a source statement (its first two words), without parsing it. Sink
/// statements count too: they are kept as text and run the same way.
pub fn is_source_statement(query: &str) -> bool {
    crate::statements::sinks::is_sink_statement(query) || is_source_statement_only(query)
}

fn is_source_statement_only(query: &str) -> bool {
    let mut words = without_leading_comments(query)
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty());
    let (Some(first), Some(second)) = (words.next(), words.next()) else {
        return false;
    };
    let first = first.to_ascii_lowercase();
    let second = second.to_ascii_lowercase();
    matches!(
        (first.as_str(), second.as_str()),
        ("create", "source") | ("drop", "source") | ("alter", "source") | ("show", "sources")
    )
}

/// `query` after its leading whitespace and comments (`-- ...` lines, `/* ... */`).
pub(crate) fn without_leading_comments(mut query: &str) -> &str {
    loop {
        query = query.trim_start();
        if let Some(rest) = query.strip_prefix("--") {
            query = rest.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(rest) = query.strip_prefix("/*") {
            query = rest.split_once("*/").map_or("", |(_, after)| after);
        } else {
            return query;
        }
    }
}

pub(crate) fn syntax(message: String) -> ServerError {
    ServerError::DataFusion(DataFusionError::from(ParserError::ParserError(message)))
}

pub(crate) fn parser_error(e: ParserError) -> ServerError {
    ServerError::DataFusion(DataFusionError::from(e))
}

/// Parses a source statement (`is_source_statement` said it is one).
pub fn parse(query: &str) -> Result<SourceStatement, ServerError> {
    let dialect = PostgreSqlDialect {};
    let mut p = Parser::new(&dialect)
        .try_with_sql(query)
        .map_err(parser_error)?;
    let statement = if p.parse_keyword(Keyword::CREATE) {
        expect_word(&mut p, "SOURCE")?;
        SourceStatement::Create(parse_create(&mut p, query)?)
    } else if p.parse_keyword(Keyword::DROP) {
        expect_word(&mut p, "SOURCE")?;
        let (names, if_exists) = parse_drop_names(&mut p)?;
        SourceStatement::Drop { names, if_exists }
    } else if p.parse_keyword(Keyword::ALTER) {
        expect_word(&mut p, "SOURCE")?;
        let (name, pause) = parse_pause_or_resume(&mut p, "SOURCE")?;
        SourceStatement::Alter { name, pause }
    } else if p.parse_keyword(Keyword::SHOW) {
        expect_word(&mut p, "SOURCES")?;
        SourceStatement::Show
    } else {
        return Err(syntax("expected a source statement".into()));
    };
    expect_end(&mut p, "source")?;
    Ok(statement)
}

/// `[IF EXISTS] name [, ...]` after `DROP SOURCE | SINK`.
pub(crate) fn parse_drop_names(p: &mut Parser) -> Result<(Vec<ObjectName>, bool), ServerError> {
    let if_exists = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
    let names = p
        .parse_comma_separated(|p| p.parse_object_name(false))
        .map_err(parser_error)?;
    Ok((names, if_exists))
}

/// `name PAUSE | RESUME` after `ALTER SOURCE | SINK` (`kind`): the name and whether it pauses.
pub(crate) fn parse_pause_or_resume(
    p: &mut Parser,
    kind: &str,
) -> Result<(ObjectName, bool), ServerError> {
    let name = p.parse_object_name(false).map_err(parser_error)?;
    let pause = if next_word_is(p, "PAUSE") {
        true
    } else if next_word_is(p, "RESUME") {
        false
    } else {
        return Err(ServerError::Unsupported(format!(
            "ALTER {kind} ... {} (only PAUSE and RESUME are built)",
            p.peek_token().token
        )));
    };
    Ok((name, pause))
}

/// Trailing semicolons, then the end: anything else after the statement is a syntax error.
pub(crate) fn expect_end(p: &mut Parser, what: &str) -> Result<(), ServerError> {
    while p.consume_token(&Token::SemiColon) {}
    if p.peek_token().token != Token::EOF {
        return Err(syntax(format!(
            "unexpected {} after the {what} statement",
            p.peek_token().token
        )));
    }
    Ok(())
}

fn parse_create(p: &mut Parser, query: &str) -> Result<CreateSource, ServerError> {
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = p.parse_object_name(false).map_err(parser_error)?;
    p.expect_keyword(Keyword::FROM).map_err(parser_error)?;
    let connector = p
        .parse_identifier()
        .map_err(parser_error)?
        .value
        .to_ascii_lowercase();
    let connector_options = parse_options(p)?;
    p.expect_keyword(Keyword::FORMAT).map_err(parser_error)?;
    let format = p
        .parse_identifier()
        .map_err(parser_error)?
        .value
        .to_ascii_lowercase();
    let format_options = parse_options(p)?;
    p.expect_keyword(Keyword::INTO).map_err(parser_error)?;
    let target = p.parse_object_name(false).map_err(parser_error)?;
    let options = if p.parse_keyword(Keyword::WITH) {
        let options = parse_options(p)?;
        if options.is_empty() {
            return Err(syntax("WITH needs at least one option".into()));
        }
        options
    } else {
        BTreeMap::new()
    };
    let transform = if p.parse_keyword(Keyword::AS) {
        let start = p.peek_token().span.start;
        let text = query[ByteOffsets::new(query).at(start.line, start.column)..]
            .trim()
            .trim_end_matches(';')
            .trim()
            .to_string();
        // The rest is the query; skip its tokens.
        while p.peek_token().token != Token::EOF {
            p.next_token();
        }
        if !text.to_ascii_lowercase().starts_with("select")
            && !text.to_ascii_lowercase().starts_with("with")
        {
            return Err(syntax("AS must be followed by a SELECT over input".into()));
        }
        Some(text)
    } else {
        None
    };
    Ok(CreateSource {
        name,
        if_not_exists,
        connector,
        connector_options,
        format,
        format_options,
        target,
        options,
        transform,
    })
}

/// `( key = 'value', ... )`, or nothing. Keys are folded to lower case; values are string
/// or number literals, or bare words (`true`).
pub(crate) fn parse_options(p: &mut Parser) -> Result<BTreeMap<String, String>, ServerError> {
    let mut options = BTreeMap::new();
    if !p.consume_token(&Token::LParen) {
        return Ok(options);
    }
    if p.consume_token(&Token::RParen) {
        return Ok(options);
    }
    loop {
        let key = p
            .parse_identifier()
            .map_err(parser_error)?
            .value
            .to_ascii_lowercase();
        p.expect_token(&Token::Eq).map_err(parser_error)?;
        let value = match p.next_token().token {
            Token::SingleQuotedString(s) => s,
            Token::Number(n, _) => n,
            Token::Word(w) => w.value,
            other => {
                return Err(syntax(format!(
                    "expected a value for option {key}, found {other}"
                )));
            }
        };
        if options.insert(key.clone(), value).is_some() {
            return Err(syntax(format!("option {key} given twice")));
        }
        if p.consume_token(&Token::RParen) {
            return Ok(options);
        }
        p.expect_token(&Token::Comma).map_err(parser_error)?;
    }
}

pub(crate) fn next_word_is(p: &mut Parser, word: &str) -> bool {
    match &p.peek_token().token {
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word) => {
            p.next_token();
            true
        }
        _ => false,
    }
}

pub(crate) fn expect_word(p: &mut Parser, word: &str) -> Result<(), ServerError> {
    if next_word_is(p, word) {
        Ok(())
    } else {
        Err(syntax(format!(
            "expected {word}, found {}",
            p.peek_token().token
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_forms_parse() {
        let SourceStatement::Create(c) = parse(
            "CREATE SOURCE gen FROM DATAGEN (rows_per_second = '1000') FORMAT JSON INTO gen_events",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(c.connector, "datagen");
        assert_eq!(c.connector_options["rows_per_second"], "1000");
        assert_eq!(c.target.to_string(), "gen_events");
        let SourceStatement::Create(c) = parse(
            "CREATE SOURCE IF NOT EXISTS web FROM HTTP () FORMAT JSON INTO clicks WITH (schema_mode = 'strict', batch_rows = 10)\n  AS SELECT e.id, mask_email(e.email) AS email\n  FROM input e;",
        )
        .unwrap() else {
            panic!()
        };
        assert!(c.if_not_exists);
        assert_eq!(c.options["batch_rows"], "10");
        assert_eq!(
            c.transform.as_deref(),
            Some("SELECT e.id, mask_email(e.email) AS email\n  FROM input e")
        );
        assert!(matches!(
            parse("ALTER SOURCE web PAUSE").unwrap(),
            SourceStatement::Alter { pause: true, .. }
        ));
        assert!(
            matches!(parse("drop source if exists a, b").unwrap(), SourceStatement::Drop { if_exists: true, ref names } if names.len() == 2)
        );
        assert!(parse("SHOW SOURCES;").is_ok());
        assert!(parse("CREATE SOURCE x FROM HTTP FORMAT JSON").is_err());
        assert!(is_source_statement("  create\nsource x"));
        assert!(is_source_statement("-- c\n/* d */ DROP SOURCE x"));
        assert_eq!(
            split_statements("CREATE TABLE t (a text DEFAULT ';'); -- x;\nCREATE SOURCE s FROM HTTP () FORMAT JSON INTO t;").unwrap(),
            vec!["CREATE TABLE t (a text DEFAULT ';')", " -- x;\nCREATE SOURCE s FROM HTTP () FORMAT JSON INTO t"]
        );
        assert!(!is_source_statement("create table source (a int)"));
    }
}

//! `FLUSH TABLE[S] [a[, b ...]]`: hand a table's hot rows to the lake tier now, instead of at
//! its next size or age trigger.
//!
//! It is recognised only as a whole simple query (psql, `batch_execute`): sqlparser's
//! PostgreSQL dialect does not parse it, so it cannot appear in the extended protocol or among
//! other statements.

use datafusion::prelude::SessionContext;
use oxbow_catalog::ObjectName;
use oxbow_storage::Database;
use pgwire::api::results::{Response, Tag};

use crate::error::ServerError;
use crate::sql::names::current_schema;

/// The tables named by `FLUSH TABLE[S] [a[, b ...]]` (empty: all tables), or `None` if the
/// query is something else.
pub fn parse(query: &str) -> Option<Vec<String>> {
    let query = query.trim().trim_end_matches(';').trim();
    let mut words = query.splitn(3, char::is_whitespace);
    if !words.next()?.eq_ignore_ascii_case("flush") {
        return None;
    }
    let what = words.next()?;
    if !(what.eq_ignore_ascii_case("table") || what.eq_ignore_ascii_case("tables")) {
        return None;
    }
    Some(
        words
            .next()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// Flushes the named tables (all open tables when `names` is empty) to the lake tier.
pub async fn execute(
    db: &Database,
    ctx: &SessionContext,
    names: Vec<String>,
) -> Result<Response, ServerError> {
    if names.is_empty() {
        for table in db.open_tables() {
            db.flush_table(&table.def().name).await?;
        }
    }
    for name in names {
        let name = match name.split_once('.') {
            Some((schema, table)) => ObjectName::new(fold(schema), fold(table)),
            None => ObjectName::new(current_schema(ctx), fold(&name)),
        };
        db.flush_table(&name).await?;
    }
    Ok(Response::Execution(Tag::new("FLUSH")))
}

/// Folds an identifier as the parser would (quoted: kept, unquoted: lower-cased).
fn fold(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => ident.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_statements_are_recognised() {
        assert_eq!(parse("FLUSH TABLE t;"), Some(vec!["t".to_string()]));
        assert_eq!(
            parse("flush tables a, s.b"),
            Some(vec!["a".to_string(), "s.b".to_string()])
        );
        assert_eq!(parse("FLUSH TABLES"), Some(vec![]));
        assert_eq!(parse("SELECT 1"), None);
        assert_eq!(parse("FLUSH PRIVILEGES"), None);
    }
}

//! `MOVE [FORWARD] [n | ALL] [FROM | IN] cursor`: skips rows of a cursor or of a portal bound
//! in the extended protocol, answering `MOVE <rows skipped>`.
//!
//! asyncpg's `Cursor.forward(n)` sends it as a simple query naming its protocol portal.
//! sqlparser has no `MOVE`, so the statement is recognised here, as a whole simple query.
//! Cursors scan forward only (as datafusion-postgres' `FETCH` does): `BACKWARD`, `PRIOR`,
//! `ABSOLUTE` and the like are refused with PostgreSQL's 55000.

use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::Statement;
use futures::StreamExt;
use pgwire::api::results::{Response, Tag};
use pgwire::api::store::{MemPortalStore, PortalStore};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

/// A parsed `MOVE`: how many rows (`None`: all), and the cursor's name.
#[derive(Debug, PartialEq, Eq)]
pub struct Move {
    count: Option<usize>,
    cursor: String,
}

/// Why a `MOVE` cannot be run: it scans backward or is not well formed.
#[derive(Debug, PartialEq, Eq)]
pub enum MoveError {
    Backward,
    Syntax,
}

/// The `MOVE` in `query`, `Ok(None)` if the query is something else.
pub fn parse(query: &str) -> Result<Option<Move>, MoveError> {
    let query = query.trim().trim_end_matches(';').trim();
    let mut words: Vec<&str> = query.split_whitespace().collect();
    if words.is_empty() || !words[0].eq_ignore_ascii_case("move") {
        return Ok(None);
    }
    words.remove(0);
    let cursor = words.pop().ok_or(MoveError::Syntax)?;
    if let Some(last) = words.last()
        && (last.eq_ignore_ascii_case("from") || last.eq_ignore_ascii_case("in"))
    {
        words.pop();
    }
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    let words: Vec<&str> = lower.iter().map(String::as_str).collect();
    let count = match words.as_slice() {
        [] | ["next"] | ["forward"] => Some(1),
        ["all"] | ["forward", "all"] => None,
        [n] | ["forward", n] => match n.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n as usize),
            Ok(_) => return Err(MoveError::Backward),
            Err(_) if is_backward(n) => return Err(MoveError::Backward),
            Err(_) => return Err(MoveError::Syntax),
        },
        [first, ..] if is_backward(first) => return Err(MoveError::Backward),
        _ => return Err(MoveError::Syntax),
    };
    Ok(Some(Move {
        count,
        cursor: unquote(cursor),
    }))
}

fn is_backward(word: &str) -> bool {
    matches!(
        word,
        "backward" | "prior" | "first" | "last" | "absolute" | "relative"
    )
}

fn unquote(name: &str) -> String {
    match name.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_string(),
    }
}

fn error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message,
    )))
}

impl MoveError {
    pub fn into_wire(self) -> PgWireError {
        match self {
            MoveError::Backward => error("55000", "cursor can only scan forward".into()),
            MoveError::Syntax => error(
                crate::wire::sqlstate::code::SYNTAX_ERROR,
                "syntax error in MOVE: expected MOVE [FORWARD] [count | ALL] [FROM | IN] cursor"
                    .into(),
            ),
        }
    }
}

/// A connection's statements and portals, as datafusion-postgres keeps them (SQL text, and the
/// parsed statement with its plan).
pub type Portals = MemPortalStore<(String, Option<(Statement, LogicalPlan)>)>;

/// Runs `MOVE` against the connection's cursors (`crate::statements::cursors`) or, when it
/// names none, its protocol portals.
pub async fn execute(
    store: &Portals,
    client: &(impl pgwire::api::ClientInfo + ?Sized),
    command: Move,
) -> PgWireResult<Response> {
    for name in [command.cursor.clone(), command.cursor.to_lowercase()] {
        if let Some(skipped) = crate::statements::cursors::skip(client, &name, command.count).await
        {
            return Ok(Response::Execution(Tag::new("MOVE").with_rows(skipped?)));
        }
    }
    // Portal names are kept as the client gave them (the protocol's, and `DECLARE`'s, which
    // the library stores unfolded); an unquoted name may also be meant folded.
    let portal = [command.cursor.clone(), command.cursor.to_lowercase()]
        .iter()
        .find_map(|name| store.get_portal(name)?.value().cloned())
        .ok_or_else(|| {
            error(
                "34000",
                format!("cursor \"{}\" does not exist", command.cursor),
            )
        })?;
    let mut skipped = 0usize;
    // `fetch(0)` reads to the end; a count of 0 moves nowhere.
    if command.count != Some(0) {
        let mut fetched = portal.fetch(command.count.unwrap_or(0)).await?;
        let rows = fetched.response.data_rows();
        while let Some(row) = rows.next().await {
            row?;
            skipped += 1;
        }
    }
    Ok(Response::Execution(Tag::new("MOVE").with_rows(skipped)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(q: &str) -> Option<(Option<usize>, String)> {
        parse(q).unwrap().map(|m| (m.count, m.cursor))
    }

    #[test]
    fn forward_moves_are_parsed() {
        assert_eq!(
            parsed("MOVE FORWARD 10 __asyncpg_portal_1__"),
            Some((Some(10), "__asyncpg_portal_1__".into()))
        );
        assert_eq!(parsed("move C;"), Some((Some(1), "C".into())));
        assert_eq!(parsed("MOVE ALL IN \"C\""), Some((None, "C".into())));
        assert_eq!(parsed("MOVE FORWARD ALL FROM c"), Some((None, "c".into())));
        assert_eq!(parsed("MOVE 3 FROM c"), Some((Some(3), "c".into())));
        assert_eq!(parsed("SELECT 1"), None);
    }

    #[test]
    fn backward_moves_are_refused() {
        assert_eq!(parse("MOVE BACKWARD 2 c"), Err(MoveError::Backward));
        assert_eq!(parse("MOVE PRIOR FROM c"), Err(MoveError::Backward));
        assert_eq!(parse("MOVE -1 c"), Err(MoveError::Backward));
        assert_eq!(parse("MOVE"), Err(MoveError::Syntax));
        assert_eq!(parse("MOVE FORWARD x c"), Err(MoveError::Syntax));
    }
}

//! Textual rewrites of client SQL, applied before parsing, for idioms whose meaning the
//! catalog library gets wrong and that cannot be fixed after its parser has rewritten them.
//!
//! Each rewrite is a pattern over the text, but a match counts only where it neither starts
//! nor ends inside a string literal, a quoted identifier or a comment ([`Protected`], from
//! sqlparser's tokens): `INSERT ... VALUES ('x::json')` keeps its value, as every user string
//! must.
//!
//! `'array_in'::regproc`: pgJDBC, DBeaver and Metabase ask `typinput = 'pg_catalog.array_in'
//! ::regproc` to learn whether a type is an array. datafusion-pg-catalog turns the cast into
//! an OID lookup in `pg_proc`, but its `pg_type.typinput` holds function *names*, so the
//! comparison casts every name to an integer and fails ("Cannot cast string 'jsonb_in' to
//! value of Int32 type"). Comparing names with names gives the answer PostgreSQL gives.
//!
//! `::name` (psqlODBC's catalog queries): PostgreSQL's identifier type is text here.
//!
//! `::json`, `::jsonb`: SQLAlchemy binds every JSON value as `%(v)s::JSONB` (`$1::JSONB` with
//! asyncpg), and DataFusion refuses the type ("Unsupported SQL type JSONB"). Oxbow keeps
//! json as its text, so the cast becomes `::TEXT` and storing into a jsonb column works.
//!
//! Grafana's search-path subquery (`SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE
//! trim(s[i]) END FROM generate_series(...) as i, string_to_array(current_setting(
//! 'search_path'), ',') s`): the catalog library replaces it with `''` (a stub in its parser),
//! so Grafana's table and column pickers listed nothing or the wrong names. `x IN (<it>)`
//! becomes `x = current_schema()`: Oxbow resolves unqualified names in that one schema (and
//! DataFusion takes no IN subquery in ORDER BY, where Grafana also puts it).
//!
//! `'pg_class'::regclass` (Metabase, psql's `\\d+`): an unqualified catalog table name. The
//! library looks unqualified names up in the current schema only, where PostgreSQL searches
//! `pg_catalog` first, so the cast found nothing. Names starting with `pg_` are reserved for
//! the system in PostgreSQL, so such a name is qualified with `pg_catalog`.
//!
//! asyncpg's type introspection (`WITH RECURSIVE typeinfo_tree ...`, sent for every result or
//! parameter type it has no built-in codec for, such as `int4[]`): DataFusion cannot plan its
//! scalar subqueries inside a recursive CTE. It becomes [`ASYNCPG_TYPEINFO`], which answers
//! the same columns for what Oxbow's types can be: base types and arrays of them (no domains,
//! ranges or composite types). Its array columns must be of types asyncpg decodes without
//! asking (`text[]`), and its parameter must be described as `oid[]` (see
//! `crate::wire::extended`), or the lookup would need a lookup of its own and recurse.
//!
//! `CREATE USER name ...` (PostgreSQL's spelling of `CREATE ROLE name LOGIN ...`): sqlparser
//! reads `CREATE USER` as Snowflake's statement and refuses PostgreSQL's options, so a
//! statement that starts with it becomes `CREATE ROLE name LOGIN ...`.
//!
//! `ALTER VIEW v RENAME TO w` (dbt renames every view it builds): sqlparser reads `ALTER VIEW`
//! only as `ALTER VIEW v AS query`, so the statement becomes `ALTER TABLE v RENAME TO w`,
//! which PostgreSQL also accepts for a view and which renames either.
//!
//! `t VERSION AS OF 3`, `t TIMESTAMP AS OF '...'` (Delta's time travel): neither sqlparser's
//! PostgreSQL dialect nor DataFusion has table versions, so the clause rides in the name as a
//! last, quoted part (`t."@version 3"`) that `crate::sql::time_travel` resolves before planning.
//!
//! `GRANT role, ... TO member, ... [WITH ADMIN OPTION]` and `REVOKE [ADMIN OPTION FOR] role,
//! ... FROM member, ...` (role membership): sqlparser reads a privilege keyword where
//! PostgreSQL reads role names, so each name becomes `ROLE name` (sqlparser's `Action::Role`),
//! `WITH ADMIN OPTION` becomes `WITH GRANT OPTION`, and `ADMIN OPTION FOR` becomes
//! `GRANTED BY` [`ADMIN_OPTION_FOR`] (`crate::statements::roles` reads both back). A statement
//! with `ON` is a privilege grant and is left alone.
//!
//! `::float`: PostgreSQL's `float` is `double precision` (`float(p)` is `real` up to p = 24);
//! DataFusion casts to Float32, so SQLAlchemy's asyncpg dialect (`$1::FLOAT`) lost precision.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
use regex::{Captures, Regex};

static REGPROC_LITERAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)'(?:pg_catalog\.)?([a-z_][a-z0-9_]*)'\s*::\s*(?:pg_catalog\.)?regproc\b")
        .expect("valid regex")
});

static CREATE_USER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)^(\s*)CREATE\s+USER\s+("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)(\s+WITH\b)?"#)
        .expect("valid regex")
});

/// A role name as the membership patterns read it.
const ROLE_NAME: &str = r#"(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)"#;

static GRANT_ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?is)(^|;)(\s*)GRANT\s+({ROLE_NAME}(?:\s*,\s*{ROLE_NAME})*)\s+TO\s+([^;]*?)(\s+WITH\s+ADMIN\s+OPTION)?(\s*(?:;|$))"
    ))
    .expect("valid regex")
});

static REVOKE_ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?is)(^|;)(\s*)REVOKE\s+(ADMIN\s+OPTION\s+FOR\s+)?({ROLE_NAME}(?:\s*,\s*{ROLE_NAME})*)\s+FROM\s+([^;]*?)(\s*(?:;|$))"
    ))
    .expect("valid regex")
});

/// The `GRANTED BY` name `REVOKE ADMIN OPTION FOR` is rewritten to carry.
pub const ADMIN_OPTION_FOR: &str = "oxbow: admin option for";

static ROLE_LIST_ITEM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(ROLE_NAME).expect("valid regex"));

/// `a, "B"` as `ROLE a, ROLE "B"`.
fn as_role_actions(names: &str) -> String {
    ROLE_LIST_ITEM
        .find_iter(names)
        .map(|m| format!("ROLE {}", m.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Words that start a privilege, not a role: `GRANT SELECT TO x` stays a (refused) privilege grant.
fn is_privilege_word(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "all",
        "select",
        "insert",
        "update",
        "delete",
        "truncate",
        "references",
        "trigger",
        "usage",
        "create",
        "connect",
        "temporary",
        "temp",
        "execute",
        "role",
    ];
    WORDS.iter().any(|w| name.eq_ignore_ascii_case(w))
}

/// [`membership_rewrite`] until nothing changes: each pass consumes the `;` that ends a
/// statement it rewrites, so the statement after it waits for the next pass.
fn membership_rewrites(mut sql: Cow<'_, str>) -> Cow<'_, str> {
    for _ in 0..1000 {
        let next = membership_rewrite(Cow::Borrowed(&sql)).into_owned();
        if next == *sql {
            break;
        }
        sql = Cow::Owned(next);
    }
    sql
}

fn membership_rewrite(sql: Cow<'_, str>) -> Cow<'_, str> {
    let sql = replace_outside_literals(sql, &GRANT_ROLE, |c| {
        if ROLE_LIST_ITEM
            .find_iter(&c[3])
            .any(|m| is_privilege_word(m.as_str()))
        {
            return c[0].to_string();
        }
        let admin = if c.get(5).is_some() {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        format!(
            "{}{}GRANT {} TO {}{admin}{}",
            &c[1],
            &c[2],
            as_role_actions(&c[3]),
            &c[4],
            &c[6]
        )
    });
    replace_outside_literals(sql, &REVOKE_ROLE, |c| {
        if ROLE_LIST_ITEM
            .find_iter(&c[4])
            .any(|m| is_privilege_word(m.as_str()))
        {
            return c[0].to_string();
        }
        let admin = if c.get(3).is_some() {
            format!(" GRANTED BY \"{ADMIN_OPTION_FOR}\"")
        } else {
            String::new()
        };
        // sqlparser reads `GRANTED BY` before `CASCADE | RESTRICT`.
        let rest = &c[5];
        let (grantees, behaviour) = match rest.to_ascii_uppercase().rfind(" CASCADE") {
            Some(i) if rest[i..].trim().eq_ignore_ascii_case("cascade") => rest.split_at(i),
            _ => match rest.to_ascii_uppercase().rfind(" RESTRICT") {
                Some(i) if rest[i..].trim().eq_ignore_ascii_case("restrict") => rest.split_at(i),
                _ => (rest, ""),
            },
        };
        format!(
            "{}{}REVOKE {} FROM {grantees}{admin}{behaviour}{}",
            &c[1],
            &c[2],
            as_role_actions(&c[4]),
            &c[6]
        )
    })
}

static ALTER_VIEW_RENAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?is)^(\s*)ALTER\s+VIEW(\s+.*?\s+RENAME\s+TO\s)").expect("valid regex")
});

static TIME_TRAVEL: LazyLock<Regex> = LazyLock::new(|| {
    let part = r#"(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)"#;
    Regex::new(&format!(
        r#"(?i)({part}(?:\s*\.\s*{part})*)\s+(VERSION|TIMESTAMP)\s+AS\s+OF\s+(\d+|'(?:[^']|'')*')"#
    ))
    .expect("valid regex")
});

static CATALOG_REGCLASS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)'(pg_[a-z0-9_]+)'(\s*::\s*(?:pg_catalog\.)?regclass\b)").expect("valid regex")
});

/// What asyncpg's type introspection query is answered with: each requested type (depth 0)
/// and the element type of each requested array (depth 1), elements first.
pub const ASYNCPG_TYPEINFO: &str = "\
SELECT DISTINCT * FROM (
  SELECT t.oid, ns.nspname AS ns, t.typname AS name, t.typtype AS kind,
    CAST(NULL AS INT) AS basetype, t.typelem AS elemtype, elem_t.typdelim AS elemdelim,
    CAST(NULL AS INT) AS range_subtype, CAST(NULL AS TEXT[]) AS attrtypoids,
    CAST(NULL AS TEXT[]) AS attrnames, 0 AS depth, CAST(NULL AS TEXT) AS basetype_name,
    elem_t.typname AS elemtype_name, CAST(NULL AS TEXT) AS range_subtype_name
  FROM pg_catalog.pg_type t
    JOIN pg_catalog.pg_namespace ns ON ns.oid = t.typnamespace
    LEFT JOIN pg_catalog.pg_type elem_t
      ON t.typlen = -1 AND t.typelem != 0 AND t.typelem = elem_t.oid
  WHERE t.oid = any($1::oid[])
  UNION ALL
  SELECT e.oid, ns.nspname, e.typname, e.typtype, CAST(NULL AS INT), e.typelem, NULL,
    CAST(NULL AS INT), CAST(NULL AS TEXT[]), CAST(NULL AS TEXT[]), 1, CAST(NULL AS TEXT),
    CAST(NULL AS TEXT), CAST(NULL AS TEXT)
  FROM pg_catalog.pg_type a
    JOIN pg_catalog.pg_type e ON a.typlen = -1 AND a.typelem != 0 AND e.oid = a.typelem
    JOIN pg_catalog.pg_namespace ns ON ns.oid = e.typnamespace
  WHERE a.oid = any($1::oid[])
) typeinfo ORDER BY depth DESC";

/// Whether `sql` (as written, or as the parser renders it back) is [`ASYNCPG_TYPEINFO`].
pub fn is_asyncpg_typeinfo(sql: &str) -> bool {
    sql.contains("typeinfo ORDER BY depth DESC") && sql.contains("$1")
}

static JSON_CAST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)::\s*(?:jsonb?|name)\b").expect("valid regex"));

static FLOAT_CAST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)::\s*float\b(?:\s*\(\s*(\d+)\s*\))?").expect("valid regex"));

static GRAFANA_SEARCH_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?is)\bIN\s*\(\s*SELECT\s+CASE\s+WHEN\s+trim\(s\[i\]\)\s*=\s*'"\$user"'\s+THEN\s+user\s+"#,
        r#"ELSE\s+trim\(s\[i\]\)\s+END\s+FROM\s+generate_series\(.*?\)\s+as\s+i\s*,\s*"#,
        r#"string_to_array\(\s*current_setting\(\s*'search_path'\s*\)\s*,\s*','\s*\)\s+s\s*\)"#,
    ))
    .expect("valid regex")
});

/// `sql` with the rewrites above applied (borrowed when none applies).
pub fn rewrite(sql: &str) -> Cow<'_, str> {
    let start = sql.trim_start();
    if start
        .get(..28)
        .is_some_and(|s| s.eq_ignore_ascii_case("WITH RECURSIVE typeinfo_tree"))
        && sql.contains("any($1::oid[])")
    {
        return Cow::Borrowed(ASYNCPG_TYPEINFO);
    }
    if let Some(c) = CREATE_USER.captures(sql) {
        let whole = c.get(0).expect("the match").end();
        let with = c.get(3).map_or("", |m| m.as_str());
        return Cow::Owned(format!(
            "{}CREATE ROLE {}{with} LOGIN{}",
            &c[1],
            &c[2],
            &sql[whole..]
        ));
    }
    if let Some(c) = ALTER_VIEW_RENAME.captures(sql) {
        let whole = c.get(0).expect("the match").end();
        return Cow::Owned(format!("{}ALTER TABLE{}{}", &c[1], &c[2], &sql[whole..]));
    }
    let mut sql = Cow::Borrowed(sql);
    if starts_a_statement_with(&sql, "GRANT") || starts_a_statement_with(&sql, "REVOKE") {
        sql = membership_rewrites(sql);
    }
    if has_word_of(&sql) {
        sql = replace_outside_literals(sql, &TIME_TRAVEL, |c| {
            let spec = &c[3];
            let mark = if c[2].eq_ignore_ascii_case("version") {
                format!("{}{spec}", crate::sql::time_travel::VERSION_MARK)
            } else {
                let text = spec[1..spec.len() - 1].replace("''", "'");
                format!("{}{text}", crate::sql::time_travel::TIMESTAMP_MARK)
            };
            format!("{}.\"{}\"", &c[1], mark.replace('"', "\"\""))
        });
    }
    if sql.contains("search_path") && sql.contains("generate_series") {
        sql = replace_outside_literals(sql, &GRAFANA_SEARCH_PATH, |_| {
            "= current_schema()".to_string()
        });
    }
    if !sql.contains("::") {
        return sql;
    }
    sql = replace_outside_literals(sql, &REGPROC_LITERAL, |c| format!("'{}'", &c[1]));
    sql = replace_outside_literals(sql, &CATALOG_REGCLASS, |c| {
        format!("'pg_catalog.{}'{}", &c[1], &c[2])
    });
    sql = replace_outside_literals(sql, &JSON_CAST, |_| "::TEXT".to_string());
    replace_outside_literals(sql, &FLOAT_CAST, |c| {
        match c.get(1).and_then(|p| p.as_str().parse::<u32>().ok()) {
            Some(p) if p <= 24 => "::REAL".to_string(),
            _ => "::DOUBLE PRECISION".to_string(),
        }
    })
}

/// Whether `text` may have a statement that starts with `word` (a cheap test: the word is
/// somewhere in it, in any case).
fn starts_a_statement_with(text: &str, word: &str) -> bool {
    text.as_bytes()
        .windows(word.len())
        .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
}

/// Whether `text` has the word `OF` anywhere (a cheap test before the time-travel pattern,
/// which most statements, long `INSERT`s among them, cannot match).
fn has_word_of(text: &str) -> bool {
    text.as_bytes().windows(4).any(|w| {
        w[0].is_ascii_whitespace()
            && w[1].eq_ignore_ascii_case(&b'o')
            && w[2].eq_ignore_ascii_case(&b'f')
            && w[3].is_ascii_whitespace()
    })
}

/// `sql` with every match of `pattern` that [`Protected::allows`] replaced by `replacement`.
fn replace_outside_literals<'a>(
    sql: Cow<'a, str>,
    pattern: &Regex,
    replacement: impl Fn(&Captures<'_>) -> String,
) -> Cow<'a, str> {
    if !pattern.is_match(&sql) {
        return sql;
    }
    // Text that does not tokenize (an unterminated literal) is left for the parser to refuse.
    let Some(protected) = Protected::of(&sql) else {
        return sql;
    };
    let mut out = String::with_capacity(sql.len());
    let mut last = 0;
    let mut replaced = false;
    for captures in pattern.captures_iter(&sql) {
        let whole = captures.get(0).expect("group 0 is the whole match");
        if !protected.allows(whole.range()) {
            continue;
        }
        out.push_str(&sql[last..whole.start()]);
        out.push_str(&replacement(&captures));
        last = whole.end();
        replaced = true;
    }
    if !replaced {
        return sql;
    }
    out.push_str(&sql[last..]);
    Cow::Owned(out)
}

/// The byte ranges of a statement's text that no rewrite may change: string literals of every
/// kind, quoted identifiers and comments.
struct Protected(Vec<Range<usize>>);

impl Protected {
    fn of(sql: &str) -> Option<Self> {
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize_with_location()
            .ok()?;
        let mut offsets = ByteOffsets::new(sql);
        let mut ranges = Vec::new();
        for token in tokens {
            if !is_protected(&token.token) {
                continue;
            }
            let start = offsets.at(token.span.start.line, token.span.start.column);
            let end = offsets.at(token.span.end.line, token.span.end.column);
            ranges.push(start..end);
        }
        Some(Self(ranges))
    }

    /// Whether a match over `range` neither starts nor ends inside a protected range (it may
    /// contain whole ones, as `'array_in'::regproc` contains its literal).
    fn allows(&self, range: Range<usize>) -> bool {
        !self.0.iter().any(|p| {
            (p.start < range.start && range.start < p.end)
                || (p.start < range.end && range.end < p.end)
        })
    }
}

fn is_protected(token: &Token) -> bool {
    match token {
        Token::Word(word) => word.quote_style.is_some(),
        Token::Whitespace(w) => matches!(
            w,
            Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_)
        ),
        Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::TripleSingleQuotedString(_)
        | Token::TripleDoubleQuotedString(_)
        | Token::DollarQuotedString(_)
        | Token::SingleQuotedByteStringLiteral(_)
        | Token::DoubleQuotedByteStringLiteral(_)
        | Token::TripleSingleQuotedByteStringLiteral(_)
        | Token::TripleDoubleQuotedByteStringLiteral(_)
        | Token::SingleQuotedRawStringLiteral(_)
        | Token::DoubleQuotedRawStringLiteral(_)
        | Token::TripleSingleQuotedRawStringLiteral(_)
        | Token::TripleDoubleQuotedRawStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::QuoteDelimitedStringLiteral(_)
        | Token::NationalQuoteDelimitedStringLiteral(_)
        | Token::EscapedStringLiteral(_)
        | Token::UnicodeStringLiteral(_)
        | Token::HexStringLiteral(_) => true,
        _ => false,
    }
}

/// Turns the tokenizer's (line, column) locations, in increasing order, into byte offsets in
/// one forward pass (the tokenizer counts characters from 1, and a newline starts a line).
pub(crate) struct ByteOffsets<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    len: usize,
    line: u64,
    column: u64,
}

impl<'a> ByteOffsets<'a> {
    pub(crate) fn new(sql: &'a str) -> Self {
        Self {
            chars: sql.char_indices().peekable(),
            len: sql.len(),
            line: 1,
            column: 1,
        }
    }

    pub(crate) fn at(&mut self, line: u64, column: u64) -> usize {
        while (self.line, self.column) < (line, column) {
            match self.chars.next() {
                Some((_, '\n')) => {
                    self.line += 1;
                    self.column = 1;
                }
                Some(_) => self.column += 1,
                None => return self.len,
            }
        }
        self.chars.peek().map_or(self.len, |(i, _)| *i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_travel_rides_in_the_name() {
        assert_eq!(
            rewrite("SELECT * FROM s.t VERSION AS OF 3 WHERE x = 1"),
            r#"SELECT * FROM s.t."@version 3" WHERE x = 1"#
        );
        assert_eq!(
            rewrite("select count(*) from \"T\" timestamp as of '2026-12-01 10:00:00' t2"),
            r#"select count(*) from "T"."@timestamp 2026-12-01 10:00:00" t2"#
        );
        // Inside a literal it is text.
        let literal = "SELECT 'x VERSION AS OF 3'";
        assert_eq!(rewrite(literal), literal);
    }

    #[test]
    fn alter_view_rename_becomes_alter_table_rename() {
        assert_eq!(
            rewrite(r#"alter view "db"."s"."v__dbt_tmp" rename to "v""#),
            r#"ALTER TABLE "db"."s"."v__dbt_tmp" rename to "v""#
        );
        assert_eq!(
            rewrite("ALTER VIEW IF EXISTS v RENAME TO w"),
            "ALTER TABLE IF EXISTS v RENAME TO w"
        );
        // Not a rename: left for the parser (ALTER VIEW ... AS).
        let other = "ALTER VIEW v AS SELECT 1";
        assert_eq!(rewrite(other), other);
    }

    #[test]
    fn role_membership_statements_become_role_actions() {
        assert_eq!(
            rewrite("GRANT analysts, \"Ops\" TO alice, bob WITH ADMIN OPTION"),
            "GRANT ROLE analysts, ROLE \"Ops\" TO alice, bob WITH GRANT OPTION"
        );
        assert_eq!(
            rewrite("grant a to b; SELECT 1; GRANT c TO d;"),
            "GRANT ROLE a TO b; SELECT 1; GRANT ROLE c TO d;"
        );
        assert_eq!(
            rewrite("REVOKE ADMIN OPTION FOR a FROM b CASCADE"),
            format!("REVOKE ROLE a FROM b GRANTED BY \"{ADMIN_OPTION_FOR}\" CASCADE")
        );
        assert_eq!(
            rewrite("revoke a, b from c"),
            "REVOKE ROLE a, ROLE b FROM c"
        );
        for unchanged in [
            "GRANT SELECT ON t TO alice",
            "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA s TO alice WITH GRANT OPTION",
            "REVOKE ALL ON t FROM alice",
            "SELECT 'GRANT a TO b'",
            "GRANT USAGE ON SCHEMA s TO alice",
        ] {
            assert_eq!(rewrite(unchanged), unchanged);
        }
    }

    #[test]
    fn create_user_becomes_create_role_with_login() {
        assert_eq!(
            rewrite("CREATE USER bob WITH PASSWORD 'x'"),
            "CREATE ROLE bob WITH LOGIN PASSWORD 'x'"
        );
        assert_eq!(
            rewrite("create user \"Bob\" password 'x'"),
            "CREATE ROLE \"Bob\" LOGIN password 'x'"
        );
        assert_eq!(rewrite("SELECT 'CREATE USER x'"), "SELECT 'CREATE USER x'");
    }

    #[test]
    fn regproc_literals_become_function_names() {
        assert_eq!(
            rewrite("SELECT typinput='pg_catalog.array_in'::regproc as is_array FROM pg_type"),
            "SELECT typinput='array_in' as is_array FROM pg_type"
        );
        assert_eq!(rewrite("SELECT 'array_in' :: REGPROC"), "SELECT 'array_in'");
        assert_eq!(rewrite("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn catalog_tables_in_regclass_casts_are_found_in_pg_catalog() {
        assert_eq!(
            rewrite(
                "SELECT 'pg_class'::regclass, 'orders'::regclass, 'pg_catalog.pg_type'::regclass"
            ),
            "SELECT 'pg_catalog.pg_class'::regclass, 'orders'::regclass, 'pg_catalog.pg_type'::regclass"
        );
    }

    #[test]
    fn asyncpgs_type_introspection_is_answered_by_a_plannable_query() {
        let asyncpg = "WITH RECURSIVE typeinfo_tree(oid, ns) AS (SELECT ti.oid FROM x AS ti \
                       WHERE ti.oid = any($1::oid[]) UNION ALL SELECT 1) SELECT DISTINCT * FROM typeinfo_tree";
        assert_eq!(rewrite(asyncpg), ASYNCPG_TYPEINFO);
        assert!(is_asyncpg_typeinfo(&rewrite(asyncpg)));
        assert!(!is_asyncpg_typeinfo("SELECT typeinfo FROM t"));
    }

    #[test]
    fn grafanas_search_path_is_the_current_schema() {
        let sql = r#"SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema IN (
          SELECT
            CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
          FROM
            generate_series(
              array_lower(string_to_array(current_setting('search_path'),','),1),
              array_upper(string_to_array(current_setting('search_path'),','),1)
            ) as i,
            string_to_array(current_setting('search_path'),',') s
          )"#;
        let rewritten = rewrite(sql);
        assert!(
            rewritten.ends_with("WHERE table_schema = current_schema()"),
            "{rewritten}"
        );
    }

    #[test]
    fn string_literals_quoted_names_and_comments_are_never_rewritten() {
        assert_eq!(
            rewrite("INSERT INTO n VALUES ('x::json', 'y::float', 'pg_class'::text)"),
            "INSERT INTO n VALUES ('x::json', 'y::float', 'pg_class'::text)"
        );
        assert_eq!(
            rewrite("SELECT 'it''s ::jsonb' || $$::name$$, E'\\n::json', \"a::json\" -- ::jsonb"),
            "SELECT 'it''s ::jsonb' || $$::name$$, E'\\n::json', \"a::json\" -- ::jsonb"
        );
        assert_eq!(
            rewrite("SELECT 'é'::json, 'x::json'::jsonb\n, '''pg_class''::regclass'"),
            "SELECT 'é'::TEXT, 'x::json'::TEXT\n, '''pg_class''::regclass'"
        );
        assert_eq!(
            rewrite("SELECT 'WITH RECURSIVE typeinfo_tree any($1::oid[])'"),
            "SELECT 'WITH RECURSIVE typeinfo_tree any($1::oid[])'"
        );
    }

    #[test]
    fn json_and_float_casts_follow_postgresql() {
        assert_eq!(
            rewrite("INSERT INTO t VALUES ($1::JSONB, '[1]'::json)"),
            "INSERT INTO t VALUES ($1::TEXT, '[1]'::TEXT)"
        );
        assert_eq!(
            rewrite("SELECT 'oxbow'::name AS c"),
            "SELECT 'oxbow'::TEXT AS c"
        );
        assert_eq!(
            rewrite("SELECT $1::FLOAT, 1::float(53), 2::float(10), 3::float8"),
            "SELECT $1::DOUBLE PRECISION, 1::DOUBLE PRECISION, 2::REAL, 3::float8"
        );
    }
}

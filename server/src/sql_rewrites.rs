//! Textual rewrites of client SQL, applied before parsing, for idioms whose meaning the
//! catalog library gets wrong and that cannot be fixed after its parser has rewritten them.
//!
//! `'array_in'::regproc`: pgJDBC, DBeaver and Metabase ask `typinput = 'pg_catalog.array_in'
//! ::regproc` to learn whether a type is an array. datafusion-pg-catalog turns the cast into
//! an OID lookup in `pg_proc`, but its `pg_type.typinput` holds function *names*, so the
//! comparison casts every name to an integer and fails ("Cannot cast string 'jsonb_in' to
//! value of Int32 type"). Comparing names with names gives the answer PostgreSQL gives.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

static REGPROC_LITERAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)'(?:pg_catalog\.)?([a-z_][a-z0-9_]*)'\s*::\s*(?:pg_catalog\.)?regproc\b")
        .expect("valid regex")
});

/// `sql` with the rewrites above applied (borrowed when none applies).
pub fn rewrite(sql: &str) -> Cow<'_, str> {
    if !sql.contains("regproc") && !sql.contains("REGPROC") {
        return Cow::Borrowed(sql);
    }
    REGPROC_LITERAL.replace_all(sql, "'$1'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regproc_literals_become_function_names() {
        assert_eq!(
            rewrite("SELECT typinput='pg_catalog.array_in'::regproc as is_array FROM pg_type"),
            "SELECT typinput='array_in' as is_array FROM pg_type"
        );
        assert_eq!(rewrite("SELECT 'array_in' :: REGPROC"), "SELECT 'array_in'");
        assert_eq!(rewrite("SELECT 1"), "SELECT 1");
    }
}

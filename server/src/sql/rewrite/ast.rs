//! Rewrites of a query's syntax tree before planning, for PostgreSQL idioms that catalog
//! queries of drivers and BI tools use and DataFusion has no direct form of:
//!
//! - `generate_subscripts(a, d)` (SQLAlchemy's key and index reflection zips it with
//!   `unnest(a)`): `unnest(range(1, array_length(a, d) + 1))`, which DataFusion zips the same way.
//! - `information_schema._pg_expandarray(a)` (pgJDBC `getPrimaryKeys`, `getIndexInfo`): a set
//!   returning function of `(x, n)` records: `unnest(_pg_expandarray(a))` over a function that
//!   builds the list of records.
//! - `LIKE p ESCAPE '/'` (SQLAlchemy's `get_schema_names`): DataFusion escapes with `\` only,
//!   so the literal parts of `p` are rewritten to backslash escapes.
//! - `session_user`, `current_user`, `user`: the user the connection logged in as.
//! - `generate_series(a, b)` in an expression (psqlODBC's `SQLForeignKeys`): a set of rows in
//!   PostgreSQL, a list in DataFusion, so it is unnested. In `FROM` it is a table function in
//!   both and is left alone.
//! - `(record).field` on an expression: DataFusion takes a field name only as a string there
//!   (`(r).n` is planned as `(r)['n']`).
//! - `col_description(...)`: NULL without evaluating its arguments (Oxbow keeps no comments,
//!   and Metabase computes the relation by a `format('%I.%I', ...)::regclass` cast).
//! - `indkey[n]` (and `indoption`, `indclass`, `indcollation`): PostgreSQL's vectors count
//!   from 0, Oxbow's arrays from 1, so the subscript is moved by one; selected as a whole
//!   column of the outermost query, a vector prints space-separated (`1 2`) as PostgreSQL's do.
//! - `::int2`: `smallint` (DataFusion does not know the name).
//! - An integer constant in a select list (`SELECT 1`, `SELECT 2 + 3 AS n`) is `integer` when
//!   it fits, as in PostgreSQL; DataFusion types every integer literal `bigint`, which
//!   node-postgres returns as a string and JDBC as a `Long`. Only whole select-list items made
//!   of integer literals are cast; literals elsewhere (arguments, `LIMIT`, `ORDER BY 1`) keep
//!   DataFusion's typing.
//! - A scalar subquery over `pg_attrdef`, `pg_sequence` or `pg_policy` alone: NULL. Oxbow has
//!   no column defaults, sequences or row security policies, so these tables are empty; SQLAlchemy's `get_columns` reads
//!   them through correlated subqueries without an aggregate, which DataFusion cannot plan.
//! - `x AT TIME ZONE z`: `oxbow_at_time_zone(x, z)`, with PostgreSQL's types (a `timestamp`
//!   read in `z` is a `timestamptz`, a `timestamptz` seen in `z` a `timestamp`; DataFusion
//!   keeps both zoned), `crate::pg_compat::functions::at_time_zone`.
//! - `ARRAY(SELECT ...)` (psql's `\du`, `\d+`): an `array_agg` subquery,
//!   [`super::array_subquery`].
//! - `pg_proc.oid = t.typreceive` (Npgsql's type loading, Power BI): the catalog library keeps
//!   `pg_type`'s function columns as names, so the join compares names (`pg_proc.proname`).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, ObjectNamePart, SelectItem, SetExpr, Statement, Subscript, Value,
    ValueWithSpan, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Applies the rewrites above to `statement` in place; `user` is the session's login user.
/// (`super::planning_retries` holds the rewrites applied only when planning fails without
/// them.)
pub fn rewrite(statement: &mut Statement, user: &str) {
    if let Statement::Query(query) = statement {
        integer_constants_in_select_lists(&mut query.body);
    }
    let _ = visit_expressions_mut(statement, |expr| {
        if let Some(replacement) = replacement(expr, user) {
            *expr = replacement;
        }
        ControlFlow::<()>::Continue(())
    });
}

pub(super) fn parse_expr(sql: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .ok()?
        .parse_expr()
        .ok()
}

pub(super) fn function_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Function(f) => match f.name.0.last()? {
            ObjectNamePart::Identifier(ident) => Some(ident.value.to_ascii_lowercase()),
            _ => None,
        },
        _ => None,
    }
}

/// `pg_index`'s int2vector and oidvector columns: PostgreSQL subscripts them from 0, Oxbow's
/// arrays from 1 (psqlODBC `i.indkey[ia.attnum - 1]`, pgJDBC `I_INDOPTION[pos - 1]`).
fn is_zero_based_vector(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "indkey" | "indoption" | "indclass" | "indcollation"
    )
}

fn replacement(expr: &Expr, user: &str) -> Option<Expr> {
    if let Some(literal) = super::intervals::replacement(expr)
        .or_else(|| super::datetime_literals::replacement(expr))
        .or_else(|| super::array_subquery::replacement(expr))
    {
        return Some(literal);
    }
    if let Expr::AtTimeZone {
        timestamp,
        time_zone,
    } = expr
    {
        let mut call = parse_expr(&format!(
            "{}(NULL, NULL)",
            crate::pg_compat::functions::at_time_zone::NAME
        ))?;
        if let Expr::Function(f) = &mut call
            && let FunctionArguments::List(list) = &mut f.args
        {
            list.args = [timestamp, time_zone]
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e.as_ref().clone())))
                .collect();
        }
        return Some(call);
    }
    if let Expr::CompoundFieldAccess { root, access_chain } = expr
        && let Some((AccessExpr::Subscript(Subscript::Index { index }), before)) =
            access_chain.split_last()
        && match before.last() {
            Some(AccessExpr::Dot(Expr::Identifier(i))) => is_zero_based_vector(&i.value),
            Some(_) => false,
            None => match root.as_ref() {
                Expr::Identifier(i) => is_zero_based_vector(&i.value),
                Expr::CompoundIdentifier(parts) => {
                    parts.last().is_some_and(|i| is_zero_based_vector(&i.value))
                }
                _ => false,
            },
        }
    {
        let mut access_chain = before.to_vec();
        access_chain.push(AccessExpr::Subscript(Subscript::Index {
            index: parse_expr(&format!("({index}) + 1"))?,
        }));
        return Some(Expr::CompoundFieldAccess {
            root: root.clone(),
            access_chain,
        });
    }
    if let Expr::Subquery(query) = expr
        && reads_only_empty_catalog_table(query)
    {
        // Bound parameters inside stay in the statement (in a branch never taken), so the
        // client's parameter count still matches; catalog queries bind names and keys there.
        let mut placeholders = Vec::new();
        let mut inner = query.as_ref().clone();
        let _ = visit_expressions_mut(&mut inner, |e| {
            if let Expr::Value(ValueWithSpan {
                value: Value::Placeholder(p),
                ..
            }) = e
            {
                placeholders.push(format!("CAST({p} AS TEXT)"));
            }
            ControlFlow::<()>::Continue(())
        });
        return if placeholders.is_empty() {
            parse_expr("CAST(NULL AS TEXT)")
        } else {
            parse_expr(&format!(
                "CASE WHEN false THEN concat({}) END",
                placeholders.join(", ")
            ))
        };
    }
    if let Expr::CompoundFieldAccess { root, access_chain } = expr
        && !matches!(
            root.as_ref(),
            Expr::Identifier(_) | Expr::CompoundIdentifier(_)
        )
        && access_chain
            .iter()
            .any(|a| matches!(a, AccessExpr::Dot(Expr::Identifier(_))))
    {
        let access_chain = access_chain
            .iter()
            .map(|access| match access {
                AccessExpr::Dot(Expr::Identifier(field)) => {
                    AccessExpr::Subscript(Subscript::Index {
                        index: Expr::Value(
                            Value::SingleQuotedString(field.value.to_lowercase()).into(),
                        ),
                    })
                }
                other => other.clone(),
            })
            .collect();
        return Some(Expr::CompoundFieldAccess {
            root: root.clone(),
            access_chain,
        });
    }
    if let Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    } = expr
    {
        let by_name = |oid: &Expr, function: &Expr| -> Option<Expr> {
            let (Expr::CompoundIdentifier(oid), Expr::CompoundIdentifier(f)) = (oid, function)
            else {
                return None;
            };
            let is_function_column = f.last().is_some_and(|i| {
                matches!(
                    i.value.to_lowercase().as_str(),
                    "typreceive" | "typsend" | "typinput" | "typoutput"
                )
            });
            if !is_function_column
                || !oid
                    .last()
                    .is_some_and(|i| i.value.eq_ignore_ascii_case("oid"))
            {
                return None;
            }
            let mut proname = oid.clone();
            *proname.last_mut()? = Ident::new("proname");
            Some(Expr::BinaryOp {
                left: Box::new(Expr::CompoundIdentifier(proname)),
                op: BinaryOperator::Eq,
                right: Box::new(function.clone()),
            })
        };
        if let Some(e) = by_name(left, right).or_else(|| by_name(right, left)) {
            return Some(e);
        }
    }
    if let Expr::Cast {
        data_type: DataType::Int2(None),
        ..
    } = expr
    {
        let mut cast = expr.clone();
        if let Expr::Cast { data_type, .. } = &mut cast {
            *data_type = DataType::SmallInt(None);
        }
        return Some(cast);
    }
    if let Expr::Like {
        negated,
        any: false,
        expr: subject,
        pattern,
        escape_char: Some(escape),
    } = expr
    {
        let Value::SingleQuotedString(escape) = &escape.value else {
            return None;
        };
        let mut chars = escape.chars();
        let (Some(escape), None) = (chars.next(), chars.next()) else {
            return None;
        };
        if escape == '\\' {
            return None;
        }
        let mut pattern = pattern.as_ref().clone();
        if !is_literal(&pattern) {
            // A bound pattern (`LIKE $1 ESCAPE '/'`, asyncpg): escaped when it is evaluated.
            let escaped = format!(
                "regexp_replace(replace({pattern}, '\\', '\\\\'), '{}(.)', '\\${{1}}', 'g')",
                regex::escape(&escape.to_string()).replace('\'', "''")
            );
            return Some(Expr::Like {
                negated: *negated,
                any: false,
                expr: subject.clone(),
                pattern: Box::new(parse_expr(&escaped)?),
                escape_char: None,
            });
        }
        let _ = visit_expressions_mut(&mut pattern, |e| {
            if let Expr::Value(ValueWithSpan {
                value: Value::SingleQuotedString(s),
                ..
            }) = e
            {
                *s = with_backslash_escapes(s, escape);
            }
            ControlFlow::<()>::Continue(())
        });
        return Some(Expr::Like {
            negated: *negated,
            any: false,
            expr: subject.clone(),
            pattern: Box::new(pattern),
            escape_char: None,
        });
    }
    let name = function_name(expr)?;
    let Expr::Function(function) = expr else {
        return None;
    };
    let args = match &function.args {
        datafusion::sql::sqlparser::ast::FunctionArguments::List(list) => list
            .args
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    match (name.as_str(), args.as_slice()) {
        // Only the first dimension exists: Oxbow's arrays are one-dimensional.
        ("generate_subscripts", [array, dimension]) => parse_expr(&format!(
            "unnest(range(1, CAST(array_length({array}, {dimension}) AS BIGINT) + 1))"
        )),
        ("_pg_expandarray", [array]) => parse_expr(&format!("unnest(oxbow_expandarray({array}))")),
        ("col_description", _) => parse_expr("CAST(NULL AS TEXT)"),
        // In an expression PostgreSQL's generate_series is a set; DataFusion's is a list.
        ("generate_series", [start, stop]) => {
            parse_expr(&format!("unnest(generate_series({start}, {stop}))"))
        }
        ("session_user" | "current_user" | "user", []) => {
            parse_expr(&format!("'{}'", user.replace('\'', "''")))
        }
        // The privilege functions ask about the current user when not told whom.
        (name, [object, privilege])
            if crate::pg_compat::pg_catalog::PRIVILEGE_FUNCTIONS.contains(&name) =>
        {
            parse_expr(&format!(
                "{name}('{}', {object}, {privilege})",
                user.replace('\'', "''")
            ))
        }
        _ => None,
    }
}

/// Casts the select-list items of `body` that are integer arithmetic on literals which all fit
/// in `integer` to `integer`.
fn integer_constants_in_select_lists(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            for item in &mut select.projection {
                // A vector selected as a whole prints like PostgreSQL's int2vector: `1 2`.
                if let Some(printed) = vector_as_text(item) {
                    *item = printed;
                    continue;
                }
                let expr = match item {
                    SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr,
                    _ => continue,
                };
                if is_int4_constant(expr) {
                    *expr = Expr::Cast {
                        kind: CastKind::Cast,
                        expr: Box::new(expr.clone()),
                        data_type: DataType::Integer(None),
                        array: false,
                        format: None,
                    };
                }
            }
        }
        SetExpr::Query(query) => integer_constants_in_select_lists(&mut query.body),
        SetExpr::SetOperation { left, right, .. } => {
            integer_constants_in_select_lists(left);
            integer_constants_in_select_lists(right);
        }
        _ => {}
    }
}

/// `array_to_string(v, ' ')` under the column's name, for a select item that is one of
/// `pg_index`'s vector columns.
fn vector_as_text(item: &SelectItem) -> Option<SelectItem> {
    let (expr, alias) = match item {
        SelectItem::UnnamedExpr(expr) => (expr, None),
        SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.clone())),
        _ => return None,
    };
    let name = match expr {
        Expr::Identifier(i) => i.clone(),
        Expr::CompoundIdentifier(parts) => parts.last()?.clone(),
        _ => return None,
    };
    if !is_zero_based_vector(&name.value) {
        return None;
    }
    Some(SelectItem::ExprWithAlias {
        expr: parse_expr(&format!("array_to_string({expr}, ' ')"))?,
        alias: alias.unwrap_or(name),
    })
}

/// An integer literal that fits in `integer`, or `+ - *` of such (with parentheses and signs).
fn is_int4_constant(expr: &Expr) -> bool {
    match expr {
        Expr::Value(ValueWithSpan {
            value: Value::Number(n, _),
            ..
        }) => n.parse::<i32>().is_ok(),
        Expr::Nested(inner) => is_int4_constant(inner),
        Expr::UnaryOp { expr, .. } => is_int4_constant(expr),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Plus | BinaryOperator::Minus | BinaryOperator::Multiply,
            right,
        } => is_int4_constant(left) && is_int4_constant(right),
        _ => false,
    }
}

/// Whether `query` is a plain SELECT from one catalog table that is always empty in Oxbow.
pub(super) fn reads_only_empty_catalog_table(
    query: &datafusion::sql::sqlparser::ast::Query,
) -> bool {
    use datafusion::sql::sqlparser::ast::TableFactor;

    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    let [from] = select.from.as_slice() else {
        return false;
    };
    if !from.joins.is_empty() {
        return false;
    }
    let TableFactor::Table { name, .. } = &from.relation else {
        return false;
    };
    match name.0.last() {
        Some(ObjectNamePart::Identifier(table)) => matches!(
            table.value.to_ascii_lowercase().as_str(),
            "pg_attrdef" | "pg_sequence" | "pg_policy"
        ),
        _ => false,
    }
}

/// Whether a LIKE pattern is made of string literals only (`'pg/_' || '%'`).
fn is_literal(pattern: &Expr) -> bool {
    match pattern {
        Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(_),
            ..
        }) => true,
        Expr::BinaryOp {
            left,
            op: BinaryOperator::StringConcat,
            right,
        } => is_literal(left) && is_literal(right),
        Expr::Nested(inner) => is_literal(inner),
        _ => false,
    }
}

/// A LIKE pattern written with `escape` as its escape character, rewritten for `\`.
fn with_backslash_escapes(pattern: &str, escape: char) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            match chars.next() {
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push(c),
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut statement, "ada");
        statement.to_string()
    }

    #[test]
    fn postgresql_idioms_become_datafusion_ones() {
        assert_eq!(
            rewritten("SELECT unnest(k), generate_subscripts(k, 1) FROM i"),
            "SELECT unnest(k), unnest(range(1, CAST(array_length(k, 1) AS BIGINT) + 1)) FROM i"
        );
        assert_eq!(
            rewritten("SELECT (information_schema._pg_expandarray(i.indkey)).n FROM i"),
            "SELECT (unnest(oxbow_expandarray(i.indkey)))['n'] FROM i"
        );
        assert_eq!(
            rewritten("SELECT x WHERE n NOT LIKE 'pg/_' || '%' ESCAPE '/'"),
            "SELECT x WHERE n NOT LIKE 'pg\\_' || '%'"
        );
        assert_eq!(rewritten("SELECT session_user"), "SELECT 'ada'");
        assert_eq!(
            rewritten("SELECT 1 FROM i WHERE ta.attnum = i.indkey[ia.attnum - 1]"),
            "SELECT CAST(1 AS INTEGER) FROM i WHERE ta.attnum = i.indkey[(ia.attnum - 1) + 1]"
        );
        assert_eq!(
            rewritten("SELECT generate_series(1, 3) AS i FROM generate_series(1, 2)"),
            "SELECT unnest(generate_series(1, 3)) AS i FROM generate_series(1, 2)"
        );
        assert_eq!(
            rewritten("SELECT x WHERE n LIKE $1 ESCAPE '/'"),
            "SELECT x WHERE n LIKE regexp_replace(replace($1, '\\', '\\\\'), '/(.)', '\\${1}', 'g')"
        );
        assert_eq!(rewritten("SELECT 3::int2"), "SELECT 3::SMALLINT");
        assert_eq!(
            rewritten("SELECT i.indkey, k FROM (SELECT indkey AS k FROM pg_index) i"),
            "SELECT array_to_string(i.indkey, ' ') AS indkey, k FROM (SELECT indkey AS k FROM pg_index) i"
        );
        assert_eq!(
            rewritten(
                "SELECT CASE WHEN a.atthasdef THEN (SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid) END FROM pg_attribute a"
            ),
            "SELECT CASE WHEN a.atthasdef THEN CAST(NULL AS TEXT) END FROM pg_attribute a"
        );
        assert_eq!(
            rewritten("SELECT x FROM pg_type a JOIN pg_proc ON pg_proc.oid = a.typreceive"),
            "SELECT x FROM pg_type a JOIN pg_proc ON pg_proc.proname = a.typreceive"
        );
    }
}

//! `ARRAY(SELECT ...)`, PostgreSQL's array constructor from a subquery (psql's `\du` and
//! `\d+`, pg_dump-style catalog queries): DataFusion has no such constructor ("Invalid
//! function 'array'"), so it becomes a scalar subquery that aggregates the rows with
//! `array_agg`, in the subquery's order:
//!
//! - `ARRAY(SELECT e FROM f WHERE w ORDER BY o)` (one output column, no grouping, `DISTINCT` or
//!   `LIMIT`): `(SELECT array_agg(e ORDER BY o) FROM f WHERE w)`, which keeps a correlated
//!   `WHERE` where DataFusion decorrelates it.
//! - `ARRAY(SELECT x FROM unnest(a) x)` and `ARRAY(SELECT 'p' || x || 's' FROM unnest(a) x)`
//!   (psql's `\d+`: `array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x)`):
//!   the array itself, or `oxbow_concat_elements(a, 'p', 's')`. DataFusion cannot unnest a
//!   column of the outer query inside a subquery, and in PostgreSQL the alias of a function in
//!   `FROM` names its column, which DataFusion does not do.
//! - any other subquery: `(SELECT array_agg(v) FROM (subquery) AS oxbow_array(v))`.
//!
//! Either way no rows give an empty array, as in PostgreSQL (`array_agg` alone would give
//! NULL): the aggregate is wrapped in `coalesce(..., [])`.

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, OrderBy,
    OrderByKind, Query, SelectItem, SetExpr, TableFactor, Value,
};

use super::ast::{function_name, parse_expr};

/// The replacement of `expr` when it is `ARRAY(subquery)`.
pub fn replacement(expr: &Expr) -> Option<Expr> {
    let Expr::Function(f) = expr else {
        return None;
    };
    let FunctionArguments::Subquery(query) = &f.args else {
        return None;
    };
    if function_name(expr)? != "array" {
        return None;
    }
    if let Some(mapped) = unnested_elements(query) {
        return Some(mapped);
    }
    // Over a catalog table that is always empty here (psql's `\dp` reads pg_policy through
    // correlated subqueries DataFusion cannot plan): no rows, so an empty array.
    if super::ast::reads_only_empty_catalog_table(query) && !has_placeholders(query) {
        return parse_expr("make_array()");
    }
    let simple = simple_select(query).and_then(|(item, alias, rest)| {
        let order = match &query.order_by {
            Some(order_by) => format!(" {}", order_inside_aggregate(order_by, item, alias)?),
            None => String::new(),
        };
        Some(format!(
            "(SELECT coalesce(array_agg({item}{order}), []) {rest})"
        ))
    });
    let sql = match simple {
        Some(sql) => sql,
        None => format!(
            "(SELECT coalesce(array_agg(oxbow_array.v), []) FROM ({query}) AS oxbow_array(v))"
        ),
    };
    parse_expr(&sql)
}

/// Whether `query` holds a bound parameter (`$1`), which must stay in the statement.
fn has_placeholders(query: &Query) -> bool {
    let mut found = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(query, |e| {
        if let Expr::Value(v) = e
            && matches!(v.value, Value::Placeholder(_))
        {
            found = true;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

/// `SELECT p || x || s FROM unnest(a) [AS] x` (no `WHERE`, joins or ordering): `a` with each
/// element `p || x || s`, where `p` and `s` are string literals (either may be absent).
fn unnested_elements(query: &Query) -> Option<Expr> {
    if query.with.is_some() || query.order_by.is_some() || query.limit_clause.is_some() {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let [from] = select.from.as_slice() else {
        return None;
    };
    if !from.joins.is_empty()
        || select.selection.is_some()
        || select.distinct.is_some()
        || select.projection.len() != 1
    {
        return None;
    }
    let (array, alias) = match &from.relation {
        TableFactor::UNNEST {
            alias: Some(alias),
            array_exprs,
            with_offset: false,
            with_ordinality: false,
            ..
        } if array_exprs.len() == 1 && alias.columns.is_empty() => {
            (array_exprs[0].clone(), alias.name.value.clone())
        }
        TableFactor::Table {
            name,
            args: Some(args),
            alias: Some(alias),
            ..
        } if name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .is_some_and(|i| i.value.eq_ignore_ascii_case("unnest"))
            && alias.columns.is_empty() =>
        {
            let [FunctionArg::Unnamed(FunctionArgExpr::Expr(array))] = args.args.as_slice() else {
                return None;
            };
            (array.clone(), alias.name.value.clone())
        }
        _ => return None,
    };
    let item = match &select.projection[0] {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return None,
    };
    let (prefix, suffix) = literal_around(item, &alias)?;
    let sql = if prefix.is_empty() && suffix.is_empty() {
        format!("coalesce({array}, [])")
    } else {
        format!(
            "coalesce(oxbow_concat_elements({array}, '{}', '{}'), [])",
            prefix.replace('\'', "''"),
            suffix.replace('\'', "''")
        )
    };
    parse_expr(&sql)
}

/// `expr` as `'p' || x || 's'` around the column `x` (each literal optional): `(p, s)`.
fn literal_around(expr: &Expr, column: &str) -> Option<(String, String)> {
    let literal = |e: &Expr| match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    match expr {
        Expr::Identifier(i) if i.value.eq_ignore_ascii_case(column) => {
            Some((String::new(), String::new()))
        }
        Expr::Nested(inner) => literal_around(inner, column),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::StringConcat,
            right,
        } => {
            if let Some(suffix) = literal(right) {
                let (p, s) = literal_around(left, column)?;
                Some((p, s + &suffix))
            } else {
                let prefix = literal(left)?;
                let (p, s) = literal_around(right, column)?;
                Some((prefix + &p, s))
            }
        }
        _ => None,
    }
}

/// The subquery's `ORDER BY` inside the aggregate, where an ordinal (`1`) or the output
/// column's alias would mean something else: both become the output expression. `None` for
/// `ORDER BY ALL` or another ordinal.
fn order_inside_aggregate(order_by: &OrderBy, item: &Expr, alias: Option<&str>) -> Option<String> {
    let OrderByKind::Expressions(exprs) = &order_by.kind else {
        return None;
    };
    let mut exprs = exprs.clone();
    for e in &mut exprs {
        match &e.expr {
            Expr::Value(v) if matches!(&v.value, Value::Number(n, _) if n == "1") => {
                e.expr = item.clone();
            }
            Expr::Value(_) => return None,
            Expr::Identifier(i) if alias.is_some_and(|a| a.eq_ignore_ascii_case(&i.value)) => {
                e.expr = item.clone();
            }
            _ => {}
        }
    }
    let mut order_by = order_by.clone();
    order_by.kind = OrderByKind::Expressions(exprs);
    Some(order_by.to_string())
}

/// For a subquery of one select with one output column and nothing that acts after its rows
/// are chosen (grouping, `DISTINCT`, `LIMIT`, set operations): its output expression, and the
/// alias, and the text of its `FROM` and `WHERE`.
fn simple_select(query: &Query) -> Option<(&Expr, Option<&str>, String)> {
    if query.with.is_some()
        || query.limit_clause.is_some()
        || query.fetch.is_some()
        || !query.locks.is_empty()
    {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, modifiers) => !exprs.is_empty() || !modifiers.is_empty(),
    };
    if grouped
        || select.distinct.is_some()
        || select.having.is_some()
        || select.top.is_some()
        || !select.named_window.is_empty()
        || select.qualify.is_some()
        || select.projection.len() != 1
        || select.from.is_empty()
    {
        return None;
    }
    let (item, alias) = match &select.projection[0] {
        SelectItem::UnnamedExpr(e) => (e, None),
        SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.as_str())),
        _ => return None,
    };
    if contains_aggregate_or_window(item) {
        return None;
    }
    let from = select
        .from
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let filter = match &select.selection {
        Some(w) => format!(" WHERE {w}"),
        None => String::new(),
    };
    Some((item, alias, format!("FROM {from}{filter}")))
}

/// Whether `expr` calls an aggregate or window function of its own query (then it cannot go
/// inside `array_agg`): any function call with `OVER`, or one of the common aggregates. Those
/// inside a subquery of `expr` (a nested `ARRAY(...)`, already rewritten) are the subquery's.
fn contains_aggregate_or_window(expr: &Expr) -> bool {
    use datafusion::sql::sqlparser::ast::{Visit, Visitor};
    use std::ops::ControlFlow;

    struct Finder {
        depth: usize,
        found: bool,
    }
    impl Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if self.depth == 0
                && let Expr::Function(f) = e
            {
                let name = function_name(e).unwrap_or_default();
                if f.over.is_some()
                    || matches!(
                        name.as_str(),
                        "count"
                            | "sum"
                            | "avg"
                            | "min"
                            | "max"
                            | "array_agg"
                            | "string_agg"
                            | "bool_and"
                            | "bool_or"
                            | "every"
                    )
                {
                    self.found = true;
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder {
        depth: 0,
        found: false,
    };
    let _ = expr.visit(&mut finder);
    finder.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        replacement(&parse_expr(sql).unwrap()).unwrap().to_string()
    }

    #[test]
    fn a_simple_select_aggregates_its_own_rows_in_its_order() {
        assert_eq!(
            rewritten(
                "ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON (m.roleid = b.oid) \
                 WHERE m.member = r.oid ORDER BY 1)"
            ),
            "(SELECT coalesce(array_agg(b.rolname ORDER BY b.rolname), []) FROM pg_auth_members m \
             JOIN pg_roles b ON (m.roleid = b.oid) WHERE m.member = r.oid)"
        );
        assert_eq!(
            rewritten("ARRAY(SELECT a.x + 1 AS y FROM t a ORDER BY y DESC, a.z)"),
            "(SELECT coalesce(array_agg(a.x + 1 ORDER BY a.x + 1 DESC, a.z), []) FROM t a)"
        );
    }

    #[test]
    fn other_subqueries_are_aggregated_from_outside() {
        assert_eq!(
            rewritten("ARRAY(SELECT DISTINCT x FROM t LIMIT 3)"),
            "(SELECT coalesce(array_agg(oxbow_array.v), []) FROM (SELECT DISTINCT x FROM t LIMIT 3) \
             AS oxbow_array (v))"
        );
        assert_eq!(
            rewritten("ARRAY(SELECT count(*) FROM t)"),
            "(SELECT coalesce(array_agg(oxbow_array.v), []) FROM (SELECT count(*) FROM t) AS oxbow_array (v))"
        );
    }

    #[test]
    fn unnested_elements_map_without_a_subquery() {
        assert_eq!(
            rewritten("array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x)"),
            "coalesce(oxbow_concat_elements(tc.reloptions, 'toast.', ''), [])"
        );
        assert_eq!(
            rewritten("ARRAY(SELECT u FROM unnest(a.list) AS u)"),
            "coalesce(a.list, [])"
        );
        // Anything else about the element goes the general way.
        assert!(rewritten("ARRAY(SELECT upper(x) FROM unnest(a) x)").contains("array_agg"));
    }

    #[test]
    fn an_aggregate_of_a_nested_subquery_is_not_the_outer_ones() {
        let sql = rewritten(
            "ARRAY(SELECT p.name || (SELECT max(r.n) FROM r WHERE r.id = p.id) FROM p WHERE p.rel = c.oid)",
        );
        assert!(
            sql.starts_with("(SELECT coalesce(array_agg(p.name ||"),
            "{sql}"
        );
    }

    #[test]
    fn other_array_forms_are_left_alone() {
        for sql in ["ARRAY[1, 2]", "array_length(a, 1)", "make_array(1)"] {
            assert!(replacement(&parse_expr(sql).unwrap()).is_none(), "{sql}");
        }
    }
}

//! Rewrites applied only after DataFusion refused to plan a query, and then retried: each
//! would change the meaning of some query that plans, so it must not run on every query.
//! `crate::statements::select` decides which refusal calls for which retry.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, SelectItem, SetExpr, Statement, Value, ValueWithSpan,
    visit_expressions_mut,
};

use super::ast::{function_name, parse_expr};

/// Makes every string literal that is compared with something other than a string literal,
/// and that PostgreSQL reads as a boolean (`'t'`, `'yes'`), that boolean. This is the retry for
/// DataFusion refusing `Boolean = Utf8` while it plans a select list, where the analyzer rule
/// of `crate::sql::analyzer::boolean_literals` (which knows the types) runs too late. It is applied only after
/// that refusal: in a query that plans, `name = 'yes'` against a text column is never touched,
/// and a retry that turns such a comparison into `text = boolean` fails and reports the
/// original error.
pub fn boolean_literals(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        let (left, right) = match expr {
            Expr::BinaryOp { left, op, right }
                if matches!(
                    op,
                    BinaryOperator::Eq
                        | BinaryOperator::NotEq
                        | BinaryOperator::Lt
                        | BinaryOperator::LtEq
                        | BinaryOperator::Gt
                        | BinaryOperator::GtEq
                ) =>
            {
                (left, right)
            }
            Expr::IsDistinctFrom(left, right) | Expr::IsNotDistinctFrom(left, right) => {
                (left, right)
            }
            _ => return ControlFlow::<()>::Continue(()),
        };
        let as_bool = |e: &Expr| match e {
            Expr::Value(ValueWithSpan {
                value: Value::SingleQuotedString(text),
                ..
            }) => crate::sql::analyzer::boolean_literals::parse_bool(text),
            _ => None,
        };
        match (as_bool(left), as_bool(right)) {
            (Some(b), None) if !is_string_literal(right) => {
                **left = Expr::Value(Value::Boolean(b).into())
            }
            (None, Some(b)) if !is_string_literal(left) => {
                **right = Expr::Value(Value::Boolean(b).into())
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
}

fn is_string_literal(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Value(ValueWithSpan {
            value: Value::SingleQuotedString(_),
            ..
        })
    )
}

/// Wraps the single result column of every scalar subquery that is not an aggregate in
/// `first_value(...)`. DataFusion plans a correlated scalar subquery only when it aggregates
/// ("Correlated scalar subquery must be aggregated to return at most one row"); PostgreSQL runs
/// it and fails at run time if it returns more than one row. Catalog queries use the form to
/// look one row up by key (SQLAlchemy's `get_columns` reads a column's type collation from
/// `pg_type` this way), so the first value is the answer. Applied only to a query DataFusion
/// refused with that error.
pub fn aggregate_scalar_subqueries(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Subquery(query) = expr
            && let SetExpr::Select(select) = query.body.as_mut()
            && select.projection.len() == 1
        {
            let inner = match &mut select.projection[0] {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => return ControlFlow::<()>::Continue(()),
            };
            let aggregate = function_name(inner).is_some_and(|name| {
                matches!(
                    name.as_str(),
                    "count"
                        | "sum"
                        | "min"
                        | "max"
                        | "avg"
                        | "array_agg"
                        | "string_agg"
                        | "bool_and"
                        | "bool_or"
                        | "first_value"
                        | "last_value"
                )
            });
            if !aggregate && let Some(wrapped) = parse_expr(&format!("first_value({inner})")) {
                *inner = wrapped;
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    #[test]
    fn boolean_literals_replace_untyped_strings_in_comparisons() {
        let mut statement = Parser::parse_sql(
            &PostgreSqlDialect {},
            "SELECT true = 't', 'no' <> flag, a IS DISTINCT FROM 'on', 'x' = 'yes', b = 'maybe'",
        )
        .unwrap()
        .remove(0);
        boolean_literals(&mut statement);
        assert_eq!(
            statement.to_string(),
            "SELECT true = true, false <> flag, a IS DISTINCT FROM true, 'x' = 'yes', b = 'maybe'"
        );
    }
}

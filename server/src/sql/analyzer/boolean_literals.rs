//! [`BooleanLiterals`]: a string literal compared with a boolean is a boolean, as in
//! PostgreSQL, where `'t'` is an untyped literal that takes the other side's type.
//!
//! DataFusion types `'t'` as text and refuses `Boolean = Utf8` ("Cannot infer common argument
//! type"). psqlODBC's `SQLPrimaryKeys` sends `i.indisprimary = 't'`, and hand-written SQL
//! compares boolean columns with `'true'` or `'yes'`. This analyzer rule runs *before* type
//! coercion (which is where the refusal comes from) and replaces such a literal with the
//! boolean PostgreSQL reads from it. A string that is not a boolean is left alone, so the
//! comparison still fails, as it does in PostgreSQL (there with 22P02).
//!
//! The same holds for arrays: `'{0}'` compared with an array column (psql's `\dp` asks
//! `polroles <> '{0}'`) is an array literal of the column's element type, read by
//! [`parse_array`]; text that is not an array literal of that type is left alone.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

#[derive(Debug, Default)]
pub struct BooleanLiterals;

impl AnalyzerRule for BooleanLiterals {
    fn name(&self) -> &str {
        "oxbow_boolean_literals"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let inputs = node.inputs();
            // Most nodes compare no string literal: skip them before building a schema.
            if inputs.is_empty() || !node.expressions().iter().any(compares_a_string_literal) {
                return Ok(Transformed::no(node));
            }
            // The columns a node's expressions may name: those of all its inputs.
            let mut schema = DFSchema::empty();
            for input in inputs {
                schema.merge(input.schema());
            }
            // A changed literal changes the expression's display name; nodes above name the
            // column by the old one, so it is kept (as DataFusion's type coercion does).
            let names = NamePreserver::new(&node);
            node.map_expressions(|e| {
                let saved = names.save(&e);
                e.transform_up(|e| coerce(e, &schema))?
                    .map_data(|e| Ok(saved.restore(e)))
            })
        })
        .map(|t| t.data)
    }
}

fn coerce(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    if !is_comparison(op) {
        return Ok(Transformed::no(expr));
    }
    let is_boolean = |e: &Expr| matches!(e.get_type(schema), Ok(DataType::Boolean));
    let element = |e: &Expr| match e.get_type(schema) {
        Ok(DataType::List(f) | DataType::LargeList(f)) => Some(f.data_type().clone()),
        _ => None,
    };
    let array = |text: &str, list: &Expr| -> Option<Expr> {
        let item = element(list)?;
        let values = parse_array(text)?
            .into_iter()
            .map(|v| ScalarValue::Utf8(v.map(str::to_string)).cast_to(&item).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Expr::Literal(
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &item)),
            None,
        ))
    };
    if let (None, Some(text)) = (string_literal(left), string_literal(right))
        && let Some(literal) = array(text, left)
    {
        return Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
            left.clone(),
            *op,
            Box::new(literal),
        ))));
    }
    if let (Some(text), None) = (string_literal(left), string_literal(right))
        && let Some(literal) = array(text, right)
    {
        return Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
            Box::new(literal),
            *op,
            right.clone(),
        ))));
    }
    let (left, right) = match (string_literal(left), string_literal(right)) {
        (None, Some(text)) if is_boolean(left) => match parse_bool(text) {
            Some(b) => (left.as_ref().clone(), boolean(b)),
            None => return Ok(Transformed::no(expr)),
        },
        (Some(text), None) if is_boolean(right) => match parse_bool(text) {
            Some(b) => (boolean(b), right.as_ref().clone()),
            None => return Ok(Transformed::no(expr)),
        },
        _ => return Ok(Transformed::no(expr)),
    };
    Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(left),
        *op,
        Box::new(right),
    ))))
}

/// Whether `expr` has a comparison with a string literal on one side somewhere inside.
fn compares_a_string_literal(expr: &Expr) -> bool {
    expr.exists(|e| {
        Ok(matches!(e, Expr::BinaryExpr(BinaryExpr { left, op, right })
            if is_comparison(op)
                && (string_literal(left).is_some() || string_literal(right).is_some())))
    })
    .unwrap_or(false)
}

fn is_comparison(op: &Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

fn string_literal(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => Some(s),
        _ => None,
    }
}

fn boolean(value: bool) -> Expr {
    Expr::Literal(ScalarValue::Boolean(Some(value)), None)
}

/// A one-dimensional PostgreSQL array literal without quoting (`{1,2}`, `{}`, `{a,NULL}`): its
/// elements (`None` for NULL). Quoted or nested elements are not read (`None`).
pub(crate) fn parse_array(text: &str) -> Option<Vec<Option<&str>>> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    if inner.contains(['{', '}', '"', '\\']) {
        return None;
    }
    if inner.trim().is_empty() {
        return Some(Vec::new());
    }
    Some(
        inner
            .split(',')
            .map(str::trim)
            .map(|e| (!e.eq_ignore_ascii_case("null")).then_some(e))
            .collect(),
    )
}

/// PostgreSQL's boolean input (`boolin`): `t`/`f`, `true`/`false`, `yes`/`no`, `on`/`off`,
/// `1`/`0`, any case, surrounding spaces ignored, and any unambiguous prefix of the words.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() {
        return None;
    }
    let prefix_of = |word: &str| word.starts_with(text.as_str());
    match text.as_str() {
        "1" | "on" => Some(true),
        "0" | "of" | "off" => Some(false),
        _ if prefix_of("true") || prefix_of("yes") => Some(true),
        _ if prefix_of("false") || prefix_of("no") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_array, parse_bool};

    #[test]
    fn reads_flat_array_literals() {
        assert_eq!(parse_array("{0}"), Some(vec![Some("0")]));
        assert_eq!(
            parse_array(" {1, NULL,3} "),
            Some(vec![Some("1"), None, Some("3")])
        );
        assert_eq!(parse_array("{}"), Some(vec![]));
        for bad in ["0", "{{1}}", "{\"a,b\"}", "{1"] {
            assert_eq!(parse_array(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_booleans_as_postgresql_does() {
        for t in ["t", "TRUE", " yes ", "y", "on", "1", "tr"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["f", "False", "no", "n", "off", "0", "fal"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "o", "maybe", "2", "truex"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }
}

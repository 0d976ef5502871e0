//! [`BooleanLiterals`]: a string literal compared with a boolean is a boolean, as in
//! PostgreSQL, where `'t'` is an untyped literal that takes the other side's type.
//!
//! DataFusion types `'t'` as text and refuses `Boolean = Utf8` ("Cannot infer common argument
//! type"). psqlODBC's `SQLPrimaryKeys` sends `i.indisprimary = 't'`, and hand-written SQL
//! compares boolean columns with `'true'` or `'yes'`. This analyzer rule runs *before* type
//! coercion (which is where the refusal comes from) and replaces such a literal with the
//! boolean PostgreSQL reads from it. A string that is not a boolean is left alone, so the
//! comparison still fails, as it does in PostgreSQL (there with 22P02).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
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
            node.map_expressions(|e| e.transform_up(|e| coerce(e, &schema)))
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
    use super::parse_bool;

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

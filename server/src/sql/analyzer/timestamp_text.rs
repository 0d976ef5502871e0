//! [`TimestampText`]: a timestamp cast to text reads as PostgreSQL prints it
//! (`2024-02-29 12:34:56.5`, `+00` after a `timestamptz` in the session's zone, UTC), not in
//! Arrow's ISO form (`2024-02-29T12:34:56.500`). What a client receives for a timestamp column
//! was already PostgreSQL's text (the wire encodes it); this is the same for `t::text`,
//! `CAST(t AS varchar)` and `t || ''`.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::DateTime;
use datafusion::arrow::array::{ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::expr_fn::SimpleScalarUDF;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarUDF, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

#[derive(Debug)]
pub struct TimestampText {
    format: Arc<ScalarUDF>,
}

impl Default for TimestampText {
    fn default() -> Self {
        Self {
            format: Arc::new(timestamp_text()),
        }
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

impl AnalyzerRule for TimestampText {
    fn name(&self) -> &str {
        "oxbow_timestamp_text"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| {
            let casts = |e: &Expr| {
                e.exists(|e| Ok(matches!(e, Expr::Cast(_) | Expr::TryCast(_))))
                    .unwrap_or(false)
            };
            if !node.expressions().iter().any(casts) {
                return Ok(Transformed::no(node));
            }
            let mut schema = DFSchema::empty();
            for input in node.inputs() {
                schema.merge(input.schema());
            }
            // The rewritten expressions keep their names: the node's schema must not change.
            let names = NamePreserver::new(&node);
            node.map_expressions(|e| {
                let name = names.save(&e);
                Ok(e.transform_up(|e| self.rewrite(e, &schema))?
                    .update_data(|e| name.restore(e)))
            })
        })
        .map(|t| t.data)
    }
}

impl TimestampText {
    fn rewrite(&self, expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
        let (inner, target) = match &expr {
            Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
                (expr, field.data_type())
            }
            _ => return Ok(Transformed::no(expr)),
        };
        if !is_text(target) || !matches!(inner.get_type(schema), Ok(DataType::Timestamp(..))) {
            return Ok(Transformed::no(expr));
        }
        let formatted = Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::clone(&self.format),
            vec![inner.as_ref().clone()],
        ));
        Ok(Transformed::yes(if target == &DataType::Utf8 {
            formatted
        } else {
            datafusion::logical_expr::cast(formatted, target.clone())
        }))
    }
}

/// PostgreSQL's text of a timestamp: seconds' fraction without trailing zeros, `+00` for one
/// with a zone (shown in UTC, the session's zone).
fn timestamp_text() -> ScalarUDF {
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "oxbow_timestamp_text",
        Signature::any(1, Volatility::Immutable),
        DataType::Utf8,
        Arc::new(|args: &[ColumnarValue]| {
            let scalar = matches!(args[0], ColumnarValue::Scalar(_));
            let array = args[0].to_array(1)?;
            let zoned = matches!(array.data_type(), DataType::Timestamp(_, Some(_)));
            let micros = cast(&array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            let micros = micros.as_primitive::<TimestampMicrosecondType>();
            let mut out = StringBuilder::new();
            let mut text = String::new();
            for value in micros.iter() {
                let Some(t) = value.and_then(DateTime::from_timestamp_micros) else {
                    out.append_null();
                    continue;
                };
                text.clear();
                let _ = write!(text, "{}", t.format("%Y-%m-%d %H:%M:%S"));
                let fraction = t.timestamp_subsec_micros();
                if fraction != 0 {
                    let digits = format!("{fraction:06}");
                    let _ = write!(text, ".{}", digits.trim_end_matches('0'));
                }
                if zoned {
                    text.push_str("+00");
                }
                out.append_value(&text);
            }
            let array: ArrayRef = Arc::new(out.finish());
            crate::pg_compat::functions::columnar(array, scalar)
        }),
    ))
}

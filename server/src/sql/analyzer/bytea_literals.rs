//! [`ByteaLiterals`]: reads `'\x0001ff'` cast to `bytea` as PostgreSQL does (hex input), not as
//! the bytes of the text.
//!
//! DataFusion casts text to binary byte for byte, so `INSERT ... VALUES ('\x0102')` into a
//! bytea column, or psycopg2's `'\x0102'::bytea` parameters, would store the six ASCII
//! characters. This analyzer rule runs after type coercion and replaces every cast of a text
//! literal in PostgreSQL's hex format to a binary type with the decoded bytes.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Cast, Expr, LogicalPlan, TryCast};
use datafusion::optimizer::AnalyzerRule;

#[derive(Debug, Default)]
pub struct ByteaLiterals;

impl AnalyzerRule for ByteaLiterals {
    fn name(&self) -> &str {
        "oxbow_bytea_literals"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|node| node.map_expressions(|e| e.transform_up(decode)))
            .map(|t| t.data)
    }
}

fn decode(expr: Expr) -> Result<Transformed<Expr>> {
    let (inner, data_type) = match &expr {
        Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
            (expr.as_ref(), field.data_type())
        }
        _ => return Ok(Transformed::no(expr)),
    };
    if !matches!(
        data_type,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    ) {
        return Ok(Transformed::no(expr));
    }
    let text = match inner {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => s,
        _ => return Ok(Transformed::no(expr)),
    };
    let Some(bytes) = text.strip_prefix("\\x").and_then(|h| hex::decode(h).ok()) else {
        return Ok(Transformed::no(expr));
    };
    let value = match data_type {
        DataType::LargeBinary => ScalarValue::LargeBinary(Some(bytes)),
        DataType::BinaryView => ScalarValue::BinaryView(Some(bytes)),
        _ => ScalarValue::Binary(Some(bytes)),
    };
    Ok(Transformed::yes(Expr::Literal(value, None)))
}

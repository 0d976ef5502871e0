//! [`IntervalOperators`]: the interval operators PostgreSQL has and DataFusion plans otherwise
//! or not at all, planned as the SQL planner builds each binary operator (an `ExprPlanner`;
//! an analyzer rule would be too late, since building the projection already asks for the
//! operator's type and DataFusion refuses it there):
//!
//! - `interval * number`, `number * interval`, `interval / number`: PostgreSQL's
//!   `interval_mul` (DataFusion: "Invalid interval arithmetic operation").
//! - `interval <op> interval` comparisons: by length, a month being 30 days and a day 24
//!   hours, so `'1 day' = '24 hours'` (DataFusion compares months, days and nanoseconds apart).
//! - `date ± interval`: a `timestamp`, as in PostgreSQL (DataFusion answers a `date`).
//! - `timestamp - timestamp`: an interval of days and time (DataFusion: a duration).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, IntervalUnit, TimeUnit};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator, ScalarUDF, cast};
use datafusion::sql::sqlparser::ast::BinaryOperator;

use crate::pg_compat::functions::intervals;

#[derive(Debug)]
pub struct IntervalOperators {
    multiply: Arc<ScalarUDF>,
    divide: Arc<ScalarUDF>,
    length: Arc<ScalarUDF>,
    timestamp_difference: Arc<ScalarUDF>,
}

impl Default for IntervalOperators {
    fn default() -> Self {
        Self {
            multiply: Arc::new(intervals::multiply()),
            divide: Arc::new(intervals::divide()),
            length: Arc::new(intervals::length()),
            timestamp_difference: Arc::new(intervals::timestamp_difference()),
        }
    }
}

fn is_interval(t: &DataType) -> bool {
    matches!(t, DataType::Interval(IntervalUnit::MonthDayNano))
}

fn is_date(t: &DataType) -> bool {
    matches!(t, DataType::Date32 | DataType::Date64)
}

fn is_timestamp(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(..))
}

fn comparison(op: &BinaryOperator) -> Option<Operator> {
    Some(match op {
        BinaryOperator::Eq => Operator::Eq,
        BinaryOperator::NotEq => Operator::NotEq,
        BinaryOperator::Lt => Operator::Lt,
        BinaryOperator::LtEq => Operator::LtEq,
        BinaryOperator::Gt => Operator::Gt,
        BinaryOperator::GtEq => Operator::GtEq,
        _ => return None,
    })
}

fn timestamp(e: Expr) -> Expr {
    cast(e, DataType::Timestamp(TimeUnit::Microsecond, None))
}

impl IntervalOperators {
    fn call(udf: &Arc<ScalarUDF>, args: Vec<Expr>) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(Arc::clone(udf), args))
    }

    fn binary(left: Expr, op: Operator, right: Expr) -> Expr {
        Expr::BinaryExpr(BinaryExpr::new(Box::new(left), op, Box::new(right)))
    }
}

impl ExprPlanner for IntervalOperators {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        let (Ok(lt), Ok(rt)) = (expr.left.get_type(schema), expr.right.get_type(schema)) else {
            return Ok(PlannerResult::Original(expr));
        };
        let RawBinaryExpr { op, left, right } = expr;
        if let Some(compare) = comparison(&op).filter(|_| is_interval(&lt) && is_interval(&rt)) {
            return Ok(PlannerResult::Planned(Self::binary(
                Self::call(&self.length, vec![left]),
                compare,
                Self::call(&self.length, vec![right]),
            )));
        }
        let number = |e: Expr| cast(e, DataType::Float64);
        let planned = match &op {
            BinaryOperator::Multiply if is_interval(&lt) && rt.is_numeric() => {
                Self::call(&self.multiply, vec![left, number(right)])
            }
            BinaryOperator::Multiply if lt.is_numeric() && is_interval(&rt) => {
                Self::call(&self.multiply, vec![right, number(left)])
            }
            BinaryOperator::Divide if is_interval(&lt) && rt.is_numeric() => {
                Self::call(&self.divide, vec![left, number(right)])
            }
            BinaryOperator::Minus if is_timestamp(&lt) && is_timestamp(&rt) => {
                Self::call(&self.timestamp_difference, vec![left, right])
            }
            BinaryOperator::Plus if is_date(&lt) && is_interval(&rt) => {
                Self::binary(timestamp(left), Operator::Plus, right)
            }
            BinaryOperator::Minus if is_date(&lt) && is_interval(&rt) => {
                Self::binary(timestamp(left), Operator::Minus, right)
            }
            BinaryOperator::Plus if is_interval(&lt) && is_date(&rt) => {
                Self::binary(left, Operator::Plus, timestamp(right))
            }
            _ => return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right })),
        };
        Ok(PlannerResult::Planned(planned))
    }
}

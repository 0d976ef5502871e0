//! Time-range pruning of hot batches: which batches a query's filters rule out.
//!
//! Only comparisons of the table's time column with timestamp constants narrow the range
//! (`<`, `<=`, `>`, `>=`, `=`, `BETWEEN`, joined by `AND`); anything else leaves it open.
//! Pruning is a skip, not a filter: DataFusion re-applies every filter above the scan, so
//! the range only has to contain every matching row.
//!
//! A `CAST` of the column is looked through only when it keeps every value and the order:
//! a cast to a timestamp of the same or a finer unit, whatever its time zone (the zone only
//! labels the same instant). A cast to a coarser unit truncates (`CAST(ts AS TIMESTAMP(0))`
//! maps `00:00:00.5` to `00:00:00`), and a cast to `date` drops the time of day; bounds taken
//! from such a comparison would skip batches holding matching rows (review D13), so those
//! filters give no pruning. Functions of the column (`date_trunc`) give none either.

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use super::HotBatch;

/// The range `[low, high]` (inclusive, in the time column's unit) that `filters` allow for
/// the time column, from comparisons of the column with constants. `None` ends are open.
pub fn time_bounds(filters: &[Expr], column: &str, unit: TimeUnit) -> (Option<i64>, Option<i64>) {
    let mut low: Option<i64> = None;
    let mut high: Option<i64> = None;
    for filter in filters {
        collect_bounds(filter, column, unit, &mut low, &mut high);
    }
    (low, high)
}

fn collect_bounds(
    expr: &Expr,
    column: &str,
    unit: TimeUnit,
    low: &mut Option<i64>,
    high: &mut Option<i64>,
) {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        if let Expr::Between(between) = expr
            && !between.negated
            && is_column(&between.expr, column, unit)
            && let (Some(l), Some(h)) = (
                scalar_time(&between.low, unit),
                scalar_time(&between.high, unit),
            )
        {
            *low = Some(low.map_or(l, |v| v.max(l)));
            *high = Some(high.map_or(h, |v| v.min(h)));
        }
        return;
    };
    if *op == Operator::And {
        collect_bounds(left, column, unit, low, high);
        collect_bounds(right, column, unit, low, high);
        return;
    }
    let (op, value) = if is_column(left, column, unit) {
        match scalar_time(right, unit) {
            Some(v) => (*op, v),
            None => return,
        }
    } else if is_column(right, column, unit) {
        match (scalar_time(left, unit), op.swap()) {
            (Some(v), Some(op)) => (op, v),
            _ => return,
        }
    } else {
        return;
    };
    match op {
        Operator::Gt | Operator::GtEq => *low = Some(low.map_or(value, |v| v.max(value))),
        Operator::Lt | Operator::LtEq => *high = Some(high.map_or(value, |v| v.min(value))),
        Operator::Eq => {
            *low = Some(low.map_or(value, |v| v.max(value)));
            *high = Some(high.map_or(value, |v| v.min(value)));
        }
        _ => {}
    }
}

/// Whether `expr` is the time column (of `unit`), possibly under casts that keep its values.
fn is_column(expr: &Expr, column: &str, unit: TimeUnit) -> bool {
    match expr {
        Expr::Column(c) => c.name == column,
        Expr::Cast(c) => {
            keeps_values(c.field.data_type(), unit) && is_column(&c.expr, column, unit)
        }
        Expr::TryCast(c) => {
            keeps_values(c.field.data_type(), unit) && is_column(&c.expr, column, unit)
        }
        _ => false,
    }
}

/// Whether casting a timestamp of `unit` to `target` keeps every value: a timestamp of the
/// same or a finer unit. (Out-of-range values of a finer unit become errors or nulls, never
/// other values, so they cannot be wrongly skipped.)
fn keeps_values(target: &DataType, unit: TimeUnit) -> bool {
    match target {
        DataType::Timestamp(to, _) => per_nanos(*to) <= per_nanos(unit),
        _ => false,
    }
}

/// Nanoseconds in one `unit`.
fn per_nanos(unit: TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// A timestamp constant converted to `unit`.
fn scalar_time(expr: &Expr, unit: TimeUnit) -> Option<i64> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    let nanos: i128 = match value {
        ScalarValue::TimestampSecond(Some(v), _) => *v as i128 * 1_000_000_000,
        ScalarValue::TimestampMillisecond(Some(v), _) => *v as i128 * 1_000_000,
        ScalarValue::TimestampMicrosecond(Some(v), _) => *v as i128 * 1_000,
        ScalarValue::TimestampNanosecond(Some(v), _) => *v as i128,
        _ => return None,
    };
    i64::try_from(nanos.div_euclid(per_nanos(unit))).ok()
}

/// Whether a batch may hold rows in `[low, high]`.
pub fn overlaps(batch: &HotBatch, low: Option<i64>, high: Option<i64>) -> bool {
    let Some((min, max)) = batch.time_range else {
        return true;
    };
    low.is_none_or(|l| max >= l) && high.is_none_or(|h| min <= h)
}

/// The unit of a timestamp type.
pub fn time_unit(data_type: &DataType) -> Option<TimeUnit> {
    match data_type {
        DataType::Timestamp(unit, _) => Some(*unit),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    fn ts(micros: i64) -> Expr {
        lit(ScalarValue::TimestampMicrosecond(
            Some(micros),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn comparisons_with_constants_bound_the_time_column() {
        let filters = vec![
            col("ts").gt_eq(ts(100)).and(col("ts").lt(ts(200))),
            col("x").eq(lit(1)),
        ];
        assert_eq!(
            time_bounds(&filters, "ts", TimeUnit::Microsecond),
            (Some(100), Some(200))
        );
        let reversed = vec![ts(50).lt(col("ts"))];
        assert_eq!(
            time_bounds(&reversed, "ts", TimeUnit::Microsecond),
            (Some(50), None)
        );
        assert_eq!(
            time_bounds(&[col("ts").gt(ts(5_000))], "ts", TimeUnit::Millisecond),
            (Some(5), None)
        );
    }

    fn cast(expr: Expr, data_type: DataType) -> Expr {
        Expr::Cast(datafusion::logical_expr::Cast::new(
            Box::new(expr),
            data_type,
        ))
    }

    #[test]
    fn casts_that_keep_values_are_looked_through() {
        let finer = cast(col("ts"), DataType::Timestamp(TimeUnit::Nanosecond, None));
        let same_other_zone = cast(
            col("ts"),
            DataType::Timestamp(TimeUnit::Microsecond, Some("+02:00".into())),
        );
        for expr in [finer, same_other_zone] {
            assert_eq!(
                time_bounds(&[expr.lt_eq(ts(1_500_000))], "ts", TimeUnit::Microsecond),
                (None, Some(1_500_000))
            );
        }
    }

    #[test]
    fn casts_that_truncate_give_no_bounds() {
        // CAST(ts AS TIMESTAMP(0)) <= 00:00:00 holds for ts = 00:00:00.5, so a batch whose
        // minimum is 00:00:00.5 must not be skipped (review D13).
        let to_seconds = cast(col("ts"), DataType::Timestamp(TimeUnit::Second, None));
        let seconds = lit(ScalarValue::TimestampSecond(Some(0), None));
        assert_eq!(
            time_bounds(&[to_seconds.lt_eq(seconds)], "ts", TimeUnit::Microsecond),
            (None, None)
        );
        let to_millis = cast(
            col("ts"),
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        );
        assert_eq!(
            time_bounds(&[ts(0).gt_eq(to_millis)], "ts", TimeUnit::Microsecond),
            (None, None)
        );
        let to_date = cast(col("ts"), DataType::Date32);
        assert_eq!(
            time_bounds(&[to_date.lt_eq(ts(0))], "ts", TimeUnit::Microsecond),
            (None, None)
        );
        // A truncating cast under a widening one still truncates.
        let nested = cast(
            cast(col("ts"), DataType::Timestamp(TimeUnit::Second, None)),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        );
        assert_eq!(
            time_bounds(&[nested.lt_eq(ts(0))], "ts", TimeUnit::Microsecond),
            (None, None)
        );
    }
}

//! PostgreSQL's interval functions and operators that DataFusion lacks or answers otherwise:
//! `interval * number` and `interval / number` (fractions spill from months into days and from
//! days into time, as PostgreSQL's `interval_mul` does), comparison of intervals by their
//! length (`'1 day' = '24 hours'`; DataFusion compares field by field), `justify_days`,
//! `justify_hours`, `justify_interval`, `make_interval` and `age`, and `timestamp - timestamp`
//! as an interval (DataFusion: a duration, printed `596523:14:06.5`).
//!
//! The operators are planned by `crate::sql::interval_operators`, which calls
//! [`multiply`], [`divide`], [`length`] and [`timestamp_difference`]; the functions are
//! registered by name.

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, IntervalMonthDayNano, IntervalUnit, TimeUnit,
    TimestampMicrosecondType,
};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::expr_fn::SimpleScalarUDF;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Signature, TypeSignature, Volatility};

const INTERVAL: DataType = DataType::Interval(IntervalUnit::MonthDayNano);
const NANOS_PER_DAY: i64 = 86_400_000_000_000;
const NANOS_PER_MICRO: f64 = 1000.0;

/// The functions registered by name.
pub fn functions() -> Vec<ScalarUDF> {
    vec![
        unary("justify_days", justify_days),
        unary("justify_hours", justify_hours),
        unary("justify_interval", justify_interval),
        make_interval(),
        age(),
    ]
}

/// `interval * float8`, as `crate::sql::interval_operators` plans `*` with an interval on
/// either side.
pub fn multiply() -> ScalarUDF {
    scaled("oxbow_interval_mul", Ok)
}

/// `interval / float8`: a division by zero is PostgreSQL's error.
pub fn divide() -> ScalarUDF {
    scaled("oxbow_interval_div", |divisor| {
        if divisor == 0.0 {
            Err(DataFusionError::Execution("division by zero".into()))
        } else {
            Ok(1.0 / divisor)
        }
    })
}

/// `timestamp - timestamp`: an interval of days and time (PostgreSQL's `timestamp_mi`, whose
/// hours are justified into days), not DataFusion's duration. Either side may carry a zone:
/// both are instants in UTC underneath.
pub fn timestamp_difference() -> ScalarUDF {
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "oxbow_timestamp_mi",
        Signature::any(2, Volatility::Immutable),
        INTERVAL,
        Arc::new(|args: &[ColumnarValue]| {
            let all_scalars = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
            let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
            let arrays = ColumnarValue::values_to_arrays(args)?
                .iter()
                .map(|a| cast(a, &micros))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let (late, early) = (
                arrays[0].as_primitive::<TimestampMicrosecondType>(),
                arrays[1].as_primitive::<TimestampMicrosecondType>(),
            );
            let difference: IntervalMonthDayNanoArray =
                datafusion::arrow::compute::kernels::arity::binary(late, early, |a, b| {
                    let nanos = (a - b).saturating_mul(1000);
                    IntervalMonthDayNano::new(
                        0,
                        (nanos / NANOS_PER_DAY) as i32,
                        nanos % NANOS_PER_DAY,
                    )
                })?;
            let array: ArrayRef = Arc::new(difference);
            crate::pg_compat::functions::columnar(array, all_scalars)
        }),
    ))
}

/// An interval's length in nanoseconds (a month is 30 days, a day 24 hours), which the
/// analyzer compares instead of the interval: PostgreSQL's ordering of intervals.
pub fn length() -> ScalarUDF {
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "oxbow_interval_length",
        Signature::exact(vec![INTERVAL], Volatility::Immutable),
        DataType::Decimal128(38, 0),
        Arc::new(|args: &[ColumnarValue]| {
            map_rows(args, &DataType::Decimal128(38, 0), |arrays, row| {
                let v = interval_at(&arrays[0], row)?;
                Ok(v.map(|v| {
                    ScalarValue::Decimal128(
                        Some(
                            (v.months as i128 * 30 + v.days as i128) * NANOS_PER_DAY as i128
                                + v.nanoseconds as i128,
                        ),
                        38,
                        0,
                    )
                }))
            })
        }),
    ))
}

/// PostgreSQL's `interval_mul`: the months' fraction becomes days (30 a month), the days'
/// fraction time; time is kept to the microsecond.
fn scale(v: IntervalMonthDayNano, factor: f64) -> Result<IntervalMonthDayNano> {
    let months = v.months as f64 * factor;
    let days = v.days as f64 * factor;
    let whole_months = months.trunc();
    let mut whole_days = days.trunc();
    let month_remainder_days = (months - whole_months) * 30.0;
    let mut seconds_remainder =
        (days - whole_days + month_remainder_days - month_remainder_days.trunc()) * 86_400.0;
    if seconds_remainder.abs() >= 86_400.0 {
        let spill = (seconds_remainder / 86_400.0).trunc();
        whole_days += spill;
        seconds_remainder -= spill * 86_400.0;
    }
    whole_days += month_remainder_days.trunc();
    let micros =
        (v.nanoseconds as f64 / NANOS_PER_MICRO * factor + seconds_remainder * 1e6).round();
    let out_of_range = !whole_months.is_finite()
        || whole_months.abs() > i32::MAX as f64
        || whole_days.abs() > i32::MAX as f64
        || (micros * NANOS_PER_MICRO).abs() > 9.2e18;
    if out_of_range {
        return Err(DataFusionError::Execution("interval out of range".into()));
    }
    Ok(IntervalMonthDayNano::new(
        whole_months as i32,
        whole_days as i32,
        (micros * NANOS_PER_MICRO) as i64,
    ))
}

fn scaled(name: &str, factor: fn(f64) -> Result<f64>) -> ScalarUDF {
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        name,
        Signature::exact(vec![INTERVAL, DataType::Float64], Volatility::Immutable),
        INTERVAL,
        Arc::new(move |args: &[ColumnarValue]| {
            map_rows(args, &INTERVAL, |arrays, row| {
                let (Some(v), Some(n)) = (interval_at(&arrays[0], row)?, float_at(&arrays[1], row))
                else {
                    return Ok(None);
                };
                Ok(Some(ScalarValue::IntervalMonthDayNano(Some(scale(
                    v,
                    factor(n)?,
                )?))))
            })
        }),
    ))
}

fn justify_hours(v: IntervalMonthDayNano) -> IntervalMonthDayNano {
    let days = v.nanoseconds / NANOS_PER_DAY;
    IntervalMonthDayNano::new(
        v.months,
        v.days + days as i32,
        v.nanoseconds % NANOS_PER_DAY,
    )
}

fn justify_days(v: IntervalMonthDayNano) -> IntervalMonthDayNano {
    IntervalMonthDayNano::new(v.months + v.days / 30, v.days % 30, v.nanoseconds)
}

/// PostgreSQL's `justify_interval`: both justifications, then the signs of the parts agree.
fn justify_interval(v: IntervalMonthDayNano) -> IntervalMonthDayNano {
    let v = justify_days(justify_hours(v));
    let (mut months, mut days, mut nanos) = (v.months, v.days, v.nanoseconds);
    if months > 0 && (days < 0 || (days == 0 && nanos < 0)) {
        days += 30;
        months -= 1;
    } else if months < 0 && (days > 0 || (days == 0 && nanos > 0)) {
        days -= 30;
        months += 1;
    }
    if days > 0 && nanos < 0 {
        nanos += NANOS_PER_DAY;
        days -= 1;
    } else if days < 0 && nanos > 0 {
        nanos -= NANOS_PER_DAY;
        days += 1;
    }
    IntervalMonthDayNano::new(months, days, nanos)
}

fn unary(name: &str, f: fn(IntervalMonthDayNano) -> IntervalMonthDayNano) -> ScalarUDF {
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        name,
        Signature::exact(vec![INTERVAL], Volatility::Immutable),
        INTERVAL,
        Arc::new(move |args: &[ColumnarValue]| {
            map_rows(args, &INTERVAL, |arrays, row| {
                Ok(interval_at(&arrays[0], row)?
                    .map(|v| ScalarValue::IntervalMonthDayNano(Some(f(v)))))
            })
        }),
    ))
}

/// `make_interval(years, months, weeks, days, hours, mins, secs)`, each defaulting to 0
/// (`crate::sql::rewrite::intervals` turns named arguments into positions).
fn make_interval() -> ScalarUDF {
    let mut forms = Vec::new();
    for n in 0..=7 {
        let mut types = vec![DataType::Int64; n.min(6)];
        if n == 7 {
            types.push(DataType::Float64);
        }
        forms.push(TypeSignature::Exact(types));
    }
    let signature = Signature::one_of(forms, Volatility::Immutable);
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "make_interval",
        signature,
        INTERVAL,
        Arc::new(|args: &[ColumnarValue]| {
            map_rows(args, &INTERVAL, |arrays, row| {
                let mut parts = [0.0f64; 7];
                for (i, array) in arrays.iter().enumerate() {
                    match float_at(array, row) {
                        Some(v) => parts[i] = v,
                        None => return Ok(None),
                    }
                }
                let [years, months, weeks, days, hours, mins, secs] = parts;
                let nanos =
                    ((hours * 3600.0 + mins * 60.0) * 1e9 + (secs * 1e6).round() * 1e3) as i64;
                Ok(Some(ScalarValue::IntervalMonthDayNano(Some(
                    IntervalMonthDayNano::new(
                        (years * 12.0 + months) as i32,
                        (weeks * 7.0 + days) as i32,
                        nanos,
                    ),
                ))))
            })
        }),
    ))
}

/// `age(a, b)`: years, months and days between two timestamps, PostgreSQL's way (the earlier
/// date's month length when days must be borrowed); `age(a)` is from midnight today.
fn age() -> ScalarUDF {
    // Any timestamp, date or text: each row is cast to a microsecond timestamp.
    let signature = Signature::one_of(
        vec![TypeSignature::Any(1), TypeSignature::Any(2)],
        Volatility::Stable,
    );
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "age",
        signature,
        INTERVAL,
        Arc::new(|args: &[ColumnarValue]| {
            let today = chrono::Utc::now().date_naive().and_hms_opt(0, 0, 0);
            let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
            let args = args
                .iter()
                .map(|a| a.cast_to(&micros, None))
                .collect::<Result<Vec<_>>>()?;
            map_rows(&args, &INTERVAL, |arrays, row| {
                let at = |i: usize| timestamp_at(&arrays[i], row);
                let (a, b) = match arrays.len() {
                    1 => (today, at(0)),
                    _ => (at(0), at(1)),
                };
                let (Some(a), Some(b)) = (a, b) else {
                    return Ok(None);
                };
                Ok(Some(ScalarValue::IntervalMonthDayNano(Some(between(a, b)))))
            })
        }),
    ))
}

fn between(a: NaiveDateTime, b: NaiveDateTime) -> IntervalMonthDayNano {
    let negative = a < b;
    let (late, early) = if negative { (b, a) } else { (a, b) };
    let time = |t: NaiveDateTime| {
        t.num_seconds_from_midnight() as i64 * 1_000_000_000 + t.nanosecond() as i64
    };
    let mut nanos = time(late) - time(early);
    let mut days = late.day() as i32 - early.day() as i32;
    let mut months = (late.year() - early.year()) * 12 + late.month() as i32 - early.month() as i32;
    if nanos < 0 {
        nanos += NANOS_PER_DAY;
        days -= 1;
    }
    if days < 0 {
        days += days_in_month(early.year(), early.month());
        months -= 1;
    }
    let sign = if negative { -1 } else { 1 };
    IntervalMonthDayNano::new(sign * months, sign * days, sign as i64 * nanos)
}

fn days_in_month(year: i32, month: u32) -> i32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    match (first, next) {
        (Some(first), Some(next)) => (next - first).num_days() as i32,
        _ => 30,
    }
}

/// Runs `f` on every row of `args` (arrays or scalars) for a result of type `out` (`None` is
/// NULL), giving a scalar back when every argument was one.
fn map_rows(
    args: &[ColumnarValue],
    out: &DataType,
    f: impl Fn(&[ArrayRef], usize) -> Result<Option<ScalarValue>>,
) -> Result<ColumnarValue> {
    let all_scalars = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let rows = arrays.first().map_or(1, |a| a.len());
    let null = ScalarValue::try_from(out)?;
    let mut values = Vec::with_capacity(rows);
    for row in 0..rows {
        values.push(f(&arrays, row)?.unwrap_or_else(|| null.clone()));
    }
    if values.is_empty() {
        return Ok(ColumnarValue::Array(null.to_array_of_size(0)?));
    }
    let array = ScalarValue::iter_to_array(values)?;
    crate::pg_compat::functions::columnar(array, all_scalars)
}

fn interval_at(array: &ArrayRef, row: usize) -> Result<Option<IntervalMonthDayNano>> {
    let array: &IntervalMonthDayNanoArray = array.as_any().downcast_ref().ok_or_else(|| {
        DataFusionError::Internal(format!("not an interval: {}", array.data_type()))
    })?;
    Ok(array.is_valid(row).then(|| array.value(row)))
}

fn float_at(array: &ArrayRef, row: usize) -> Option<f64> {
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Float64 => Some(array.as_primitive::<Float64Type>().value(row)),
        DataType::Int64 => Some(array.as_primitive::<Int64Type>().value(row) as f64),
        _ => cast(array, &DataType::Float64)
            .ok()
            .map(|a| a.as_primitive::<Float64Type>().value(row)),
    }
}

/// A row of a microsecond timestamp column (`age` casts its arguments to one first).
fn timestamp_at(array: &ArrayRef, row: usize) -> Option<NaiveDateTime> {
    let micros = array.as_primitive_opt::<TimestampMicrosecondType>()?;
    if micros.is_null(row) {
        return None;
    }
    DateTime::from_timestamp_micros(micros.value(row)).map(|t| t.naive_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000_000;

    fn iv(months: i32, days: i32, nanos: i64) -> IntervalMonthDayNano {
        IntervalMonthDayNano::new(months, days, nanos)
    }

    #[test]
    fn multiplication_and_division_spill_fractions_as_postgresql_does() {
        assert_eq!(scale(iv(0, -3, 0), 0.5).unwrap(), iv(0, -1, -12 * HOUR));
        assert_eq!(scale(iv(14, 0, 0), 0.5).unwrap(), iv(7, 0, 0));
        assert_eq!(scale(iv(0, 1, 0), 1.5).unwrap(), iv(0, 1, 12 * HOUR));
        assert_eq!(
            scale(iv(0, 0, 9000 * 1_000_000_000), 0.5).unwrap(),
            iv(0, 0, 4500 * 1_000_000_000)
        );
        assert_eq!(scale(iv(1, 0, 0), 0.5).unwrap(), iv(0, 15, 0));
    }

    #[test]
    fn justification_and_age_answer_as_postgresql_does() {
        assert_eq!(justify_days(iv(0, 35, 0)), iv(1, 5, 0));
        assert_eq!(justify_hours(iv(0, 0, 27 * HOUR)), iv(0, 1, 3 * HOUR));
        assert_eq!(justify_interval(iv(1, 0, -HOUR)), iv(0, 29, 23 * HOUR));
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            between(at("2024-03-15 00:00:00"), at("2024-01-01 00:00:00")),
            iv(2, 14, 0)
        );
        assert_eq!(
            between(at("2024-01-01 00:00:00"), at("2024-03-15 00:00:00")),
            iv(-2, -14, 0)
        );
        assert_eq!(
            between(at("2024-03-01 01:00:00"), at("2024-01-31 02:00:00")),
            iv(1, 0, 23 * HOUR)
        );
    }
}

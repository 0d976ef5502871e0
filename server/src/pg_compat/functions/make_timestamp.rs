//! `make_timestamp(year, month, day, hour, min, sec)` and `make_timestamptz(..., [zone])`, as
//! PostgreSQL has them: seconds may have a fraction (kept to the microsecond), a field out of
//! range is an error with PostgreSQL's message ("date field value out of range"), and `make_timestamptz` reads the wall-clock time in
//! `zone` (an IANA name or an offset; the session's zone, UTC, without one).

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::expr_fn::SimpleScalarUDF;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Signature, TypeSignature, Volatility};

/// Both functions.
pub fn functions() -> Vec<ScalarUDF> {
    vec![
        make("make_timestamp", false),
        make("make_timestamptz", true),
    ]
}

fn make(name: &'static str, with_zone: bool) -> ScalarUDF {
    // Any numbers (and a zone's text): each argument is cast to its type below.
    let mut forms = vec![TypeSignature::Any(6)];
    if with_zone {
        forms.push(TypeSignature::Any(7));
    }
    let zone: Option<Arc<str>> = with_zone.then(|| Arc::from(oxbow_catalog::types::UTC));
    let out = DataType::Timestamp(TimeUnit::Microsecond, zone.clone());
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        name,
        Signature::one_of(forms, Volatility::Immutable),
        out,
        Arc::new(move |args: &[ColumnarValue]| {
            let all_scalars = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
            let types = [
                DataType::Int64,
                DataType::Int64,
                DataType::Int64,
                DataType::Int64,
            ];
            let types = types
                .iter()
                .chain([&DataType::Int64, &DataType::Float64, &DataType::Utf8]);
            let args = args
                .iter()
                .zip(types)
                .map(|(a, t)| a.cast_to(t, None))
                .collect::<Result<Vec<_>>>()?;
            let arrays = ColumnarValue::values_to_arrays(&args)?;
            let rows = arrays.first().map_or(0, |a| a.len());
            let micros = (0..rows)
                .map(|row| micros_at(name, &arrays, row))
                .collect::<Result<Vec<Option<i64>>>>()?;
            let array: ArrayRef =
                Arc::new(TimestampMicrosecondArray::from(micros).with_timezone_opt(zone.clone()));
            crate::pg_compat::functions::columnar(array, all_scalars)
        }),
    ))
}

fn out_of_range(name: &str, what: String) -> DataFusionError {
    DataFusionError::Execution(format!("{name}: date field value out of range: {what}"))
}

fn micros_at(name: &str, arrays: &[ArrayRef], row: usize) -> Result<Option<i64>> {
    if arrays.iter().any(|a| a.is_null(row)) {
        return Ok(None);
    }
    let int = |i: usize| arrays[i].as_primitive::<Int64Type>().value(row);
    let seconds = arrays[5].as_primitive::<Float64Type>().value(row);
    let (year, month, day, hour, minute) = (int(0), int(1), int(2), int(3), int(4));
    let fields = format!("{year}-{month:02}-{day:02} {hour:02}:{minute:02}:{seconds}");
    let date = i32::try_from(year)
        .ok()
        .zip(u32::try_from(month).ok())
        .zip(u32::try_from(day).ok())
        .and_then(|((y, m), d)| NaiveDate::from_ymd_opt(y, m, d))
        .ok_or_else(|| out_of_range(name, fields.clone()))?;
    let whole = seconds.trunc();
    let valid = (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0.0..60.0).contains(&seconds)
        && seconds.is_finite();
    if !valid {
        return Err(out_of_range(name, fields));
    }
    let micros_of_second = ((seconds - whole) * 1e6).round() as u32;
    let time = date
        .and_hms_micro_opt(
            hour as u32,
            minute as u32,
            whole as u32,
            micros_of_second.min(999_999),
        )
        .ok_or_else(|| out_of_range(name, fields.clone()))?;
    let utc = match arrays.get(6) {
        None => time,
        Some(zones) => in_zone(name, time, zones.as_string::<i32>().value(row))?,
    };
    Ok(Some(utc.and_utc().timestamp_micros()))
}

/// The UTC time of the wall-clock `time` in `zone` (the earlier one when a clock change
/// repeats it).
fn in_zone(name: &str, time: NaiveDateTime, zone: &str) -> Result<NaiveDateTime> {
    let tz: Tz = zone.parse().map_err(|_| {
        DataFusionError::Execution(format!("{name}: time zone \"{zone}\" not recognized"))
    })?;
    tz.from_local_datetime(&time)
        .earliest()
        .map(|t| t.naive_utc())
        .ok_or_else(|| out_of_range(name, format!("{time} in {zone}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_time_in_a_zone_is_read_as_postgresql_reads_it() {
        let at = NaiveDate::from_ymd_opt(2024, 3, 15)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .unwrap();
        let utc = in_zone("make_timestamptz", at, "Europe/Paris").unwrap();
        assert_eq!(utc.to_string(), "2024-03-15 09:00:00");
        assert!(in_zone("make_timestamptz", at, "Mars/Olympus").is_err());
    }
}

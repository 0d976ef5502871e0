//! Event time: the instant a row's `time_column` says it happened, read from an ISO 8601
//! string, epoch seconds or epoch milliseconds (detected by magnitude, or declared with
//! `time_format`), and the arrival time for a row that has none. Late and out-of-order rows
//! are fine: the hot tier keeps per-batch time ranges, nothing is windowed here.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, new_null_array};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, TimeUnit};

/// How numbers in the time column are read (`time_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// Strings as ISO 8601; numbers by magnitude: below 10^11 seconds, below 10^14
    /// milliseconds, below 10^17 microseconds, else nanoseconds (10^11 s is the year 5138,
    /// 10^11 ms is 1973, so real event times are never ambiguous).
    #[default]
    Auto,
    Iso,
    EpochSeconds,
    EpochMillis,
}

impl TimeFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Some(TimeFormat::Auto),
            "iso" | "iso8601" | "rfc3339" => Some(TimeFormat::Iso),
            "epoch_s" | "epoch_seconds" | "seconds" | "unix" => Some(TimeFormat::EpochSeconds),
            "epoch_ms" | "epoch_millis" | "milliseconds" => Some(TimeFormat::EpochMillis),
            _ => None,
        }
    }
}

/// A column of `n` arrival times, for rows without the time field.
pub fn arrival_column(n: usize, arrival_us: i64, target: &DataType) -> ArrayRef {
    let micros = Arc::new(Int64Array::from(vec![arrival_us; n])) as ArrayRef;
    to_target(&micros, target).unwrap_or_else(|| new_null_array(target, n))
}

/// Reads `source` as event times of type `target` (a timestamp type). Returns the column and
/// the rows whose value is not a time, with why. NULLs get the arrival time.
pub fn read(
    source: &ArrayRef,
    target: &DataType,
    format: TimeFormat,
    arrival_us: i64,
) -> (ArrayRef, Vec<(usize, String)>) {
    let n = source.len();
    let mut micros: Vec<i64> = vec![arrival_us; n];
    let mut failures = Vec::new();
    match source.data_type() {
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => {
            let as_us = DataType::Timestamp(TimeUnit::Microsecond, None);
            match cast_with_options(source, &as_us, &CastOptions::default()) {
                Ok(cast) => {
                    let values = cast
                        .as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
                    for (row, m) in micros.iter_mut().enumerate() {
                        if values.is_valid(row) {
                            *m = values.value(row);
                        }
                    }
                }
                Err(e) => failures.extend((0..n).map(|row| (row, e.to_string()))),
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = cast_with_options(source, &DataType::Utf8, &CastOptions::default())
                .expect("text casts to text");
            let text = text.as_string::<i32>();
            let iso = cast_with_options(
                &(Arc::new(text.clone()) as ArrayRef),
                &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                &CastOptions::default(),
            )
            .ok();
            for (row, m) in micros.iter_mut().enumerate() {
                if text.is_null(row) {
                    continue;
                }
                let value = text.value(row).trim();
                let parsed = match (format, value.parse::<f64>()) {
                    (TimeFormat::Iso, _) | (_, Err(_)) => iso
                        .as_ref()
                        .filter(|a| a.is_valid(row))
                        .map(|a| a.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>().value(row)),
                    (_, Ok(number)) => from_number(number, format),
                };
                match parsed {
                    Some(us) => *m = us,
                    None => failures.push((row, format!("invalid event time \"{value}\": expected an ISO 8601 timestamp or epoch seconds or milliseconds"))),
                }
            }
        }
        t if t.is_numeric() => {
            let numbers = cast_with_options(source, &DataType::Float64, &CastOptions::default())
                .expect("numbers cast to float64");
            let numbers = numbers.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            for (row, m) in micros.iter_mut().enumerate() {
                if numbers.is_valid(row) {
                    match from_number(numbers.value(row), format) {
                        Some(us) => *m = us,
                        None => failures
                            .push((row, format!("invalid event time {}", numbers.value(row)))),
                    }
                }
            }
        }
        other => failures
            .extend((0..n).map(|row| (row, format!("an event time cannot be of type {other}")))),
    }
    let array = Arc::new(Int64Array::from(micros)) as ArrayRef;
    let column = to_target(&array, target).unwrap_or_else(|| new_null_array(target, n));
    (column, failures)
}

fn from_number(number: f64, format: TimeFormat) -> Option<i64> {
    if !number.is_finite() {
        return None;
    }
    let scale = match format {
        TimeFormat::EpochSeconds => 1e6,
        TimeFormat::EpochMillis => 1e3,
        TimeFormat::Iso => return None,
        TimeFormat::Auto => match number.abs() {
            a if a < 1e11 => 1e6,
            a if a < 1e14 => 1e3,
            a if a < 1e17 => 1.0,
            _ => 1e-3,
        },
    };
    let us = number * scale;
    (us.abs() < 9.2e18).then_some(us as i64)
}

/// Microseconds since the epoch as the timestamp type `target` (any unit and zone).
fn to_target(micros: &ArrayRef, target: &DataType) -> Option<ArrayRef> {
    let as_us = cast_with_options(
        micros,
        &DataType::Timestamp(TimeUnit::Microsecond, None),
        &CastOptions::default(),
    )
    .ok()?;
    let as_us = match target {
        DataType::Timestamp(_, Some(tz)) => cast_with_options(
            &as_us,
            &DataType::Timestamp(TimeUnit::Microsecond, Some(tz.clone())),
            &CastOptions::default(),
        )
        .ok()?,
        _ => as_us,
    };
    cast_with_options(&as_us, target, &CastOptions::default()).ok()
}

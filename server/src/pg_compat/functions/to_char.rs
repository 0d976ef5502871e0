//! `to_char(timestamp | timestamptz | date, text)`, `to_date(text, text)` and
//! `to_timestamp(text, text)` with PostgreSQL's patterns ([`super::datetime_format`]), in place
//! of DataFusion's chrono-pattern functions of the same names.
//!
//! A timestamptz is written in the session's `TimeZone` (DataFusion's `execution.time_zone`,
//! which `SET TimeZone` sets), as PostgreSQL does; a timestamp or date as it is.
//! `to_timestamp(double)` keeps DataFusion's implementation: only the two-argument forms are
//! PostgreSQL-pattern functions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, Date32Builder, StringArray, StringBuilder, TimestampMicrosecondArray,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use datafusion::logical_expr::type_coercion::functions::fields_with_udf;

use super::datetime_format::{Piece, Zone, format, parse_pattern};
use super::datetime_read::parse;

/// Tokenized patterns by their text: a column formatted with one literal pattern tokenizes once.
#[derive(Debug, Default)]
struct Patterns(Mutex<HashMap<String, Arc<Vec<Piece>>>>);

impl Patterns {
    fn get(&self, pattern: &str) -> Arc<Vec<Piece>> {
        let mut map = self.0.lock().expect("pattern cache poisoned");
        if map.len() > 256 {
            map.clear();
        }
        Arc::clone(
            map.entry(pattern.to_string())
                .or_insert_with(|| Arc::new(parse_pattern(pattern))),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    ToChar,
    ToDate,
    ToTimestamp,
}

#[derive(Debug)]
struct PatternFunction {
    kind: Kind,
    signature: Signature,
    patterns: Patterns,
    /// DataFusion's own function of the same name, for the forms that are not pattern forms
    /// (`to_timestamp(double)`, `to_char(interval, ...)`).
    fallback: Option<ScalarUDF>,
}

impl PartialEq for PatternFunction {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Eq for PatternFunction {}

impl std::hash::Hash for PatternFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state)
    }
}

fn session_zone(args: &ScalarFunctionArgs) -> Option<String> {
    args.config_options.execution.time_zone.clone()
}

/// `to_timestamp(double precision)`: seconds since the epoch, rounded to the microsecond as
/// PostgreSQL rounds them (DataFusion's truncates `1710496800.25` to `.249999`).
fn is_epoch_form(kind: Kind, arg_types: &[DataType]) -> bool {
    kind == Kind::ToTimestamp
        && arg_types.len() == 1
        && matches!(
            arg_types[0],
            DataType::Float64 | DataType::Float32 | DataType::Decimal128(_, _)
        )
}

/// Whether a call is one of the pattern forms this module owns.
fn is_pattern_form(kind: Kind, arg_types: &[DataType]) -> bool {
    if arg_types.len() != 2
        || !matches!(
            arg_types[1],
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        )
    {
        return false;
    }
    match kind {
        Kind::ToChar => matches!(
            arg_types[0],
            DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 | DataType::Null
        ),
        Kind::ToDate | Kind::ToTimestamp => matches!(
            arg_types[0],
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        ),
    }
}

impl ScalarUDFImpl for PatternFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::ToChar => "to_char",
            Kind::ToDate => "to_date",
            Kind::ToTimestamp => "to_timestamp",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if is_pattern_form(self.kind, arg_types) {
            return Ok(arg_types.to_vec());
        }
        if is_epoch_form(self.kind, arg_types) {
            return Ok(vec![DataType::Float64]);
        }
        match &self.fallback {
            Some(f) => {
                let fields: Vec<FieldRef> = arg_types
                    .iter()
                    .map(|t| Arc::new(Field::new("arg", t.clone(), true)))
                    .collect();
                Ok(fields_with_udf(&fields, f)?
                    .iter()
                    .map(|f| f.data_type().clone())
                    .collect())
            }
            None => plan_err!(
                "function {}({}) does not exist",
                self.name(),
                arg_types
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if is_epoch_form(self.kind, arg_types) {
            return Ok(DataType::Timestamp(
                TimeUnit::Microsecond,
                Some(oxbow_catalog::types::UTC.into()),
            ));
        }
        if is_pattern_form(self.kind, arg_types) {
            return Ok(match self.kind {
                Kind::ToChar => DataType::Utf8,
                Kind::ToDate => DataType::Date32,
                Kind::ToTimestamp => DataType::Timestamp(
                    TimeUnit::Microsecond,
                    Some(oxbow_catalog::types::UTC.into()),
                ),
            });
        }
        match &self.fallback {
            Some(f) => f.return_type(arg_types),
            None => plan_err!("function {} does not take these arguments", self.name()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(|a| a.data_type()).collect();
        if is_epoch_form(self.kind, &types) {
            return epoch_seconds(&args.args[0]);
        }
        if !is_pattern_form(self.kind, &types) {
            return match &self.fallback {
                Some(f) => f.invoke_with_args(args),
                None => exec_err!("function {} does not take these arguments", self.name()),
            };
        }
        let rows = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(if all_scalar { 1 } else { rows }))
            .collect::<Result<_>>()?;
        let patterns = cast(&arrays[1], &DataType::Utf8)?;
        let patterns = patterns
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8 gives a StringArray");
        let out: ArrayRef = match self.kind {
            Kind::ToChar => self.to_char(&arrays[0], patterns, session_zone(&args))?,
            Kind::ToDate | Kind::ToTimestamp => self.read(&arrays[0], patterns)?,
        };
        Ok(if all_scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

impl PatternFunction {
    fn to_char(
        &self,
        values: &ArrayRef,
        patterns: &StringArray,
        zone: Option<String>,
    ) -> Result<ArrayRef> {
        let source_zone = match values.data_type() {
            DataType::Timestamp(_, Some(_)) => Some(zone.unwrap_or_else(|| "UTC".into())),
            _ => None,
        };
        let micros = cast(values, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
        let micros = micros
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("cast to Timestamp(µs) gives that array");
        let tz: Option<Tz> = match &source_zone {
            Some(name) => Some(name.parse().map_err(|e| {
                datafusion::error::DataFusionError::Execution(format!("time zone \"{name}\": {e}"))
            })?),
            None => None,
        };
        let mut out = StringBuilder::with_capacity(micros.len(), micros.len() * 16);
        for i in 0..micros.len() {
            if micros.is_null(i) || patterns.is_null(i) {
                out.append_null();
                continue;
            }
            let Some(utc) = DateTime::from_timestamp_micros(micros.value(i)) else {
                return exec_err!("timestamp out of range");
            };
            let (wall, zone) = match (&tz, &source_zone) {
                (Some(tz), Some(name)) => {
                    let local = utc.with_timezone(tz);
                    let offset = local.offset().fix().local_minus_utc();
                    let label = if offset == 0 && name.eq_ignore_ascii_case("utc") {
                        "UTC".to_string()
                    } else {
                        local.format("%Z").to_string()
                    };
                    (
                        local.naive_local(),
                        Zone {
                            offset_seconds: offset,
                            name: label,
                        },
                    )
                }
                _ => (utc.naive_utc(), Zone::utc()),
            };
            out.append_value(format(wall, &zone, &self.patterns.get(patterns.value(i))));
        }
        Ok(Arc::new(out.finish()))
    }

    fn read(&self, values: &ArrayRef, patterns: &StringArray) -> Result<ArrayRef> {
        let text = cast(values, &DataType::Utf8)?;
        let text = text
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8 gives a StringArray");
        let mut dates = Date32Builder::with_capacity(text.len());
        let mut stamps = TimestampMicrosecondBuilder::with_capacity(text.len())
            .with_timezone(oxbow_catalog::types::UTC);
        for i in 0..text.len() {
            if text.is_null(i) || patterns.is_null(i) {
                dates.append_null();
                stamps.append_null();
                continue;
            }
            let parsed =
                parse(text.value(i), &self.patterns.get(patterns.value(i))).map_err(|e| {
                    datafusion::error::DataFusionError::Execution(format!(
                        "invalid input for {}('{}', '{}'): {e}",
                        self.name(),
                        text.value(i),
                        patterns.value(i)
                    ))
                })?;
            match self.kind {
                Kind::ToDate => {
                    let epoch =
                        chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch is a date");
                    dates.append_value((parsed.value.date() - epoch).num_days() as i32);
                }
                _ => {
                    // A wall-clock time without an offset is in the session zone; Oxbow
                    // sessions default to UTC.
                    let offset = parsed.offset_seconds.unwrap_or(0);
                    stamps.append_value(utc_micros(parsed.value, offset)?);
                }
            }
        }
        Ok(match self.kind {
            Kind::ToDate => Arc::new(dates.finish()),
            _ => Arc::new(stamps.finish()),
        })
    }
}

fn epoch_seconds(value: &ColumnarValue) -> Result<ColumnarValue> {
    let convert = |seconds: f64| -> Result<i64> {
        let micros = (seconds * 1e6).round();
        if !micros.is_finite() || micros.abs() > i64::MAX as f64 {
            return exec_err!("timestamp out of range: \"{seconds}\"");
        }
        Ok(micros as i64)
    };
    let array = value.to_array(1)?;
    let floats = cast(&array, &DataType::Float64)?;
    let floats = floats
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Float64Array>()
        .expect("cast to Float64 gives a Float64Array");
    let mut out = TimestampMicrosecondBuilder::with_capacity(floats.len())
        .with_timezone(oxbow_catalog::types::UTC);
    for v in floats.iter() {
        match v {
            Some(s) => out.append_value(convert(s)?),
            None => out.append_null(),
        }
    }
    let out: ArrayRef = Arc::new(out.finish());
    Ok(match value {
        ColumnarValue::Scalar(_) => ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?),
        ColumnarValue::Array(_) => ColumnarValue::Array(out),
    })
}

fn utc_micros(wall: NaiveDateTime, offset_seconds: i32) -> Result<i64> {
    let offset = chrono::FixedOffset::east_opt(offset_seconds).ok_or_else(|| {
        datafusion::error::DataFusionError::Execution("time zone offset out of range".into())
    })?;
    match offset.from_local_datetime(&wall).single() {
        Some(t) => Ok(t.timestamp_micros()),
        None => exec_err!("timestamp out of range"),
    }
}

/// The three functions, each falling back to `fallback(name)` (DataFusion's function of that
/// name, if registered) for the forms that take no PostgreSQL pattern.
pub fn pattern_functions(fallback: impl Fn(&str) -> Option<ScalarUDF>) -> Vec<ScalarUDF> {
    [Kind::ToChar, Kind::ToDate, Kind::ToTimestamp]
        .into_iter()
        .map(|kind| {
            let mut f = PatternFunction {
                kind,
                signature: Signature::new(TypeSignature::UserDefined, Volatility::Stable),
                patterns: Patterns::default(),
                fallback: None,
            };
            f.fallback = fallback(f.name());
            ScalarUDF::new_from_impl(f)
        })
        .collect()
}

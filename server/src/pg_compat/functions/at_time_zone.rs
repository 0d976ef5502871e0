//! `x AT TIME ZONE zone` as PostgreSQL means it (`crate::sql::rewrite::ast` plans it as
//! `oxbow_at_time_zone(x, zone)`):
//!
//! - a `timestamp` (wall-clock time) read as local time in `zone` gives the `timestamptz`
//!   instant (`timestamp '2024-03-15 10:00' AT TIME ZONE 'Europe/Berlin'` is 09:00 UTC);
//! - a `timestamptz` (an instant) gives the wall-clock `timestamp` in `zone`
//!   (`... AT TIME ZONE 'Asia/Tokyo'` is Tokyo's clock, without a zone).
//!
//! DataFusion casts both to a timestamp carrying `zone`, so the first prints with Berlin's
//! offset and the second stays a `timestamptz` with Tokyo's: the same instants, other types.

use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

pub const NAME: &str = "oxbow_at_time_zone";

pub fn at_time_zone() -> ScalarUDF {
    ScalarUDF::from(AtTimeZone {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct AtTimeZone {
    signature: Signature,
}

/// Whether `t` is an instant (`timestamptz`), as opposed to a wall-clock time.
fn is_instant(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(_, Some(_)))
}

impl ScalarUDFImpl for AtTimeZone {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(if is_instant(&args[0]) {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        } else {
            DataType::Timestamp(
                TimeUnit::Microsecond,
                Some(Arc::from(oxbow_catalog::types::UTC)),
            )
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalars = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let instant = is_instant(arrays[0].data_type());
        let naive = DataType::Timestamp(TimeUnit::Microsecond, None);
        // An instant's micros are UTC's; a wall-clock time's are that clock's.
        let values = cast(&arrays[0], &naive)?;
        let values = values.as_primitive::<TimestampMicrosecondType>();
        let zones = cast(&arrays[1], &DataType::Utf8)?;
        let zones = zones.as_string::<i32>();
        let mut out = Vec::with_capacity(values.len());
        for row in 0..values.len() {
            if values.is_null(row) || zones.is_null(row) {
                out.push(None);
                continue;
            }
            let tz = zone(zones.value(row))?;
            let Some(t) = DateTime::from_timestamp_micros(values.value(row)).map(|t| t.naive_utc())
            else {
                out.push(None);
                continue;
            };
            let converted = if instant {
                tz.from_utc_datetime(&t).naive_local()
            } else {
                local_to_utc(&tz, t, zones.value(row))?
            };
            out.push(Some(converted.and_utc().timestamp_micros()));
        }
        let array = TimestampMicrosecondArray::from(out);
        let array: ArrayRef = if instant {
            Arc::new(array)
        } else {
            Arc::new(array.with_timezone(oxbow_catalog::types::UTC))
        };
        crate::pg_compat::functions::columnar(array, all_scalars)
    }
}

/// A zone as PostgreSQL names one here: an IANA name or an offset (`+02:00`).
fn zone(name: &str) -> Result<Tz> {
    name.trim()
        .parse()
        .map_err(|_| DataFusionError::Execution(format!("time zone \"{name}\" not recognized")))
}

/// The instant of wall-clock `t` in `tz`: the earlier one when a clock change repeats it, and
/// for a time a change skips, the time read with the offset before the change (PostgreSQL's).
fn local_to_utc(tz: &Tz, t: NaiveDateTime, name: &str) -> Result<NaiveDateTime> {
    if let Some(at) = tz.from_local_datetime(&t).earliest() {
        return Ok(at.naive_utc());
    }
    let before = t - chrono::Duration::hours(3);
    let offset = tz
        .from_local_datetime(&before)
        .earliest()
        .map(|at| at.offset().fix())
        .ok_or_else(|| DataFusionError::Execution(format!("{t} has no time in {name}")))?;
    Ok(t - chrono::Duration::seconds(offset.local_minus_utc() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_times_and_instants_convert_as_postgresql_converts_them() {
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let berlin = zone("Europe/Berlin").unwrap();
        assert_eq!(
            local_to_utc(&berlin, t("2024-03-15 10:00:00"), "Europe/Berlin").unwrap(),
            t("2024-03-15 09:00:00")
        );
        // 02:30 does not exist in Berlin on 2024-03-31: read with the winter offset.
        assert_eq!(
            local_to_utc(&berlin, t("2024-03-31 02:30:00"), "Europe/Berlin").unwrap(),
            t("2024-03-31 01:30:00")
        );
        let tokyo = zone("Asia/Tokyo").unwrap();
        assert_eq!(
            tokyo
                .from_utc_datetime(&t("2024-02-29 12:34:56"))
                .naive_local(),
            t("2024-02-29 21:34:56")
        );
        assert!(zone("Mars/Olympus").is_err());
    }
}

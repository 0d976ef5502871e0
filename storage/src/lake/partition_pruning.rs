//! Partition pruning for time buckets: a filter on `ts` becomes a filter on `ts_day`.
//!
//! delta-rs prunes files by partition values only for filters that name the partition column,
//! and does not derive them from a generation expression (Spark does). So Oxbow's scan adds,
//! for each derived partition (`day(ts)`, `month(ts)`, `hour(ts)`), the bucket range that the
//! query's filters on the source column allow: `ts >= '2026-01-02 10:00'` adds
//! `ts_day >= DATE '2026-01-02'`. The derived filter is implied by the query's own (every
//! matching row is in a bucket it keeps), so it only skips files and never changes a result.
//! Plain-column partitions need nothing: the query's filter already names them.

use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, col, lit};
use oxbow_catalog::{PartitionTransform, TableDef};

use crate::hot::prune::{time_bounds, time_unit};

/// The filters on derived partition columns that `filters` imply for the table `def`, whose
/// rows have `schema`.
pub fn derived_filters(def: &TableDef, schema: &SchemaRef, filters: &[Expr]) -> Vec<Expr> {
    let mut derived = Vec::new();
    for partition in def.options.partition_by.iter().filter(|p| p.is_derived()) {
        let Ok(field) = schema.field_with_name(&partition.source) else {
            continue;
        };
        let Some(unit) = time_unit(field.data_type()) else {
            continue;
        };
        let (low, high) = time_bounds(filters, &partition.source, unit);
        let name = partition.delta_name();
        let tz = match field.data_type() {
            DataType::Timestamp(_, tz) => tz.clone(),
            _ => None,
        };
        for (bound, is_low) in [(low, true), (high, false)] {
            let Some(value) = bound else { continue };
            let micros = to_micros(value, unit);
            let bucket = match partition.transform {
                PartitionTransform::Day => ScalarValue::Date32(Some(day_of(micros))),
                PartitionTransform::Month => ScalarValue::Date32(Some(month_of(micros))),
                PartitionTransform::Hour => ScalarValue::TimestampMicrosecond(
                    Some(micros.div_euclid(HOUR_US) * HOUR_US),
                    tz.clone(),
                ),
                PartitionTransform::Identity => continue,
            };
            let c = col(datafusion::common::Column::new_unqualified(&name));
            derived.push(if is_low {
                c.gt_eq(lit(bucket))
            } else {
                c.lt_eq(lit(bucket))
            });
        }
    }
    derived
}

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

fn to_micros(value: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => value.saturating_mul(1_000_000),
        TimeUnit::Millisecond => value.saturating_mul(1_000),
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => value.div_euclid(1_000),
    }
}

/// Days since the epoch of the UTC day holding `micros`.
fn day_of(micros: i64) -> i32 {
    micros.div_euclid(DAY_US) as i32
}

/// Days since the epoch of the first day of the UTC month holding `micros` (civil-date
/// arithmetic after Howard Hinnant's `civil_from_days`/`days_from_civil`).
fn month_of(micros: i64) -> i32 {
    let days = micros.div_euclid(DAY_US);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    (days - (day - 1)) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_hold_their_bounds() {
        // 2026-01-02T10:30:00Z
        let t = 1_767_349_800_000_000i64;
        assert_eq!(day_of(t), 20455);
        assert_eq!(month_of(t), 20454, "2026-01-01");
        // 2024-03-15T00:00:00Z: the month starts 2024-03-01 (19783).
        assert_eq!(month_of(1_710_460_800_000_000), 19783);
        assert_eq!(day_of(-1), -1, "the day before the epoch");
    }
}

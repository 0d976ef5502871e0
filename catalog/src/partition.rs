//! How a table's Delta files are partitioned (`CREATE TABLE ... PARTITION BY (day(ts))`).
//!
//! A partition is either a plain column of the table (`PARTITION BY (country)`) or a time
//! bucket of a timestamp column (`hour(ts)`, `day(ts)`, `month(ts)`). A bucket is stored as an
//! extra Delta column the table's rows do not have (`ts_day`), computed by Oxbow when it writes
//! Parquet and declared as a Delta generated column with the same expression, so other Delta
//! readers (Spark, Python deltalake, polars) see an ordinary partition column.

use serde::{Deserialize, Serialize};

/// The Delta column metadata key of a generated column's expression (Arrow field metadata
/// becomes Delta column metadata as a string).
pub const GENERATION_EXPRESSION_KEY: &str = "delta.generationExpression";

/// The bucket a time partition takes of its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartitionTransform {
    /// The column's own value.
    Identity,
    /// The UTC day, as a `date`.
    Day,
    /// The first day of the UTC month, as a `date`.
    Month,
    /// The start of the UTC hour, as a timestamp of the column's own type.
    Hour,
}

impl PartitionTransform {
    /// The SQL function name (`day`), or `None` for a plain column.
    pub fn function(self) -> Option<&'static str> {
        match self {
            PartitionTransform::Identity => None,
            PartitionTransform::Day => Some("day"),
            PartitionTransform::Month => Some("month"),
            PartitionTransform::Hour => Some("hour"),
        }
    }

    pub fn from_function(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "day" | "days" => PartitionTransform::Day,
            "month" | "months" => PartitionTransform::Month,
            "hour" | "hours" => PartitionTransform::Hour,
            _ => return None,
        })
    }
}

/// One partition column of a table's Delta table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionColumn {
    /// The table column it is taken from.
    pub source: String,
    pub transform: PartitionTransform,
}

impl PartitionColumn {
    /// The name of the Delta partition column: the source column itself for a plain one,
    /// `<source>_<bucket>` (`ts_day`) for a time bucket.
    pub fn delta_name(&self) -> String {
        match self.transform.function() {
            None => self.source.clone(),
            Some(f) => format!("{}_{f}", self.source),
        }
    }

    /// Whether the Delta column is one the table's rows do not have (a time bucket).
    pub fn is_derived(&self) -> bool {
        self.transform != PartitionTransform::Identity
    }

    /// The Delta generation expression of a derived column (Spark SQL that DataFusion also
    /// parses, as delta-rs requires), `None` for a plain column.
    pub fn generation_expression(&self) -> Option<String> {
        let c = format!("`{}`", self.source.replace('`', "``"));
        match self.transform {
            PartitionTransform::Identity => None,
            PartitionTransform::Day => Some(format!("CAST({c} AS DATE)")),
            PartitionTransform::Month => Some(format!("CAST(date_trunc('month', {c}) AS DATE)")),
            PartitionTransform::Hour => Some(format!("date_trunc('hour', {c})")),
        }
    }

    /// `day(ts)` or `country`, as `PARTITION BY` spells it.
    pub fn sql(&self) -> String {
        match self.transform.function() {
            None => self.source.clone(),
            Some(f) => format!("{f}({})", self.source),
        }
    }
}

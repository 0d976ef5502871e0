//! The SQL column types a table may declare, and how each one is stored in Arrow (and so in
//! Parquet and Delta).
//!
//! The catalog keeps the declared SQL type, not only the Arrow type, because several SQL types
//! share one Arrow type (`text`, `varchar(n)` and `jsonb` are all `Utf8`) and clients must see
//! the type they declared.

use std::collections::HashMap;

use arrow_schema::{DataType, Field, TimeUnit};
use serde::{Deserialize, Serialize};

/// Precision and scale of a `numeric` declared without them. Arrow's `Decimal128` holds at most
/// 38 digits; PostgreSQL's unconstrained numeric has no fixed scale, so we pick one that keeps
/// money-like and ratio-like values exact.
pub const DEFAULT_NUMERIC_PRECISION: u8 = 38;
pub const DEFAULT_NUMERIC_SCALE: i8 = 10;

/// Arrow field metadata key holding a column's declared SQL type (as JSON) where the Arrow type
/// alone cannot say it: `varchar(n)`, `jsonb`, `numeric(p,s)`. Queries carry it from the table
/// to the result columns, so the wire can describe them with PostgreSQL's type OID and typmod.
pub const SQL_TYPE_METADATA_KEY: &str = "oxbow.sql_type";

/// The time zone Oxbow stores `timestamptz` in: instants are normalised to UTC, as PostgreSQL does.
pub const UTC: &str = "UTC";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlType {
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    Real,
    DoublePrecision,
    Numeric {
        precision: u8,
        scale: i8,
    },
    Text,
    Varchar {
        max_len: Option<u32>,
    },
    Bytea,
    Date,
    Timestamp,
    TimestampTz,
    /// `json` and `jsonb` are stored as their text (no binary JSON yet).
    Jsonb,
}

impl SqlType {
    /// The Arrow type values of this SQL type are stored as.
    pub fn arrow_type(&self) -> DataType {
        match self {
            SqlType::Boolean => DataType::Boolean,
            SqlType::SmallInt => DataType::Int16,
            SqlType::Integer => DataType::Int32,
            SqlType::BigInt => DataType::Int64,
            SqlType::Real => DataType::Float32,
            SqlType::DoublePrecision => DataType::Float64,
            SqlType::Numeric { precision, scale } => DataType::Decimal128(*precision, *scale),
            SqlType::Text | SqlType::Varchar { .. } | SqlType::Jsonb => DataType::Utf8,
            SqlType::Bytea => DataType::Binary,
            SqlType::Date => DataType::Date32,
            SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            SqlType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        }
    }

    /// The field metadata that records this type, when the Arrow type does not determine it.
    pub fn field_metadata(&self) -> Option<HashMap<String, String>> {
        match self {
            SqlType::Varchar { .. } | SqlType::Jsonb | SqlType::Numeric { .. } => {
                Some(HashMap::from([(
                    SQL_TYPE_METADATA_KEY.to_string(),
                    serde_json::to_string(self).expect("SqlType serializes"),
                )]))
            }
            _ => None,
        }
    }

    /// The declared type recorded in a field's metadata by [`SqlType::field_metadata`].
    pub fn from_field(field: &Field) -> Option<SqlType> {
        let json = field.metadata().get(SQL_TYPE_METADATA_KEY)?;
        serde_json::from_str(json).ok()
    }

    /// PostgreSQL's type modifier (`atttypmod`) of this type: `n + 4` for `varchar(n)`,
    /// `((p << 16) | s) + 4` for `numeric(p,s)`, -1 when the type takes none.
    pub fn pg_typmod(&self) -> i32 {
        match self {
            SqlType::Varchar { max_len: Some(n) } => *n as i32 + 4,
            SqlType::Numeric { precision, scale } => {
                ((i32::from(*precision) << 16) | (i32::from(*scale) & 0xffff)) + 4
            }
            _ => -1,
        }
    }

    /// The SQL type a column of this Arrow type is given when a table is created from a query
    /// (`CREATE TABLE ... AS SELECT`). `None` when Oxbow cannot store the type.
    pub fn from_arrow(data_type: &DataType) -> Option<SqlType> {
        Some(match data_type {
            DataType::Boolean => SqlType::Boolean,
            DataType::Int8 | DataType::Int16 | DataType::UInt8 => SqlType::SmallInt,
            DataType::Int32 | DataType::UInt16 => SqlType::Integer,
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => SqlType::BigInt,
            DataType::Float16 | DataType::Float32 => SqlType::Real,
            DataType::Float64 => SqlType::DoublePrecision,
            DataType::Decimal128(p, s) => SqlType::Numeric {
                precision: *p,
                scale: *s,
            },
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SqlType::Text,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => SqlType::Bytea,
            DataType::Date32 | DataType::Date64 => SqlType::Date,
            DataType::Timestamp(_, None) => SqlType::Timestamp,
            DataType::Timestamp(_, Some(_)) => SqlType::TimestampTz,
            _ => return None,
        })
    }

    /// The name PostgreSQL's `format_type` would print, used in messages and introspection.
    pub fn pg_name(&self) -> String {
        match self {
            SqlType::Boolean => "boolean".into(),
            SqlType::SmallInt => "smallint".into(),
            SqlType::Integer => "integer".into(),
            SqlType::BigInt => "bigint".into(),
            SqlType::Real => "real".into(),
            SqlType::DoublePrecision => "double precision".into(),
            SqlType::Numeric { precision, scale } => format!("numeric({precision},{scale})"),
            SqlType::Text => "text".into(),
            SqlType::Varchar { max_len: Some(n) } => format!("character varying({n})"),
            SqlType::Varchar { max_len: None } => "character varying".into(),
            SqlType::Bytea => "bytea".into(),
            SqlType::Date => "date".into(),
            SqlType::Timestamp => "timestamp without time zone".into(),
            SqlType::TimestampTz => "timestamp with time zone".into(),
            SqlType::Jsonb => "jsonb".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_survive_field_metadata() {
        for ty in [
            SqlType::Varchar { max_len: Some(20) },
            SqlType::Varchar { max_len: None },
            SqlType::Jsonb,
            SqlType::Numeric {
                precision: 12,
                scale: 3,
            },
        ] {
            let field = Field::new("c", ty.arrow_type(), true)
                .with_metadata(ty.field_metadata().expect("metadata"));
            assert_eq!(SqlType::from_field(&field), Some(ty));
        }
        assert_eq!(SqlType::Text.field_metadata(), None);
    }

    #[test]
    fn typmods_follow_postgresql() {
        assert_eq!(SqlType::Varchar { max_len: Some(20) }.pg_typmod(), 24);
        let numeric = SqlType::Numeric {
            precision: 12,
            scale: 3,
        };
        assert_eq!(numeric.pg_typmod(), (12 << 16 | 3) + 4);
        assert_eq!(SqlType::Text.pg_typmod(), -1);
    }

    #[test]
    fn every_type_round_trips_through_arrow_except_aliases() {
        let types = [
            SqlType::Boolean,
            SqlType::SmallInt,
            SqlType::Integer,
            SqlType::BigInt,
            SqlType::Real,
            SqlType::DoublePrecision,
            SqlType::Numeric {
                precision: 12,
                scale: 2,
            },
            SqlType::Text,
            SqlType::Bytea,
            SqlType::Date,
            SqlType::Timestamp,
            SqlType::TimestampTz,
        ];
        for t in types {
            assert_eq!(
                SqlType::from_arrow(&t.arrow_type()),
                Some(t.clone()),
                "{t:?}"
            );
        }
    }

    #[test]
    fn timestamptz_is_stored_in_utc() {
        assert_eq!(
            SqlType::TimestampTz.arrow_type(),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }
}

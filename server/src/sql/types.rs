//! The SQL types a `CREATE TABLE` may name, mapped to the catalog's [`SqlType`].

use datafusion::sql::sqlparser::ast::{CharacterLength, DataType, ExactNumberInfo, TimezoneInfo};
use oxbow_catalog::SqlType;
use oxbow_catalog::types::{DEFAULT_NUMERIC_PRECISION, DEFAULT_NUMERIC_SCALE};

use crate::error::ServerError;

/// The catalog type of a column declared as `data_type`, or `0A000` for types Oxbow cannot
/// store yet (arrays, intervals, time of day, ...).
pub fn sql_type(data_type: &DataType) -> Result<SqlType, ServerError> {
    use DataType as D;
    Ok(match data_type {
        D::Boolean | D::Bool => SqlType::Boolean,
        D::SmallInt(_) | D::Int2(_) => SqlType::SmallInt,
        D::Int(_) | D::Integer(_) | D::Int4(_) => SqlType::Integer,
        D::BigInt(_) | D::Int8(_) => SqlType::BigInt,
        D::Real | D::Float4 => SqlType::Real,
        D::DoublePrecision | D::Float8 | D::Double(ExactNumberInfo::None) => {
            SqlType::DoublePrecision
        }
        // PostgreSQL: float(1..24) is real, float(25..53) and plain float are double precision.
        D::Float(ExactNumberInfo::Precision(p)) if *p <= 24 => SqlType::Real,
        D::Float(_) => SqlType::DoublePrecision,
        D::Numeric(info) | D::Decimal(info) | D::Dec(info) => numeric(info)?,
        D::Text | D::String(_) => SqlType::Text,
        D::Varchar(len) | D::CharacterVarying(len) | D::CharVarying(len) => SqlType::Varchar {
            max_len: char_len(len),
        },
        // char(n) is stored as text; its blank-padding is not reproduced.
        D::Char(_) | D::Character(_) => SqlType::Text,
        D::Bytea => SqlType::Bytea,
        D::Date => SqlType::Date,
        D::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => SqlType::Timestamp,
        D::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => SqlType::TimestampTz,
        D::JSON | D::JSONB => SqlType::Jsonb,
        D::Custom(name, _) => match name.to_string().to_ascii_lowercase().as_str() {
            "timestamptz" => SqlType::TimestampTz,
            "json" | "jsonb" => SqlType::Jsonb,
            "int" => SqlType::Integer,
            "float" => SqlType::DoublePrecision,
            other => return Err(ServerError::UnsupportedType(other.to_string())),
        },
        other => return Err(ServerError::UnsupportedType(other.to_string())),
    })
}

fn numeric(info: &ExactNumberInfo) -> Result<SqlType, ServerError> {
    let (precision, scale) = match info {
        ExactNumberInfo::None => (
            DEFAULT_NUMERIC_PRECISION as u64,
            DEFAULT_NUMERIC_SCALE as i64,
        ),
        ExactNumberInfo::Precision(p) => (*p, 0),
        ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
    };
    if !(1..=38).contains(&precision) || scale < 0 || scale as u64 > precision {
        return Err(ServerError::InvalidTypeModifier(format!(
            "NUMERIC({precision},{scale}): precision must be between 1 and 38 and scale between 0 and precision"
        )));
    }
    Ok(SqlType::Numeric {
        precision: precision as u8,
        scale: scale as i8,
    })
}

fn char_len(len: &Option<CharacterLength>) -> Option<u32> {
    match len {
        Some(CharacterLength::IntegerLength { length, .. }) => Some(*length as u32),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn parse_type(sql: &str) -> DataType {
        let stmt = Parser::parse_sql(&PostgreSqlDialect {}, &format!("CREATE TABLE t (c {sql})"))
            .unwrap()
            .remove(0);
        match stmt {
            datafusion::sql::sqlparser::ast::Statement::CreateTable(ct) => {
                ct.columns[0].data_type.clone()
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn postgres_type_names_map_to_catalog_types() {
        let cases = [
            ("boolean", SqlType::Boolean),
            ("smallint", SqlType::SmallInt),
            ("integer", SqlType::Integer),
            ("int", SqlType::Integer),
            ("bigint", SqlType::BigInt),
            ("real", SqlType::Real),
            ("double precision", SqlType::DoublePrecision),
            (
                "numeric(12,2)",
                SqlType::Numeric {
                    precision: 12,
                    scale: 2,
                },
            ),
            ("text", SqlType::Text),
            ("varchar(20)", SqlType::Varchar { max_len: Some(20) }),
            ("bytea", SqlType::Bytea),
            ("date", SqlType::Date),
            ("timestamp", SqlType::Timestamp),
            ("timestamptz", SqlType::TimestampTz),
            ("timestamp with time zone", SqlType::TimestampTz),
            ("jsonb", SqlType::Jsonb),
        ];
        for (name, expected) in cases {
            assert_eq!(sql_type(&parse_type(name)).unwrap(), expected, "{name}");
        }
    }

    #[test]
    fn impossible_numeric_modifiers_are_rejected() {
        assert!(sql_type(&parse_type("numeric(50,2)")).is_err());
        assert!(sql_type(&parse_type("numeric(5,6)")).is_err());
    }
}

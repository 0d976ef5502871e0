//! Type and catalog lookups drivers make: `to_regtype()`, `pg_typeof()`, `pg_get_expr()`,
//! `pg_get_serial_sequence()`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::map_rows;

/// `to_regtype(name)`: the OID of a built-in type, or NULL for a type Oxbow does not have
/// (psycopg 3 asks for `hstore` on connect and must learn it is absent, not get an error).
pub fn to_regtype() -> ScalarUDF {
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, Int32Array, StringArray};
    use datafusion::arrow::compute::cast;
    use datafusion::logical_expr::create_udf;

    fn oid(name: &str) -> Option<i32> {
        let name = name
            .trim()
            .trim_start_matches("pg_catalog.")
            .to_ascii_lowercase();
        Some(match name.as_str() {
            "bool" | "boolean" => 16,
            "bytea" => 17,
            "char" => 18,
            "name" => 19,
            "int8" | "bigint" => 20,
            "int2" | "smallint" => 21,
            "int4" | "integer" | "int" => 23,
            "text" => 25,
            "oid" => 26,
            "json" => 114,
            "float4" | "real" => 700,
            "float8" | "double precision" => 701,
            "varchar" | "character varying" => 1043,
            "date" => 1082,
            "time" | "time without time zone" => 1083,
            "timestamp" | "timestamp without time zone" => 1114,
            "timestamptz" | "timestamp with time zone" => 1184,
            "interval" => 1186,
            "numeric" | "decimal" => 1700,
            "uuid" => 2950,
            "jsonb" => 3802,
            _ => return None,
        })
    }

    create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let names = cast(&arrays[0], &DataType::Utf8)?;
            let names = names
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("cast to Utf8");
            let oids: Int32Array = names.iter().map(|n| n.and_then(oid)).collect();
            Ok(if oids.len() == 1 {
                ColumnarValue::Scalar(ScalarValue::Int32(if oids.is_null(0) {
                    None
                } else {
                    Some(oids.value(0))
                }))
            } else {
                ColumnarValue::Array(Arc::new(oids))
            })
        }),
    )
}

/// `pg_get_serial_sequence(table, column)`: NULL, as Oxbow has no sequences. SQLAlchemy's
/// column reflection calls it for every table.
pub fn pg_get_serial_sequence() -> ScalarUDF {
    use std::sync::Arc;

    datafusion::logical_expr::create_udf(
        "pg_get_serial_sequence",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|_| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)))),
    )
}

/// `pg_typeof(value)`: the name of the PostgreSQL type of its argument.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgTypeof {
    signature: Signature,
}

impl ScalarUDFImpl for PgTypeof {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let field = &args.arg_fields[0];
        let name = match oxbow_catalog::SqlType::from_field(field)
            .or_else(|| oxbow_catalog::SqlType::from_arrow(field.data_type()))
        {
            Some(oxbow_catalog::SqlType::Varchar { .. }) => "character varying".to_string(),
            Some(oxbow_catalog::SqlType::Numeric { .. }) => "numeric".to_string(),
            Some(sql_type) => sql_type.pg_name(),
            None if field.data_type().is_null() => "unknown".to_string(),
            None => field.data_type().to_string(),
        };
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(name))))
    }
}

pub fn pg_typeof() -> ScalarUDF {
    ScalarUDF::new_from_impl(PgTypeof {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

/// `pg_get_expr(expr, relation [, pretty])`: the stored expression text itself. The catalog
/// library's version turns a NULL (a column without default) into `''`, which Metabase and
/// pgJDBC then show as an empty default.
pub fn pg_get_expr() -> ScalarUDF {
    use datafusion::logical_expr::TypeSignature;

    ScalarUDF::new_from_impl(PgGetExpr {
        signature: Signature::one_of(
            vec![TypeSignature::Any(2), TypeSignature::Any(3)],
            Volatility::Stable,
        ),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgGetExpr {
    signature: Signature,
}

impl ScalarUDFImpl for PgGetExpr {
    fn name(&self) -> &str {
        "pg_get_expr"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_rows(&args.args[..1], args.number_rows, |values| {
            Ok((!values[0].is_null()).then(|| values[0].to_string()))
        })
    }
}

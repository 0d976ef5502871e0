//! PostgreSQL functions whose answer depends on the session, registered over
//! datafusion-pg-catalog's fixed stubs.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// `current_schema()`: the schema unqualified names resolve to, which `SET search_path`
/// changes (datafusion-pg-catalog's version always answers `public`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSchema {
    signature: Signature,
}

impl ScalarUDFImpl for CurrentSchema {
    fn name(&self) -> &str {
        "current_schema"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let schema = args.config_options.catalog.default_schema.clone();
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(schema))))
    }
}

pub fn current_schema() -> ScalarUDF {
    ScalarUDF::new_from_impl(CurrentSchema {
        signature: Signature::exact(vec![], Volatility::Stable),
    })
}

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

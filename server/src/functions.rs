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

/// `current_setting(name [, missing_ok])`: the settings clients read on connect (Grafana reads
/// `server_version_num`), with `search_path` from the session.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    signature: Signature,
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ColumnarValue::Scalar(name) = &args.args[0] else {
            return datafusion::common::not_impl_err!(
                "current_setting() over a column; pass the setting name as a constant"
            );
        };
        let name = name.to_string().to_ascii_lowercase();
        let missing_ok = matches!(
            args.args.get(1),
            Some(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))
        );
        let value = match name.as_str() {
            "server_version" => Some(crate::session::SERVER_VERSION.to_string()),
            "server_version_num" => Some(crate::session::SERVER_VERSION_NUM.to_string()),
            "search_path" => Some(args.config_options.catalog.default_schema.clone()),
            "timezone" => Some(
                args.config_options
                    .execution
                    .time_zone
                    .clone()
                    .unwrap_or_else(|| "UTC".into()),
            ),
            "server_encoding" | "client_encoding" => Some("UTF8".into()),
            "datestyle" => Some("ISO, MDY".into()),
            "integer_datetimes" | "standard_conforming_strings" => Some("on".into()),
            "max_identifier_length" => Some("63".into()),
            "max_index_keys" => Some("32".into()),
            // No JIT compiler: asyncpg's index reflection turns it off around its query.
            "jit" => Some("off".into()),
            "default_transaction_isolation" | "transaction_isolation" => {
                Some("read committed".into())
            }
            _ => None,
        };
        match value {
            Some(v) => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(v)))),
            None if missing_ok => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
            None => {
                datafusion::common::plan_err!("unrecognized configuration parameter \"{name}\"")
            }
        }
    }
}

pub fn current_setting() -> ScalarUDF {
    use datafusion::logical_expr::TypeSignature;

    ScalarUDF::new_from_impl(CurrentSetting {
        signature: Signature::one_of(
            vec![
                TypeSignature::Exact(vec![DataType::Utf8]),
                TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
            ],
            Volatility::Stable,
        ),
    })
}

/// Evaluates `f` on every row of `args` (scalars broadcast), collecting a text column.
fn map_rows(
    args: &[ColumnarValue],
    rows: usize,
    f: impl Fn(&[ScalarValue]) -> Result<Option<String>>,
) -> Result<ColumnarValue> {
    use datafusion::arrow::array::StringArray;

    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if all_scalar { 1 } else { rows };
    let mut out = Vec::with_capacity(rows);
    for row in 0..rows {
        let values = args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(s) => Ok(s.clone()),
                ColumnarValue::Array(array) => ScalarValue::try_from_array(array, row),
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(f(&values)?);
    }
    Ok(if all_scalar {
        ColumnarValue::Scalar(ScalarValue::Utf8(out.pop().flatten()))
    } else {
        ColumnarValue::Array(std::sync::Arc::new(StringArray::from(out)))
    })
}

/// A value as JSON: numbers and booleans bare, NULL as `null`, everything else a string.
fn json_value(value: &ScalarValue) -> String {
    if value.is_null() {
        return "null".into();
    }
    match value {
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Int8(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::UInt8(_)
        | ScalarValue::UInt16(_)
        | ScalarValue::UInt32(_)
        | ScalarValue::UInt64(_)
        | ScalarValue::Decimal128(..) => value.to_string(),
        ScalarValue::Float32(Some(f)) if f.is_finite() => value.to_string(),
        ScalarValue::Float64(Some(f)) if f.is_finite() => value.to_string(),
        other => serde_json::Value::String(other.to_string()).to_string(),
    }
}

/// `json_build_object(k1, v1, ...)` (and `jsonb_build_object`): the JSON text of an object.
/// SQLAlchemy's column reflection builds its per-column records with it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuildObject {
    name: &'static str,
    signature: Signature,
}

impl ScalarUDFImpl for JsonBuildObject {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() % 2 != 0 {
            return datafusion::common::plan_err!(
                "argument list must have even number of elements"
            );
        }
        map_rows(&args.args, args.number_rows, |values| {
            let members = values
                .chunks(2)
                .map(|kv| {
                    if kv[0].is_null() {
                        return datafusion::common::exec_err!("argument 1: key must not be null");
                    }
                    let key = serde_json::Value::String(kv[0].to_string()).to_string();
                    Ok(format!("{key} : {}", json_value(&kv[1])))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Some(format!("{{{}}}", members.join(", "))))
        })
    }
}

pub fn json_build_object(name: &'static str) -> ScalarUDF {
    ScalarUDF::new_from_impl(JsonBuildObject {
        name,
        signature: Signature::variadic_any(Volatility::Immutable),
    })
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

/// `oxbow_expandarray(a)`: the list of `(x, n)` records of an array, element and 1-based
/// position. `information_schema._pg_expandarray(a)` is rewritten to its `unnest` (see
/// `crate::query_rewrites`), which is what pgJDBC's key and index listings select.
pub fn expandarray() -> ScalarUDF {
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, AsArray, Int32Array, ListArray, StructArray};
    use datafusion::arrow::datatypes::{Field, Fields, Int32Type};
    use datafusion::logical_expr::create_udf;

    let fields = Fields::from(vec![
        Field::new("x", DataType::Int32, true),
        Field::new("n", DataType::Int32, false),
    ]);
    let item = Arc::new(Field::new_list_field(
        DataType::Struct(fields.clone()),
        true,
    ));
    let output = DataType::List(Arc::clone(&item));
    create_udf(
        "oxbow_expandarray",
        vec![DataType::List(Arc::new(Field::new_list_field(
            DataType::Int32,
            true,
        )))],
        output,
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let arrays = ColumnarValue::values_to_arrays(args)?;
            let lists = arrays[0].as_list::<i32>();
            let values = lists.values().as_primitive::<Int32Type>().clone();
            let offsets = lists.offsets();
            let mut positions = vec![0i32; values.len()];
            for row in 0..lists.len() {
                let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                for (i, p) in positions[start..end].iter_mut().enumerate() {
                    *p = i as i32 + 1;
                }
            }
            let records = StructArray::try_new(
                fields.clone(),
                vec![Arc::new(values), Arc::new(Int32Array::from(positions))],
                None,
            )?;
            let out = ListArray::try_new(
                Arc::clone(&item),
                offsets.clone(),
                Arc::new(records),
                lists.nulls().cloned(),
            )?;
            Ok(ColumnarValue::Array(Arc::new(out)))
        }),
    )
}

/// A function of any arguments that always answers `value` (`col_description`: Oxbow keeps no
/// comments; `pg_collation_is_visible`: every collation is).
pub fn constant(name: &str, value: ScalarValue) -> ScalarUDF {
    use std::sync::Arc;

    use datafusion::logical_expr::expr_fn::SimpleScalarUDF;

    let data_type = value.data_type();
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        name,
        Signature::variadic_any(Volatility::Stable),
        data_type,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(value.clone()))),
    ))
}

/// A function evaluated one row at a time through `inner`, for implementations that only
/// accept constant arguments. datafusion-pg-functions' `format()` reads scalars only and gives
/// `''` for a column (`format('%s', udt_name)`, which Metabase's field sync sends).
#[derive(Debug)]
struct RowWise {
    inner: ScalarUDF,
}

impl PartialEq for RowWise {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl Eq for RowWise {}

impl std::hash::Hash for RowWise {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.inner.hash(state)
    }
}

impl ScalarUDFImpl for RowWise {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)))
        {
            return self.inner.invoke_with_args(args);
        }
        let mut results = Vec::with_capacity(args.number_rows);
        for row in 0..args.number_rows {
            let scalars = args
                .args
                .iter()
                .map(|a| match a {
                    ColumnarValue::Scalar(s) => Ok(ColumnarValue::Scalar(s.clone())),
                    ColumnarValue::Array(array) => {
                        ScalarValue::try_from_array(array, row).map(ColumnarValue::Scalar)
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            let value = self.inner.invoke_with_args(ScalarFunctionArgs {
                args: scalars,
                arg_fields: args.arg_fields.clone(),
                number_rows: 1,
                return_field: std::sync::Arc::clone(&args.return_field),
                config_options: std::sync::Arc::clone(&args.config_options),
            })?;
            results.push(match value {
                ColumnarValue::Scalar(s) => s,
                ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0)?,
            });
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(results)?))
    }
}

/// `inner`, evaluated row by row when any argument is a column.
pub fn row_wise(inner: ScalarUDF) -> ScalarUDF {
    ScalarUDF::new_from_impl(RowWise { inner })
}

/// `set_config(name, value, is_local)`: answers `value`, as PostgreSQL does, without changing
/// the setting (SQLAlchemy's asyncpg dialect sends it around index reflection; use `SET` to
/// change a setting).
pub fn set_config() -> ScalarUDF {
    ScalarUDF::new_from_impl(SetConfig {
        signature: Signature::any(3, Volatility::Volatile),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SetConfig {
    signature: Signature,
}

impl ScalarUDFImpl for SetConfig {
    fn name(&self) -> &str {
        "set_config"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_rows(&args.args[1..2], args.number_rows, |values| {
            Ok((!values[0].is_null()).then(|| values[0].to_string()))
        })
    }
}

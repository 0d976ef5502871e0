//! `json_build_object()` and `jsonb_build_object()`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::map_rows;

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

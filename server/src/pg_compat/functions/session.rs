//! Functions whose answer is the session's state: `current_schema()`, `current_setting()`,
//! `set_config()`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::map_rows;

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
            "server_version" => Some(crate::pg_compat::SERVER_VERSION.to_string()),
            "server_version_num" => Some(crate::pg_compat::SERVER_VERSION_NUM.to_string()),
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

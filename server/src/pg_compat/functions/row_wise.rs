//! Adapters over other functions: [`constant`] (a fixed answer under a PostgreSQL name) and
//! [`row_wise`] (a scalar function applied to each row of array arguments).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

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

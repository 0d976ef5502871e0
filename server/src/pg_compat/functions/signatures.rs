//! `pg_get_function_result(oid)`, `pg_get_function_arguments(oid)` and
//! `pg_get_function_identity_arguments(oid)`: the signature of a function `pg_proc` lists, as
//! psql's `\df` and DBeaver's function list show it (`integer`, `text, integer`).
//!
//! `pg_proc` and `pg_type` are the catalog library's fixed tables, so the signatures are read
//! once, when the template session is built, and answered from memory.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Signature, TypeSignature, Volatility};
use datafusion::prelude::SessionContext;

/// A function's result type and argument list, by its `pg_proc` OID.
type Signatures = HashMap<i64, (String, String)>;

/// Reads every function's signature from `ctx`'s `pg_catalog`.
pub async fn read(ctx: &SessionContext) -> Result<Arc<Signatures>> {
    let mut type_names: HashMap<i64, String> = HashMap::new();
    let types = ctx
        .sql("SELECT oid, format_type(oid, NULL), typname FROM pg_catalog.pg_type")
        .await?
        .collect()
        .await?;
    for batch in &types {
        let oids = cast(batch.column(0), &DataType::Int64)?;
        let oids = oids.as_primitive::<Int64Type>();
        let formatted = cast(batch.column(1), &DataType::Utf8)?;
        let names = cast(batch.column(2), &DataType::Utf8)?;
        for row in 0..batch.num_rows() {
            // The library formats only the types it knows (`cstring` is `oid(2275)` there).
            let formatted = formatted.as_string::<i32>();
            let name = if formatted.is_valid(row) && !formatted.value(row).starts_with("oid(") {
                formatted.value(row).to_string()
            } else {
                names.as_string::<i32>().value(row).to_string()
            };
            type_names.insert(oids.value(row), name);
        }
    }
    let type_name = |oid: i64| {
        type_names
            .get(&oid)
            .cloned()
            .unwrap_or_else(|| oid.to_string())
    };
    let mut signatures = Signatures::new();
    let procs = ctx
        .sql("SELECT oid, prorettype, proargtypes, proretset FROM pg_catalog.pg_proc")
        .await?
        .collect()
        .await?;
    for batch in &procs {
        let oids = cast(batch.column(0), &DataType::Int64)?;
        let results = cast(batch.column(1), &DataType::Int64)?;
        let arguments = cast(batch.column(2), &DataType::Utf8)?;
        let sets = cast(batch.column(3), &DataType::Boolean)?;
        let (oids, results) = (
            oids.as_primitive::<Int64Type>(),
            results.as_primitive::<Int64Type>(),
        );
        let (arguments, sets) = (arguments.as_string::<i32>(), sets.as_boolean());
        for row in 0..batch.num_rows() {
            let mut result = type_name(results.value(row));
            if sets.is_valid(row) && sets.value(row) {
                result = format!("SETOF {result}");
            }
            let args = if arguments.is_valid(row) {
                arguments
                    .value(row)
                    .split_whitespace()
                    .filter_map(|oid| oid.parse::<i64>().ok())
                    .map(type_name)
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                String::new()
            };
            signatures.insert(oids.value(row), (result, args));
        }
    }
    Ok(Arc::new(signatures))
}

/// The three functions over `signatures`.
pub fn functions(signatures: Arc<Signatures>) -> Vec<ScalarUDF> {
    let result = Arc::clone(&signatures);
    let arguments = Arc::clone(&signatures);
    vec![
        udf("pg_get_function_result", move |oid| {
            result.get(&oid).map(|(r, _)| r.clone())
        }),
        udf("pg_get_function_arguments", move |oid| {
            arguments.get(&oid).map(|(_, a)| a.clone())
        }),
        udf("pg_get_function_identity_arguments", move |oid| {
            signatures.get(&oid).map(|(_, a)| a.clone())
        }),
    ]
}

fn udf(
    name: &'static str,
    lookup: impl Fn(i64) -> Option<String> + Send + Sync + 'static,
) -> ScalarUDF {
    let body = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let scalar = matches!(args[0], ColumnarValue::Scalar(_));
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let oids = cast(&arrays[0], &DataType::Int64)?;
        let oids = oids.as_primitive::<Int64Type>();
        let answers: StringArray = (0..oids.len())
            .map(|i| oids.is_valid(i).then(|| lookup(oids.value(i))).flatten())
            .collect();
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&answers, 0)?)
        } else {
            ColumnarValue::Array(Arc::new(answers))
        })
    };
    ScalarUDF::from(
        datafusion::logical_expr::expr_fn::SimpleScalarUDF::new_with_signature(
            name,
            Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Int64]),
                    TypeSignature::Exact(vec![DataType::Int32]),
                ],
                Volatility::Stable,
            ),
            DataType::Utf8,
            Arc::new(body),
        ),
    )
}

//! PostgreSQL's names for functions DataFusion has under another name (`every` is `bool_and`,
//! `variance` is `var_samp`; TimescaleDB's `time_bucket(width, ts)`, which rollups group by,
//! is `date_bin` with its default origin, the epoch), and `isfinite`, which is always true here: Oxbow's dates and
//! timestamps have no `infinity`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::expr_fn::SimpleScalarUDF;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Signature, Volatility};
use datafusion::prelude::SessionContext;

/// Registers the aliases of aggregates present in `ctx` (absent ones are skipped) and `isfinite`.
pub fn register(ctx: &SessionContext) {
    for (name, alias) in [("bool_and", "every"), ("var", "variance")] {
        if let Ok(f) = ctx.udaf(name) {
            ctx.register_udaf(f.as_ref().clone().with_aliases([alias]));
        }
    }
    if let Ok(f) = ctx.udf("date_bin") {
        ctx.register_udf(f.as_ref().clone().with_aliases(["time_bucket"]));
    }
    ctx.register_udf(isfinite());
}

fn isfinite() -> ScalarUDF {
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        "isfinite",
        Signature::any(1, Volatility::Immutable),
        DataType::Boolean,
        Arc::new(|args: &[ColumnarValue]| {
            Ok(match &args[0] {
                ColumnarValue::Scalar(s) => {
                    ColumnarValue::Scalar(ScalarValue::Boolean((!s.is_null()).then_some(true)))
                }
                ColumnarValue::Array(a) => ColumnarValue::Array(Arc::new(
                    (0..a.len())
                        .map(|i| (!a.is_null(i)).then_some(true))
                        .collect::<BooleanArray>(),
                )),
            })
        }),
    ))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn every_and_variance_answer_as_their_datafusion_names() -> datafusion::common::Result<()>
    {
        let ctx = datafusion::prelude::SessionContext::new();
        super::register(&ctx);
        let batches = ctx
            .sql("SELECT every(x > 0), bool_and(x > 0), variance(x), var_samp(x), isfinite(x) FROM (VALUES (1.0), (2.0), (4.0)) t(x) GROUP BY 5")
            .await?
            .collect()
            .await?;
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string();
        assert!(
            text.contains("| true") && text.contains("2.333333333333333"),
            "{text}"
        );
        Ok(())
    }
}

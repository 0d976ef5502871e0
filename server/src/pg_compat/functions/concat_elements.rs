//! `oxbow_concat_elements(a, prefix, suffix)`: the text array `a` with `prefix || x || suffix`
//! for each element `x` (NULL elements stay NULL, a NULL array is NULL). It is what
//! `ARRAY(SELECT 'p' || x || 's' FROM unnest(a) x)` becomes (`crate::sql::rewrite::array_subquery`),
//! since DataFusion cannot unnest an outer column inside a subquery and has no lambdas.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, ListArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr_fn::SimpleScalarUDF;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Signature, Volatility};

pub const NAME: &str = "oxbow_concat_elements";

fn text_list() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

pub fn concat_elements() -> ScalarUDF {
    let evaluate = |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let all_scalars = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let [lists, prefixes, suffixes] = arrays.as_slice() else {
            return Err(DataFusionError::Plan(format!(
                "{NAME} takes an array, a prefix and a suffix"
            )));
        };
        let lists = datafusion::arrow::compute::cast(lists, &text_list())?;
        let lists = lists.as_list::<i32>();
        let prefixes = datafusion::arrow::compute::cast(prefixes, &DataType::Utf8)?;
        let prefixes = prefixes.as_string::<i32>();
        let suffixes = datafusion::arrow::compute::cast(suffixes, &DataType::Utf8)?;
        let suffixes = suffixes.as_string::<i32>();
        let values = lists.values().as_string::<i32>();
        // Each element's row, to find its prefix and suffix.
        let mut mapped = Vec::with_capacity(values.len());
        for row in 0..lists.len() {
            let (start, end) = (
                lists.value_offsets()[row] as usize,
                lists.value_offsets()[row + 1] as usize,
            );
            let prefix = if prefixes.is_valid(row) {
                prefixes.value(row)
            } else {
                ""
            };
            let suffix = if suffixes.is_valid(row) {
                suffixes.value(row)
            } else {
                ""
            };
            for i in start..end {
                mapped.push(
                    values
                        .is_valid(i)
                        .then(|| format!("{prefix}{}{suffix}", values.value(i))),
                );
            }
        }
        // Offsets are relative to the first element of the values; start them at 0.
        let first = lists.value_offsets()[0];
        let offsets = lists.value_offsets().iter().map(|o| o - first);
        let result = ListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Utf8, true)),
            datafusion::arrow::buffer::OffsetBuffer::new(offsets.collect()),
            Arc::new(StringArray::from(mapped)),
            lists.nulls().cloned(),
        )?;
        super::columnar(Arc::new(result), all_scalars)
    };
    ScalarUDF::from(SimpleScalarUDF::new_with_signature(
        NAME,
        Signature::any(3, Volatility::Immutable),
        text_list(),
        Arc::new(evaluate),
    ))
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn each_element_gets_the_prefix_and_suffix() -> datafusion::common::Result<()> {
        let ctx = datafusion::prelude::SessionContext::new();
        ctx.register_udf(super::concat_elements());
        let batches = ctx
            .sql(
                "SELECT array_to_string(oxbow_concat_elements(make_array('a', NULL, 'b'), 'toast.', '!'), ',', '-') AS m, \
                 oxbow_concat_elements(CAST(NULL AS VARCHAR[]), 'p', '') IS NULL AS n",
            )
            .await?
            .collect()
            .await?;
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string();
        assert!(text.contains("| toast.a!,-,toast.b! | true |"), "{text}");
        Ok(())
    }
}

//! Masking personal data on the way in: `mask_email('jane.doe@example.com')` is
//! `'j*******@example.com'` (the first character and the domain kept, so per-domain analytics
//! still work), `mask('4111111111111111', 4)` is `'************1111'`. NULL stays NULL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

pub fn mask_email() -> ScalarUDF {
    create_udf(
        "mask_email",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let values = args[0].to_array(1)?;
            let text = values.as_string::<i32>();
            let out: StringArray = text.iter().map(|v| v.map(mask_email_value)).collect();
            scalar_if(args, Arc::new(out))
        }),
    )
}

pub fn mask() -> ScalarUDF {
    create_udf(
        "mask",
        vec![DataType::Utf8, DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let len = args
                .iter()
                .find_map(|a| match a {
                    ColumnarValue::Array(a) => Some(a.len()),
                    ColumnarValue::Scalar(_) => None,
                })
                .unwrap_or(1);
            let values = args[0].to_array(len)?;
            let keep = args[1].to_array(len)?;
            let text = values.as_string::<i32>();
            let keep = keep.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            let mut out = Vec::with_capacity(len);
            for row in 0..len {
                if text.is_null(row) || keep.is_null(row) {
                    out.push(None);
                    continue;
                }
                let keep = keep.value(row);
                if keep < 0 {
                    return exec_err!("mask: keep_last must not be negative, got {keep}");
                }
                out.push(Some(mask_value(text.value(row), keep as usize)));
            }
            scalar_if(args, Arc::new(StringArray::from(out)))
        }),
    )
}

/// A scalar result for all-scalar arguments, so `SELECT mask_email('a@b')` is one value.
fn scalar_if(args: &[ColumnarValue], out: ArrayRef) -> datafusion::error::Result<ColumnarValue> {
    if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
    }
    Ok(ColumnarValue::Array(out))
}

fn mask_email_value(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let mut chars = local.chars();
            let first = chars.next().map(String::from).unwrap_or_default();
            format!("{first}{}@{domain}", "*".repeat(chars.count()))
        }
        None => mask_value(email, 0),
    }
}

fn mask_value(text: &str, keep_last: usize) -> String {
    let n = text.chars().count();
    let hidden = n.saturating_sub(keep_last);
    let kept: String = text.chars().skip(hidden).collect();
    format!("{}{kept}", "*".repeat(hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_masked() {
        assert_eq!(
            mask_email_value("jane.doe@example.com"),
            "j*******@example.com"
        );
        assert_eq!(mask_email_value("no-at-sign"), "**********");
        assert_eq!(mask_value("4111111111111111", 4), "************1111");
        assert_eq!(mask_value("ab", 5), "ab");
    }
}

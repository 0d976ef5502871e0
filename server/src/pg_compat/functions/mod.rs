//! PostgreSQL functions DataFusion and datafusion-pg-catalog lack or answer wrongly (the
//! library's are fixed stubs that know nothing of the session), registered in
//! `crate::sql::session`.
//!
//! # Layout
//! - [`session`]: `current_schema()`, `current_setting()`, `set_config()`.
//! - [`types`]: `to_regtype()`, `pg_typeof()`, `pg_get_expr()`, `pg_get_serial_sequence()`.
//! - [`json`]: `json_build_object()`, `jsonb_build_object()`.
//! - [`sets`]: `_pg_expandarray()`.
//! - [`row_wise`]: [`constant`] and [`row_wise`] adapters.
//! - [`signatures`]: `pg_get_function_result()` and its siblings, read from `pg_proc`.
//! - [`datetime_format`] (writing), [`datetime_read`] (reading) and [`to_char`]: `to_char`, `to_date`, `to_timestamp` with
//!   PostgreSQL's patterns (`YYYY-MM-DD HH24:MI:SS`).
//! - [`date_part`]: `EXTRACT(century | decade | millennium | julian ...)`.
//! - [`concat_elements`]: `oxbow_concat_elements`, what `ARRAY(SELECT 'p' || x FROM unnest(a) x)`
//!   becomes.
//! - [`aliases`]: `every`, `variance`, `isfinite`.
//! - [`interval_input`] (PostgreSQL's interval literals) and [`intervals`]: `interval * n`,
//!   comparison by length, `justify_*`, `make_interval`, `age`.
//! - [`make_timestamp`]: `make_timestamp`, `make_timestamptz`; [`at_time_zone`]: `AT TIME ZONE`.

pub mod aliases;
pub mod at_time_zone;
pub mod concat_elements;
pub mod date_part;
pub mod datetime_format;
pub mod datetime_read;
pub mod interval_input;
pub mod intervals;
pub mod json;
pub mod make_timestamp;
pub mod row_wise;
pub mod session;
pub mod sets;
pub mod signatures;
pub mod to_char;
pub mod types;

use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;

pub use json::json_build_object;
pub use row_wise::{constant, row_wise};
pub use session::{current_schema, current_setting, set_config};
pub use sets::expandarray;
pub use types::{pg_get_expr, pg_get_serial_sequence, pg_typeof, to_regtype};

/// A function's result as DataFusion wants it back: a scalar when every argument was one (so
/// that constant folding keeps working), else the whole array.
pub(crate) fn columnar(
    array: datafusion::arrow::array::ArrayRef,
    all_scalars: bool,
) -> Result<ColumnarValue> {
    Ok(if all_scalars {
        ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
    } else {
        ColumnarValue::Array(array)
    })
}

/// Evaluates `f` on every row of `args` (scalars broadcast), collecting a text column.
pub(crate) fn map_rows(
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

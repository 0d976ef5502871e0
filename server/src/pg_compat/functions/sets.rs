//! `information_schema._pg_expandarray()`, the set-returning function pgJDBC's key and index
//! listings select.

use datafusion::arrow::datatypes::DataType;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility};

/// `oxbow_expandarray(a)`: the list of `(x, n)` records of an array, element and 1-based
/// position. `information_schema._pg_expandarray(a)` is rewritten to its `unnest` (see
/// `crate::sql::rewrite::ast`), which is what pgJDBC's key and index listings select.
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

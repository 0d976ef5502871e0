//! Point lookups on keyed tables: `WHERE id = 1` (or `id IN (1, 2)`) on a one-column key
//! takes the hot rows from the key index instead of scanning every hot batch.
//!
//! The index holds only the newest version of each key, so it answers for a snapshot only
//! when no flush came since the snapshot and the key did not change after its high-water
//! mark ([`crate::Table::hot_rows_at`]); otherwise the scan reads the hot batches as usual.
//! The Delta side is not touched here: deltalake prunes files (and Parquet row groups) by the
//! key column's min/max statistics, and the shadow filter hides Delta versions a hot change
//! replaced.

use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, expr::InList};

use crate::Table;
use crate::hot::HotBatch;
use crate::table::TableSnapshot;

/// The hot rows the snapshot sees with the key values `filters` pin down, or `None` when the
/// filters do not pin the key or the index cannot answer for this snapshot.
pub(super) fn hot_rows(
    table: &Table,
    snapshot: &TableSnapshot,
    filters: &[Expr],
) -> Option<Vec<RecordBatch>> {
    let view = snapshot.keyed.as_ref()?;
    let [name] = view.codec.names() else {
        return None;
    };
    let values = filters.iter().find_map(|f| key_values(f, name))?;
    let key_type = view.codec.key_schema().field(0).data_type().clone();
    let values = values
        .into_iter()
        .map(|v| v.cast_to(&key_type))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    if values.is_empty() {
        return Some(Vec::new());
    }
    let array = ScalarValue::iter_to_array(values).ok()?;
    let keys = view.codec.encode_columns(&[array]).ok()?;
    let rows = table.hot_rows_at(snapshot.flushed_seq, view.high, &keys)?;
    rows.into_iter()
        .map(|row| row_of(&snapshot.hot, row))
        .collect()
}

/// The values `filter` allows for column `name`: `name = v`, `v = name`, `name IN (v, ...)`.
fn key_values(filter: &Expr, name: &str) -> Option<Vec<ScalarValue>> {
    match filter {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (left.as_ref(), right.as_ref()) {
            (Expr::Column(c), Expr::Literal(v, _)) | (Expr::Literal(v, _), Expr::Column(c))
                if c.name == name =>
            {
                Some(vec![v.clone()])
            }
            _ => None,
        },
        Expr::InList(InList {
            expr,
            list,
            negated: false,
        }) => match expr.as_ref() {
            Expr::Column(c) if c.name == name => list
                .iter()
                .map(|e| match e {
                    Expr::Literal(v, _) => Some(v.clone()),
                    _ => None,
                })
                .collect(),
            _ => None,
        },
        _ => None,
    }
}

/// Hot row `row` as a one-row batch, from the snapshot's batches (ordered by row id).
fn row_of(hot: &[Arc<HotBatch>], row: u64) -> Option<RecordBatch> {
    let at = hot.partition_point(|b| b.first_row <= row);
    let batch = hot.get(at.checked_sub(1)?)?;
    let offset = (row - batch.first_row) as usize;
    (offset < batch.batch.num_rows()).then(|| batch.batch.slice(offset, 1))
}

//! The Delta side of a keyed flush: the rows still live at the flush's `through` sequence and
//! the keys deleted at or below it, committed as one MERGE that carries the `txn` watermark.
//!
//! Why a MERGE and not deletes plus appends: two commits could be separated by a crash, and a
//! Delta reader between them would see a key twice or not at all. The MERGE matches on the
//! key: a deleted key's row is removed, a live key's row replaced or inserted.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Column;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::kernel::transaction::CommitProperties;

use super::KeyCodec;
use crate::{Error, Result};

/// The source column that marks a deleted key.
const DELETED: &str = "__oxbow_deleted";

/// Commits `live` (rows of the table's schema, one per key) and `deleted` (batches of the
/// key columns) to `delta` as one MERGE with `commit`.
pub async fn merge(
    delta: DeltaTable,
    table: &str,
    schema: &SchemaRef,
    codec: &KeyCodec,
    live: Vec<RecordBatch>,
    deleted: Vec<RecordBatch>,
    commit: CommitProperties,
) -> Result<DeltaTable> {
    let source_schema = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), f.data_type().clone(), true))
            .chain(std::iter::once(Field::new(
                DELETED,
                DataType::Boolean,
                false,
            )))
            .collect::<Vec<_>>(),
    ));
    let mut source = Vec::with_capacity(live.len() + deleted.len());
    for batch in live {
        let mut columns = batch.columns().to_vec();
        columns.push(Arc::new(BooleanArray::from(vec![false; batch.num_rows()])));
        source.push(batch_of(&source_schema, columns)?);
    }
    for keys in deleted {
        let rows = keys.num_rows();
        let by_name: HashMap<&str, &ArrayRef> = keys
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .zip(keys.columns())
            .collect();
        let mut columns: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| match by_name.get(f.name().as_str()) {
                Some(c) => Arc::clone(c),
                None => new_null_array(f.data_type(), rows),
            })
            .collect();
        columns.push(Arc::new(BooleanArray::from(vec![true; rows])));
        source.push(batch_of(&source_schema, columns)?);
    }
    let ctx = SessionContext::new();
    let frame = ctx.read_batches(source).map_err(Error::DataFusion)?;
    let on = codec
        .names()
        .iter()
        .map(|k| qualified("target", k).eq(qualified("source", k)))
        .reduce(Expr::and)
        .expect("a keyed table has a key");
    let values: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let table_err = |e| Error::delta(table, e);
    let mut builder = delta
        .merge(frame, on)
        .with_source_alias("source")
        .with_target_alias("target")
        .with_commit_properties(commit)
        .when_matched_delete(|d| d.predicate(qualified("source", DELETED)))
        .map_err(table_err)?;
    let others: Vec<&String> = values
        .iter()
        .filter(|n| !codec.names().contains(n))
        .collect();
    if !others.is_empty() {
        builder = builder
            .when_matched_update(|mut u| {
                for name in &others {
                    u = u.update(Column::new_unqualified(*name), qualified("source", name));
                }
                u
            })
            .map_err(table_err)?;
    }
    let (delta, _metrics) = builder
        .when_not_matched_insert(|mut i| {
            i = i.predicate(qualified("source", DELETED).eq(lit(false)));
            for name in &values {
                i = i.set(Column::new_unqualified(name), qualified("source", name));
            }
            i
        })
        .map_err(table_err)?
        .await
        .map_err(table_err)?;
    Ok(delta)
}

fn qualified(relation: &str, name: &str) -> Expr {
    Expr::Column(Column::new(Some(relation), name))
}

fn batch_of(schema: &SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| Error::DataFusion(e.into()))
}

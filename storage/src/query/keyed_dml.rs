//! `UPDATE` and `DELETE` on a keyed table: through the WAL like an INSERT (durable,
//! transactional, visible at once, no flush). Under the key lock, the matching rows are read
//! from a fresh snapshot; a DELETE logs their keys as deletes, an UPDATE logs the new rows as
//! upserts (and, for a row whose key changed, the old key as a delete).

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::RecordBatch;
use datafusion::common::Column;
use datafusion::execution::config::SessionConfig;
use datafusion::logical_expr::{Expr, col};
use datafusion::prelude::SessionContext;

use super::OxbowTable;
use crate::keyed::{Key, change};
use crate::{Appender, Error, Result, Table};

/// DELETE of the rows matching `predicate` (all when `None`). Returns how many there were.
pub(super) async fn delete(
    table: &Arc<Table>,
    appender: &Arc<Appender>,
    config: &SessionConfig,
    predicate: Option<Expr>,
) -> Result<u64> {
    let guard = table.lock_keys().await;
    let codec = table.key_codec().expect("a keyed table");
    let keys: Vec<Expr> = codec
        .names()
        .iter()
        .map(|k| col(Column::new_unqualified(k)))
        .collect();
    let matched = matching(table, appender, config, predicate, keys).await?;
    let rows: usize = matched.iter().map(|b| b.num_rows()).sum();
    let deletes = matched
        .into_iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| change::delete_batch(&codec, b.columns().to_vec()))
        .collect::<Result<Vec<_>>>()?;
    appender
        .write_changes(&guard, table, deletes, Vec::new())
        .await?;
    Ok(rows as u64)
}

/// UPDATE of the rows matching `predicate` with `assignments`. Returns how many there were.
/// A new key that another row (not itself updated away from it) holds fails with 23505.
pub(super) async fn update(
    table: &Arc<Table>,
    appender: &Arc<Appender>,
    config: &SessionConfig,
    assignments: Vec<(String, Expr)>,
    predicate: Option<Expr>,
) -> Result<u64> {
    let guard = table.lock_keys().await;
    let codec = table.key_codec().expect("a keyed table");
    let schema = table.schema();
    let mut exprs: Vec<Expr> = schema
        .fields()
        .iter()
        .map(|f| match assignments.iter().find(|(c, _)| c == f.name()) {
            Some((_, value)) => value.clone().alias(f.name()),
            None => col(Column::new_unqualified(f.name())),
        })
        .collect();
    exprs.extend(
        codec
            .names()
            .iter()
            .enumerate()
            .map(|(i, k)| col(Column::new_unqualified(k)).alias(format!("__oxbow_old_key_{i}"))),
    );
    let matched = matching(table, appender, config, predicate, exprs).await?;
    let width = schema.fields().len();
    let mut new_rows = Vec::new();
    let mut old_keys: Vec<Key> = Vec::new();
    for batch in matched.into_iter().filter(|b| b.num_rows() > 0) {
        let old = batch.columns()[width..].to_vec();
        old_keys.extend(codec.encode_columns(&old)?);
        new_rows.push(
            batch
                .project(&(0..width).collect::<Vec<_>>())
                .map_err(|e| Error::DataFusion(e.into()))?,
        );
    }
    let rows = old_keys.len();
    let Some(new_rows) = Appender::prepare(table, new_rows)? else {
        return Ok(0);
    };
    let mut new_keys: Vec<Key> = Vec::with_capacity(rows);
    for batch in &new_rows {
        new_keys.extend(codec.encode(batch)?);
    }
    let mut deletes = Vec::new();
    if new_keys != old_keys {
        let old: HashSet<&Key> = old_keys.iter().collect();
        let mut seen: HashSet<&Key> = HashSet::new();
        let exists = table.keys_exist(&guard, &new_keys);
        for (i, key) in new_keys.iter().enumerate() {
            if !seen.insert(key) || (exists[i] && !old.contains(key)) {
                let (batch, row) = locate(&new_rows, i);
                return Err(Error::UniqueViolation {
                    table: table.def().name.name.clone(),
                    constraint: format!("{}_pkey", table.def().name.name),
                    key: codec.describe(batch, row),
                });
            }
        }
        let new: HashSet<&Key> = new_keys.iter().collect();
        let gone: Vec<Key> = old_keys
            .iter()
            .filter(|k| !new.contains(k))
            .cloned()
            .collect();
        if !gone.is_empty() {
            deletes.push(change::delete_batch(&codec, codec.decode(&gone)?)?);
        }
    }
    appender
        .write_changes(&guard, table, deletes, new_rows)
        .await?;
    Ok(rows as u64)
}

/// Row `i` of the rows of `batches`, as (batch, row in it).
fn locate(batches: &[RecordBatch], mut i: usize) -> (&RecordBatch, usize) {
    for batch in batches {
        if i < batch.num_rows() {
            return (batch, i);
        }
        i -= batch.num_rows();
    }
    unreachable!("row index within the rows")
}

/// `exprs` over the rows of `table` matching `predicate`, read from a fresh snapshot (the key
/// lock is held, so no other write changes them meanwhile).
async fn matching(
    table: &Arc<Table>,
    appender: &Arc<Appender>,
    config: &SessionConfig,
    predicate: Option<Expr>,
    exprs: Vec<Expr>,
) -> Result<Vec<RecordBatch>> {
    let ctx = SessionContext::new_with_config(config.clone());
    let provider = Arc::new(OxbowTable::new(Arc::clone(table), Arc::clone(appender)));
    let mut frame = ctx.read_table(provider)?;
    if let Some(predicate) = predicate {
        frame = frame.filter(predicate)?;
    }
    Ok(frame.select(exprs)?.collect().await?)
}

//! A keyed [`Table`]'s side of [`crate::keyed`]: opening its key index, applying changes,
//! deciding conflicts under the key lock, finding current rows, and the keyed flush.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::SchemaRef;
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::prelude::SessionContext;
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::protocol::SaveMode;
use oxbow_catalog::TableDef;
use tracing::{info, warn};

use super::{Table, TableState};
use crate::keyed::Located;
use crate::keyed::{HotSlot, Key, KeyCodec, KeyIndex, OnConflict, ShadowSet, change, merge};
use crate::{Error, Result};

/// What hides older versions of keys from one snapshot: hot rows marked dead at or below
/// `high`, Delta rows whose key `shadow` holds at or below `high`.
#[derive(Debug, Clone)]
pub struct KeyedView {
    pub high: u64,
    pub shadow: Arc<ShadowSet>,
    pub codec: KeyCodec,
}

/// Proof that the caller holds a keyed table's key lock ([`Table::lock_keys`]).
pub struct KeyGuard<'a> {
    _guard: tokio::sync::MutexGuard<'a, ()>,
}

/// The key index of a keyed table: the keys of its Delta table, read once at open.
pub(super) async fn open_key_index(
    def: &TableDef,
    schema: &SchemaRef,
    delta: &DeltaTable,
) -> Result<Option<KeyIndex>> {
    if !def.is_keyed() {
        return Ok(None);
    }
    let codec = KeyCodec::new(schema, &def.primary_key)?;
    let mut lake = HashSet::new();
    if delta
        .snapshot()
        .map(|s| s.log_data().num_files())
        .unwrap_or(0)
        > 0
    {
        let ctx = SessionContext::new();
        delta
            .update_datafusion_session(&ctx.state())
            .map_err(|e| Error::delta(&def.name, e))?;
        let provider = delta.table_provider().await.map_err(Error::DataFusion)?;
        let names: Vec<&str> = def.primary_key.iter().map(String::as_str).collect();
        let batches = ctx
            .read_table(provider)?
            .select_columns(&names)?
            .collect()
            .await?;
        for batch in batches {
            lake.extend(codec.encode_columns(batch.columns())?);
        }
    }
    info!(table = %def.name, keys = lake.len(), "read the keys of a keyed table's Delta tier");
    Ok(Some(KeyIndex::new(codec, lake)))
}

/// Applies one durable change of a keyed table: upserted rows go into the hot tier and
/// replace the older version of their key; deleted keys hide theirs.
pub(super) fn apply(
    state: &mut TableState,
    seq: u64,
    batches: Vec<RecordBatch>,
    schema: &SchemaRef,
    time_index: Option<usize>,
) {
    let TableState { hot, keys, .. } = state;
    let keys = keys.as_mut().expect("a keyed table has a key index");
    for batch in batches {
        if change::is_delete(&batch) {
            let encoded = match keys.codec.encode_by_name(&batch) {
                Ok(encoded) => encoded,
                Err(e) => {
                    warn!(error = %e, "a keyed delete without its key columns was skipped");
                    continue;
                }
            };
            for key in encoded {
                if let Some(row) = keys.set(key, HotSlot::Deleted(seq), seq) {
                    hot.mark_dead(row, seq);
                }
            }
            continue;
        }
        // A delete batch (above) keeps its own schema, which carries its mark; an upsert
        // written before an `ADD COLUMN` gets the new columns as NULL.
        let batch = match crate::hot::reshape::fit(&batch, schema) {
            Ok(fitted) => fitted,
            Err(e) => {
                warn!(error = %e, "a keyed upsert does not fit the table's schema; kept as written");
                batch
            }
        };
        let encoded = match keys.codec.encode_by_name(&batch) {
            Ok(encoded) => encoded,
            Err(e) => {
                warn!(error = %e, "a keyed upsert whose key cannot be encoded was skipped");
                continue;
            }
        };
        let first_row = hot.insert(seq, batch, time_index);
        for (i, key) in encoded.into_iter().enumerate() {
            if let Some(row) = keys.set(
                key,
                HotSlot::Live {
                    row: first_row + i as u64,
                    seq,
                },
                seq,
            ) {
                hot.mark_dead(row, seq);
            }
        }
    }
}

impl Table {
    pub fn is_keyed(&self) -> bool {
        self.def().is_keyed()
    }

    /// The key codec of a keyed table.
    pub fn key_codec(&self) -> Option<KeyCodec> {
        let state = self.state.read().expect("table state lock");
        state.keys.as_ref().map(|k| k.codec.clone())
    }

    /// The key lock of a keyed table: hold it from deciding a write's conflicts until the
    /// write is applied.
    pub async fn lock_keys(&self) -> KeyGuard<'_> {
        KeyGuard {
            _guard: self.key_lock.lock().await,
        }
    }

    /// Keys of `batch`'s rows, with the codec of this (keyed) table.
    pub fn keys_of(&self, batch: &RecordBatch) -> Result<Vec<Key>> {
        let state = self.state.read().expect("table state lock");
        let keys = state.keys.as_ref().ok_or_else(|| not_keyed(&self.def()))?;
        keys.codec.encode_by_name(batch)
    }

    /// For each key, whether the table holds it now (the caller holds the key lock).
    pub fn keys_exist(&self, _guard: &KeyGuard<'_>, keys: &[Key]) -> Vec<bool> {
        let state = self.state.read().expect("table state lock");
        match state.keys.as_ref() {
            Some(index) => keys.iter().map(|k| index.exists(k)).collect(),
            None => vec![false; keys.len()],
        }
    }

    /// The rows of one statement as a write with `on_conflict` leaves them (the caller holds
    /// the key lock and logs the result before releasing it): `Error` fails with 23505 on a
    /// key that exists or repeats within the statement; `Nothing` drops such rows; `Replace`
    /// keeps all (the last of a repeated key wins when applied).
    pub fn resolve(
        &self,
        guard: &KeyGuard<'_>,
        batches: Vec<RecordBatch>,
        on_conflict: OnConflict,
    ) -> Result<Vec<RecordBatch>> {
        if on_conflict == OnConflict::Replace || batches.is_empty() {
            return Ok(batches);
        }
        let codec = self.key_codec().ok_or_else(|| not_keyed(&self.def()))?;
        let mut seen: HashSet<Key> = HashSet::new();
        let mut kept = Vec::with_capacity(batches.len());
        for batch in batches {
            let keys = codec.encode(&batch)?;
            let exists = self.keys_exist(guard, &keys);
            let mut keep = Vec::with_capacity(keys.len());
            for (row, (key, exists)) in keys.into_iter().zip(exists).enumerate() {
                let conflict = exists || seen.contains(&key);
                if conflict && on_conflict == OnConflict::Error {
                    return Err(Error::UniqueViolation {
                        table: self.def().name.name.clone(),
                        constraint: format!("{}_pkey", self.def().name.name),
                        key: codec.describe(&batch, row),
                    });
                }
                keep.push(!conflict);
                if !conflict {
                    seen.insert(key);
                }
            }
            let mask = arrow::array::BooleanArray::from(keep);
            let batch =
                filter_record_batch(&batch, &mask).map_err(|e| Error::DataFusion(e.into()))?;
            if batch.num_rows() > 0 {
                kept.push(batch);
            }
        }
        Ok(kept)
    }

    /// The current rows of the table with the keys of `batch`'s rows (the caller holds the
    /// key lock): per row of `batch`, the index of its current row in the returned batch.
    /// Hot rows are read from memory; rows only in Delta with one filtered scan.
    pub async fn current_rows(
        &self,
        _guard: &KeyGuard<'_>,
        batch: &RecordBatch,
    ) -> Result<(RecordBatch, Vec<Option<usize>>)> {
        let codec = self.key_codec().ok_or_else(|| not_keyed(&self.def()))?;
        let keys = codec.encode_by_name(batch)?;
        let (mut found, lake_rows, delta) = {
            let state = self.state.read().expect("table state lock");
            let index = state.keys.as_ref().expect("checked above");
            let mut found: Vec<(usize, RecordBatch)> = Vec::new();
            let mut lake_rows = Vec::new();
            for (i, key) in keys.iter().enumerate() {
                match index.locate(key) {
                    Located::Hot(row) => {
                        if let Some(row) = state.hot.row(row) {
                            found.push((i, row));
                        }
                    }
                    Located::Lake => lake_rows.push(i),
                    Located::Absent => {}
                }
            }
            (found, lake_rows, state.delta.clone())
        };
        if !lake_rows.is_empty() {
            let predicate = lake_rows
                .iter()
                .map(|i| key_predicate(&codec, batch, *i))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .reduce(Expr::or)
                .expect("one key at least");
            let ctx = SessionContext::new();
            delta
                .update_datafusion_session(&ctx.state())
                .map_err(|e| Error::delta(&self.def().name, e))?;
            let provider = delta.table_provider().await.map_err(Error::DataFusion)?;
            let rows = ctx
                .read_table(provider)?
                .filter(predicate)?
                .collect()
                .await?;
            let wanted: std::collections::HashMap<&Key, usize> =
                lake_rows.iter().map(|i| (&keys[*i], *i)).collect();
            for rows in rows {
                for (r, key) in codec.encode(&rows)?.iter().enumerate() {
                    if let Some(i) = wanted.get(key) {
                        found.push((*i, rows.slice(r, 1)));
                    }
                }
            }
        }
        let mut at = vec![None; batch.num_rows()];
        let mut parts = Vec::with_capacity(found.len());
        for (n, (i, row)) in found.into_iter().enumerate() {
            at[i] = Some(n);
            parts.push(
                row.with_schema(self.schema())
                    .map_err(|e| Error::DataFusion(e.into()))?,
            );
        }
        let rows =
            concat_batches(&self.schema(), &parts).map_err(|e| Error::DataFusion(e.into()))?;
        Ok((rows, at))
    }

    /// The keyed flush (called with `write_lock` held): the sealed hot rows still live at
    /// `through` and the keys deleted at or below it go to Delta as one commit with the `txn`.
    pub(super) async fn flush_keyed_locked(&self) -> Result<Option<u64>> {
        let (delta, live, deleted, codec) = {
            let mut state = self.state.write().expect("table state lock");
            let taken = state.hot.seal();
            // Not the last hot batch's sequence: a change that only deletes keys adds no hot
            // batch, and its deletes must reach Delta with the flush that covers it.
            let through = state.applied_seq;
            if through <= state.flushed_seq {
                return Ok(None);
            }
            let live = taken
                .iter()
                .map(|b| b.visible(through))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::DataFusion(e.into()))?;
            let index = state.keys.as_ref().expect("a keyed table");
            let deleted = index.deleted_through(through);
            (
                state.delta.clone(),
                (through, live),
                deleted,
                index.codec.clone(),
            )
        };
        let (through, live) = live;
        let live: Vec<RecordBatch> = live.into_iter().filter(|b| b.num_rows() > 0).collect();
        let mut upserted = Vec::new();
        for batch in &live {
            upserted.extend(codec.encode(batch)?);
        }
        let (touches_lake, deleted_in_lake) = {
            let state = self.state.read().expect("table state lock");
            let index = state.keys.as_ref().expect("a keyed table");
            let live_keys: HashSet<&Key> = upserted.iter().collect();
            let deleted_in_lake: Vec<Key> = deleted
                .iter()
                .filter(|k| index.in_lake(k) && !live_keys.contains(k))
                .cloned()
                .collect();
            let touches = !deleted_in_lake.is_empty() || upserted.iter().any(|k| index.in_lake(k));
            (touches, deleted_in_lake)
        };
        let rows: usize = live.iter().map(|b| b.num_rows()).sum();
        let started = Instant::now();
        let commit = CommitProperties::default()
            .with_application_transaction(Transaction::new(&self.def().id, through as i64));
        let written = if touches_lake {
            let deleted_batches = deleted_key_batches(&codec, &deleted_in_lake, &self.schema())?;
            merge::merge(
                delta.clone(),
                &self.def().name.to_string(),
                &self.schema(),
                &codec,
                live,
                deleted_batches,
                commit,
            )
            .await
        } else {
            let batches = if live.is_empty() {
                vec![RecordBatch::new_empty(self.schema())]
            } else {
                live
            };
            delta
                .clone()
                .write(batches)
                .with_save_mode(SaveMode::Append)
                .with_commit_properties(commit)
                .await
                .map_err(|e| Error::delta(&self.def().name, e))
        };
        let outcome = match written {
            Ok(new) => self.sync(&new).await.map(|()| new),
            Err(e) => Err(e),
        };
        let new = match outcome {
            Ok(new) => new,
            Err(error) => {
                let (fresh, txn) = match self.reload(&delta).await {
                    Ok(reloaded) => reloaded,
                    Err(reload_error) => {
                        warn!(table = %self.def().name, error = %reload_error, flush_error = %error,
                            "cannot reload the Delta log after a failed keyed flush; the rows stay hot");
                        return Err(error);
                    }
                };
                if txn < through {
                    self.state.write().expect("table state lock").delta = fresh;
                    return Err(error);
                }
                warn!(table = %self.def().name, error = %error, through,
                    "the keyed flush's commit landed although it reported an error; counted as flushed");
                fresh
            }
        };
        let mut state = self.state.write().expect("table state lock");
        state.delta = new;
        state.flushed_seq = through;
        state.hot.drop_through(through);
        let first_hot_row = state.hot.first_row();
        if let Some(index) = state.keys.as_mut() {
            index.flushed(through, first_hot_row, upserted, deleted);
        }
        drop(state);
        info!(
            rows,
            through,
            merged = touches_lake,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "flushed a keyed table's hot rows to Delta"
        );
        Ok(Some(through))
    }

    /// The hot row ids of the versions of `keys` that a snapshot with `flushed_seq` and
    /// high-water `high` sees, from the key index: a point lookup without a scan of the hot
    /// tier. `None` when the index cannot answer for that snapshot (a flush came since, or
    /// one of the keys changed after it); the caller then scans.
    pub fn hot_rows_at(&self, flushed_seq: u64, high: u64, keys: &[Key]) -> Option<Vec<u64>> {
        let state = self.state.read().expect("table state lock");
        if state.flushed_seq != flushed_seq {
            return None;
        }
        let index = state.keys.as_ref()?;
        let mut rows = Vec::new();
        for key in keys {
            if let Some(row) = index.hot_version_at(key, high)? {
                rows.push(row);
            }
        }
        Some(rows)
    }

    /// After TRUNCATE of a keyed table committed: no key is left.
    pub(super) fn keys_truncated(&self) {
        let mut state = self.state.write().expect("table state lock");
        if let Some(index) = state.keys.as_mut() {
            index.cleared();
        }
    }
}

/// `k1 = v1 AND k2 = v2` for row `row` of `batch`.
fn key_predicate(codec: &KeyCodec, batch: &RecordBatch, row: usize) -> Result<Expr> {
    let mut parts = Vec::with_capacity(codec.names().len());
    for name in codec.names() {
        let column = batch
            .column_by_name(name)
            .ok_or_else(|| Error::Wal(format!("missing key column \"{name}\"")))?;
        let value = datafusion::common::ScalarValue::try_from_array(column, row)?;
        parts.push(col(datafusion::common::Column::new_unqualified(name)).eq(lit(value)));
    }
    Ok(parts
        .into_iter()
        .reduce(Expr::and)
        .expect("a key has a column"))
}

/// Batches of the key columns of `keys` (decoded back from their row format).
fn deleted_key_batches(
    codec: &KeyCodec,
    keys: &[Key],
    _schema: &SchemaRef,
) -> Result<Vec<RecordBatch>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let columns = codec.decode(keys)?;
    let batch = RecordBatch::try_new(Arc::clone(codec.key_schema()), columns)
        .map_err(|e| Error::DataFusion(e.into()))?;
    Ok(vec![batch])
}

fn not_keyed(def: &TableDef) -> Error {
    Error::Wal(format!("table {} has no enforced primary key", def.name))
}

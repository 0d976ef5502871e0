//! [`HotTable`]: a table's rows that are durable in the WAL but not yet in Delta.
//!
//! Rows are kept as Arrow batches in sequence order. Each batch knows the range of WAL
//! sequence numbers it holds and, when the table has a time column, the min/max of that
//! column, so that a time filter can skip it. Small batches (single-row inserts) are merged
//! into their predecessor so that the hot tier does not become a list of tiny batches, but
//! never into a batch a flush has already taken (`sealed_through`).

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, Int64Array, RecordBatch};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::DataType;

use crate::keyed::DeadMarks;

/// Batches smaller than this are merged with the previous one.
const COALESCE_ROWS: usize = 8192;

#[derive(Debug)]
pub struct HotBatch {
    pub first_seq: u64,
    pub last_seq: u64,
    pub batch: RecordBatch,
    /// Min and max of the time column (in the column's own unit), if the table has one.
    pub time_range: Option<(i64, i64)>,
    /// When the oldest row of this batch arrived.
    pub created: Instant,
    /// The hot row id of the first row (row ids count every row the tier ever took).
    pub first_row: u64,
    /// Keyed tables: which rows newer versions replaced (see [`crate::keyed`]).
    pub dead: Option<Arc<DeadMarks>>,
}

impl HotBatch {
    /// The rows a snapshot at high-water sequence `high` sees: all of them, unless a newer
    /// version of a key replaced some of them at or below `high`.
    pub fn visible(&self, high: u64) -> arrow::error::Result<RecordBatch> {
        match self.dead.as_ref().and_then(|d| d.live_mask(high)) {
            Some(mask) => arrow::compute::filter_record_batch(&self.batch, &mask),
            None => Ok(self.batch.clone()),
        }
    }
}

#[derive(Debug, Default)]
pub struct HotTable {
    batches: Vec<Arc<HotBatch>>,
    rows: usize,
    bytes: usize,
    /// A flush has taken every batch up to this sequence number: do not merge into them.
    sealed_through: u64,
    /// The row id the next inserted row gets.
    next_row: u64,
    /// Batches carry [`DeadMarks`] (a keyed table).
    keyed: bool,
}

impl HotTable {
    /// The hot tier of a keyed table: its batches carry [`DeadMarks`].
    pub fn keyed() -> Self {
        Self {
            keyed: true,
            ..Self::default()
        }
    }

    /// Adds `batch`; returns the row id of its first row (the others follow in order).
    pub fn insert(&mut self, seq: u64, batch: RecordBatch, time_column: Option<usize>) -> u64 {
        let first_row = self.next_row;
        if batch.num_rows() == 0 {
            return first_row;
        }
        self.next_row += batch.num_rows() as u64;
        self.rows += batch.num_rows();
        let range = time_column.and_then(|i| time_range(batch.column(i).as_ref()));
        if let Some(last) = self.batches.last()
            && last.first_seq > self.sealed_through
            && last.batch.num_rows() + batch.num_rows() <= COALESCE_ROWS
            && let Ok(merged) = concat_batches(&last.batch.schema(), [&last.batch, &batch])
        {
            let merged_range = match (last.time_range, range) {
                (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                (a, b) => a.or(b),
            };
            self.bytes -= last.batch.get_array_memory_size();
            self.bytes += merged.get_array_memory_size();
            let dead = last
                .dead
                .as_ref()
                .map(|d| Arc::new(d.extended(batch.num_rows())));
            let merged = HotBatch {
                first_seq: last.first_seq,
                last_seq: seq,
                batch: merged,
                time_range: merged_range,
                created: last.created,
                first_row: last.first_row,
                dead,
            };
            *self.batches.last_mut().expect("checked above") = Arc::new(merged);
            return first_row;
        }
        self.bytes += batch.get_array_memory_size();
        let dead = self
            .keyed
            .then(|| Arc::new(DeadMarks::new(batch.num_rows())));
        self.batches.push(Arc::new(HotBatch {
            first_seq: seq,
            last_seq: seq,
            batch,
            time_range: range,
            created: Instant::now(),
            first_row,
            dead,
        }));
        first_row
    }

    /// Marks hot row `row` as replaced by the change at `seq` (a keyed table's older version).
    pub fn mark_dead(&self, row: u64, seq: u64) {
        let at = self.batches.partition_point(|b| b.first_row <= row);
        let Some(batch) = at.checked_sub(1).and_then(|i| self.batches.get(i)) else {
            return;
        };
        let offset = (row - batch.first_row) as usize;
        if let Some(dead) = &batch.dead
            && offset < batch.batch.num_rows()
        {
            dead.mark(offset, seq);
        }
    }

    /// The row with id `row`, as a one-row batch, if it is still hot.
    pub fn row(&self, row: u64) -> Option<RecordBatch> {
        let at = self.batches.partition_point(|b| b.first_row <= row);
        let batch = self.batches.get(at.checked_sub(1)?)?;
        let offset = (row - batch.first_row) as usize;
        (offset < batch.batch.num_rows()).then(|| batch.batch.slice(offset, 1))
    }

    /// The row id of the oldest row still hot (the next row's id when there is none).
    pub fn first_row(&self) -> u64 {
        self.batches.first().map_or(self.next_row, |b| b.first_row)
    }

    /// The batches as they are now (shared, not copied).
    pub fn batches(&self) -> Vec<Arc<HotBatch>> {
        self.batches.clone()
    }

    /// Takes a flush's view: every batch now, and no later insert may merge into them.
    pub fn seal(&mut self) -> Vec<Arc<HotBatch>> {
        if let Some(last) = self.batches.last() {
            self.sealed_through = last.last_seq;
        }
        self.batches.clone()
    }

    /// Gives every batch `schema` (after `ADD COLUMN`: the new columns are NULL in them). Called
    /// under the table's write lock, so no flush holds sealed batches meanwhile.
    pub fn refit(&mut self, schema: &arrow::datatypes::SchemaRef) -> crate::Result<()> {
        let mut refitted = Vec::with_capacity(self.batches.len());
        for b in &self.batches {
            refitted.push(Arc::new(HotBatch {
                first_seq: b.first_seq,
                last_seq: b.last_seq,
                batch: super::reshape::fit(&b.batch, schema)?,
                time_range: b.time_range,
                created: b.created,
                first_row: b.first_row,
                dead: b.dead.clone(),
            }));
        }
        self.batches = refitted;
        self.bytes = self
            .batches
            .iter()
            .map(|b| b.batch.get_array_memory_size())
            .sum();
        Ok(())
    }

    /// Drops the batches a flush committed to Delta.
    pub fn drop_through(&mut self, seq: u64) {
        self.batches.retain(|b| b.last_seq > seq);
        self.rows = self.batches.iter().map(|b| b.batch.num_rows()).sum();
        self.bytes = self
            .batches
            .iter()
            .map(|b| b.batch.get_array_memory_size())
            .sum();
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.batches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    pub fn min_seq(&self) -> Option<u64> {
        self.batches.first().map(|b| b.first_seq)
    }

    pub fn oldest(&self) -> Option<Instant> {
        self.batches.iter().map(|b| b.created).min()
    }
}

/// Min and max of a timestamp column, as i64 in its own unit.
fn time_range(column: &dyn Array) -> Option<(i64, i64)> {
    if !matches!(column.data_type(), DataType::Timestamp(_, _)) {
        return None;
    }
    let values = cast(column, &DataType::Int64).ok()?;
    let values = values.as_any().downcast_ref::<Int64Array>()?;
    let min = arrow::compute::min(values)?;
    let max = arrow::compute::max(values)?;
    Some((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array as I, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema, TimeUnit};

    fn batch(ts: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
            Field::new("v", DataType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(TimestampMicrosecondArray::from(ts.to_vec())),
                Arc::new(I::from(ts.to_vec())),
            ],
        )
        .unwrap()
    }

    #[test]
    fn small_batches_merge_and_keep_their_time_range() {
        let mut hot = HotTable::default();
        hot.insert(1, batch(&[10, 20]), Some(0));
        hot.insert(2, batch(&[5]), Some(0));
        assert_eq!(hot.len(), 1);
        let b = &hot.batches()[0];
        assert_eq!((b.first_seq, b.last_seq), (1, 2));
        assert_eq!(b.time_range, Some((5, 20)));
        assert_eq!(hot.rows(), 3);
    }

    #[test]
    fn a_batch_taken_by_a_flush_is_not_merged_into() {
        let mut hot = HotTable::default();
        hot.insert(1, batch(&[1]), Some(0));
        let taken = hot.seal();
        hot.insert(2, batch(&[2]), Some(0));
        assert_eq!(hot.len(), 2, "the insert after the seal starts a new batch");
        hot.drop_through(taken.last().unwrap().last_seq);
        assert_eq!(hot.rows(), 1);
        assert_eq!(hot.min_seq(), Some(2));
    }
}

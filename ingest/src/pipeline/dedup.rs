//! Deduplicate: a row whose `dedup_key` was seen within `dedup_window` is dropped and counted.
//!
//! The state is a map from a 64-bit hash of the key's text to when it was first seen, plus
//! the same entries in arrival order so that expired keys are evicted from the front: memory
//! is about 48 bytes per key seen within the window, whatever the key's length. Two different
//! keys share a hash with probability about n²/2⁶⁵ (one in 10¹⁰ for a million keys in the
//! window); such a row would be dropped as a duplicate.
//!
//! Restart-safe without a state store of its own: the table is the state. When a source
//! starts, the keys of the target table's rows whose event time is within the window are
//! loaded back ([`DedupState::remember`]); they are in the table because a batch's rows and
//! its offsets are one WAL transaction. Without a `time_column`, every key in the table is
//! loaded (the window then counts from the restart).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::DataType;

/// What [`DedupState::filter`] decided for a batch.
#[derive(Debug)]
pub struct DedupOutcome {
    pub kept: RecordBatch,
    pub dropped: usize,
    /// The kept rows' keys, to commit once they are durable.
    pub keys: Vec<u64>,
}

#[derive(Debug)]
pub struct DedupState {
    column: String,
    window_us: i64,
    seen: HashMap<u64, i64>,
    order: VecDeque<(i64, u64)>,
}

impl DedupState {
    pub fn new(column: String, window: Duration) -> Self {
        Self {
            column,
            window_us: window.as_micros() as i64,
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn column(&self) -> &str {
        &self.column
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Records `key` as seen at `at_us` (recovery, from the table).
    pub fn remember(&mut self, key: &str, at_us: i64) {
        let hash = hash(key);
        if self.seen.insert(hash, at_us).is_none() {
            self.order.push_back((at_us, hash));
        }
    }

    /// The rows of `batch` whose key was not seen within the window (nor earlier in the
    /// batch), the keep mask, how many were dropped, and the keys to [`DedupState::commit`]
    /// once the kept rows are durable (a write that fails must not leave its keys behind, or
    /// its retry would be dropped as a duplicate). Rows with a NULL key are never duplicates.
    pub fn filter(&mut self, batch: &RecordBatch, now_us: i64) -> DedupOutcome {
        self.evict(now_us);
        let Some(column) = batch.column_by_name(&self.column) else {
            return DedupOutcome {
                kept: batch.clone(),
                dropped: 0,
                keys: Vec::new(),
            };
        };
        let text = cast(column, &DataType::Utf8).expect("every stored type has a text form");
        let text = text.as_string::<i32>();
        let mut keep = Vec::with_capacity(text.len());
        let mut keys = Vec::new();
        let mut in_batch = std::collections::HashSet::new();
        for row in 0..text.len() {
            if text.is_null(row) {
                keep.push(true);
                continue;
            }
            let hash = hash(text.value(row));
            let fresh = match self.seen.get(&hash) {
                Some(&at) => now_us - at > self.window_us,
                None => true,
            } && in_batch.insert(hash);
            if fresh {
                keys.push(hash);
            }
            keep.push(fresh);
        }
        let dropped = keep.iter().filter(|k| !**k).count();
        let kept = if dropped == 0 {
            batch.clone()
        } else {
            filter_record_batch(batch, &BooleanArray::from(keep))
                .expect("mask has the batch's length")
        };
        DedupOutcome {
            kept,
            dropped,
            keys,
        }
    }

    /// Remembers the keys of rows that are now durable, as seen at `now_us`.
    pub fn commit(&mut self, keys: Vec<u64>, now_us: i64) {
        for hash in keys {
            self.seen.insert(hash, now_us);
            self.order.push_back((now_us, hash));
        }
    }

    /// Undoes [`DedupState::commit`] of `keys` at `at_us` (their write failed).
    pub fn forget(&mut self, keys: &[u64], at_us: i64) {
        for hash in keys {
            if self.seen.get(hash) == Some(&at_us) {
                self.seen.remove(hash);
            }
        }
    }

    fn evict(&mut self, now_us: i64) {
        while let Some(&(at, hash)) = self.order.front() {
            if now_us - at <= self.window_us {
                break;
            }
            self.order.pop_front();
            // A key seen again later has a newer entry further back; keep it.
            if self.seen.get(&hash) == Some(&at) {
                self.seen.remove(&hash);
            }
        }
    }
}

fn hash(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch(ids: &[i64]) -> RecordBatch {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)])),
            vec![Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef],
        )
        .unwrap()
    }

    #[test]
    fn duplicates_within_the_window_are_dropped_and_expire_after_it() {
        let mut d = DedupState::new("id".into(), Duration::from_secs(10));
        let run = |d: &mut DedupState, ids: &[i64], at: i64, commit: bool| {
            let out = d.filter(&batch(ids), at);
            let kept = out.kept.num_rows();
            if commit {
                d.commit(out.keys, at);
            }
            (kept, out.dropped)
        };
        assert_eq!(run(&mut d, &[1, 2, 1], 0, true), (2, 1));
        assert_eq!(run(&mut d, &[2, 3], 5_000_000, true), (1, 1));
        assert_eq!(
            run(&mut d, &[1, 3], 12_000_000, true),
            (1, 1),
            "1 expired, 3 was seen at 5 s"
        );
        assert_eq!(run(&mut d, &[7], 12_000_000, false), (1, 0));
        let out = d.filter(&batch(&[8]), 12_000_000);
        d.commit(out.keys.clone(), 12_000_000);
        d.forget(&out.keys, 12_000_000);
        assert_eq!(
            run(&mut d, &[8], 12_000_000, true),
            (1, 0),
            "forgotten keys are not duplicates"
        );
        assert_eq!(
            run(&mut d, &[7], 12_000_000, true),
            (1, 0),
            "a failed write's keys are not kept"
        );
        d.remember("9", 12_000_000);
        assert_eq!(
            run(&mut d, &[9], 13_000_000, true),
            (0, 1),
            "a key recovered from the table is a duplicate"
        );
    }
}

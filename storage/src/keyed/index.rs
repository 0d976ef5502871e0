//! [`KeyIndex`]: where the newest version of each key of a keyed table is, and the marks that
//! hide older versions from queries.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use arrow::array::BooleanArray;

use super::{Key, KeyCodec};

/// Per hot row, the WAL sequence number of the change that replaced or deleted it
/// (`u64::MAX`: none). Shared by every holder of the batch: a mark is only ever set once,
/// under the table's state lock, with a sequence number above the high-water mark of every
/// snapshot taken before, so a snapshot reads the same answer whenever it looks.
#[derive(Debug)]
pub struct DeadMarks {
    seqs: Box<[AtomicU64]>,
    dead: AtomicUsize,
}

impl DeadMarks {
    pub fn new(rows: usize) -> Self {
        Self {
            seqs: (0..rows).map(|_| AtomicU64::new(u64::MAX)).collect(),
            dead: AtomicUsize::new(0),
        }
    }

    /// These marks followed by `more` unmarked rows (a batch merged with a later one).
    pub fn extended(&self, more: usize) -> Self {
        let seqs: Box<[AtomicU64]> = self
            .seqs
            .iter()
            .map(|s| AtomicU64::new(s.load(Ordering::Acquire)))
            .chain((0..more).map(|_| AtomicU64::new(u64::MAX)))
            .collect();
        Self {
            seqs,
            dead: AtomicUsize::new(self.dead.load(Ordering::Acquire)),
        }
    }

    /// Row `row` was replaced by the change at `seq`.
    pub fn mark(&self, row: usize, seq: u64) {
        if self.seqs[row].swap(seq, Ordering::AcqRel) == u64::MAX {
            self.dead.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Whether row `row` is still the newest version as of `high`.
    pub fn is_live(&self, row: usize, high: u64) -> bool {
        self.seqs[row].load(Ordering::Acquire) > high
    }

    /// The rows still live as of `high`, or `None` when every row is (nothing to filter).
    pub fn live_mask(&self, high: u64) -> Option<BooleanArray> {
        if self.dead.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mask: BooleanArray = self
            .seqs
            .iter()
            .map(|s| Some(s.load(Ordering::Acquire) > high))
            .collect();
        (mask.true_count() < mask.len()).then_some(mask)
    }
}

/// The keys whose Delta version a hot change shadows, each with the sequence number of the
/// first such change. A query at high-water `high` hides a Delta row whose key is here at or
/// below `high`. Entries are only added until the next flush, which starts a new set: a
/// query keeps the set of its snapshot, matching its Delta version.
#[derive(Debug, Default)]
pub struct ShadowSet {
    keys: RwLock<HashMap<Key, u64>>,
}

impl ShadowSet {
    pub fn add(&self, key: &Key, seq: u64) {
        let mut keys = self.keys.write().expect("shadow set lock");
        keys.entry(key.clone()).or_insert(seq);
    }

    pub fn is_empty(&self) -> bool {
        self.keys.read().expect("shadow set lock").is_empty()
    }

    /// For each of `keys`, whether its Delta row is hidden at `high`.
    pub fn hidden(&self, keys: &[Key], high: u64) -> Vec<bool> {
        let map = self.keys.read().expect("shadow set lock");
        keys.iter()
            .map(|k| map.get(k).is_some_and(|seq| *seq <= high))
            .collect()
    }
}

/// Where the newest hot version of a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HotSlot {
    /// The row with hot row id `row` (see `HotTable`), written by the change at `seq`.
    Live { row: u64, seq: u64 },
    /// Deleted by the change with this sequence number.
    Deleted(u64),
}

/// Where a key's current version is, for a write deciding a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Located {
    Hot(u64),
    Lake,
    Absent,
}

/// The key index of one keyed table (held in the table's state, under its lock).
#[derive(Debug)]
pub struct KeyIndex {
    pub codec: KeyCodec,
    /// Keys changed since the last flush: their newest version.
    hot: HashMap<Key, HotSlot>,
    /// Keys the Delta table holds (exactly: every Delta commit of the table updates it).
    lake: HashSet<Key>,
    shadow: std::sync::Arc<ShadowSet>,
}

impl KeyIndex {
    pub fn new(codec: KeyCodec, lake: HashSet<Key>) -> Self {
        Self {
            codec,
            hot: HashMap::new(),
            lake,
            shadow: Default::default(),
        }
    }

    pub fn locate(&self, key: &Key) -> Located {
        match self.hot.get(key) {
            Some(HotSlot::Live { row, .. }) => Located::Hot(*row),
            Some(HotSlot::Deleted(_)) => Located::Absent,
            None if self.lake.contains(key) => Located::Lake,
            None => Located::Absent,
        }
    }

    pub fn exists(&self, key: &Key) -> bool {
        self.locate(key) != Located::Absent
    }

    pub fn in_lake(&self, key: &Key) -> bool {
        self.lake.contains(key)
    }

    pub fn shadow(&self) -> std::sync::Arc<ShadowSet> {
        std::sync::Arc::clone(&self.shadow)
    }

    /// Records a change of `key` at `seq`; returns the hot row it replaces, if any.
    pub fn set(&mut self, key: Key, slot: HotSlot, seq: u64) -> Option<u64> {
        self.shadow.add(&key, seq);
        match self.hot.insert(key, slot) {
            Some(HotSlot::Live { row, .. }) => Some(row),
            _ => None,
        }
    }

    /// What a snapshot at high-water `high` sees of `key` in the hot tier, provided no flush
    /// came between it and now (the caller checks): `Some(Some(row))` that hot row,
    /// `Some(None)` no hot version, `None` unknown here (the key changed after `high`; the
    /// index keeps only the newest version).
    pub fn hot_version_at(&self, key: &Key, high: u64) -> Option<Option<u64>> {
        match self.hot.get(key) {
            // Any change since the last flush has an entry, so the snapshot saw none either.
            None => Some(None),
            Some(HotSlot::Live { row, seq }) if *seq <= high => Some(Some(*row)),
            Some(HotSlot::Deleted(seq)) if *seq <= high => Some(None),
            Some(_) => None,
        }
    }

    /// Keys deleted at or below `through`: the deletes a flush through it applies to Delta.
    pub fn deleted_through(&self, through: u64) -> Vec<Key> {
        self.hot
            .iter()
            .filter(|(_, slot)| matches!(slot, HotSlot::Deleted(seq) if *seq <= through))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// After a flush through `through` committed: Delta now holds `upserted` and no longer
    /// `deleted`; hot rows below `first_hot_row` are gone. Keys whose newest version is still
    /// hot shadow the new Delta version from now on, in a new [`ShadowSet`] (queries that
    /// captured the old one keep it, with the Delta version it matches).
    pub fn flushed(
        &mut self,
        through: u64,
        first_hot_row: u64,
        upserted: Vec<Key>,
        deleted: Vec<Key>,
    ) {
        for key in deleted {
            self.lake.remove(&key);
        }
        self.lake.extend(upserted);
        self.hot.retain(|_, slot| match slot {
            HotSlot::Live { row, .. } => *row >= first_hot_row,
            HotSlot::Deleted(seq) => *seq > through,
        });
        let shadow = ShadowSet::default();
        {
            let mut keys = shadow.keys.write().expect("shadow set lock");
            keys.extend(self.hot.keys().map(|k| (k.clone(), 0)));
        }
        self.shadow = std::sync::Arc::new(shadow);
    }

    /// After TRUNCATE: nothing is left anywhere.
    pub fn cleared(&mut self) {
        self.hot.clear();
        self.lake.clear();
        self.shadow = Default::default();
    }

    pub fn lake_keys(&self) -> usize {
        self.lake.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_hides_a_row_only_from_snapshots_at_or_after_it() {
        let marks = DeadMarks::new(3);
        assert!(marks.live_mask(10).is_none());
        marks.mark(1, 7);
        assert!(
            marks.live_mask(6).is_none(),
            "a snapshot before the change sees the row"
        );
        let mask = marks.live_mask(7).unwrap();
        assert_eq!(mask, BooleanArray::from(vec![true, false, true]));
        let longer = marks.extended(2);
        assert_eq!(longer.live_mask(9).unwrap().len(), 5);
        assert!(!longer.is_live(1, 7));
    }

    #[test]
    fn shadowed_keys_hide_only_at_or_after_their_change() {
        let set = ShadowSet::default();
        let k: Key = Box::from(&b"k"[..]);
        set.add(&k, 5);
        set.add(&k, 9);
        assert_eq!(set.hidden(&[k.clone()], 4), vec![false]);
        assert_eq!(set.hidden(&[k], 5), vec![true]);
    }
}

//! [`TableRegistry`]: the open tables by id, which is how WAL records (which name tables by
//! id) reach the hot tier of their table.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use arrow::array::RecordBatch;

use crate::Table;
use crate::wal::WalApply;

#[derive(Debug, Default)]
pub struct TableRegistry {
    by_id: RwLock<HashMap<String, Arc<Table>>>,
    /// Per table that could not be opened (by id), the first sequence number of its records
    /// in the WAL: with no `txn` to trust, all of them must be kept.
    wal_pins: RwLock<HashMap<String, u64>>,
}

impl TableRegistry {
    pub fn insert(&self, table: Arc<Table>) {
        self.by_id
            .write()
            .expect("registry lock")
            .insert(table.def().id.clone(), table);
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Table>> {
        self.by_id.write().expect("registry lock").remove(id)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Table>> {
        self.by_id.read().expect("registry lock").get(id).cloned()
    }

    pub fn tables(&self) -> Vec<Arc<Table>> {
        self.by_id
            .read()
            .expect("registry lock")
            .values()
            .cloned()
            .collect()
    }

    /// Bytes held by the hot tier of all tables.
    pub fn hot_bytes(&self) -> usize {
        self.tables().iter().map(|t| t.hot_stats().bytes).sum()
    }

    /// Keeps the WAL from `seq` on for the table `id`, which could not be opened.
    pub fn pin_wal(&self, id: &str, seq: u64) {
        let mut pins = self.wal_pins.write().expect("registry lock");
        let pin = pins.entry(id.to_string()).or_insert(seq);
        *pin = (*pin).min(seq);
    }

    /// Keeps the WAL from `seq` on for `id` (a sink's pin: its position + 1), replacing the
    /// pin it had, so a reader's pin moves forward as it consumes.
    pub fn set_wal_pin(&self, id: &str, seq: u64) {
        self.wal_pins
            .write()
            .expect("registry lock")
            .insert(id.to_string(), seq);
    }

    /// Releases the WAL pin of table `id` (dropped).
    pub fn unpin_wal(&self, id: &str) {
        self.wal_pins.write().expect("registry lock").remove(id);
    }

    /// The lowest sequence number the WAL must keep for a table that could not be opened.
    pub fn lowest_pinned_seq(&self) -> Option<u64> {
        self.wal_pins
            .read()
            .expect("registry lock")
            .values()
            .min()
            .copied()
    }

    /// The lowest sequence number still only in the hot tier, if any.
    pub fn lowest_hot_seq(&self) -> Option<u64> {
        self.tables()
            .iter()
            .filter_map(|t| t.hot_stats().min_seq)
            .min()
    }
}

impl WalApply for TableRegistry {
    /// A record of a table dropped since it was written is ignored.
    fn apply(&self, table_id: &str, seq: u64, batches: Vec<RecordBatch>) {
        if let Some(table) = self.get(table_id) {
            table.apply(seq, batches);
        }
    }
}

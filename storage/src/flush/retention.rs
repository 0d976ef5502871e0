//! WAL retention: after flushes, the WAL segments whose records are all in Delta are deleted;
//! past `max_wal_size`, the tables that keep the oldest segment are flushed early.
//!
//! The low-water mark is the lowest sequence number still only in the hot tier of any table
//! (or, with nothing hot, the next one after the last applied record). One slowly flushed
//! table (`flush_interval = '24h'`, a trickle of rows) would therefore keep every segment from
//! its oldest hot row on, and disk use and replay time would grow without bound (review D11).
//! [`WalSizeLimit`] bounds that: when the segments on disk exceed the limit, the tables whose
//! hot rows begin in the oldest segment are flushed, whatever their own schedule, and the
//! segment goes. A table that could not be opened pins the WAL from its first record on, until
//! it is dropped or repaired; that pin is deliberate (no `txn` to trust) and is only logged.

use std::sync::Arc;

use tracing::{info, warn};

use super::FlushBackoff;
use crate::registry::TableRegistry;
use crate::wal::WalWriter;
use crate::{Appender, Result, Table};

/// Deletes the WAL segments whose records are all in Delta. Returns how many it deleted.
pub fn truncate_wal(wal: &WalWriter, registry: &TableRegistry) -> Result<usize> {
    let applied = wal.applied_seq();
    let low_water = [registry.lowest_hot_seq(), registry.lowest_pinned_seq()]
        .into_iter()
        .flatten()
        .fold(applied + 1, u64::min);
    wal.delete_segments_below(low_water)
}

/// The open tables whose hot rows keep the oldest WAL segment: those with a hot row below the
/// first sequence number of the second-oldest segment. Empty with fewer than two segments
/// (the segment being written is never deleted anyway).
pub fn tables_pinning_oldest_segment(wal: &WalWriter, registry: &TableRegistry) -> Vec<Arc<Table>> {
    let segments = wal.segments();
    let Some(&second) = segments.get(1) else {
        return Vec::new();
    };
    registry
        .tables()
        .into_iter()
        .filter(|t| t.hot_stats().min_seq.is_some_and(|s| s < second))
        .collect()
}

/// `max_wal_size`: the WAL bytes on disk past which [`enforce`](Self::enforce) flushes the
/// tables pinning the oldest segment. A soft limit, as in PostgreSQL: the segment being
/// written, and the records of tables that could not be opened, are always kept.
#[derive(Debug)]
pub struct WalSizeLimit {
    max_bytes: u64,
    /// The unavailable-table pin last logged, so a pin that blocks truncation is logged once
    /// rather than every tick.
    logged_pin: Option<u64>,
}

impl WalSizeLimit {
    pub fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            logged_pin: None,
        }
    }

    /// While the WAL is over the limit, flushes the tables pinning its oldest segment and
    /// deletes the segments that are then in Delta. Stops when under the limit, when only the
    /// segment being written is left, when an unavailable table's pin keeps the oldest
    /// segment, or when a flush fails or is backing off (the next tick tries again).
    pub async fn enforce(
        &mut self,
        registry: &TableRegistry,
        appender: &Appender,
        backoff: &mut FlushBackoff,
    ) {
        let wal = appender.wal();
        while wal.disk_bytes() > self.max_bytes {
            let pinning = tables_pinning_oldest_segment(wal, registry);
            if pinning.is_empty() {
                self.log_unavailable_pin(wal, registry);
                return;
            }
            for table in pinning {
                if !backoff.may_try(&table, std::time::Instant::now()) {
                    return;
                }
                info!(
                    table = %table.def().name,
                    wal_bytes = wal.disk_bytes(),
                    max_wal_bytes = self.max_bytes,
                    "flushing early: the table keeps the oldest WAL segment past max_wal_size"
                );
                match table.flush().await {
                    Ok(_) => backoff.succeeded(&table),
                    Err(e) => {
                        backoff.failed(&table, &e, std::time::Instant::now());
                        return;
                    }
                }
            }
            match truncate_wal(wal, registry) {
                Ok(0) => {
                    self.log_unavailable_pin(wal, registry);
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(error = %e, "cannot delete flushed WAL segments");
                    return;
                }
            }
        }
    }

    fn log_unavailable_pin(&mut self, wal: &WalWriter, registry: &TableRegistry) {
        let Some(pin) = registry.lowest_pinned_seq() else {
            return;
        };
        let segments = wal.segments();
        if segments.get(1).is_some_and(|&second| pin < second) && self.logged_pin != Some(pin) {
            self.logged_pin = Some(pin);
            warn!(
                pinned_seq = pin,
                wal_bytes = wal.disk_bytes(),
                max_wal_bytes = self.max_bytes,
                "the WAL is over max_wal_size, but a table that could not be opened keeps its records; repair or drop it"
            );
        }
    }
}

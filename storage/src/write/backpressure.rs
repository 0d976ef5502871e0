//! [`MemoryBudget`]: the bytes the hot tier of all tables may hold, and the wait that makes
//! writers slow down, instead of fail, when it is reached.
//!
//! A statement reserves its bytes (the Arrow memory of its prepared batches) before it is
//! written, in one step under a lock that also reads the hot tier's bytes, so writers that
//! arrive together cannot all pass one check (review D8: checking and then acting let N
//! writers overshoot by N statements). The reservation ([`Reservation`]) is released when it
//! is dropped: after the rows are in the hot tier, where the tables' hot bytes count them, or
//! when the write failed. Between the apply and the release the rows count twice, which errs
//! on the safe side.
//!
//! Rows held by an open transaction block are counted too ([`Reservation`]s of kind held,
//! kept by the block and released at `COMMIT`, `ROLLBACK` or when the connection drops). At
//! `COMMIT` they become the write's reservation without being reserved again, so a commit
//! never waits for the room its own rows already take.
//!
//! A statement is admitted when its bytes fit, or when no other statement is in flight and
//! the budget is not yet exceeded. The second rule lets a statement larger than the whole
//! budget proceed alone instead of waiting forever; the hot tier then overshoots the limit
//! by at most that one statement. (The chosen alternative to refusing such statements: a
//! single INSERT or COPY that big is bounded by other caps, the WAL's record size and the
//! COPY input cap.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::warn;

use crate::registry::TableRegistry;

/// Where the budget reads the bytes the hot tier holds (the registry; a counter in tests).
type HotBytes = Arc<dyn Fn() -> usize + Send + Sync>;

pub(crate) struct MemoryBudget {
    hot_bytes: HotBytes,
    limit: usize,
    counts: Arc<Mutex<Counts>>,
    /// Wakes the flusher when the budget is exceeded.
    flush_wanted: Arc<Notify>,
}

/// Bytes counted besides the hot tier's own.
#[derive(Debug, Default)]
struct Counts {
    /// Statements admitted and not yet in the hot tier.
    reserved: usize,
    /// Rows held by open transaction blocks.
    held: usize,
}

/// Bytes counted against a [`MemoryBudget`] until this is dropped.
#[derive(Debug)]
pub struct Reservation {
    counts: Arc<Mutex<Counts>>,
    bytes: usize,
    held: bool,
}

impl Reservation {
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds `other` (of the same budget and kind) to this reservation.
    pub fn merge(&mut self, mut other: Reservation) {
        debug_assert_eq!(self.held, other.held);
        self.bytes += std::mem::take(&mut other.bytes);
    }

    /// Gives back `bytes` of the reservation (rows a `ROLLBACK TO` dropped).
    pub fn shrink(&mut self, bytes: usize) {
        let bytes = bytes.min(self.bytes);
        let mut counts = lock(&self.counts);
        if self.held {
            counts.held -= bytes;
        } else {
            counts.reserved -= bytes;
        }
        self.bytes -= bytes;
    }

    /// Turns rows held by a block into a write in flight (`COMMIT`).
    pub fn into_write(mut self) -> Reservation {
        if self.held {
            let mut counts = lock(&self.counts);
            counts.held -= self.bytes;
            counts.reserved += self.bytes;
            drop(counts);
            self.held = false;
        }
        self
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.shrink(self.bytes);
        }
    }
}

fn lock(counts: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
    // The counts are plain integers updated in one step: a panic elsewhere cannot leave them
    // half-written, so a poisoned lock is still usable.
    counts.lock().unwrap_or_else(|e| e.into_inner())
}

/// The Arrow memory of a statement's batches: what it reserves.
pub fn batches_bytes(batches: &[arrow::array::RecordBatch]) -> usize {
    batches.iter().map(|b| b.get_array_memory_size()).sum()
}

impl MemoryBudget {
    pub(crate) fn new(
        registry: Arc<TableRegistry>,
        limit: usize,
        flush_wanted: Arc<Notify>,
    ) -> Self {
        Self::with_hot_bytes(Arc::new(move || registry.hot_bytes()), limit, flush_wanted)
    }

    fn with_hot_bytes(hot_bytes: HotBytes, limit: usize, flush_wanted: Arc<Notify>) -> Self {
        Self {
            hot_bytes,
            limit,
            counts: Arc::default(),
            flush_wanted,
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Whether the hot tier alone holds more than the budget (what the flusher can reduce).
    pub(crate) fn exceeded(&self) -> bool {
        (self.hot_bytes)() > self.limit
    }

    /// Reserves `bytes` for a statement, waiting (and waking the flusher) until they fit; see
    /// the module doc for the rule. `held`: for rows a transaction block holds.
    pub(crate) async fn reserve(&self, bytes: usize, held: bool) -> Reservation {
        let started = Instant::now();
        loop {
            if let Some(reservation) = self.try_reserve(bytes, held) {
                let waited = started.elapsed();
                if waited > Duration::from_millis(100) {
                    warn!(
                        waited_ms = waited.as_millis() as u64,
                        "a write waited for the hot tier to flush (memory budget reached)"
                    );
                }
                return reservation;
            }
            self.flush_wanted.notify_one();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn try_reserve(&self, bytes: usize, held: bool) -> Option<Reservation> {
        let mut counts = lock(&self.counts);
        // Read under the lock: the hot tier grows only by writes that hold a reservation
        // until after they are applied, so hot + reserved never undercounts.
        let used = (self.hot_bytes)() + counts.reserved + counts.held;
        let fits = used.saturating_add(bytes) <= self.limit;
        let alone = counts.reserved == 0 && used <= self.limit;
        if !(fits || alone) {
            return None;
        }
        if held {
            counts.held += bytes;
        } else {
            counts.reserved += bytes;
        }
        Some(Reservation {
            counts: Arc::clone(&self.counts),
            bytes,
            held,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Many writers at once never take the hot tier past the limit plus one statement. The
    /// old check-then-act (`wait_for_room`, then write) let each of them pass the same check.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writers_do_not_overshoot() {
        const LIMIT: usize = 10_000;
        const STATEMENT: usize = 3_000;
        let hot = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let source = Arc::clone(&hot);
        let budget = Arc::new(MemoryBudget::with_hot_bytes(
            Arc::new(move || source.load(Ordering::SeqCst)),
            LIMIT,
            Arc::new(Notify::new()),
        ));
        let writers: Vec<_> = (0..32)
            .map(|_| {
                let (budget, hot, peak) =
                    (Arc::clone(&budget), Arc::clone(&hot), Arc::clone(&peak));
                tokio::spawn(async move {
                    for _ in 0..20 {
                        let reservation = budget.reserve(STATEMENT, false).await;
                        // The WAL write: the other writers run meanwhile.
                        tokio::task::yield_now().await;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        let now = hot.fetch_add(STATEMENT, Ordering::SeqCst) + STATEMENT;
                        peak.fetch_max(now, Ordering::SeqCst);
                        drop(reservation);
                    }
                })
            })
            .collect();
        // The flusher: empties the hot tier now and then.
        let flusher = {
            let hot = Arc::clone(&hot);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(3)).await;
                    hot.store(0, Ordering::SeqCst);
                }
            })
        };
        for writer in writers {
            writer.await.expect("writer");
        }
        flusher.abort();
        let peak = peak.load(Ordering::SeqCst);
        assert!(
            peak <= LIMIT + STATEMENT,
            "the hot tier reached {peak} bytes, limit {LIMIT} + one statement {STATEMENT}"
        );
    }

    #[tokio::test]
    async fn a_statement_larger_than_the_budget_proceeds_alone() {
        let budget = MemoryBudget::with_hot_bytes(Arc::new(|| 0), 100, Arc::new(Notify::new()));
        let big = budget.reserve(1_000, false).await;
        assert!(
            budget.try_reserve(1, false).is_none(),
            "nothing fits beside it"
        );
        drop(big);
        assert!(budget.try_reserve(1, false).is_some());
    }

    #[tokio::test]
    async fn held_rows_count_until_released_and_commit_without_reserving_again() {
        let budget = MemoryBudget::with_hot_bytes(Arc::new(|| 0), 100, Arc::new(Notify::new()));
        let held = budget.reserve(80, true).await;
        // Admitted alone (nothing in flight), but then nothing else fits.
        let alone = budget.try_reserve(30, false).expect("alone");
        assert!(budget.try_reserve(1, false).is_none());
        drop(alone);
        let write = held.into_write();
        assert_eq!(lock(&budget.counts).held, 0);
        assert_eq!(lock(&budget.counts).reserved, 80);
        drop(write);
        assert_eq!(lock(&budget.counts).reserved, 0);
        assert!(budget.try_reserve(100, false).is_some());
    }
}

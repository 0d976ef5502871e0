//! [`MemoryBudget`]: the bytes the hot tier of all tables may hold, and the wait that makes
//! writers slow down, instead of fail, when it is reached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::warn;

use crate::registry::TableRegistry;

pub(crate) struct MemoryBudget {
    registry: Arc<TableRegistry>,
    limit: usize,
    /// Wakes the flusher when the budget is exceeded.
    flush_wanted: Arc<Notify>,
}

impl MemoryBudget {
    pub(crate) fn new(
        registry: Arc<TableRegistry>,
        limit: usize,
        flush_wanted: Arc<Notify>,
    ) -> Self {
        Self {
            registry,
            limit,
            flush_wanted,
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn exceeded(&self) -> bool {
        self.registry.hot_bytes() > self.limit
    }

    /// Returns once the hot tier is within its budget, waking the flusher while it is not.
    /// Checked, not reserved: writers that pass together can overshoot the budget by one
    /// statement each (review D8).
    pub(crate) async fn wait_for_room(&self) {
        if !self.exceeded() {
            return;
        }
        let started = Instant::now();
        while self.exceeded() {
            self.flush_wanted.notify_one();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let waited = started.elapsed();
        if waited > Duration::from_millis(100) {
            warn!(
                waited_ms = waited.as_millis() as u64,
                "a write waited for the hot tier to flush (memory budget reached)"
            );
        }
    }
}

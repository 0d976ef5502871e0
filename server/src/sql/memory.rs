//! Query memory: a pool all queries draw from (`--memory-pool-mb`) and a limit for each
//! session's query (`--query-memory-mb`). Past either, DataFusion spills where it can (sorts,
//! aggregations) and otherwise fails that query with 53200 (`Resources exhausted`), while other
//! sessions' queries go on.
//!
//! DataFusion keeps one memory pool per `RuntimeEnv`, so each connection's session gets a
//! runtime of its own that shares everything with the template's (object stores, spill
//! directory, caches) except the pool: a [`SessionPool`] that counts the session's own
//! reservations against its limit and forwards them to the shared pool. A session runs one
//! statement at a time, so its limit is the limit of its query.
//!
//! Not everything a query allocates is reserved in a pool (scans, some functions:
//! apache/datafusion#587), so these bound the operators that hold the most (hash tables,
//! sort buffers), not the process.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::{Result, resources_datafusion_err};
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
    UnboundedMemoryPool,
};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

const MIB: usize = 1024 * 1024;

/// The two limits, and the pool they share (clones share the pool).
#[derive(Debug, Clone)]
pub struct QueryMemory {
    shared: Arc<dyn MemoryPool>,
    per_query: Option<usize>,
    pooled: bool,
}

impl QueryMemory {
    /// `pool_mb`, `query_mb`: 0 means no limit.
    pub fn new(pool_mb: usize, query_mb: usize) -> Self {
        let shared: Arc<dyn MemoryPool> = if pool_mb == 0 {
            Arc::new(UnboundedMemoryPool::default())
        } else {
            Arc::new(GreedyMemoryPool::new(pool_mb.saturating_mul(MIB)))
        };
        Self {
            shared,
            per_query: (query_mb > 0).then(|| query_mb.saturating_mul(MIB)),
            pooled: pool_mb > 0,
        }
    }

    /// The runtime of one session: `template`'s, with a pool of the session's own. `None`
    /// when no limit is set (the template's unbounded pool serves).
    pub fn session_runtime(&self, template: &RuntimeEnv) -> Result<Option<Arc<RuntimeEnv>>> {
        if self.per_query.is_none() && !self.pooled {
            return Ok(None);
        }
        let pool = SessionPool {
            limit: self.per_query,
            used: AtomicUsize::new(0),
            shared: Arc::clone(&self.shared),
        };
        RuntimeEnvBuilder::from_runtime_env(template)
            .with_memory_pool(Arc::new(pool))
            .build_arc()
            .map(Some)
    }
}

/// One session's pool: its own limit, then the shared pool's.
#[derive(Debug)]
struct SessionPool {
    limit: Option<usize>,
    used: AtomicUsize,
    shared: Arc<dyn MemoryPool>,
}

impl std::fmt::Display for SessionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name())
    }
}

impl MemoryPool for SessionPool {
    fn name(&self) -> &str {
        "oxbow session pool"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.shared.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.shared.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.used.fetch_add(additional, Ordering::AcqRel);
        self.shared.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.used.fetch_sub(shrink, Ordering::AcqRel);
        self.shared.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let before = self.used.fetch_add(additional, Ordering::AcqRel);
        if let Some(limit) = self.limit
            && before + additional > limit
        {
            self.used.fetch_sub(additional, Ordering::AcqRel);
            return Err(resources_datafusion_err!(
                "the query needs more than its memory limit of {} MiB (--query-memory-mb): \
                 {} bytes for {} with {} bytes already reserved",
                limit / MIB,
                additional,
                reservation.consumer().name(),
                before
            ));
        }
        if let Err(e) = self.shared.try_grow(reservation, additional) {
            self.used.fetch_sub(additional, Ordering::AcqRel);
            return Err(e);
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn memory_limit(&self) -> MemoryLimit {
        match self.limit {
            Some(limit) => MemoryLimit::Finite(limit),
            None => self.shared.memory_limit(),
        }
    }
}

//! Query memory: a pool all queries draw from (`--memory-pool-mb`) and a limit for each
//! session's query (`--query-memory-mb`, and per session `SET statement_mem = '256MB'`, as
//! Greenplum names it). Past either, DataFusion spills where it can (sorts, aggregations) and
//! otherwise fails that query with 53200 (`Resources exhausted`), while other sessions'
//! queries go on.
//!
//! DataFusion keeps one memory pool per `RuntimeEnv`, so each connection's session gets a
//! runtime of its own that shares everything with the template's (object stores, spill
//! directory, caches) except the pool: a [`SessionPool`] that counts the session's own
//! reservations against its limit and forwards them to the shared pool. A session runs one
//! statement at a time, so its limit is the limit of its query. [`StatementMemory`] is the
//! session's handle on that limit (in its config extensions): a session may lower it or raise
//! it up to the server's `--query-memory-mb` (unbounded when that is 0).
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
        }
    }

    /// The runtime of one session: `template`'s, with a pool of the session's own, and the
    /// handle `SET statement_mem` changes its limit through.
    pub fn session_runtime(
        &self,
        template: &RuntimeEnv,
    ) -> Result<(Arc<RuntimeEnv>, Arc<StatementMemory>)> {
        let pool = Arc::new(SessionPool {
            limit: AtomicUsize::new(self.per_query.unwrap_or(UNLIMITED)),
            used: AtomicUsize::new(0),
            shared: Arc::clone(&self.shared),
        });
        let runtime = RuntimeEnvBuilder::from_runtime_env(template)
            .with_memory_pool(Arc::clone(&pool) as Arc<dyn MemoryPool>)
            .build_arc()?;
        let handle = StatementMemory {
            pool,
            server: self.per_query,
        };
        Ok((runtime, Arc::new(handle)))
    }
}

/// [`SessionPool::limit`] when there is none.
const UNLIMITED: usize = usize::MAX;

/// A session's query memory limit, as `SET statement_mem` changes it.
#[derive(Debug)]
pub struct StatementMemory {
    pool: Arc<SessionPool>,
    /// `--query-memory-mb`: the default, and the most a session may set.
    server: Option<usize>,
}

impl StatementMemory {
    /// The limit now (`None`: unbounded).
    pub fn limit(&self) -> Option<usize> {
        match self.pool.limit.load(Ordering::Acquire) {
            UNLIMITED => None,
            limit => Some(limit),
        }
    }

    /// Bytes the session's operators hold in the pool now.
    pub fn reserved(&self) -> usize {
        self.pool.used.load(Ordering::Acquire)
    }

    /// Sets the limit to `bytes`, or back to the server's with `None`. Refused (the message
    /// says why) above the server's limit or below 64 kB (PostgreSQL's `work_mem` minimum).
    pub fn set(&self, bytes: Option<usize>) -> std::result::Result<(), String> {
        let limit = match (bytes, self.server) {
            (None, server) => server.unwrap_or(UNLIMITED),
            (Some(b), _) if b < 64 * 1024 => {
                return Err(format!(
                    "{b} bytes is outside the valid range for parameter \"statement_mem\" (64kB .. {})",
                    self.server
                        .map_or("unlimited".to_string(), |s| format!("{}MB", s / MIB))
                ));
            }
            (Some(b), Some(server)) if b > server => {
                return Err(format!(
                    "statement_mem may not exceed the server's query memory limit of {}MB \
                     (--query-memory-mb)",
                    server / MIB
                ));
            }
            (Some(b), _) => b,
        };
        self.pool.limit.store(limit, Ordering::Release);
        Ok(())
    }
}

/// One session's pool: its own limit, then the shared pool's.
#[derive(Debug)]
struct SessionPool {
    /// Bytes, [`UNLIMITED`] for none; changed by [`StatementMemory::set`] between statements.
    limit: AtomicUsize,
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
        let limit = self.limit.load(Ordering::Acquire);
        if limit != UNLIMITED && before + additional > limit {
            self.used.fetch_sub(additional, Ordering::AcqRel);
            return Err(resources_datafusion_err!(
                "the query needs more than its memory limit of {} MiB (statement_mem, \
                 --query-memory-mb): {} bytes for {} with {} bytes already reserved",
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
        match self.limit.load(Ordering::Acquire) {
            UNLIMITED => self.shared.memory_limit(),
            limit => MemoryLimit::Finite(limit),
        }
    }
}

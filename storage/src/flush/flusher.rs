//! The background flusher: moves hot rows to Delta by age and size, under memory pressure,
//! and when the WAL passes `max_wal_size` ([`WalSizeLimit`]), then deletes the WAL segments
//! that are fully in Delta.
//!
//! Flushes run one at a time, so a WAL segment is never judged flushed while another flush
//! of its rows is still in progress (the handoff bug InfluxDB 3.11.7 fixed).
//!
//! They run on a runtime of their own: encoding a million rows of Parquet is seconds of CPU,
//! and on the query runtime it held a worker long enough to delay other sessions' answers by
//! hundreds of milliseconds (freshness max 471 ms in bench/RESULTS.md). On a separate thread
//! the operating system shares the cores instead, as InfluxDB 3 and Materialize separate their
//! compaction and persistence work from query execution.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{Instrument, info_span, warn};

use super::{WalSizeLimit, truncate_wal};
use crate::registry::TableRegistry;
use crate::{Appender, Table};

/// How often age-based flushes are considered.
const TICK: Duration = Duration::from_millis(100);

/// The wait after a table's first failed flush; it doubles with each further failure.
const FIRST_BACKOFF: Duration = TICK;

/// The longest wait between two attempts to flush a table whose flushes fail.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Per table (by id), when a table whose flushes fail may be tried again. Without it, a
/// table whose flush keeps failing would re-encode all its hot rows every tick.
#[derive(Debug, Default)]
pub struct FlushBackoff {
    failing: HashMap<String, Retry>,
}

#[derive(Debug, Clone, Copy)]
struct Retry {
    attempts: u32,
    not_before: Instant,
}

impl FlushBackoff {
    pub(super) fn may_try(&self, table: &Table, now: Instant) -> bool {
        self.failing
            .get(&table.def().id)
            .is_none_or(|r| now >= r.not_before)
    }

    pub(super) fn succeeded(&mut self, table: &Table) {
        self.failing.remove(&table.def().id);
    }

    /// Records a failure and logs it once, with the attempt number and the wait before the next.
    pub(super) fn failed(&mut self, table: &Table, error: &crate::Error, now: Instant) {
        let attempts = self
            .failing
            .get(&table.def().id)
            .map_or(1, |r| r.attempts.saturating_add(1));
        let wait = FIRST_BACKOFF
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)))
            .min(MAX_BACKOFF);
        self.failing.insert(
            table.def().id.clone(),
            Retry {
                attempts,
                not_before: now + wait,
            },
        );
        warn!(
            table = %table.def().name,
            attempt = attempts,
            retry_in_ms = wait.as_millis() as u64,
            error = %error,
            "flush failed; the rows stay hot and the WAL keeps them"
        );
    }
}

pub struct Flusher {
    /// `None` only while dropping: a runtime must not be dropped inside async code.
    runtime: Option<Runtime>,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Flusher {
    pub fn start(
        registry: Arc<TableRegistry>,
        appender: Arc<Appender>,
        wake: Arc<Notify>,
        max_wal_bytes: u64,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("oxbow-flush")
            .enable_all()
            .build()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = runtime.spawn(
            async move {
                let mut backoff = FlushBackoff::default();
                let mut wal_limit = WalSizeLimit::new(max_wal_bytes);
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(TICK) => {}
                        () = wake.notified() => {}
                        _ = stopped.changed() => break,
                    }
                    flush_due(&registry, &appender, &mut backoff).await;
                    wal_limit.enforce(&registry, &appender, &mut backoff).await;
                }
            }
            .instrument(info_span!("flusher")),
        );
        Ok(Self {
            runtime: Some(runtime),
            stop,
            task: std::sync::Mutex::new(Some(task)),
        })
    }

    /// Runs `work` (a flush asked for by a statement) on the flush runtime and waits for it.
    pub async fn run<F>(&self, work: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = self.runtime.as_ref().expect("flush runtime");
        match runtime.spawn(work).await {
            Ok(output) => output,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// Stops the background task and waits for a flush in progress to finish.
    pub async fn stop(&self) {
        self.stop.send(true).ok();
        let task = self.task.lock().expect("flusher lock").take();
        if let Some(task) = task {
            task.await.ok();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Flushes every table whose hot rows are due, then the largest ones while the hot tier is
/// over its memory budget. Tables whose last flush failed wait out their backoff.
pub async fn flush_due(registry: &TableRegistry, appender: &Appender, backoff: &mut FlushBackoff) {
    for table in registry.tables() {
        let stats = table.hot_stats();
        if stats.rows == 0 || !backoff.may_try(&table, Instant::now()) {
            continue;
        }
        let options = &table.def().options;
        let old = stats
            .oldest
            .is_some_and(|t| t.elapsed() >= Duration::from_millis(options.flush_interval_ms));
        if stats.rows as u64 >= options.flush_rows || old {
            match table.flush().await {
                Ok(_) => backoff.succeeded(&table),
                Err(e) => backoff.failed(&table, &e, Instant::now()),
            }
        }
    }
    while appender.over_budget() {
        let now = Instant::now();
        let largest = registry
            .tables()
            .into_iter()
            .filter(|t| backoff.may_try(t, now))
            .max_by_key(|t| t.hot_stats().bytes);
        let Some(table) = largest else { break };
        match table.flush().await {
            Ok(Some(_)) => backoff.succeeded(&table),
            Ok(None) => break,
            Err(e) => {
                backoff.failed(&table, &e, Instant::now());
                break;
            }
        }
    }
    if let Err(e) = truncate_wal(appender.wal(), registry) {
        warn!(error = %e, "cannot delete flushed WAL segments");
    }
}

/// Flushes every table (shutdown, or `FLUSH TABLE` on all).
pub async fn flush_all(registry: &TableRegistry, appender: &Appender) {
    for table in registry.tables() {
        if let Err(e) = table.flush().await {
            warn!(table = %table.def().name, error = %e, "flush failed");
        }
    }
    if let Err(e) = truncate_wal(appender.wal(), registry) {
        warn!(error = %e, "cannot delete flushed WAL segments");
    }
}

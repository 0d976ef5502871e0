//! The server's memory budget (`--memory-limit-mb`): when the process's resident memory passes
//! it, the running query that holds the most memory in its pool is stopped with 53200 (out of
//! memory), so that one query cannot take the whole server down, as ClickHouse's
//! `max_server_memory_usage` does. Other queries, writes and connections go on.
//!
//! The memory pools (`crate::sql::memory`) bound what operators reserve; this bounds what they
//! do not see (scans, buffers, functions that allocate outside a pool: apache/datafusion#587),
//! checked every [`INTERVAL`]. After stopping a query it waits [`SETTLE`] for the memory to
//! return to the allocator (and asks glibc's to give it back to the system), so that one peak
//! stops one query. Memory the allocator keeps after that is not a query's fault: the
//! watchdog then acts only on growth past what is left (its floor), until the resident size
//! falls under the budget again.
//!
//! Only queries of the PostgreSQL protocol are stopped (writes are never cut half-way, see
//! `crate::wire::cancel`); a budget passed while no query runs is logged.
//!
//! Linux only: the resident size is read from `/proc/self/status`; elsewhere it is off.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::wire::cancel::{CancelRegistry, RunningQuery, StopCause};

/// How often the resident size is read.
const INTERVAL: Duration = Duration::from_millis(100);
/// How long after stopping a query the next judgement waits.
const SETTLE: Duration = Duration::from_secs(1);
/// How often passing the budget with no query to stop is logged.
const IDLE_WARNING: Duration = Duration::from_secs(30);

const MIB: u64 = 1024 * 1024;

/// The budget in bytes: `limit_mb`, or with 0, 90% of the memory this process may use (its
/// cgroup's limit, else the machine's memory). `None` where it cannot be read.
pub fn budget(limit_mb: u64) -> Option<u64> {
    if limit_mb > 0 {
        return Some(limit_mb.saturating_mul(MIB));
    }
    let available = match (cgroup_limit(), machine_memory()) {
        (Some(cgroup), Some(machine)) => cgroup.min(machine),
        (one, other) => one.or(other)?,
    };
    Some(available / 10 * 9)
}

/// Starts the watchdog over `connections` with a budget of `budget` bytes.
pub fn spawn(connections: Arc<CancelRegistry>, budget: u64) {
    if resident_bytes().is_none() {
        info!("no memory budget: the resident size cannot be read on this system");
        return;
    }
    info!(budget_mb = budget / MIB, "memory budget");
    tokio::spawn(async move {
        let mut last_idle_warning: Option<tokio::time::Instant> = None;
        // What the resident size must pass for a query to be stopped: the budget, or more
        // while memory the allocator kept after a stop holds it over the budget.
        let mut floor = budget;
        loop {
            tokio::time::sleep(INTERVAL).await;
            let Some(resident) = resident_bytes() else {
                continue;
            };
            if resident <= budget {
                floor = budget;
                continue;
            }
            if resident <= floor {
                continue;
            }
            match largest(connections.running_queries()) {
                Some(query) => {
                    let message = format!(
                        "out of memory: canceling statement because the server's resident \
                         memory ({} MiB) passed its budget of {} MiB (--memory-limit-mb), and \
                         this query held the most memory ({} MiB reserved)",
                        resident / MIB,
                        budget / MIB,
                        query.reserved as u64 / MIB
                    );
                    if query
                        .statement
                        .cancel_because(StopCause::OutOfMemory(message))
                    {
                        warn!(
                            resident_mb = resident / MIB,
                            budget_mb = budget / MIB,
                            reserved_mb = query.reserved as u64 / MIB,
                            "memory budget passed: stopped the query holding the most memory"
                        );
                        tokio::time::sleep(SETTLE).await;
                        give_back_freed_memory();
                        if let Some(left) = resident_bytes() {
                            floor = budget.max(left.saturating_add(budget / 20));
                        }
                    }
                }
                None => {
                    if last_idle_warning.is_none_or(|at| at.elapsed() >= IDLE_WARNING) {
                        last_idle_warning = Some(tokio::time::Instant::now());
                        warn!(
                            resident_mb = resident / MIB,
                            budget_mb = budget / MIB,
                            "memory budget passed with no query running"
                        );
                    }
                }
            }
        }
    });
}

/// Returns the free memory of glibc's heaps to the system (it keeps freed small blocks
/// otherwise, and the resident size would not show that the stopped query's memory is free).
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and trims the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The query to stop: the one holding the most pool memory, the longest-running among equals.
fn largest(queries: Vec<RunningQuery>) -> Option<RunningQuery> {
    queries
        .into_iter()
        .max_by(|a, b| a.reserved.cmp(&b.reserved).then(b.began.cmp(&a.began)))
}

/// The process's resident size (`VmRSS`).
pub fn resident_bytes() -> Option<u64> {
    status_kib(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmRSS:",
    )
    .map(|k| k * 1024)
}

/// A `kB` field of a `/proc` status or meminfo text.
fn status_kib(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn machine_memory() -> Option<u64> {
    status_kib(&std::fs::read_to_string("/proc/meminfo").ok()?, "MemTotal:").map(|k| k * 1024)
}

/// cgroup v2's `memory.max` of this process's group (`max`: none).
fn cgroup_limit() -> Option<u64> {
    let group = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = group.lines().find_map(|l| l.strip_prefix("0::"))?;
    std::fs::read_to_string(format!("/sys/fs/cgroup{}/memory.max", path.trim_end()))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields_are_read_in_bytes() {
        let status = "Name:\toxbow\nVmPeak:\t  900 kB\nVmRSS:\t  1234 kB\nRssAnon:\t 1000 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(1234));
        assert_eq!(status_kib(status, "Missing:"), None);
        assert!(resident_bytes().is_some_and(|b| b > 0));
    }

    #[test]
    fn an_explicit_budget_wins_and_the_default_is_below_the_machine() {
        assert_eq!(budget(512), Some(512 * MIB));
        let machine = machine_memory().unwrap();
        assert!(budget(0).unwrap() < machine);
    }
}

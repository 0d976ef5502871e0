//! [`SourceStats`]: what `oxbow.sources` shows of a running source, updated by its task.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::pipeline::{BatchOutcome, Position, RECEIPT_PREFIX};
use crate::sources::EndOffsets;

/// Whether a source is taking input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    /// Recovering its position after a start.
    Starting,
    Running,
    Paused,
    /// Its connector or its writes fail; it retries with backoff (the reason is `last_error`).
    Failed,
    /// A generator that reached `max_rows`.
    Finished,
}

impl SourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Starting => "starting",
            SourceState::Running => "running",
            SourceState::Paused => "paused",
            SourceState::Failed => "failed",
            SourceState::Finished => "finished",
        }
    }
}

#[derive(Debug)]
pub struct SourceStats {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: SourceState,
    rows_in: u64,
    rejected: u64,
    deduplicated: u64,
    filtered: u64,
    bytes_in: u64,
    last_error: Option<String>,
    last_event_time_us: Option<i64>,
    offsets: BTreeMap<String, i64>,
    /// The event time (ms) of the last durable message per position key, from the
    /// position's `timestamp_ms` detail (Kafka).
    times: BTreeMap<String, i64>,
    /// The connector's end offsets, for lag per partition when queried.
    ends: Option<EndOffsets>,
    lag: Option<i64>,
    /// Rows landed per batch over the last minute, for the rate.
    recent: VecDeque<(Instant, u64)>,
}

/// A snapshot for `oxbow.sources`.
#[derive(Debug, Clone)]
pub struct StatsSnapshot {
    pub state: SourceState,
    pub rows_in: u64,
    pub rejected: u64,
    pub deduplicated: u64,
    pub filtered: u64,
    pub bytes_in: u64,
    pub rows_per_second: f64,
    pub last_error: Option<String>,
    pub last_event_time_us: Option<i64>,
    /// The last position per key, as JSON (at most 20 keys; the rest counted).
    pub offsets: String,
    pub lag: Option<i64>,
    /// Per partition, for connectors that know their end offsets (Kafka).
    pub partitions: Vec<PartitionLag>,
}

/// One partition of a source in `oxbow.source_partitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub key: String,
    /// The durable next offset (what `oxbow.source_offsets` holds), if any yet.
    pub offset: Option<i64>,
    /// The broker's end offset: the last stable offset under read_committed.
    pub end_offset: i64,
    /// Messages not yet durable, never negative (a broker may report a wrong end offset).
    pub lag: i64,
    /// Now minus the event time of the last durable message while behind, else 0.
    pub lag_ms: Option<i64>,
    pub last_message_time_ms: Option<i64>,
}

fn timestamp_ms(detail: Option<&str>) -> Option<i64> {
    serde_json::from_str::<serde_json::Value>(detail?)
        .ok()?
        .get("timestamp_ms")?
        .as_i64()
}

/// Lag per partition of `ends` against the durable `offsets` (a partition never read counts
/// from its low offset).
fn partition_lags(
    ends: &BTreeMap<String, (i64, i64)>,
    offsets: &BTreeMap<String, i64>,
    times: &BTreeMap<String, i64>,
    now_ms: i64,
) -> Vec<PartitionLag> {
    ends.iter()
        .map(|(key, &(low, end))| {
            let offset = offsets.get(key).copied();
            let lag = (end - offset.unwrap_or(low)).max(0);
            let last = times.get(key).copied();
            PartitionLag {
                key: key.clone(),
                offset,
                end_offset: end,
                lag,
                lag_ms: if lag == 0 {
                    Some(0)
                } else {
                    last.map(|t| (now_ms - t).max(0))
                },
                last_message_time_ms: last,
            }
        })
        .collect()
}

const RATE_WINDOW: Duration = Duration::from_secs(60);

impl Default for SourceStats {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                state: SourceState::Starting,
                rows_in: 0,
                rejected: 0,
                deduplicated: 0,
                filtered: 0,
                bytes_in: 0,
                last_error: None,
                last_event_time_us: None,
                offsets: BTreeMap::new(),
                times: BTreeMap::new(),
                ends: None,
                lag: None,
                recent: VecDeque::new(),
            }),
        }
    }
}

impl SourceStats {
    pub fn set_state(&self, state: SourceState) {
        self.inner.lock().expect("stats lock").state = state;
    }

    pub fn state(&self) -> SourceState {
        self.inner.lock().expect("stats lock").state
    }

    /// A landed batch: counts, positions, and the source is running (unless paused since).
    pub fn landed(&self, outcome: &BatchOutcome, positions: &[Position], lag: Option<i64>) {
        let mut s = self.inner.lock().expect("stats lock");
        let input = outcome.accepted + outcome.rejected + outcome.deduplicated + outcome.filtered;
        s.rows_in += input;
        s.rejected += outcome.rejected;
        s.deduplicated += outcome.deduplicated;
        s.filtered += outcome.filtered;
        s.bytes_in += outcome.bytes;
        s.lag = lag;
        if outcome.max_event_time_us.is_some() {
            s.last_event_time_us = s.last_event_time_us.max(outcome.max_event_time_us);
        }
        for p in positions {
            if !p.key.starts_with(RECEIPT_PREFIX) {
                s.offsets.insert(p.key.clone(), p.offset);
                if let Some(ms) = timestamp_ms(p.detail.as_deref()) {
                    s.times.insert(p.key.clone(), ms);
                }
            }
        }
        let now = Instant::now();
        s.recent.push_back((now, outcome.accepted));
        while s
            .recent
            .front()
            .is_some_and(|(at, _)| now - *at > RATE_WINDOW)
        {
            s.recent.pop_front();
        }
        if matches!(s.state, SourceState::Starting | SourceState::Failed) {
            s.state = SourceState::Running;
            s.last_error = None;
        }
    }

    pub fn failed(&self, error: String) {
        let mut s = self.inner.lock().expect("stats lock");
        if s.state != SourceState::Paused {
            s.state = SourceState::Failed;
        }
        s.last_error = Some(error);
    }

    /// An error worth showing that does not stop the source (a file that could not be read).
    pub fn note_error(&self, error: String) {
        self.inner.lock().expect("stats lock").last_error = Some(error);
    }

    /// Positions recovered at start.
    pub fn recovered(&self, offsets: impl IntoIterator<Item = (String, i64, Option<String>)>) {
        let mut s = self.inner.lock().expect("stats lock");
        for (k, o, detail) in offsets {
            if !k.starts_with(RECEIPT_PREFIX) {
                if let Some(ms) = timestamp_ms(detail.as_deref()) {
                    s.times.insert(k.clone(), ms);
                }
                s.offsets.insert(k, o);
            }
        }
    }

    /// The connector's end offsets (set once its task starts).
    pub fn set_end_offsets(&self, ends: Option<EndOffsets>) {
        self.inner.lock().expect("stats lock").ends = ends;
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let s = self.inner.lock().expect("stats lock");
        let now = Instant::now();
        let recent: u64 = s
            .recent
            .iter()
            .filter(|(at, _)| now - *at <= RATE_WINDOW)
            .map(|(_, n)| n)
            .sum();
        let span = s
            .recent
            .front()
            .map(|(at, _)| (now - *at).as_secs_f64().clamp(1.0, 60.0))
            .unwrap_or(60.0);
        let partitions = match &s.ends {
            Some(ends) => partition_lags(
                &ends.lock().expect("ends lock"),
                &s.offsets,
                &s.times,
                chrono::Utc::now().timestamp_millis(),
            ),
            None => Vec::new(),
        };
        let mut offsets = serde_json::Map::new();
        for (k, v) in s.offsets.iter().rev().take(20) {
            offsets.insert(k.clone(), serde_json::Value::from(*v));
        }
        if s.offsets.len() > 20 {
            offsets.insert(
                "…".into(),
                serde_json::Value::from(format!("{} more", s.offsets.len() - 20)),
            );
        }
        StatsSnapshot {
            state: s.state,
            rows_in: s.rows_in,
            rejected: s.rejected,
            deduplicated: s.deduplicated,
            filtered: s.filtered,
            bytes_in: s.bytes_in,
            rows_per_second: recent as f64 / span,
            last_error: s.last_error.clone(),
            last_event_time_us: s.last_event_time_us,
            offsets: serde_json::Value::Object(offsets).to_string(),
            // With end offsets, lag is the sum over partitions now, not at the last batch.
            lag: if partitions.is_empty() {
                s.lag
            } else {
                Some(partitions.iter().map(|p| p.lag).sum())
            },
            partitions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_never_negative_and_counts_unread_partitions_from_their_low_offset() {
        let ends = BTreeMap::from([
            ("t/0".to_string(), (0, 10)),
            ("t/1".to_string(), (0, 5)),
            ("t/2".to_string(), (3, 7)),
        ]);
        let offsets = BTreeMap::from([("t/0".to_string(), 4), ("t/1".to_string(), 9)]);
        let times = BTreeMap::from([("t/0".to_string(), 1_000)]);
        let lags = partition_lags(&ends, &offsets, &times, 3_500);
        assert_eq!(lags[0].lag, 6);
        assert_eq!(lags[0].lag_ms, Some(2_500));
        // A broker reporting an end below the durable offset: lag 0, not -4.
        assert_eq!(lags[1].lag, 0);
        assert_eq!(lags[1].lag_ms, Some(0));
        assert_eq!(lags[2].lag, 4);
        assert_eq!(lags[2].offset, None);
    }
}

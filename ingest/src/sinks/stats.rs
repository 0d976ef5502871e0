//! The counters `oxbow.sinks` shows for one sink.

use std::sync::Mutex;

/// What a sink is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkState {
    Starting,
    Running,
    Paused,
    /// Stopped for good (see `SinkProgress::failed`); it stays failed until dropped.
    Failed,
}

impl SinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SinkSnapshot {
    pub state: SinkState,
    pub rows_out: u64,
    pub bytes_out: u64,
    /// The WAL position emitted through (durable in the target), if any yet.
    pub position: Option<u64>,
    /// When the sink last had nothing left to read (µs since the epoch), if ever.
    pub caught_up_us: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug)]
pub struct SinkStats {
    inner: Mutex<SinkSnapshot>,
}

impl SinkStats {
    pub fn new(paused: bool) -> Self {
        Self {
            inner: Mutex::new(SinkSnapshot {
                state: if paused {
                    SinkState::Paused
                } else {
                    SinkState::Starting
                },
                rows_out: 0,
                bytes_out: 0,
                position: None,
                caught_up_us: None,
                last_error: None,
            }),
        }
    }

    pub fn snapshot(&self) -> SinkSnapshot {
        self.inner.lock().expect("sink stats lock").clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut SinkSnapshot)) {
        f(&mut self.inner.lock().expect("sink stats lock"));
    }

    pub fn set_state(&self, state: SinkState) {
        self.update(|s| {
            if s.state != SinkState::Failed {
                s.state = state;
            }
        });
    }
}

pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

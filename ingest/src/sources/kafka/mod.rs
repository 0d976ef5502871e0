//! `FROM KAFKA (brokers = 'h:9092', topic = 'clicks', start = 'earliest')`: a topic read
//! exactly once, with Oxbow's offsets.
//!
//! Offsets are Oxbow's, not a consumer group's: each partition's next offset travels in the
//! WAL transaction of the rows it brought (key `topic/partition` in
//! `oxbow.source_offsets`), and at start every partition is `assign()`ed at the recovered
//! offset (a partition never recorded starts at `start`). Nothing is committed to Kafka. So
//! after a crash the rows and the offsets agree, whatever moment it struck.
//!
//! Reads are `read_committed`: messages of aborted transactions never land. Partitions added
//! to the topic are picked up (listed every `partition_discovery`, default 5 s) from their
//! beginning. A broker that cannot be reached or a missing topic shows the source `failed`
//! with librdkafka's reason; librdkafka keeps reconnecting and the source recovers by itself.
//! When the hot tier is over its budget the source stops taking batches (backpressure).
//!
//! # Layout
//! - [`options`]: the connector's options and the librdkafka configuration.
//! - [`consumer`]: the OS thread that owns the consumer (librdkafka blocks) and batches.

pub mod consumer;
pub mod options;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tracing::warn;

use self::consumer::Shared;
use self::options::KafkaOptions;
use super::{Arrival, EndOffsets, Offsets, Source};
use crate::error::IngestError;

/// Whether the hot tier is over its budget (the source then waits before taking a batch).
pub type HotTierFull = Arc<dyn Fn() -> bool + Send + Sync>;

pub struct KafkaSource {
    options: KafkaOptions,
    name: String,
    /// Next offset per partition: recovered, then as handed to the task.
    offsets: HashMap<i32, i64>,
    shared: Arc<Shared>,
    rx: Option<mpsc::Receiver<Result<Arrival, IngestError>>>,
    hot_tier_full: HotTierFull,
}

impl std::fmt::Debug for KafkaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("topic", &self.options.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaSource {
    pub fn new(
        source_id: &str,
        name: &str,
        options: &BTreeMap<String, String>,
        hot_tier_full: HotTierFull,
    ) -> Result<Self, IngestError> {
        let options = KafkaOptions::parse(source_id, options)?;
        let shared = Arc::new(Shared {
            topic: options.topic.clone(),
            ends: Arc::new(Mutex::new(BTreeMap::new())),
            error: Mutex::new(None),
            stop: Default::default(),
        });
        Ok(Self {
            options,
            name: name.to_string(),
            offsets: HashMap::new(),
            shared,
            rx: None,
            hot_tier_full,
        })
    }

    /// Starts the consumer thread at the current offsets.
    fn start(&mut self) -> Result<(), IngestError> {
        let (tx, rx) = mpsc::channel(1);
        let options = self.options.clone();
        let offsets = self.offsets.clone();
        let shared = Arc::clone(&self.shared);
        std::thread::Builder::new()
            .name(format!("kafka-{}", self.name))
            .spawn(move || consumer::run(options, offsets, tx, shared))
            .map_err(|e| {
                IngestError::Connector(format!("cannot start a Kafka consumer thread: {e}"))
            })?;
        self.rx = Some(rx);
        Ok(())
    }
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        // The thread sees the flag within a poll, or its send fails once `rx` is gone.
        self.shared.stop.store(true, Ordering::Release);
    }
}

#[async_trait]
impl Source for KafkaSource {
    fn resume(&mut self, offsets: &Offsets) {
        let prefix = format!("{}/", self.options.topic);
        for (key, (offset, _)) in offsets {
            if let Some(p) = key
                .strip_prefix(&prefix)
                .and_then(|p| p.parse::<i32>().ok())
            {
                self.offsets.insert(p, *offset);
            }
        }
    }

    async fn next(&mut self) -> Result<Option<Arrival>, IngestError> {
        if self.rx.is_none() {
            self.start()?;
        }
        while (self.hot_tier_full)() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let rx = self.rx.as_mut().expect("started above");
        match rx.recv().await {
            Some(Ok(arrival)) => {
                let prefix = format!("{}/", self.options.topic);
                for p in &arrival.positions {
                    if let Some(partition) = p
                        .key
                        .strip_prefix(&prefix)
                        .and_then(|p| p.parse::<i32>().ok())
                    {
                        self.offsets.insert(partition, p.offset);
                    }
                }
                Ok(Some(arrival))
            }
            Some(Err(e)) => Err(e),
            None => {
                // The thread ended (it could not make a consumer): start again next time.
                self.rx = None;
                warn!(source = %self.name, "the Kafka consumer thread ended; restarting it");
                Err(IngestError::Connector(
                    "the Kafka consumer stopped; restarting it".into(),
                ))
            }
        }
    }

    fn lag(&self) -> Option<i64> {
        let ends = self.shared.ends.lock().expect("ends lock");
        let prefix = format!("{}/", self.options.topic);
        Some(
            ends.iter()
                .map(|(key, &(low, end))| {
                    let at = key
                        .strip_prefix(&prefix)
                        .and_then(|p| p.parse::<i32>().ok())
                        .and_then(|p| self.offsets.get(&p).copied())
                        .unwrap_or(low);
                    (end - at).max(0)
                })
                .sum(),
        )
    }

    fn end_offsets(&self) -> Option<EndOffsets> {
        Some(Arc::clone(&self.shared.ends))
    }
}

//! The consumer thread of a Kafka source: librdkafka's calls block, so one OS thread per
//! source owns the consumer, assigns every partition itself at Oxbow's offsets, polls, and
//! hands batches of messages to the source's task through a channel of one.
//!
//! Batching adapts to the task: while the task is landing the previous batch (the channel is
//! full) the thread keeps filling the next one, up to `max_batch_messages` or
//! [`MAX_BATCH_BYTES`]; when the task is waiting, whatever is queued goes at once, so a quiet
//! topic sees its messages within a poll. When the thread cannot send (the task is busy or
//! the hot tier is full) it stops polling, and librdkafka stops fetching once its bounded
//! prefetch queue is full: memory stays bounded and nothing is dropped.
//!
//! Positions: after a batch, a partition's next offset is librdkafka's position, which also
//! moves past transaction markers and aborted messages, so lag reaches 0 on transactional
//! topics; an arrival with no messages carries such a move alone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::options::{KafkaOptions, Start};
use crate::error::IngestError;
use crate::pipeline::messages::Messages;
use crate::pipeline::{Payload, Position};
use crate::sources::{Arrival, EndOffsets};

/// Bytes of message values per arrival at most.
pub const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// The position key of a partition in `oxbow.source_offsets`.
pub fn position_key(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition}")
}

/// What the thread and the source share.
#[derive(Debug)]
pub struct Shared {
    pub topic: String,
    /// (low, end) offsets per position key; the end is the last stable offset.
    pub ends: EndOffsets,
    /// The latest client error not yet reported (a broker down, a partition gone).
    pub error: Mutex<Option<String>>,
    pub stop: AtomicBool,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn take_error(&self) -> Option<String> {
        self.error.lock().expect("error lock").take()
    }
}

/// librdkafka's callbacks: global errors become the source's reason, statistics its end
/// offsets.
struct SourceContext {
    shared: Arc<Shared>,
}

impl ClientContext for SourceContext {
    fn error(&self, error: KafkaError, reason: &str) {
        warn!(topic = %self.shared.topic, %error, reason, "Kafka client error");
        *self.shared.error.lock().expect("error lock") = Some(format!("{error}: {reason}"));
    }

    fn stats(&self, statistics: Statistics) {
        let Some(topic) = statistics.topics.get(&self.shared.topic) else {
            return;
        };
        let mut ends = self.shared.ends.lock().expect("ends lock");
        for (&partition, p) in &topic.partitions {
            if partition < 0 {
                continue;
            }
            // Under read_committed the last stable offset is where reading can reach.
            let end = if p.ls_offset >= 0 {
                p.ls_offset
            } else {
                p.hi_offset
            };
            if end >= 0 {
                ends.insert(
                    position_key(&self.shared.topic, partition),
                    (p.lo_offset.max(0), end),
                );
            }
        }
    }
}

impl ConsumerContext for SourceContext {}

type Tx = mpsc::Sender<Result<Arrival, IngestError>>;

/// Runs until the source stops or drops its end of the channel.
pub fn run(options: KafkaOptions, recovered: HashMap<i32, i64>, tx: Tx, shared: Arc<Shared>) {
    let context = SourceContext {
        shared: Arc::clone(&shared),
    };
    let consumer: BaseConsumer<SourceContext> =
        match options.client_config().create_with_context(context) {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.blocking_send(Err(IngestError::Connector(format!(
                    "cannot make a Kafka consumer: {e}"
                ))));
                return;
            }
        };
    let topic = options.topic.clone();
    let mut backoff = Duration::from_millis(200);
    let mut assigned: BTreeSet<i32> = BTreeSet::new();
    loop {
        if shared.stopped() {
            return;
        }
        match assign(&consumer, &options, &recovered) {
            Ok(partitions) => {
                info!(topic = %topic, partitions = ?partitions, "Kafka partitions assigned at Oxbow's offsets");
                assigned.extend(partitions);
                break;
            }
            Err(reason) => {
                if tx
                    .blocking_send(Err(IngestError::Connector(reason)))
                    .is_err()
                {
                    return;
                }
                if sleep_or_stop(&shared, backoff) {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    let mut sent: BTreeMap<i32, i64> = recovered.into_iter().collect();
    let mut last_ts: BTreeMap<i32, i64> = BTreeMap::new();
    let mut batch = Batch::default();
    let mut last_discovery = Instant::now();
    let mut last_position_check = Instant::now();
    loop {
        if shared.stopped() {
            return;
        }
        if last_discovery.elapsed() >= options.partition_discovery {
            last_discovery = Instant::now();
            discover(&consumer, &topic, &mut assigned);
        }
        let full = batch.messages.len() >= options.max_batch_messages
            || batch.data.len() >= MAX_BATCH_BYTES;
        let timeout = if batch.messages.is_empty() {
            Duration::from_millis(100)
        } else if tx.capacity() == 0 && !full {
            Duration::from_millis(10)
        } else {
            Duration::ZERO
        };
        if !full {
            match consumer.poll(timeout) {
                Some(Ok(m)) => {
                    batch.push(&m);
                    continue;
                }
                Some(Err(e)) => {
                    warn!(topic = %topic, error = %e, "Kafka consume error");
                    *shared.error.lock().expect("error lock") = Some(e.to_string());
                }
                None => {}
            }
        }
        if batch.messages.is_empty() {
            if let Some(reason) = shared.take_error() {
                if tx
                    .blocking_send(Err(IngestError::Connector(reason)))
                    .is_err()
                {
                    return;
                }
                continue;
            }
            // Markers and aborted messages move positions with no message to carry them.
            if last_position_check.elapsed() >= Duration::from_millis(500) {
                last_position_check = Instant::now();
                let positions = moved(&consumer, &topic, &batch, &mut sent, &last_ts);
                if !positions.is_empty() {
                    let arrival = std::mem::take(&mut batch).finish(&topic, positions);
                    if tx.blocking_send(Ok(arrival)).is_err() {
                        return;
                    }
                }
            }
            continue;
        }
        // Keep filling while the task is still landing the previous batch.
        let full = batch.messages.len() >= options.max_batch_messages
            || batch.data.len() >= MAX_BATCH_BYTES;
        if !full && tx.capacity() == 0 {
            continue;
        }
        for (&p, &ts) in &batch.last_ts {
            last_ts.insert(p, ts);
        }
        let positions = moved(&consumer, &topic, &batch, &mut sent, &last_ts);
        let arrival = std::mem::take(&mut batch).finish(&topic, positions);
        if tx.blocking_send(Ok(arrival)).is_err() {
            return;
        }
    }
}

/// Lists the topic's partitions and assigns them: at the recovered offset, else at `start`.
/// Returns the partitions, or why not (the broker down, the topic missing).
fn assign(
    consumer: &BaseConsumer<SourceContext>,
    options: &KafkaOptions,
    recovered: &HashMap<i32, i64>,
) -> Result<Vec<i32>, String> {
    let partitions = list_partitions(consumer, &options.topic, &options.brokers)?;
    let mut tpl = TopicPartitionList::new();
    let mut by_time = TopicPartitionList::new();
    for &p in &partitions {
        let offset = match (recovered.get(&p), options.start) {
            (Some(&o), _) => Offset::Offset(o),
            (None, Start::Earliest) => Offset::Beginning,
            (None, Start::Latest) => Offset::End,
            (None, Start::Timestamp(ms)) => {
                by_time
                    .add_partition_offset(&options.topic, p, Offset::Offset(ms))
                    .map_err(|e| e.to_string())?;
                continue;
            }
        };
        tpl.add_partition_offset(&options.topic, p, offset)
            .map_err(|e| e.to_string())?;
    }
    if by_time.count() > 0 {
        let found = consumer
            .offsets_for_times(by_time, METADATA_TIMEOUT)
            .map_err(|e| format!("cannot look up the offsets at start: {e}"))?;
        for elem in found.elements() {
            let offset = match elem.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::End,
            };
            tpl.add_partition_offset(&options.topic, elem.partition(), offset)
                .map_err(|e| e.to_string())?;
        }
    }
    consumer
        .assign(&tpl)
        .map_err(|e| format!("cannot assign the partitions of {}: {e}", options.topic))?;
    Ok(partitions)
}

fn list_partitions(
    consumer: &BaseConsumer<SourceContext>,
    topic: &str,
    brokers: &str,
) -> Result<Vec<i32>, String> {
    let metadata = consumer
        .fetch_metadata(Some(topic), METADATA_TIMEOUT)
        .map_err(|e| format!("cannot reach Kafka at {brokers}: {e}"))?;
    let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Err(format!("topic {topic} does not exist"));
    };
    if let Some(e) = t.error() {
        return Err(format!(
            "topic {topic}: {}",
            rdkafka::types::RDKafkaErrorCode::from(e)
        ));
    }
    if t.partitions().is_empty() {
        return Err(format!("topic {topic} does not exist (no partitions)"));
    }
    Ok(t.partitions().iter().map(|p| p.id()).collect())
}

/// Assigns partitions added to the topic since, from their beginning (they are new).
fn discover(consumer: &BaseConsumer<SourceContext>, topic: &str, assigned: &mut BTreeSet<i32>) {
    let Ok(partitions) = list_partitions(consumer, topic, "") else {
        return;
    };
    let new: Vec<i32> = partitions
        .into_iter()
        .filter(|p| !assigned.contains(p))
        .collect();
    if new.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for &p in &new {
        if tpl
            .add_partition_offset(topic, p, Offset::Beginning)
            .is_err()
        {
            return;
        }
    }
    match consumer.incremental_assign(&tpl) {
        Ok(()) => {
            info!(topic, partitions = ?new, "new Kafka partitions assigned from their beginning");
            assigned.extend(new);
        }
        Err(e) => warn!(topic, error = %e, "cannot assign new Kafka partitions; retrying"),
    }
}

/// The positions that moved since the last arrival: per partition the larger of the batch's
/// next offset and librdkafka's position (past markers). Updates `sent`.
fn moved(
    consumer: &BaseConsumer<SourceContext>,
    topic: &str,
    batch: &Batch,
    sent: &mut BTreeMap<i32, i64>,
    last_ts: &BTreeMap<i32, i64>,
) -> Vec<Position> {
    let mut next: BTreeMap<i32, i64> = batch.next.clone();
    if let Ok(positions) = consumer.position() {
        for elem in positions.elements() {
            if let Offset::Offset(o) = elem.offset() {
                let at = next.entry(elem.partition()).or_insert(o);
                *at = (*at).max(o);
            }
        }
    }
    let mut out = Vec::new();
    for (p, offset) in next {
        if sent.get(&p).is_some_and(|&s| s >= offset) {
            continue;
        }
        sent.insert(p, offset);
        out.push(Position {
            key: position_key(topic, p),
            offset,
            detail: last_ts
                .get(&p)
                .map(|ts| format!("{{\"timestamp_ms\":{ts}}}")),
        });
    }
    out
}

/// Messages gathered for one arrival.
#[derive(Default)]
struct Batch {
    data: Vec<u8>,
    messages: Messages,
    /// Per partition: the offset after its last message here, and that message's time.
    next: BTreeMap<i32, i64>,
    last_ts: BTreeMap<i32, i64>,
}

impl Batch {
    fn push(&mut self, m: &BorrowedMessage<'_>) {
        let start = self.data.len();
        self.data.extend_from_slice(m.payload().unwrap_or_default());
        self.messages.ranges.push(start..self.data.len());
        // A separator, so that every value (also an empty one) starts at its own byte.
        self.data.push(b'\n');
        let ts = m.timestamp().to_millis();
        self.messages.partition.push(m.partition());
        self.messages.offset.push(m.offset());
        self.messages.timestamp_ms.push(ts);
        self.messages
            .key
            .push(m.key().map(|k| String::from_utf8_lossy(k).into_owned()));
        self.messages.headers.push(m.headers().map(|h| {
            let mut map = serde_json::Map::new();
            for header in h.iter() {
                map.insert(
                    header.key.to_string(),
                    header
                        .value
                        .map(|v| serde_json::Value::String(String::from_utf8_lossy(v).into_owned()))
                        .unwrap_or(serde_json::Value::Null),
                );
            }
            serde_json::Value::Object(map).to_string()
        }));
        self.next.insert(m.partition(), m.offset() + 1);
        if let Some(ts) = ts {
            self.last_ts.insert(m.partition(), ts);
        }
    }

    fn finish(self, topic: &str, positions: Vec<Position>) -> Arrival {
        let n = self.messages.len();
        let mut messages = self.messages;
        messages.data = bytes::Bytes::from(self.data);
        let partitions: BTreeSet<i32> = messages.partition.iter().copied().collect();
        Arrival {
            payload: Payload::Messages(Arc::new(messages)),
            format: None,
            positions,
            label: format!("{n} messages of {topic} (partitions {partitions:?})"),
        }
    }
}

/// Sleeps `d` in steps, unless stopped first; returns whether stopped.
fn sleep_or_stop(shared: &Shared, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if shared.stopped() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
    shared.stopped()
}

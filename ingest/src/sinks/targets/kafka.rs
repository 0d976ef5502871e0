//! `INTO KAFKA (brokers = 'host:port,...', topic = '...')`: one Kafka transaction per batch,
//! one message per row (a JSON object), each with the headers `oxbow_sink` (the sink's id) and
//! `oxbow_position` (the WAL position the batch reaches).
//!
//! The producer's `transactional.id` is `oxbow-sink-<sink id>`, stable across restarts. At
//! open, `init_transactions` fences any earlier producer of this sink (a process killed with
//! `kill -9`) and aborts its open transaction; then the position is read back with a
//! `read_committed` consumer: the `oxbow_position` header of the last committed message of
//! each partition, the highest over partitions. A commit that reported an error is decided the
//! same way when the sink reopens, never by sending again blindly. Every librdkafka call here
//! blocks, so each runs on the blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};

use super::SinkTarget;
use crate::error::IngestError;
use crate::sinks::options::{SinkFormat, check_target_options};

/// The header that names the sink a message came from.
pub const SINK_HEADER: &str = "oxbow_sink";
/// The header with the WAL position the message's batch reaches.
pub const POSITION_HEADER: &str = "oxbow_position";

const TIMEOUT: Duration = Duration::from_secs(30);

pub struct KafkaTarget {
    producer: Arc<ThreadedProducer<DefaultProducerContext>>,
    topic: String,
    sink_id: String,
    resumed: Option<u64>,
}

fn kafka_error(what: &str, e: KafkaError) -> IngestError {
    IngestError::Connector(format!("kafka sink: {what}: {e}"))
}

impl KafkaTarget {
    pub fn check(options: &BTreeMap<String, String>, format: &str) -> Result<(), IngestError> {
        check_target_options("kafka", options, &["brokers", "topic"], &[])?;
        if SinkFormat::parse(format)? != SinkFormat::Json {
            return Err(IngestError::Unsupported(format!(
                "FORMAT {} for KAFKA sinks (messages are JSON)",
                format.to_ascii_uppercase()
            )));
        }
        Ok(())
    }

    /// Fences earlier producers of the sink and reads back its committed position.
    pub async fn open(
        options: &BTreeMap<String, String>,
        format: &str,
        sink_id: &str,
    ) -> Result<Self, IngestError> {
        Self::check(options, format)?;
        let brokers = options["brokers"].clone();
        let topic = options["topic"].clone();
        let id = sink_id.to_string();
        let (producer, resumed) = tokio::task::spawn_blocking(move || {
            let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("transactional.id", format!("oxbow-sink-{id}"))
                .set("enable.idempotence", "true")
                .set("transaction.timeout.ms", "60000")
                .set("client.id", format!("oxbow-sink-{id}"))
                .create()
                .map_err(|e| kafka_error("creating the producer", e))?;
            producer
                .init_transactions(TIMEOUT)
                .map_err(|e| kafka_error("init_transactions", e))?;
            let resumed = read_position(&brokers, &topic, &id)?;
            Ok::<_, IngestError>((producer, resumed))
        })
        .await
        .map_err(|e| IngestError::Connector(format!("kafka task failed: {e}")))??;
        Ok(Self {
            producer: Arc::new(producer),
            topic: options["topic"].clone(),
            sink_id: sink_id.to_string(),
            resumed,
        })
    }
}

/// The highest `oxbow_position` among the last committed messages of `sink_id` in each
/// partition of `topic` (`None` if there are none).
fn read_position(brokers: &str, topic: &str, sink_id: &str) -> Result<Option<u64>, IngestError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("oxbow-sink-{sink_id}-resume"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("allow.auto.create.topics", "false")
        // Some brokers (noida-db) answer a fetch with more than librdkafka's default limit.
        .set("receive.message.max.bytes", "2147483647")
        .create()
        .map_err(|e| kafka_error("creating the consumer", e))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .map_err(|e| kafka_error("reading the topic's metadata", e))?;
    let Some(meta) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(None);
    };
    if meta.error().is_some() || meta.partitions().is_empty() {
        // No such topic yet: the sink has written nothing to it.
        return Ok(None);
    }
    let mut best: Option<u64> = None;
    for partition in meta.partitions() {
        let p = partition.id();
        let (low, high) = consumer
            .fetch_watermarks(topic, p, TIMEOUT)
            .map_err(|e| kafka_error("reading the watermarks", e))?;
        if high <= low {
            continue;
        }
        // The tail is commit markers and perhaps an aborted batch: look back in growing
        // windows until a committed message of this sink turns up.
        let mut window = 256i64;
        loop {
            let start = (high - window).max(low);
            if let Some(position) = last_position_from(&consumer, topic, p, start, high, sink_id)? {
                best = best.max(Some(position));
                break;
            }
            if start == low {
                break;
            }
            window *= 4;
        }
    }
    Ok(best)
}

/// Reads partition `p` from `start` to its end and returns the position header of the last
/// message of `sink_id`.
fn last_position_from(
    consumer: &BaseConsumer,
    topic: &str,
    p: i32,
    start: i64,
    high: i64,
    sink_id: &str,
) -> Result<Option<u64>, IngestError> {
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, p, Offset::Offset(start))
        .map_err(|e| kafka_error("assigning", e))?;
    consumer
        .assign(&list)
        .map_err(|e| kafka_error("assigning", e))?;
    let deadline = Instant::now() + TIMEOUT;
    let mut last = None;
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            None => continue,
            Some(Err(KafkaError::PartitionEOF(_))) => return Ok(last),
            Some(Err(e)) => return Err(kafka_error("reading back the position", e)),
            Some(Ok(message)) => {
                if let Some(headers) = message.headers() {
                    let mut ours = false;
                    let mut position = None;
                    for header in headers.iter() {
                        let value = header.value.map(String::from_utf8_lossy);
                        match header.key {
                            SINK_HEADER => ours = value.as_deref() == Some(sink_id),
                            POSITION_HEADER => position = value.and_then(|v| v.parse::<u64>().ok()),
                            _ => {}
                        }
                    }
                    if ours && position.is_some() {
                        last = position;
                    }
                }
                if message.offset() + 1 >= high {
                    return Ok(last);
                }
            }
        }
    }
    Err(IngestError::Connector(format!(
        "kafka sink: timed out reading back the position from {topic}/{p}"
    )))
}

#[async_trait]
impl SinkTarget for KafkaTarget {
    async fn committed_position(&mut self) -> Result<Option<u64>, IngestError> {
        Ok(self.resumed)
    }

    async fn write(
        &mut self,
        batches: Vec<RecordBatch>,
        _first: u64,
        last: u64,
    ) -> Result<u64, IngestError> {
        let producer = Arc::clone(&self.producer);
        let topic = self.topic.clone();
        let sink_id = self.sink_id.clone();
        tokio::task::spawn_blocking(move || {
            let body = super::files::encode(SinkFormat::Json, &batches)?;
            let position = last.to_string();
            producer
                .begin_transaction()
                .map_err(|e| kafka_error("begin_transaction", e))?;
            let sent = send_all(&producer, &topic, &body, &sink_id, &position).and_then(|()| {
                producer
                    .commit_transaction(TIMEOUT)
                    .map_err(|e| kafka_error("commit_transaction", e))
            });
            if let Err(e) = sent {
                // Whether it landed is read back when the sink reopens.
                let _ = producer.abort_transaction(TIMEOUT);
                return Err(e);
            }
            Ok(body.len() as u64)
        })
        .await
        .map_err(|e| IngestError::Connector(format!("kafka task failed: {e}")))?
    }
}

fn send_all(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    body: &[u8],
    sink_id: &str,
    position: &str,
) -> Result<(), IngestError> {
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: SINK_HEADER,
                value: Some(sink_id),
            })
            .insert(Header {
                key: POSITION_HEADER,
                value: Some(position),
            });
        let mut record: BaseRecord<'_, (), [u8]> =
            BaseRecord::to(topic).payload(line).headers(headers);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(kafka_error("sending", e)),
            }
        }
    }
    Ok(())
}

//! The options of `FROM KAFKA (...)` and the librdkafka configuration they make.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;

use crate::error::IngestError;
use crate::sources::options::ConnectorOptions;

const OPTIONS: &[&str] = &[
    "brokers",
    "topic",
    "start",
    "group_id",
    "max_batch_messages",
    "partition_discovery",
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "ssl_ca",
    "max_response_bytes",
];

/// librdkafka refuses a fetch response larger than `receive.message.max.bytes` (100 MB by
/// default) and retries it for ever, so a broker that ignores `fetch.max.bytes` (noida-db
/// 0.2 answers a deep backlog with responses near 1 GB) would stall a source that reads
/// nothing. The default is librdkafka's ceiling; `max_response_bytes` lowers it.
const MAX_RESPONSE_BYTES: i64 = 2_147_483_647;

/// Where a partition with no recorded offset starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Earliest,
    Latest,
    /// The first message at or after this time (milliseconds since the epoch).
    Timestamp(i64),
}

#[derive(Debug, Clone)]
pub struct KafkaOptions {
    pub brokers: String,
    pub topic: String,
    pub start: Start,
    pub group_id: String,
    /// Messages per arrival at most (one WAL transaction each).
    pub max_batch_messages: usize,
    /// How often the topic's partitions are listed, to pick up new ones.
    pub partition_discovery: Duration,
    /// The largest fetch response accepted (`receive.message.max.bytes`).
    pub max_response_bytes: i64,
    /// Passed to librdkafka as they are (`security.protocol`, `sasl.*`, `ssl.ca.location`).
    security: Vec<(&'static str, String)>,
}

impl KafkaOptions {
    /// Reads the options of source `source_id`; unknown ones are refused.
    pub fn parse(source_id: &str, options: &BTreeMap<String, String>) -> Result<Self, IngestError> {
        let mut o = ConnectorOptions::new("KAFKA", options, OPTIONS);
        let brokers = o.required("brokers")?;
        let topic = o.required("topic")?;
        let start = match o.text("start") {
            None => Start::Earliest,
            Some(s) => parse_start(&s)?,
        };
        let group_id = o
            .text("group_id")
            .unwrap_or_else(|| format!("oxbow-source-{source_id}"));
        let max_batch_messages = o.number("max_batch_messages")?.unwrap_or(100_000).max(1) as usize;
        let partition_discovery = o
            .duration("partition_discovery")?
            .unwrap_or(Duration::from_secs(5))
            .max(Duration::from_millis(100));
        let max_response_bytes = o
            .number("max_response_bytes")?
            .map(|n| n as i64)
            .unwrap_or(MAX_RESPONSE_BYTES);
        let mut security = Vec::new();
        for (option, key) in [
            ("security_protocol", "security.protocol"),
            ("sasl_mechanism", "sasl.mechanism"),
            ("sasl_username", "sasl.username"),
            ("sasl_password", "sasl.password"),
            ("ssl_ca", "ssl.ca.location"),
        ] {
            if let Some(v) = o.text(option) {
                security.push((key, v));
            }
        }
        o.finish()?;
        if brokers.trim().is_empty() {
            return Err(IngestError::invalid_option(
                "brokers",
                &brokers,
                "host:port[,host:port...]",
            ));
        }
        let options = Self {
            brokers,
            topic,
            start,
            group_id,
            max_batch_messages,
            partition_discovery,
            max_response_bytes,
            security,
        };
        // librdkafka checks every key and value when a client is made (no connection yet).
        options
            .client_config()
            .create::<rdkafka::consumer::BaseConsumer>()
            .map_err(|e| {
                IngestError::invalid_option(
                    "KAFKA (...)",
                    &e.to_string(),
                    "options librdkafka accepts",
                )
            })?;
        Ok(options)
    }

    /// The consumer's configuration: Oxbow owns the offsets (no auto-commit, no offset store:
    /// positions travel in the WAL with the rows), reads only committed transactions, and a
    /// recorded offset the broker no longer has is an error shown on the source, never a
    /// silent jump.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            // librdkafka wants a group id even for assign(); with no subscribe and no commit
            // it is not used to coordinate (librdkafka#593), but ACL'd clusters may need
            // READ on it.
            .set("group.id", &self.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("isolation.level", "read_committed")
            .set("auto.offset.reset", "error")
            .set("enable.partition.eof", "false")
            .set("allow.auto.create.topics", "false")
            // End offsets (the stable offset per partition) for lag come with the statistics.
            .set("statistics.interval.ms", "500")
            // The prefetch queue per partition is bounded: with the WAL busy or the hot tier
            // full, librdkafka stops fetching rather than buffering without end.
            .set("queued.max.messages.kbytes", "65536")
            .set("fetch.wait.max.ms", "100")
            .set(
                "receive.message.max.bytes",
                self.max_response_bytes.to_string(),
            )
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "5000")
            .set("client.id", format!("oxbow-{}", self.group_id));
        for (key, value) in &self.security {
            config.set(*key, value);
        }
        config
    }
}

fn parse_start(text: &str) -> Result<Start, IngestError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "earliest" | "beginning" => return Ok(Start::Earliest),
        "latest" | "end" => return Ok(Start::Latest),
        _ => {}
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(Start::Timestamp(t.timestamp_millis()));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S") {
        return Ok(Start::Timestamp(t.and_utc().timestamp_millis()));
    }
    Err(IngestError::invalid_option(
        "start",
        text,
        "'earliest', 'latest' or a timestamp such as '2026-12-01T10:00:00Z'",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_are_read_and_unknown_ones_refused() {
        let o = KafkaOptions::parse(
            "abc",
            &options(&[
                ("brokers", "127.0.0.1:1"),
                ("topic", "t"),
                ("start", "latest"),
            ]),
        )
        .unwrap();
        assert_eq!(o.start, Start::Latest);
        assert_eq!(o.group_id, "oxbow-source-abc");
        assert!(
            KafkaOptions::parse(
                "a",
                &options(&[("brokers", "b:1"), ("topic", "t"), ("nope", "1")])
            )
            .is_err()
        );
        assert!(KafkaOptions::parse("a", &options(&[("brokers", "b:1")])).is_err());
        assert!(
            KafkaOptions::parse(
                "a",
                &options(&[("brokers", "b:1"), ("topic", "t"), ("start", "soon")])
            )
            .is_err()
        );
        let at = KafkaOptions::parse(
            "a",
            &options(&[
                ("brokers", "b:1"),
                ("topic", "t"),
                ("start", "2026-01-01T00:00:00Z"),
            ]),
        )
        .unwrap();
        assert_eq!(at.start, Start::Timestamp(1_767_225_600_000));
    }

    #[test]
    fn a_security_value_librdkafka_refuses_is_refused_at_create() {
        assert!(
            KafkaOptions::parse(
                "a",
                &options(&[
                    ("brokers", "b:1"),
                    ("topic", "t"),
                    ("security_protocol", "carrier_pigeon")
                ])
            )
            .is_err()
        );
    }
}

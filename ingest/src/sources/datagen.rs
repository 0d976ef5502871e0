//! `DATAGEN (rows_per_second = '1000', max_rows = '...', seed = '42')`: a web-analytics
//! clickstream (page views, clicks, purchases) at a steady rate, for demos and benchmarks.
//!
//! Row `i` is a pure function of the seed and `i`, so a restart continues the same stream
//! where the recorded offset (rows generated) left it, and `max_rows` counts across restarts.
//! Event times are the generation time minus up to two seconds, so rows arrive slightly out
//! of order, as real events do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use oxbow_catalog::ColumnDef;
use oxbow_catalog::types::SqlType;

use super::options::ConnectorOptions;
use super::{Arrival, Offsets, Source};
use crate::error::IngestError;
use crate::pipeline::{Payload, Position};

const OPTIONS: &[&str] = &["rows_per_second", "max_rows", "seed"];
/// The position key of the generator's single stream.
const KEY: &str = "datagen";
/// The column holding event time, the default `time_column` of a generated table.
pub const TIME_COLUMN: &str = "event_time";
/// Batches per second: small batches keep freshness, large ones throughput.
const TICKS_PER_SECOND: u64 = 10;

#[derive(Debug)]
pub struct DatagenSource {
    rows_per_second: u64,
    max_rows: Option<u64>,
    seed: u64,
    next_row: u64,
    started: Instant,
    emitted_since_start: u64,
}

impl DatagenSource {
    pub fn new(options: &std::collections::BTreeMap<String, String>) -> Result<Self, IngestError> {
        let mut o = ConnectorOptions::new("DATAGEN", options, OPTIONS);
        let rows_per_second = o.number("rows_per_second")?.unwrap_or(1000);
        let max_rows = o.number("max_rows")?;
        let seed = o.number("seed")?.unwrap_or(42);
        o.finish()?;
        if rows_per_second == 0 {
            return Err(IngestError::invalid_option(
                "rows_per_second",
                "0",
                "at least 1",
            ));
        }
        Ok(Self {
            rows_per_second,
            max_rows,
            seed,
            next_row: 0,
            started: Instant::now(),
            emitted_since_start: 0,
        })
    }

    /// The columns of the table a generator creates.
    pub fn columns() -> Vec<ColumnDef> {
        let col = |name: &str, sql_type| ColumnDef {
            name: name.into(),
            sql_type,
            nullable: true,
        };
        vec![
            col("event_id", SqlType::Text),
            col(TIME_COLUMN, SqlType::TimestampTz),
            col("user_id", SqlType::BigInt),
            col("session_id", SqlType::Text),
            col("event_type", SqlType::Text),
            col("url", SqlType::Text),
            col("referrer", SqlType::Text),
            col("country", SqlType::Text),
            col("device", SqlType::Text),
            col("browser", SqlType::Text),
            col("duration_ms", SqlType::Integer),
            col("revenue", SqlType::DoublePrecision),
        ]
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(
            Self::columns()
                .iter()
                .map(|c| Field::new(&c.name, c.sql_type.arrow_type(), true))
                .collect::<Vec<_>>(),
        ))
    }

    /// Rows `from..from + n`.
    pub fn rows(&self, from: u64, n: u64, now_us: i64) -> RecordBatch {
        let rows: Vec<Event> = (from..from + n)
            .map(|i| Event::new(self.seed, i, now_us))
            .collect();
        let text = |f: fn(&Event) -> Option<String>| {
            Arc::new(StringArray::from_iter(rows.iter().map(f))) as ArrayRef
        };
        let columns: Vec<ArrayRef> = vec![
            text(|e| Some(e.event_id.clone())),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(rows.iter().map(|e| e.event_time_us))
                    .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|e| e.user_id))),
            text(|e| Some(e.session_id.clone())),
            text(|e| Some(e.event_type.to_string())),
            text(|e| Some(e.url.to_string())),
            text(|e| e.referrer.map(str::to_string)),
            text(|e| Some(e.country.to_string())),
            text(|e| Some(e.device.to_string())),
            text(|e| Some(e.browser.to_string())),
            Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|e| e.duration_ms),
            )),
            Arc::new(Float64Array::from_iter(rows.iter().map(|e| e.revenue))),
        ];
        RecordBatch::try_new(Self::schema(), columns).expect("columns match the schema")
    }
}

#[async_trait]
impl Source for DatagenSource {
    fn resume(&mut self, offsets: &Offsets) {
        if let Some((offset, _)) = offsets.get(KEY) {
            self.next_row = (*offset).max(0) as u64;
        }
    }

    /// Rows the generator owes its rate: due since it started but not yet generated (0 once
    /// `max_rows` is reached). It grows when writes cannot keep up with `rows_per_second`.
    fn lag(&self) -> Option<i64> {
        if self.max_rows.is_some_and(|m| self.next_row >= m) {
            return Some(0);
        }
        let due = (self.started.elapsed().as_secs_f64() * self.rows_per_second as f64) as u64;
        Some(due.saturating_sub(self.emitted_since_start) as i64)
    }

    async fn next(&mut self) -> Result<Option<Arrival>, IngestError> {
        let remaining = self.max_rows.map(|m| m.saturating_sub(self.next_row));
        if remaining == Some(0) {
            return Ok(None);
        }
        // Paced against the start, so a slow write is caught up rather than lost.
        let per_tick = self.rows_per_second.div_ceil(TICKS_PER_SECOND).max(1);
        let due = self.started.elapsed().as_secs_f64() * self.rows_per_second as f64;
        if (self.emitted_since_start as f64) >= due {
            let wait = (self.emitted_since_start as f64 + 1.0 - due) / self.rows_per_second as f64;
            tokio::time::sleep(Duration::from_secs_f64(wait.clamp(0.001, 1.0))).await;
        }
        let due = self.started.elapsed().as_secs_f64() * self.rows_per_second as f64;
        let behind = (due as u64).saturating_sub(self.emitted_since_start);
        let mut n = behind.clamp(1, per_tick * 10);
        if let Some(remaining) = remaining {
            n = n.min(remaining);
        }
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        let batch = self.rows(self.next_row, n, now_us);
        let from = self.next_row;
        self.next_row += n;
        self.emitted_since_start += n;
        Ok(Some(Arrival {
            payload: Payload::Rows(batch),
            format: None,
            positions: vec![Position {
                key: KEY.into(),
                offset: self.next_row as i64,
                detail: None,
            }],
            label: format!("rows {from}..{}", self.next_row),
        }))
    }
}

/// One generated event.
struct Event {
    event_id: String,
    event_time_us: i64,
    user_id: i64,
    session_id: String,
    event_type: &'static str,
    url: &'static str,
    referrer: Option<&'static str>,
    country: &'static str,
    device: &'static str,
    browser: &'static str,
    duration_ms: i32,
    revenue: Option<f64>,
}

const EVENT_TYPES: &[(&str, u32)] = &[
    ("page_view", 70),
    ("click", 20),
    ("add_to_cart", 7),
    ("purchase", 3),
];
const URLS: &[&str] = &[
    "/",
    "/pricing",
    "/docs",
    "/docs/getting-started",
    "/blog",
    "/blog/real-time-analytics",
    "/products/oxbow",
    "/products/cloud",
    "/signup",
    "/login",
    "/cart",
    "/checkout",
];
const REFERRERS: &[Option<&str>] = &[
    None,
    None,
    Some("https://www.google.com/"),
    Some("https://news.ycombinator.com/"),
    Some("https://twitter.com/"),
    Some("https://www.linkedin.com/"),
    Some("https://github.com/"),
];
const COUNTRIES: &[(&str, u32)] = &[
    ("US", 30),
    ("IN", 14),
    ("DE", 8),
    ("GB", 8),
    ("BR", 6),
    ("FR", 5),
    ("JP", 5),
    ("CA", 4),
    ("NL", 3),
    ("AU", 3),
    ("ES", 3),
    ("IT", 3),
    ("SE", 2),
    ("SG", 2),
    ("KR", 2),
    ("MX", 2),
];
const DEVICES: &[(&str, u32)] = &[("desktop", 55), ("mobile", 40), ("tablet", 5)];
const BROWSERS: &[(&str, u32)] = &[
    ("Chrome", 62),
    ("Safari", 20),
    ("Firefox", 8),
    ("Edge", 8),
    ("Other", 2),
];

impl Event {
    fn new(seed: u64, i: u64, now_us: i64) -> Self {
        let mut r = SplitMix(seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let a = r.next();
        let b = r.next();
        let user = 1 + ((r.unit() * r.unit()) * 100_000.0) as i64;
        let event_type = weighted(EVENT_TYPES, r.next());
        Event {
            event_id: format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                (b >> 48) | 0x8000,
                b & 0xffff_ffff_ffff
            ),
            event_time_us: now_us - (r.next() % 2_000_000) as i64,
            user_id: user,
            session_id: format!(
                "s-{user:x}-{:x}",
                (now_us / 1_800_000_000) ^ (r.next() % 3) as i64
            ),
            event_type,
            url: URLS[(r.next() % URLS.len() as u64) as usize],
            referrer: REFERRERS[(r.next() % REFERRERS.len() as u64) as usize],
            country: weighted(COUNTRIES, r.next()),
            device: weighted(DEVICES, r.next()),
            browser: weighted(BROWSERS, r.next()),
            duration_ms: (50.0 + r.unit().powi(3) * 30_000.0) as i32,
            revenue: (event_type == "purchase")
                .then(|| ((5.0 + r.unit() * 495.0) * 100.0).round() / 100.0),
        }
    }
}

fn weighted(choices: &[(&'static str, u32)], roll: u64) -> &'static str {
    let total: u32 = choices.iter().map(|c| c.1).sum();
    let mut pick = (roll % total as u64) as u32;
    for (name, weight) in choices {
        if pick < *weight {
            return name;
        }
        pick -= weight;
    }
    choices[0].0
}

/// SplitMix64: small, fast, and good enough for synthetic data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{DataType, TimeUnit};

    #[test]
    fn rows_are_a_function_of_seed_and_index() {
        let g = DatagenSource::new(&Default::default()).unwrap();
        let a = g.rows(10, 5, 1_000_000_000);
        let b = g.rows(12, 3, 1_000_000_000);
        let ids =
            |batch: &RecordBatch, i: usize| batch.column(0).as_string::<i32>().value(i).to_string();
        assert_eq!(ids(&a, 2), ids(&b, 0));
        assert_ne!(ids(&a, 0), ids(&a, 1));
        assert_eq!(
            a.schema().field(1).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }
}

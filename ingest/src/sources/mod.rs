//! Connectors: where a source's input comes from.
//!
//! A pulling connector (files, the data generator, Kafka; Postgres CDC next) implements
//! [`Source`]: the runtime asks it for the next [`Arrival`], runs it through the pipeline and
//! lands it with the arrival's positions in one WAL transaction; a failed landing is retried
//! with the same arrival, so a connector never has to rewind. At start, a connector is told
//! the positions recorded so far ([`Offsets`], read back from `oxbow.source_offsets`) and
//! continues after them: that is what makes a source exactly once across restarts.
//!
//! HTTP push is not a `Source`: its arrivals come from requests (`crate::runtime`), each
//! acknowledged once it is durable.
//!
//! # Layout
//! - [`datagen`]: `DATAGEN (...)`, a web-analytics clickstream at a steady rate.
//! - [`files`]: `FILES (path = ..., pattern = ...)`, a local directory or an object-store prefix.
//! - [`kafka`]: `KAFKA (brokers = ..., topic = ...)`, every partition of a topic at Oxbow's offsets.
//! - [`options`]: reading a connector's `key = 'value'` options.

pub mod datagen;
pub mod files;
pub mod kafka;
pub mod options;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::error::IngestError;
use crate::formats::source_format::SourceFormat;
use crate::pipeline::{Payload, Position};

/// The latest recorded position per key: offset and detail.
pub type Offsets = HashMap<String, (i64, Option<String>)>;

/// Per position key, the (low, end) offsets a connector learns from its input (Kafka: the
/// partition's first offset and its last stable offset), shared with `oxbow.sources` so lag
/// is computed when queried.
pub type EndOffsets = Arc<Mutex<BTreeMap<String, (i64, i64)>>>;

/// One unit of input and the positions the source reaches once it is landed.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub payload: Payload,
    /// A format other than the source's (none: the source's own).
    pub format: Option<SourceFormat>,
    pub positions: Vec<Position>,
    /// What the arrival is, for status and errors (`file clicks/1.ndjson`).
    pub label: String,
}

#[async_trait]
pub trait Source: Send {
    /// Continues after the recorded `offsets`. Called once, before the first `next`.
    fn resume(&mut self, offsets: &Offsets);

    /// The next arrival, waiting until there is one; `None` once the source has no more input
    /// ever (a data generator with `max_rows`).
    async fn next(&mut self) -> Result<Option<Arrival>, IngestError>;

    /// How far behind its input the source is, where the connector knows (files not yet read).
    fn lag(&self) -> Option<i64> {
        None
    }

    /// The input's end offsets per position key, where the connector knows them.
    fn end_offsets(&self) -> Option<EndOffsets> {
        None
    }
}

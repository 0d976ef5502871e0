//! Where a sink's batches go, each exactly once.
//!
//! A [`SinkTarget`] writes one batch (the rows of the WAL transactions `first..=last`) as one
//! unit that becomes visible whole or not at all, and can say which position it holds: after
//! a crash the sink resumes from the higher of that and the catalog's progress, so a batch
//! whose write landed is never written again and one that did not land is written again.
//!
//! - [`files`]: one file per batch named `<sink id>-<first>-<last>.<ext>`, written whole
//!   (local: temp file, fsync, rename, fsync of the directory; object stores: one put), so a
//!   replayed batch overwrites itself.
//! - [`delta`]: one Delta commit per batch with the `txn` (app id = sink id, version = last).
//! - [`kafka`]: one Kafka transaction per batch (`transactional.id = oxbow-sink-<id>`), every
//!   message with the batch's position in a header, read back with `read_committed`.

pub mod delta;
pub mod files;
pub mod kafka;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;

use crate::error::IngestError;

#[async_trait]
pub trait SinkTarget: Send {
    /// The position of the last batch this target holds from the sink, if any.
    async fn committed_position(&mut self) -> Result<Option<u64>, IngestError>;

    /// Writes `batches` (at least one row) as one unit covering positions `first..=last`;
    /// returns the bytes written. Once it returns `Ok`, the batch is durable in the target.
    async fn write(
        &mut self,
        batches: Vec<RecordBatch>,
        first: u64,
        last: u64,
    ) -> Result<u64, IngestError>;
}

//! `INTO DELTA (location = '/dir' | 's3://...')`: one commit per batch carrying the sink's
//! `txn` (see [`oxbow_storage::lake::DeltaSinkTable`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use oxbow_storage::lake::DeltaSinkTable;

use super::SinkTarget;
use crate::error::IngestError;
use crate::sinks::options::check_target_options;
use crate::sinks::targets::files::local_dir;
use crate::sources::files::FileAccess;

pub struct DeltaTarget {
    table: DeltaSinkTable,
}

impl DeltaTarget {
    /// Checks the options (`location`, required) and a local location (under an allowed
    /// root, as for FILES; created if missing). Returns the location to open.
    pub fn check(
        options: &BTreeMap<String, String>,
        access: &FileAccess,
    ) -> Result<String, IngestError> {
        check_target_options("delta", options, &["location"], &[])?;
        let location = &options["location"];
        if location.contains("://") && !location.starts_with("file://") {
            return Ok(location.clone());
        }
        Ok(local_dir(location, access)?.display().to_string())
    }

    pub async fn open(
        options: &BTreeMap<String, String>,
        sink_id: &str,
        access: &FileAccess,
    ) -> Result<Self, IngestError> {
        let location = Self::check(options, access)?;
        Ok(Self {
            table: DeltaSinkTable::open(&location, sink_id).await?,
        })
    }
}

#[async_trait]
impl SinkTarget for DeltaTarget {
    async fn committed_position(&mut self) -> Result<Option<u64>, IngestError> {
        Ok(self.table.committed_position().await?)
    }

    async fn write(
        &mut self,
        batches: Vec<RecordBatch>,
        _first: u64,
        last: u64,
    ) -> Result<u64, IngestError> {
        // Parquet's encoded size is not reported back; the rows' Arrow size stands in.
        let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
        self.table.append(batches, last).await?;
        Ok(bytes as u64)
    }
}

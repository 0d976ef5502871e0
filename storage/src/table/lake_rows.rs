//! The rows of a table's Delta tier as of one snapshot, with the WAL sequence number they
//! reach: what a `start = 'earliest'` sink emits before it follows the WAL from that number.

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;

use super::Table;
use crate::{Error, Result};

impl Table {
    /// Every row in Delta (the table's own columns, not derived partition columns) and the
    /// table's `txn` version they were read at: the WAL records above it are the rest.
    pub async fn lake_rows(&self) -> Result<(u64, Vec<RecordBatch>)> {
        let snapshot = self.snapshot();
        let files = snapshot
            .delta
            .snapshot()
            .map(|s| s.log_data().num_files())
            .unwrap_or(0);
        if files == 0 {
            return Ok((snapshot.flushed_seq, Vec::new()));
        }
        let ctx = SessionContext::new();
        snapshot
            .delta
            .update_datafusion_session(&ctx.state())
            .map_err(|e| Error::delta(&self.def().name, e))?;
        let provider = snapshot
            .delta
            .table_provider()
            .await
            .map_err(Error::DataFusion)?;
        let schema = self.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let batches = ctx
            .read_table(provider)?
            .select_columns(&names)?
            .collect()
            .await?;
        Ok((snapshot.flushed_seq, batches))
    }
}

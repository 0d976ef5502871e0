//! Parquet input for sources: a whole file's row groups as Arrow batches, typed by the file.
//! The pipeline casts them to the table's types like any other input.

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Every row of the Parquet file `data`, or why it cannot be read (not Parquet, truncated).
pub fn decode(data: Bytes) -> Result<Vec<RecordBatch>, String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(data)
        .map_err(|e| format!("not a readable Parquet file: {e}"))?
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read the Parquet file: {e}"))
}

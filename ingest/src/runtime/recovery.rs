//! Where a source resumes after a start: its positions, the receipts of recent pushes, and
//! its dedup keys, all read back with SQL from what is durable (both tiers), so no state
//! store can disagree with the data.

use std::collections::HashMap;
use std::time::Duration;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use datafusion::prelude::SessionContext;
use oxbow_catalog::TableDef;

use crate::error::IngestError;
use crate::pipeline::{BatchOutcome, DedupState, RECEIPT_PREFIX};
use crate::sources::Offsets;

/// How long an `Idempotency-Key` is remembered: a retry later than this is applied again.
pub const RECEIPT_TTL: Duration = Duration::from_secs(24 * 3600);

/// A SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A SQL identifier.
pub fn ident(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// The latest position per key of source `id`, and the receipts of its pushes within
/// [`RECEIPT_TTL`].
pub async fn offsets(
    ctx: &SessionContext,
    id: &str,
) -> Result<(Offsets, HashMap<String, (BatchOutcome, i64)>), IngestError> {
    let sql = format!(
        "SELECT key, max(\"offset\") AS o, last_value(detail ORDER BY \"offset\", recorded_at) AS d, \
         max(recorded_at) AS at FROM oxbow.source_offsets WHERE source_id = {} GROUP BY key",
        literal(id)
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let cutoff = now_us() - RECEIPT_TTL.as_micros() as i64;
    let mut offsets = Offsets::new();
    let mut receipts = HashMap::new();
    for batch in batches {
        let keys = cast(batch.column(0), &DataType::Utf8)?;
        let keys = keys.as_string::<i32>();
        let values = batch.column(1).as_primitive::<Int64Type>();
        let details = cast(batch.column(2), &DataType::Utf8)?;
        let details = details.as_string::<i32>();
        let at = cast(
            batch.column(3),
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?;
        let at = at.as_primitive::<TimestampMicrosecondType>();
        for row in 0..batch.num_rows() {
            let key = keys.value(row).to_string();
            let detail = details
                .is_valid(row)
                .then(|| details.value(row).to_string());
            if let Some(receipt) = key.strip_prefix(RECEIPT_PREFIX) {
                if at.value(row) >= cutoff {
                    let outcome = detail
                        .as_deref()
                        .and_then(BatchOutcome::from_receipt)
                        .unwrap_or_default();
                    receipts.insert(receipt.to_string(), (outcome, at.value(row)));
                }
                continue;
            }
            offsets.insert(key, (values.value(row), detail));
        }
    }
    Ok((offsets, receipts))
}

/// Loads into `dedup` the keys of the table's rows within the window (by event time), or of
/// every row when the table has no time column. Returns how many.
pub async fn dedup_keys(
    ctx: &SessionContext,
    def: &TableDef,
    dedup: &mut DedupState,
    window: Duration,
) -> Result<usize, IngestError> {
    if !def.columns.iter().any(|c| c.name == dedup.column()) {
        return Ok(0);
    }
    let table = format!("{}.{}", ident(&def.name.schema), ident(&def.name.name));
    let filter = match &def.options.time_column {
        Some(time) => {
            let cutoff =
                chrono::DateTime::from_timestamp_micros(now_us() - window.as_micros() as i64)
                    .unwrap_or_default()
                    .to_rfc3339();
            format!(
                " WHERE {} >= {}::timestamptz",
                ident(time),
                literal(&cutoff)
            )
        }
        None => String::new(),
    };
    let sql = format!(
        "SELECT CAST({} AS text) FROM {table}{filter}",
        ident(dedup.column())
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let now = now_us();
    let mut n = 0;
    for batch in batches {
        let keys = cast(batch.column(0), &DataType::Utf8)?;
        let keys = keys.as_string::<i32>();
        for row in 0..keys.len() {
            if keys.is_valid(row) {
                dedup.remember(keys.value(row), now);
                n += 1;
            }
        }
    }
    Ok(n)
}

pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

//! The loop of one sink: resume from the durable position, then read the table's new WAL
//! transactions, write them as one batch, record the position, move the WAL pin, repeat.
//!
//! A transient error (the target is down, a write failed) is shown in `oxbow.sinks` and
//! retried with backoff from the last durable position: the target and the WAL reader are
//! opened again, so a half-done batch is redone whole. Only two things fail a sink for good,
//! and the reason is persisted: its table is gone, or it alone holds the oldest WAL segment
//! past `max_wal_size`.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use oxbow_catalog::{SinkDef, SinkProgress};
use oxbow_storage::Database;
use oxbow_storage::wal::{TailRead, WalTail};
use tracing::{Instrument, info, info_span, warn};

use super::changes::ChangeShape;
use super::options::{SinkFormat, SinkOptions, Start};
use super::stats::{SinkState, now_us};
use super::targets::SinkTarget;
use super::targets::delta::DeltaTarget;
use super::targets::files::FilesTarget;
use super::targets::kafka::KafkaTarget;
use super::{RunningSink, SinksConfig};
use crate::error::IngestError;

/// Why a sink's loop ended.
enum Exit {
    Stopped,
    Failed(String),
}

pub(super) async fn run(db: Arc<Database>, sink: Arc<RunningSink>, config: SinksConfig) {
    let span = info_span!("sink", sink = %sink.def.name);
    async move {
        let mut backoff = Duration::from_secs(1);
        loop {
            match run_once(&db, &sink, &config).await {
                Ok(Exit::Stopped) => return,
                Ok(Exit::Failed(reason)) => {
                    warn!(reason = %reason, "sink failed; drop and create it again");
                    fail(&db, &sink, reason).await;
                    return;
                }
                Err(e) => {
                    warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "sink error; retrying from its durable position");
                    sink.stats.update(|s| s.last_error = Some(e.to_string()));
                    sink.wait(backoff).await;
                    if sink.is_stopped() {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// Persists the failure and releases the sink's WAL pin.
async fn fail(db: &Arc<Database>, sink: &RunningSink, reason: String) {
    let id = sink.def.id.clone();
    let position = sink.stats.snapshot().position;
    let progress = SinkProgress {
        position,
        failed: Some(reason.clone()),
    };
    let store = Arc::clone(db);
    let stored =
        tokio::task::spawn_blocking(move || store.catalog().set_sink_progress(&id, &progress))
            .await;
    if !matches!(stored, Ok(Ok(()))) {
        warn!("cannot record the sink's failure in the catalog");
    }
    db.unpin_wal_for_sink(&sink.def.id);
    sink.stats.update(|s| {
        s.state = SinkState::Failed;
        s.last_error = Some(reason);
    });
}

async fn open_target(
    def: &SinkDef,
    config: &SinksConfig,
) -> Result<Box<dyn SinkTarget>, IngestError> {
    match def.target.as_str() {
        "files" => Ok(Box::new(FilesTarget::open(
            &def.target_options,
            SinkFormat::parse(&def.format)?,
            &def.id,
            &config.files,
        )?)),
        "delta" => Ok(Box::new(
            DeltaTarget::open(&def.target_options, &def.id, &config.files).await?,
        )),
        "kafka" => Ok(Box::new(
            KafkaTarget::open(&def.target_options, &def.format, &def.id).await?,
        )),
        other => Err(IngestError::Unsupported(format!(
            "sinks INTO {}",
            other.to_ascii_uppercase()
        ))),
    }
}

async fn store_progress(db: &Arc<Database>, id: &str, position: u64) -> Result<(), IngestError> {
    let store = Arc::clone(db);
    let id = id.to_string();
    let progress = SinkProgress {
        position: Some(position),
        failed: None,
    };
    tokio::task::spawn_blocking(move || store.catalog().set_sink_progress(&id, &progress))
        .await
        .map_err(|e| IngestError::Connector(format!("catalog task failed: {e}")))??;
    Ok(())
}

async fn run_once(
    db: &Arc<Database>,
    sink: &Arc<RunningSink>,
    config: &SinksConfig,
) -> Result<Exit, IngestError> {
    let def = &sink.def;
    let options = SinkOptions::parse(&def.options)?;
    let progress = db.catalog().sink_progress(&def.id)?;
    if let Some(reason) = progress.failed {
        return Ok(Exit::Failed(reason));
    }
    let Some(table) = db.table(&def.from) else {
        if db.unavailable_table(&def.from).is_some() {
            return Err(IngestError::Connector(format!(
                "table {} is unavailable",
                def.from
            )));
        }
        return Ok(Exit::Failed(format!("table {} was dropped", def.from)));
    };
    let table = Arc::clone(table.table());
    let table_id = table.def().id.clone();
    let mut target = open_target(def, config).await?;
    let in_target = target.committed_position().await?;
    let resumed = match (progress.position, in_target) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let mut position = match resumed {
        Some(position) => position,
        None => {
            // `start = 'earliest'`, nothing emitted yet: the rows in Delta first. The pin goes
            // in before the snapshot, so the records after it outlive any flush meanwhile.
            debug_assert_eq!(options.start, Start::Earliest);
            db.pin_wal_for_sink(&def.id, table.flushed_seq());
            let (through, batches) = table.lake_rows().await?;
            let shape = ChangeShape::new(&table.schema(), table.is_keyed());
            let out = convert(&shape, &batches)?;
            emit(sink, target.as_mut(), out, 0, through).await?;
            store_progress(db, &def.id, through).await?;
            info!(through, "emitted the table's lake snapshot");
            through
        }
    };
    db.pin_wal_for_sink(&def.id, position);
    if in_target.is_some_and(|t| Some(t) > progress.position) {
        // The target got further than the catalog knew (a crash between the two).
        store_progress(db, &def.id, position).await?;
    }
    sink.stats.update(|s| {
        s.position = Some(position);
        s.last_error = None;
    });
    let mut tail = Some(WalTail::new(db.wal().dir(), &table_id, position));
    loop {
        if sink.is_stopped() {
            return Ok(Exit::Stopped);
        }
        if let Some(reason) = over_wal_limit(db, config.max_wal_bytes, position) {
            return Ok(Exit::Failed(reason));
        }
        if sink.is_paused() {
            sink.stats.set_state(SinkState::Paused);
            sink.wait(options.batch_interval).await;
            continue;
        }
        sink.stats.set_state(SinkState::Running);
        match db.table(&def.from) {
            Some(t) if t.table().def().id == table_id => {}
            _ => return Ok(Exit::Failed(format!("table {} was dropped", def.from))),
        }
        let through = db.wal().applied_seq();
        let mut reader = tail.take().expect("the reader is put back after each read");
        let max_rows = options.max_batch_rows;
        let (reader, read) = tokio::task::spawn_blocking(move || {
            let read = reader.read(through, max_rows);
            (reader, read)
        })
        .await
        .map_err(|e| IngestError::Connector(format!("WAL reading task failed: {e}")))?;
        tail = Some(reader);
        let read: TailRead = read?;
        if let Some(first) = read.transactions.first().map(|t| t.seq) {
            // The table's shape now: a column added since is in this batch.
            let shape = ChangeShape::new(&table.schema(), table.is_keyed());
            let batches: Vec<RecordBatch> = read
                .transactions
                .into_iter()
                .flat_map(|t| t.batches)
                .collect();
            let out = convert(&shape, &batches)?;
            emit(sink, target.as_mut(), out, first, read.position).await?;
        }
        if read.position > position {
            store_progress(db, &def.id, read.position).await?;
            db.pin_wal_for_sink(&def.id, read.position);
            position = read.position;
            sink.stats.update(|s| s.position = Some(position));
        }
        if position >= through {
            sink.stats.update(|s| {
                s.caught_up_us = Some(now_us());
                s.last_error = None;
            });
            sink.wait(options.batch_interval).await;
        }
    }
}

fn convert(shape: &ChangeShape, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>, IngestError> {
    batches
        .iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| shape.convert(b))
        .collect()
}

/// Writes one batch (if it has rows) and counts it.
async fn emit(
    sink: &RunningSink,
    target: &mut dyn SinkTarget,
    batches: Vec<RecordBatch>,
    first: u64,
    last: u64,
) -> Result<(), IngestError> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows == 0 {
        return Ok(());
    }
    let bytes = target.write(batches, first, last).await?;
    sink.stats.update(|s| {
        s.rows_out += rows as u64;
        s.bytes_out += bytes;
    });
    Ok(())
}

/// The reason to fail the sink if the WAL is past `max_wal_bytes` and this sink alone keeps
/// its oldest segment (no table's hot rows do, so no flush can free it).
fn over_wal_limit(db: &Database, max_wal_bytes: u64, position: u64) -> Option<String> {
    if max_wal_bytes == 0 {
        return None;
    }
    let wal = db.wal();
    let segments = wal.segments();
    let second = *segments.get(1)?;
    if position + 1 >= second || db.lowest_hot_seq().is_some_and(|h| h < second) {
        return None;
    }
    let bytes = wal.disk_bytes();
    (bytes > max_wal_bytes).then(|| {
        format!(
            "the sink fell behind by more than max_wal_size: the WAL holds {bytes} bytes (limit {max_wal_bytes}) and only this sink keeps its oldest segment (it needs records after {position}); it was stopped rather than let records go unsent"
        )
    })
}

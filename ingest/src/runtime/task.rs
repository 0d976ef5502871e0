//! The task of a source: recover, then (for a pulling connector) loop: next arrival, run it
//! through the pipeline, land it; on failure keep the arrival and retry it with backoff
//! (100 ms doubling to 30 s), visible as `failed` with the reason in `oxbow.sources`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tracing::{info, warn};

use super::recovery;
use super::{RunningSource, SourceManager, SourceState};
use crate::sources::{Arrival, Source};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub(super) async fn run(
    manager: Arc<SourceManager>,
    running: Arc<RunningSource>,
    mut connector: Option<Box<dyn Source>>,
) {
    let mut backoff = FIRST_BACKOFF;
    // Recovery: positions, receipts, dedup keys.
    loop {
        if running.stop.is_stopped() {
            return;
        }
        match recover(&manager, &running, connector.as_deref_mut()).await {
            Ok(()) => break,
            Err(e) => {
                warn!(source = %running.def.name, error = %e, "cannot recover the source's position; retrying");
                running.stats.failed(format!("recovery: {e}"));
                if sleep_or_stop(&running, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    running.ready.store(true, Ordering::Release);
    running.ready_wake.notify_waiters();
    running.stats.set_state(if running.is_paused() {
        SourceState::Paused
    } else {
        SourceState::Running
    });
    if let Some(connector) = connector.as_deref() {
        running.stats.set_end_offsets(connector.end_offsets());
    }
    let Some(mut connector) = connector else {
        running.stop.wait().await;
        return;
    };
    let mut pending: Option<Arrival> = None;
    backoff = FIRST_BACKOFF;
    loop {
        if running.stop.is_stopped() {
            return;
        }
        if running.is_paused() {
            let woken = running.wake.notified();
            if running.is_paused() && !running.stop.is_stopped() {
                woken.await;
            }
            continue;
        }
        let arrival = match pending.take() {
            Some(a) => a,
            None => {
                let next = tokio::select! {
                    next = connector.next() => next,
                    () = running.stop.wait() => return,
                };
                match next {
                    Ok(Some(a)) => a,
                    Ok(None) => {
                        running.stats.set_state(SourceState::Finished);
                        info!(source = %running.def.name, "source has no more input");
                        running.stop.wait().await;
                        return;
                    }
                    Err(e) => {
                        running.stats.failed(e.to_string());
                        if sleep_or_stop(&running, backoff).await {
                            return;
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            }
        };
        let result = {
            let mut pipeline = running.pipeline.lock().await;
            pipeline
                .process(
                    arrival.payload.clone(),
                    arrival.format.as_ref(),
                    arrival.positions.clone(),
                    None,
                )
                .await
        };
        match result {
            Ok(outcome) => {
                running
                    .stats
                    .landed(&outcome, &arrival.positions, connector.lag());
                if outcome.rejected > 0 && outcome.accepted == 0 && outcome.deduplicated == 0 {
                    running.stats.note_error(format!(
                        "{}: every row refused (see oxbow.dead_letters)",
                        arrival.label
                    ));
                }
                backoff = FIRST_BACKOFF;
            }
            Err(e) => {
                warn!(source = %running.def.name, arrival = %arrival.label, error = %e, "cannot land a batch; retrying it");
                running.stats.failed(format!("{}: {e}", arrival.label));
                pending = Some(arrival);
                if sleep_or_stop(&running, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn recover(
    manager: &SourceManager,
    running: &RunningSource,
    connector: Option<&mut (dyn Source + 'static)>,
) -> Result<(), crate::error::IngestError> {
    let (offsets, receipts) = recovery::offsets(&manager.ctx, &running.def.id).await?;
    running
        .stats
        .recovered(offsets.iter().map(|(k, (o, d))| (k.clone(), *o, d.clone())));
    *running.receipts.lock().expect("receipts lock") = receipts;
    if let Some(connector) = connector {
        connector.resume(&offsets);
    }
    let mut pipeline = running.pipeline.lock().await;
    let window = pipeline.options().dedup_window;
    let def = manager
        .db
        .table(pipeline.target())
        .map(|t| t.table().def().clone());
    if let (Some(def), Some(dedup)) = (def, pipeline.dedup_mut()) {
        let n = recovery::dedup_keys(&manager.ctx, &def, dedup, window).await?;
        info!(source = %running.def.name, keys = n, "dedup keys recovered from the table");
    }
    Ok(())
}

/// Sleeps `d` unless stopped first; returns whether stopped.
async fn sleep_or_stop(running: &RunningSource, d: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => running.stop.is_stopped(),
        () = running.stop.wait() => true,
    }
}

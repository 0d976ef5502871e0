//! An HTTP push into a source: the body is one arrival, acknowledged (with its counts) only
//! once its rows, dead letters and receipt are durable. A push with an `Idempotency-Key`
//! already landed within 24 hours gets the first answer again and adds nothing, also after a
//! restart (receipts are rows of `oxbow.source_offsets`, written with the push's rows).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use oxbow_catalog::ObjectName;

use super::SourceManager;
use crate::error::IngestError;
use crate::formats::source_format::SourceFormat;
use crate::pipeline::BatchOutcome;

/// What a push came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushOutcome {
    pub outcome: BatchOutcome,
    /// The `Idempotency-Key` had been applied before; nothing was added now.
    pub replayed: bool,
}

impl SourceManager {
    /// Pushes `body` into the HTTP source `name`.
    pub async fn push(
        self: &Arc<Self>,
        name: &ObjectName,
        body: Bytes,
        content_type: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<PushOutcome, IngestError> {
        let running = self
            .get(name)
            .filter(|r| r.def.connector == "http")
            .ok_or_else(|| IngestError::SourceNotFound(name.to_string()))?;
        if running.is_paused() {
            return Err(IngestError::Connector(format!("source {name} is paused")));
        }
        if self.db.hot_tier_full() {
            return Err(IngestError::HotTierFull);
        }
        while !running.ready.load(Ordering::Acquire) {
            let ready = running.ready_wake.notified();
            if running.ready.load(Ordering::Acquire) {
                break;
            }
            ready.await;
        }
        let format = content_type.and_then(SourceFormat::from_content_type);
        // The stages run one push at a time (dedup keys, positions); the write does not, so
        // concurrent pushes share the WAL's group commit.
        let mut pipeline = running.pipeline.lock().await;
        if let Some(key) = idempotency_key {
            if let Some((first, _)) = running.receipts.lock().expect("receipts lock").get(key) {
                return Ok(PushOutcome {
                    outcome: *first,
                    replayed: true,
                });
            }
            if !running
                .in_flight
                .lock()
                .expect("in-flight lock")
                .insert(key.to_string())
            {
                return Err(IngestError::Connector(format!(
                    "a push with Idempotency-Key {key} is in progress; retry when it has answered"
                )));
            }
        }
        let prepared = pipeline
            .prepare(
                crate::pipeline::Payload::Bytes(body),
                format.as_ref(),
                Vec::new(),
                idempotency_key,
            )
            .await;
        drop(pipeline);
        let outcome = match prepared {
            Ok(prepared) => {
                let (keys, arrival) = (prepared.dedup_keys.clone(), prepared.arrival);
                let landed = prepared.land(&self.db).await;
                if landed.is_err() {
                    running.pipeline.lock().await.abort(&keys, arrival);
                }
                landed
            }
            Err(e) => Err(e),
        };
        if let Some(key) = idempotency_key {
            if let Ok(outcome) = &outcome {
                let now = super::recovery::now_us();
                let mut receipts = running.receipts.lock().expect("receipts lock");
                receipts.insert(key.to_string(), (*outcome, now));
                // Keys older than the TTL are forgotten, so memory stays bounded by the
                // pushes of one TTL.
                if receipts.len().is_multiple_of(1024) {
                    let cutoff = now - super::recovery::RECEIPT_TTL.as_micros() as i64;
                    receipts.retain(|_, (_, at)| *at >= cutoff);
                }
            }
            running
                .in_flight
                .lock()
                .expect("in-flight lock")
                .remove(key);
        }
        match outcome {
            Ok(outcome) => {
                running.stats.landed(&outcome, &[], None);
                Ok(PushOutcome {
                    outcome,
                    replayed: false,
                })
            }
            Err(e) => {
                running.stats.note_error(e.to_string());
                Err(e)
            }
        }
    }
}

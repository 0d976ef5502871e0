//! Time travel on a [`Table`]'s Delta tier: its history (`DESCRIBE HISTORY`), reading an older
//! version (`VERSION AS OF n`, `TIMESTAMP AS OF t`) and `RESTORE`.
//!
//! A version is a Delta commit, and its time is the `timestamp` of the commit's `commitInfo`
//! action, which deltalake writes when Oxbow commits. File modification times are not used:
//! copying or restoring a table's directory changes them, the commit record does not.
//!
//! Reading an older version reads the lake only: rows still in the hot tier were written after
//! every Delta version, so no older version holds them.
//!
//! `RESTORE` first flushes, so that every row written before it is in a Delta version; it then
//! commits the version's files back as the newest version (deltalake's restore), under the
//! write lock like every other commit. Rows written after that flush are newer than the
//! restore and stay. The table's `txn` (the flush watermark) is not part of a version's files
//! and keeps its newest value, so the handoff of later rows is unchanged. Refused (0A000): a
//! keyed table (its key index would need rebuilding) and a version with other columns than the
//! table has now (the catalog is the authority on columns).

use std::sync::Arc;

use deltalake::DeltaTable;
use serde_json::Value;
use tracing::{info, instrument};

use super::{Table, run_detached};
use crate::{Error, Result};

/// One commit of a table's Delta log, as `DESCRIBE HISTORY` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub version: u64,
    /// Milliseconds since the epoch, from the commit's `commitInfo`.
    pub timestamp_ms: Option<i64>,
    pub operation: Option<String>,
    /// JSON objects, as Delta keeps them.
    pub parameters: Option<String>,
    pub metrics: Option<String>,
    pub read_version: Option<i64>,
    pub blind_append: Option<bool>,
    pub engine_info: Option<String>,
}

/// What `RESTORE` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreOutcome {
    /// The version the restore committed.
    pub version: u64,
    pub files_removed: usize,
    pub files_restored: usize,
}

impl Table {
    /// The newest Delta version (`None` before the first commit, which `CREATE TABLE` makes).
    pub fn latest_version(&self) -> Option<u64> {
        self.current_delta().version()
    }

    /// The table's commits, newest first, at most `limit` of them. Versions whose log entry
    /// has been cleaned up end the list.
    #[instrument(skip_all, fields(table = %self.def().name))]
    pub async fn history(&self, limit: Option<usize>) -> Result<Vec<HistoryEntry>> {
        let delta = self.current_delta();
        let Some(latest) = delta.version() else {
            return Ok(Vec::new());
        };
        let log = delta.log_store();
        let mut entries = Vec::new();
        for version in (0..=latest).rev().take(limit.unwrap_or(usize::MAX)) {
            let bytes = log
                .read_commit_entry(version)
                .await
                .map_err(|e| Error::delta(&self.def().name, e))?;
            let Some(bytes) = bytes else {
                break;
            };
            entries.push(history_entry(version, &bytes));
        }
        Ok(entries)
    }

    /// The newest version committed at or before `timestamp_ms`.
    pub async fn version_at(&self, timestamp_ms: i64) -> Result<u64> {
        let history = self.history(None).await?;
        history
            .iter()
            .find(|e| e.timestamp_ms.is_some_and(|t| t <= timestamp_ms))
            .map(|e| e.version)
            .ok_or_else(|| Error::NoSuchVersion {
                table: self.def().name.to_string(),
                wanted: format!(
                    "a version at or before {}",
                    chrono::DateTime::from_timestamp_millis(timestamp_ms)
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_else(|| timestamp_ms.to_string())
                ),
                oldest: history
                    .last()
                    .and_then(|e| e.timestamp_ms)
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .map(|t| format!("the oldest commit kept is at {}", t.to_rfc3339()))
                    .unwrap_or_else(|| "no commit times are recorded".into()),
            })
    }

    /// The Delta table as it was at `version`.
    pub async fn delta_at(&self, version: u64) -> Result<DeltaTable> {
        let mut delta = self.current_delta();
        let latest = delta.version().unwrap_or(0);
        if version > latest {
            return Err(Error::NoSuchVersion {
                table: self.def().name.to_string(),
                wanted: format!("version {version}"),
                oldest: format!("the newest version is {latest}"),
            });
        }
        delta
            .load_version(version)
            .await
            .map_err(|e| Error::delta(&self.def().name, e))?;
        Ok(delta)
    }

    /// Makes `version` the table's newest state (see the module's notes).
    #[instrument(skip_all, fields(table = %self.def().name))]
    pub async fn restore(self: &Arc<Self>, version: u64) -> Result<RestoreOutcome> {
        if self.is_keyed() {
            return Err(Error::Unsupported(
                "RESTORE of a table with a PRIMARY KEY (its key index is not rebuilt yet)".into(),
            ));
        }
        let target = self.delta_at(version).await?;
        let table = Arc::clone(self);
        run_detached("RESTORE", async move {
            let _guard = table.write_lock.lock().await;
            table.check_not_dropped()?;
            table.flush_locked().await?;
            let base = table.current_delta();
            let columns = |d: &DeltaTable| -> Result<Vec<String>> {
                let snapshot = d
                    .snapshot()
                    .map_err(|e| Error::delta(&table.def().name, e))?;
                Ok(snapshot
                    .schema()
                    .fields()
                    .map(|f| f.name().to_string())
                    .collect())
            };
            if columns(&target)? != columns(&base)? {
                return Err(Error::Unsupported(format!(
                    "RESTORE to version {version}, whose columns differ from the table's now"
                )));
            }
            let (delta, metrics) = match base
                .clone()
                .restore()
                .with_version_to_restore(version)
                .await
            {
                Ok(done) => done,
                Err(e) => {
                    let error = Error::delta(&table.def().name, e);
                    table.refresh_after_error(&base, &error).await;
                    return Err(error);
                }
            };
            table.sync(&delta).await?;
            let now = delta.version().unwrap_or(0);
            table.state.write().expect("table state lock").delta = delta;
            info!(version, now, "restored the table's Delta tier");
            Ok(RestoreOutcome {
                version: now,
                files_removed: metrics.num_removed_file,
                files_restored: metrics.num_restored_file,
            })
        })
        .await
    }
}

/// The `commitInfo` of one commit file (newline-delimited JSON actions).
fn history_entry(version: u64, bytes: &[u8]) -> HistoryEntry {
    let info = bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| serde_json::from_slice::<Value>(line).ok())
        .find_map(|action| action.get("commitInfo").cloned())
        .unwrap_or(Value::Null);
    let text = |key: &str| info.get(key).and_then(Value::as_str).map(str::to_string);
    let json = |key: &str| info.get(key).filter(|v| !v.is_null()).map(Value::to_string);
    HistoryEntry {
        version,
        timestamp_ms: info
            .get("inCommitTimestamp")
            .or_else(|| info.get("timestamp"))
            .and_then(Value::as_i64),
        operation: text("operation"),
        parameters: json("operationParameters"),
        metrics: json("operationMetrics"),
        read_version: info.get("readVersion").and_then(Value::as_i64),
        blind_append: info.get("isBlindAppend").and_then(Value::as_bool),
        engine_info: text("engineInfo"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_files_commit_info_is_read() {
        let commit = br#"{"add":{"path":"a.parquet"}}
{"commitInfo":{"timestamp":1764000000000,"operation":"WRITE","operationParameters":{"mode":"Append"},"readVersion":3,"isBlindAppend":true,"engineInfo":"delta-rs:1.1","operationMetrics":{"num_added_files":1}}}
"#;
        let entry = history_entry(4, commit);
        assert_eq!(entry.version, 4);
        assert_eq!(entry.timestamp_ms, Some(1764000000000));
        assert_eq!(entry.operation.as_deref(), Some("WRITE"));
        assert_eq!(entry.parameters.as_deref(), Some(r#"{"mode":"Append"}"#));
        assert_eq!(entry.read_version, Some(3));
        assert_eq!(entry.blind_append, Some(true));
        assert!(entry.metrics.unwrap().contains("num_added_files"));
        // A commit without commitInfo still has its version.
        let bare = history_entry(0, br#"{"protocol":{}}"#);
        assert_eq!((bare.version, bare.operation), (0, None));
    }
}

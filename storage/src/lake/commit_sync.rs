//! Makes a Delta commit durable on a local lake, which object_store's local store does not.
//!
//! Only a flush's commit is synced, and only that version's file, the files it adds and their
//! parent directories: not earlier versions, DELETE/UPDATE/CREATE commits, nor the table
//! directory's own entry (review D5).

use deltalake::DeltaTable;

use crate::{Error, Result};

/// Makes a flush's files durable on a local lake before the WAL segments holding the same rows
/// may be deleted: object_store's local store does not fsync, and after a power loss the
/// page cache, unlike after a `kill -9`, is gone. (Object stores such as S3 are durable once
/// a put returns.) Syncs the commit file, the Parquet files it adds, and their directories.
pub(crate) async fn sync_commit(delta: &DeltaTable) -> Result<()> {
    let url = delta.table_url().clone();
    if url.scheme() != "file" {
        return Ok(());
    }
    let Some(version) = delta.version() else {
        return Ok(());
    };
    let Ok(root) = url.to_file_path() else {
        return Ok(());
    };
    tokio::task::spawn_blocking(move || -> Result<()> {
        let log_dir = root.join("_delta_log");
        let commit = log_dir.join(format!("{version:020}.json"));
        let text = std::fs::read_to_string(&commit).map_err(|source| Error::Io {
            path: commit.display().to_string(),
            source,
        })?;
        let mut paths = vec![commit];
        for line in text.lines() {
            let Ok(action) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if let Some(path) = action.pointer("/add/path").and_then(|p| p.as_str()) {
                let decoded = percent_decode(path);
                paths.push(root.join(decoded));
            }
        }
        let mut dirs: Vec<std::path::PathBuf> = paths
            .iter()
            .filter_map(|p| p.parent().map(|d| d.to_path_buf()))
            .collect();
        dirs.sort();
        dirs.dedup();
        for path in paths.iter().chain(dirs.iter()) {
            std::fs::File::open(path)
                .and_then(|f| f.sync_all())
                .map_err(|source| Error::Io {
                    path: path.display().to_string(),
                    source,
                })?;
        }
        Ok(())
    })
    .await
    .map_err(|e| Error::Wal(format!("sync task failed: {e}")))?
}

/// Delta stores `add.path` percent-encoded (a URI path).
fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&path[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

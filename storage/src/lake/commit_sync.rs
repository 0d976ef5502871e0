//! Makes Delta commits durable on a local lake, which object_store's local store does not.
//!
//! Every commit Oxbow makes (CREATE's first version, a flush, DELETE, UPDATE, TRUNCATE) goes
//! through [`sync_commits`] before it is acknowledged or installed: the WAL segments holding a
//! flush's rows are deleted on the strength of it, and a DELETE must not come back after a
//! power loss. (Object stores such as S3 are durable once a put returns.)
//!
//! Per table, the caller keeps the last version it synced, so that a version that was never
//! synced (its commit returned an error, or a reload found versions written behind this
//! handle's back) is synced by the next call rather than forgotten.

use std::path::Path;

use deltalake::DeltaTable;
use tracing::error;

use crate::{Error, Result};

/// Makes every version of `delta` above `synced` durable: each version's commit file, the data
/// files it adds, and the directories that hold them (so their new entries survive too).
/// With `synced = None` (the first sync of a freshly created or opened table) only the loaded
/// version is synced, and the directory chain from the table up to `lake_dir` as well, since
/// CREATE has just made those directories (after a crash, only the newest version can be
/// unsynced: each commit is synced before the next one is made).
///
/// Returns the version now synced. Not being able to read a file is an error; an fsync that
/// fails aborts the process, as the WAL does: after a failed fsync the kernel may have dropped
/// the dirty pages, so retrying could report success for data that is gone.
pub(crate) async fn sync_commits(
    delta: &DeltaTable,
    lake_dir: Option<&Path>,
    synced: Option<u64>,
) -> Result<Option<u64>> {
    let url = delta.table_url().clone();
    let Some(version) = delta.version() else {
        return Ok(synced);
    };
    if url.scheme() != "file" || synced.is_some_and(|s| s >= version) {
        return Ok(Some(version));
    }
    let Ok(root) = url.to_file_path() else {
        return Ok(Some(version));
    };
    let first = synced.map_or(version, |s| s + 1);
    let chain_to = synced
        .is_none()
        .then(|| lake_dir.map(Path::to_path_buf))
        .flatten();
    tokio::task::spawn_blocking(move || sync_versions(&root, first, version, chain_to.as_deref()))
        .await
        .map_err(|e| Error::Io {
            path: format!("{}", url),
            source: std::io::Error::other(format!("sync task failed: {e}")),
        })??;
    Ok(Some(version))
}

/// The blocking part of [`sync_commits`]: versions `first..=last` of the table at `root`.
fn sync_versions(root: &Path, first: u64, last: u64, chain_to: Option<&Path>) -> Result<()> {
    let log_dir = root.join("_delta_log");
    let mut files = Vec::new();
    let mut dirs = vec![log_dir.clone(), root.to_path_buf()];
    for version in first..=last {
        let commit = log_dir.join(format!("{version:020}.json"));
        let text = match std::fs::read_to_string(&commit) {
            Ok(text) => text,
            // Removed by log cleanup (versions older than the log retention): long durable.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && version < last => continue,
            Err(source) => {
                return Err(Error::Io {
                    path: commit.display().to_string(),
                    source,
                });
            }
        };
        for line in text.lines() {
            let Ok(action) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Some(path) = action.pointer("/add/path").and_then(|p| p.as_str()) else {
                continue;
            };
            // An absolute URI points outside the table; Oxbow writes relative paths only.
            if path.contains("://") {
                continue;
            }
            let file = root.join(percent_decode(path));
            // Partition directories between the file and the table are new entries too.
            let mut dir = file.parent();
            while let Some(d) = dir {
                if !d.starts_with(root) || d == root {
                    break;
                }
                dirs.push(d.to_path_buf());
                dir = d.parent();
            }
            files.push(file);
        }
        files.push(commit);
    }
    if let Some(lake_dir) = chain_to {
        let mut dir = root.parent();
        while let Some(d) = dir {
            if !d.starts_with(lake_dir) {
                break;
            }
            dirs.push(d.to_path_buf());
            dir = d.parent();
        }
    }
    // Deepest first, so that a directory is synced after the entries below it exist on disk.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    dirs.dedup();
    for path in files.iter().chain(dirs.iter()) {
        fsync(path)?;
    }
    Ok(())
}

/// Opens and fsyncs one file or directory; aborts the process if the fsync itself fails.
fn fsync(path: &Path) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    if let Err(e) = file.sync_all() {
        error!(path = %path.display(), error = %e, "fsync of a Delta commit failed; aborting (a failed fsync is never retried)");
        std::process::abort();
    }
    Ok(())
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

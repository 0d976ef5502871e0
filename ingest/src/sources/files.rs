//! `FILES (path = '/data/clicks/' | 's3://bucket/clicks/', pattern = '*.ndjson')`: every file
//! under a local directory or an object-store prefix, picked up continuously.
//!
//! Exactly once: each file's position (bytes landed, its size) is recorded with its rows, so
//! after a restart a finished file is skipped and a half-landed one continues where its last
//! landed chunk ended. A file that grows later (NDJSON appended to) continues from there too.
//!
//! A file still being written is not read half: a file is read only once it has not been
//! modified for `settle` (default 2 s), and names ending in `.tmp`, `.part` or `.crdownload`
//! or starting with `.` or `_` are never read (write them under such a name and rename when
//! done, the usual way). NDJSON and CSV files are landed in chunks of about 8 MiB (each one
//! WAL transaction; a CSV chunk gets the header again); a JSON array or a Parquet file is
//! one chunk. A file that cannot be read at all becomes one dead letter with the reason and
//! is marked done; the source goes on.
//!
//! Local paths must be under a root the operator allowed (`--allow-file-root`); object-store
//! URLs use the same credentials as the lake (`AWS_*`).

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::options::ConnectorOptions;
use super::{Arrival, Offsets, Source};
use crate::error::IngestError;
use crate::formats::source_format::SourceFormat;
use crate::pipeline::{Payload, Position};

const OPTIONS: &[&str] = &["path", "pattern", "settle", "poll_interval"];
/// NDJSON and CSV files are landed in chunks of about this many bytes.
const CHUNK_BYTES: usize = 8 * 1024 * 1024;

/// Where a files source may read: the operator's `--allow-file-root` directories (local
/// paths) and the lake's object-store credentials.
#[derive(Debug, Clone, Default)]
pub struct FileAccess {
    pub allowed_roots: Vec<PathBuf>,
    pub storage_options: HashMap<String, String>,
}

pub struct FilesSource {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    pattern: glob::Pattern,
    settle: Duration,
    poll: Duration,
    format: SourceFormat,
    /// Per file (relative name): bytes landed so far, and its size then.
    positions: HashMap<String, (i64, i64)>,
    /// The file being landed: name, contents, next byte.
    current: Option<(String, Bytes, usize)>,
    waiting: usize,
}

impl std::fmt::Debug for FilesSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilesSource")
            .field("prefix", &self.prefix)
            .field("pattern", &self.pattern.as_str())
            .finish_non_exhaustive()
    }
}

impl FilesSource {
    pub fn new(
        options: &std::collections::BTreeMap<String, String>,
        format: SourceFormat,
        access: &FileAccess,
    ) -> Result<Self, IngestError> {
        let mut o = ConnectorOptions::new("FILES", options, OPTIONS);
        let path = o.required("path")?;
        let pattern = o.text("pattern").unwrap_or_else(|| "*".into());
        let settle = o.duration("settle")?.unwrap_or(Duration::from_secs(2));
        let poll = o
            .duration("poll_interval")?
            .unwrap_or(Duration::from_secs(1));
        o.finish()?;
        let pattern = glob::Pattern::new(&pattern).map_err(|e| {
            IngestError::invalid_option("pattern", &pattern, &format!("a glob ({e})"))
        })?;
        let (store, prefix) = open_store(&path, access)?;
        Ok(Self {
            store,
            prefix,
            pattern,
            settle,
            poll: poll.max(Duration::from_millis(50)),
            format,
            positions: HashMap::new(),
            current: None,
            waiting: 0,
        })
    }

    /// The next file to read: settled, matching, not ignored, not fully landed; oldest first.
    async fn pick(&mut self) -> Result<Option<(String, i64)>, IngestError> {
        let listed: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(|e| IngestError::Connector(format!("cannot list {}: {e}", self.prefix)))?;
        let settled_before = chrono::Utc::now()
            - chrono::Duration::from_std(self.settle).unwrap_or(chrono::Duration::zero());
        let mut candidates: Vec<(chrono::DateTime<chrono::Utc>, String, i64)> = Vec::new();
        for meta in listed {
            let name = relative(&self.prefix, &meta.location);
            let file_name = name.rsplit('/').next().unwrap_or(&name);
            if ignored(file_name) || !self.pattern.matches(file_name) {
                continue;
            }
            let size = meta.size as i64;
            let landed = self.positions.get(&name).map_or(0, |p| p.0);
            if landed >= size && self.positions.contains_key(&name) {
                continue;
            }
            if meta.last_modified > settled_before {
                continue;
            }
            candidates.push((meta.last_modified, name, size));
        }
        candidates.sort();
        // Files waiting after the one picked now.
        self.waiting = candidates.len().saturating_sub(1);
        Ok(candidates
            .into_iter()
            .next()
            .map(|(_, name, size)| (name, size)))
    }

    /// The next chunk of the current file, from byte `at`: its bytes and where it ends.
    fn chunk(&self, data: &Bytes, at: usize) -> (Bytes, usize) {
        let whole = (data.slice(..), data.len());
        match &self.format {
            SourceFormat::Parquet | SourceFormat::Avro(_) => whole,
            SourceFormat::Json => {
                let first = data.iter().find(|b| !b.is_ascii_whitespace());
                if first == Some(&b'[') {
                    return whole;
                }
                let end = line_boundary(data, at, CHUNK_BYTES);
                (data.slice(at..end), end)
            }
            SourceFormat::Csv(_) => {
                let header_end = data
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(data.len(), |p| p + 1);
                let start = at.max(header_end);
                let end = line_boundary(data, start, CHUNK_BYTES);
                let mut chunk = Vec::with_capacity(header_end + end - start);
                chunk.extend_from_slice(&data[..header_end]);
                chunk.extend_from_slice(&data[start..end]);
                (Bytes::from(chunk), end)
            }
        }
    }
}

#[async_trait]
impl Source for FilesSource {
    fn resume(&mut self, offsets: &Offsets) {
        for (key, (offset, detail)) in offsets {
            let size = detail
                .as_deref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .and_then(|v| v.get("size").and_then(|s| s.as_i64()))
                .unwrap_or(*offset);
            self.positions.insert(key.clone(), (*offset, size));
        }
    }

    async fn next(&mut self) -> Result<Option<Arrival>, IngestError> {
        loop {
            if self.current.is_none() {
                match self.pick().await? {
                    Some((name, size)) => {
                        let location = if self.prefix.as_ref().is_empty() {
                            Path::from(name.as_str())
                        } else {
                            Path::from(format!("{}/{name}", self.prefix))
                        };
                        let data = self
                            .store
                            .get(&location)
                            .await
                            .map_err(|e| {
                                IngestError::Connector(format!("cannot read {name}: {e}"))
                            })?
                            .bytes()
                            .await
                            .map_err(|e| {
                                IngestError::Connector(format!("cannot read {name}: {e}"))
                            })?;
                        let landed = self.positions.get(&name).map_or(0, |p| p.0);
                        // Only line-oriented files can continue mid-way.
                        let from = match self.format {
                            SourceFormat::Parquet | SourceFormat::Avro(_) => 0,
                            _ if landed as usize > data.len() => 0,
                            _ => landed as usize,
                        };
                        let _ = size;
                        self.current = Some((name, data, from));
                    }
                    None => {
                        tokio::time::sleep(self.poll).await;
                        continue;
                    }
                }
            }
            let (name, data, at) = self.current.clone().expect("set above");
            let (chunk, end) = self.chunk(&data, at);
            let size = data.len() as i64;
            if end >= data.len() {
                self.current = None;
            } else {
                self.current = Some((name.clone(), data, end));
            }
            self.positions.insert(name.clone(), (end as i64, size));
            return Ok(Some(Arrival {
                payload: Payload::Bytes(chunk),
                format: None,
                positions: vec![Position {
                    key: name.clone(),
                    offset: end as i64,
                    detail: Some(format!("{{\"size\":{size}}}")),
                }],
                label: format!("file {name} bytes {at}..{end}"),
            }));
        }
    }

    fn lag(&self) -> Option<i64> {
        Some(self.waiting as i64)
    }
}

/// The end of the chunk starting at `at`: the first line end at or after `at + max`, or the
/// end of the data.
fn line_boundary(data: &[u8], at: usize, max: usize) -> usize {
    if data.len() - at <= max {
        return data.len();
    }
    match data[at + max..].iter().position(|&b| b == b'\n') {
        Some(p) => at + max + p + 1,
        None => data.len(),
    }
}

/// Names a writer uses while a file is not complete.
fn ignored(file_name: &str) -> bool {
    file_name.starts_with('.')
        || file_name.starts_with('_')
        || [".tmp", ".part", ".crdownload", ".swp"]
            .iter()
            .any(|s| file_name.ends_with(s))
}

fn relative(prefix: &Path, location: &Path) -> String {
    let prefix = prefix.as_ref();
    let location = location.as_ref();
    location
        .strip_prefix(prefix)
        .map(|s| s.trim_start_matches('/').to_string())
        .unwrap_or_else(|| location.to_string())
}

fn open_store(
    path: &str,
    access: &FileAccess,
) -> Result<(Arc<dyn ObjectStore>, Path), IngestError> {
    if path.contains("://") && !path.starts_with("file://") {
        let url = url::Url::parse(path)
            .map_err(|e| IngestError::invalid_option("path", path, &format!("a URL ({e})")))?;
        let (store, prefix) = object_store::parse_url_opts(&url, access.storage_options.iter())
            .map_err(|e| IngestError::Connector(format!("cannot open {path}: {e}")))?;
        return Ok((Arc::from(store), prefix));
    }
    let local = path.strip_prefix("file://").unwrap_or(path);
    let dir = FsPath::new(local);
    if !dir.is_absolute() {
        return Err(IngestError::invalid_option(
            "path",
            path,
            "an absolute path or a URL",
        ));
    }
    let dir = dir
        .canonicalize()
        .map_err(|e| IngestError::Connector(format!("cannot open directory {path}: {e}")))?;
    let allowed = access.allowed_roots.iter().any(|root| {
        root.canonicalize()
            .map(|root| dir.starts_with(root))
            .unwrap_or(false)
    });
    if !allowed {
        return Err(IngestError::PathNotAllowed { path: path.into() });
    }
    let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
        .map_err(|e| IngestError::Connector(format!("cannot open directory {path}: {e}")))?;
    Ok((Arc::new(store), Path::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_being_written_are_ignored_and_chunks_end_at_lines() {
        assert!(ignored("a.ndjson.tmp"));
        assert!(ignored(".hidden"));
        assert!(!ignored("a.ndjson"));
        let data = b"aaaa\nbbbb\ncccc\n";
        assert_eq!(line_boundary(data, 0, 6), 10);
        assert_eq!(line_boundary(data, 10, 6), data.len());
    }

    #[test]
    fn local_paths_must_be_under_an_allowed_root() {
        let root = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let access = FileAccess {
            allowed_roots: vec![root.path().to_path_buf()],
            ..FileAccess::default()
        };
        let options = |p: &FsPath| {
            std::collections::BTreeMap::from([("path".to_string(), p.display().to_string())])
        };
        assert!(FilesSource::new(&options(root.path()), SourceFormat::Json, &access).is_ok());
        assert!(matches!(
            FilesSource::new(&options(other.path()), SourceFormat::Json, &access),
            Err(IngestError::PathNotAllowed { .. })
        ));
        let escape = root
            .path()
            .join("..")
            .join(other.path().file_name().unwrap());
        assert!(matches!(
            FilesSource::new(&options(&escape), SourceFormat::Json, &access),
            Err(IngestError::PathNotAllowed { .. })
        ));
    }
}

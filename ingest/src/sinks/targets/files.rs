//! `INTO FILES (path = '/dir' | 's3://bucket/prefix')`: one file per batch, named
//! `<sink id>-<first>-<last>.<ext>` (positions zero-padded to 20 digits so names sort).
//!
//! A file is complete before it is visible: on a local directory it is written under a
//! temporary name (`.<name>.tmp`), fsynced, renamed and the directory fsynced; on an object
//! store it is one put, which is atomic. A batch written again after a crash has the same name
//! and replaces itself. The position the directory holds is the highest `<last>` among this
//! sink's files.
//!
//! Local directories must be under a `--allow-file-root`, as for FILES sources.

use std::collections::BTreeMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::SinkTarget;
use crate::error::IngestError;
use crate::sinks::options::{SinkFormat, check_target_options};
use crate::sources::files::FileAccess;

enum Place {
    Local(PathBuf),
    Store(Arc<dyn ObjectStore>, Path),
}

pub struct FilesTarget {
    place: Place,
    sink_id: String,
    format: SinkFormat,
}

impl FilesTarget {
    /// Checks the options and the path (local paths: under an allowed root; the directory is
    /// created if missing).
    pub fn open(
        options: &BTreeMap<String, String>,
        format: SinkFormat,
        sink_id: &str,
        access: &FileAccess,
    ) -> Result<Self, IngestError> {
        check_target_options("files", options, &["path"], &[])?;
        let path = &options["path"];
        let place = if path.contains("://") && !path.starts_with("file://") {
            let url = url::Url::parse(path)
                .map_err(|e| IngestError::invalid_option("path", path, &format!("a URL ({e})")))?;
            let (store, prefix) = object_store::parse_url_opts(&url, access.storage_options.iter())
                .map_err(|e| IngestError::Connector(format!("cannot open {path}: {e}")))?;
            Place::Store(Arc::from(store), prefix)
        } else {
            Place::Local(local_dir(path, access)?)
        };
        Ok(Self {
            place,
            sink_id: sink_id.to_string(),
            format,
        })
    }

    fn file_name(&self, first: u64, last: u64) -> String {
        format!(
            "{}-{first:020}-{last:020}.{}",
            self.sink_id,
            self.format.extension()
        )
    }

    /// The `<last>` of a file name of this sink.
    fn last_of(&self, name: &str) -> Option<u64> {
        let rest = name.strip_prefix(&self.sink_id)?.strip_prefix('-')?;
        let rest = rest
            .strip_suffix(self.format.extension())?
            .strip_suffix('.')?;
        let (first, last) = rest.split_once('-')?;
        first.parse::<u64>().ok()?;
        last.parse().ok()
    }
}

/// The local directory `path` (a FILES path or a DELTA location), which must be absolute and
/// under an allowed root; created if missing.
pub(crate) fn local_dir(path: &str, access: &FileAccess) -> Result<PathBuf, IngestError> {
    let local = path.strip_prefix("file://").unwrap_or(path);
    let dir = FsPath::new(local);
    if !dir.is_absolute()
        || dir
            .components()
            .any(|c| c == std::path::Component::ParentDir)
    {
        return Err(IngestError::invalid_option(
            "path",
            path,
            "an absolute path without '..', or a URL",
        ));
    }
    let under_root = |dir: &FsPath| {
        access.allowed_roots.iter().any(|root| {
            root.canonicalize()
                .map(|root| dir.starts_with(root))
                .unwrap_or(false)
        })
    };
    // Checked before the directory is created, and again once symbolic links are resolved.
    let lexical = access
        .allowed_roots
        .iter()
        .any(|root| dir.starts_with(root))
        || under_root(dir);
    if !lexical {
        return Err(IngestError::PathNotAllowed { path: path.into() });
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| IngestError::Connector(format!("cannot create directory {path}: {e}")))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| IngestError::Connector(format!("cannot open directory {path}: {e}")))?;
    if !under_root(&dir) {
        return Err(IngestError::PathNotAllowed { path: path.into() });
    }
    Ok(dir)
}

/// `batches` in `format`.
pub fn encode(format: SinkFormat, batches: &[RecordBatch]) -> Result<Vec<u8>, IngestError> {
    let mut out = Vec::new();
    match format {
        SinkFormat::Json => {
            let mut writer = arrow_json::LineDelimitedWriter::new(&mut out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        SinkFormat::Csv => {
            let mut writer = arrow_csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            for batch in batches {
                writer.write(batch)?;
            }
        }
        SinkFormat::Parquet => {
            let Some(first) = batches.first() else {
                return Ok(out);
            };
            let mut writer =
                datafusion::parquet::arrow::ArrowWriter::try_new(&mut out, first.schema(), None)
                    .map_err(|e| IngestError::Connector(format!("parquet: {e}")))?;
            for batch in batches {
                writer
                    .write(batch)
                    .map_err(|e| IngestError::Connector(format!("parquet: {e}")))?;
            }
            writer
                .close()
                .map_err(|e| IngestError::Connector(format!("parquet: {e}")))?;
        }
    }
    Ok(out)
}

#[async_trait]
impl SinkTarget for FilesTarget {
    async fn committed_position(&mut self) -> Result<Option<u64>, IngestError> {
        let names: Vec<String> = match &self.place {
            Place::Local(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || -> std::io::Result<Vec<String>> {
                    let mut names = Vec::new();
                    for entry in std::fs::read_dir(&dir)? {
                        names.push(entry?.file_name().to_string_lossy().into_owned());
                    }
                    Ok(names)
                })
                .await
                .map_err(|e| IngestError::Connector(format!("listing task failed: {e}")))?
                .map_err(|e| {
                    IngestError::Connector(format!("cannot list the sink's directory: {e}"))
                })?
            }
            Place::Store(store, prefix) => store
                .list(Some(prefix))
                .map_ok(|meta| meta.location.filename().unwrap_or_default().to_string())
                .try_collect()
                .await
                .map_err(|e| {
                    IngestError::Connector(format!("cannot list the sink's files: {e}"))
                })?,
        };
        Ok(names.iter().filter_map(|n| self.last_of(n)).max())
    }

    async fn write(
        &mut self,
        batches: Vec<RecordBatch>,
        first: u64,
        last: u64,
    ) -> Result<u64, IngestError> {
        let format = self.format;
        let name = self.file_name(first, last);
        let bytes = tokio::task::spawn_blocking(move || encode(format, &batches))
            .await
            .map_err(|e| IngestError::Connector(format!("encoding task failed: {e}")))??;
        let len = bytes.len() as u64;
        match &self.place {
            Place::Local(dir) => {
                let dir = dir.clone();
                tokio::task::spawn_blocking(move || write_whole(&dir, &name, &bytes))
                    .await
                    .map_err(|e| IngestError::Connector(format!("writing task failed: {e}")))?
                    .map_err(|e| {
                        IngestError::Connector(format!("cannot write the sink's file: {e}"))
                    })?;
            }
            Place::Store(store, prefix) => {
                store
                    .put(&prefix.clone().join(name.as_str()), bytes.into())
                    .await
                    .map_err(|e| {
                        IngestError::Connector(format!("cannot put the sink's file: {e}"))
                    })?;
            }
        }
        Ok(len)
    }
}

/// Writes `dir/name` so that it appears whole or not at all, and durably.
fn write_whole(dir: &FsPath, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let temp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_position_is_the_highest_last_of_this_sinks_files() {
        let root = tempfile::tempdir().unwrap();
        let access = FileAccess {
            allowed_roots: vec![root.path().to_path_buf()],
            ..Default::default()
        };
        let out = root.path().join("out");
        let options = BTreeMap::from([("path".to_string(), out.display().to_string())]);
        let mut target = FilesTarget::open(&options, SinkFormat::Json, "s-1", &access).unwrap();
        assert_eq!(target.committed_position().await.unwrap(), None);
        let schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(vec![
            datafusion::arrow::datatypes::Field::new(
                "a",
                datafusion::arrow::datatypes::DataType::Int32,
                false,
            ),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![std::sync::Arc::new(
                datafusion::arrow::array::Int32Array::from(vec![1, 2]),
            )],
        )
        .unwrap();
        target.write(vec![batch.clone()], 3, 9).await.unwrap();
        target.write(vec![batch], 10, 12).await.unwrap();
        std::fs::write(
            out.join("other-00000000000000000001-00000000000000000099.json"),
            "",
        )
        .unwrap();
        assert_eq!(target.committed_position().await.unwrap(), Some(12));
        let text = std::fs::read_to_string(out.join(target.file_name(3, 9))).unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"a\":2}\n");
        let denied = BTreeMap::from([("path".to_string(), "/etc/oxbow-out".to_string())]);
        assert!(matches!(
            FilesTarget::open(&denied, SinkFormat::Json, "s-1", &access),
            Err(IngestError::PathNotAllowed { .. })
        ));
    }
}

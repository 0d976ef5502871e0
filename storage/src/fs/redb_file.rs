//! [`RedbFile`]: a [`DurableFile`] as redb's `StorageBackend`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{DurableFile, DurableFs};

/// The catalog's redb file on a [`DurableFs`]. redb calls it from several threads with `&self`;
/// a mutex orders the calls, as one file descriptor would.
pub struct RedbFile {
    path: PathBuf,
    file: Mutex<Box<dyn DurableFile>>,
}

impl std::fmt::Debug for RedbFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbFile")
            .field("path", &self.path)
            .finish()
    }
}

impl RedbFile {
    /// Opens (or creates) `path` and makes its name durable in its directory: redb fsyncs its
    /// file but never the directory that holds it.
    pub fn open(fs: &dyn DurableFs, path: &Path) -> io::Result<Self> {
        let file = fs.open_or_create(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs.sync_dir(dir)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    fn file(&self) -> std::sync::MutexGuard<'_, Box<dyn DurableFile>> {
        self.file.lock().expect("redb file lock")
    }
}

impl redb::StorageBackend for RedbFile {
    fn len(&self) -> io::Result<u64> {
        self.file().len()
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.file().read_at(offset, &mut buf)?;
        Ok(buf)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file().set_len(len)
    }

    /// `eventual` asks only for a write barrier; a full fsync is one.
    fn sync_data(&self, _eventual: bool) -> io::Result<()> {
        self.file().sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file().write_at(offset, data)
    }
}

/// Opens the catalog file at `path` with `open`, creating it whole or not at all: redb
/// initializes a new file in two fsynced steps and refuses, as invalid data, a file a crash cut
/// between them, so a server killed during its first start could never start again. A new
/// catalog is therefore made at `<path>.new`, closed, and renamed into place (the directory
/// fsynced); a `.new` file left by a crash is deleted and made again.
pub fn open_created_whole<T>(
    fs: &dyn DurableFs,
    path: &Path,
    open: impl Fn(&Path) -> crate::Result<T>,
) -> crate::Result<T> {
    use super::io_error;
    match fs.len(path) {
        Ok(_) => return open(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(io_error(path, source)),
    }
    let mut new = path.as_os_str().to_owned();
    new.push(".new");
    let new = PathBuf::from(new);
    match fs.remove_file(&new) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(io_error(&new, source)),
    }
    drop(open(&new)?);
    fs.rename(&new, path).map_err(|s| io_error(path, s))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs.sync_dir(dir).map_err(|s| io_error(dir, s))?;
    open(path)
}

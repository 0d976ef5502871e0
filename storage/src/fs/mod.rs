//! The file layer under the WAL and the catalog: the few durable-file operations they use,
//! behind a trait, so that tests can run them on a disk that loses power.
//!
//! # What this room owns
//! - [`DurableFs`] and [`DurableFile`]: create, append, write and read at an offset, cut back
//!   (`set_len`), fsync, list, read, remove, rename, and fsync of a directory (what makes a
//!   new or removed name durable).
//! - [`StdFs`]: the operating system's files through `std::fs`. One virtual call per operation
//!   is all it adds; next to a `write` or an `fsync` system call that is nothing.
//! - [`DurableFs::abort`]: what to do when an fsync fails (abort the process: the page cache
//!   can no longer be trusted), so that a simulated disk can end a simulated process instead.
//! - [`create_dir_all_durable`] and [`open_created_whole`]: a directory whose name is durable,
//!   and a catalog file that exists whole or not at all.
//! - [`RedbFile`]: a file of this layer as redb's `StorageBackend`, so that tests can run the
//!   catalog on the simulated disk. The server opens its catalog with redb's own file backend
//!   (which also locks the file against a second server); both fsync with `fdatasync`.
//! - `simulated/` (tests only): `SimulatedDisk`, which keeps, per file, what is
//!   durable apart from what is only written, and per directory, which names are durable; it
//!   can crash or lose power at a chosen operation, tear unsynced writes, and fail the Nth
//!   operation. `catalog_power_loss.rs` runs the catalog on it.
//!
//! # What it does not own
//! The lakehouse tier (object_store) does not go through this layer, so the simulated disk
//! covers the WAL and the catalog only.
//!
//! # The contract a caller can rely on (and the simulated disk keeps no more than this)
//! - Bytes written to a file are durable only after [`DurableFile::sync_data`] returned `Ok`;
//!   until then a power loss may keep none, some or all of them, in any order of sectors.
//! - A new, removed or renamed name is durable only after [`DurableFs::sync_dir`] of its
//!   directory returned `Ok`; a new directory only after its parent was synced.
//! - After a failed `sync_data` nothing about the file's unsynced bytes is known.

#[cfg(test)]
mod catalog_power_loss;
mod redb_file;
#[cfg(test)]
pub mod simulated;

pub use redb_file::{RedbFile, open_created_whole};

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use tracing::error;

use crate::Error;

/// The file operations of the WAL. Paths are absolute or relative to the process's directory,
/// as for `std::fs`.
pub trait DurableFs: Send + Sync + std::fmt::Debug + 'static {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the files in `dir` (`NotFound` if it does not exist).
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    fn len(&self, path: &Path) -> io::Result<u64>;
    /// Creates `path`, or truncates it if it exists, for writing from its start.
    fn create(&self, path: &Path) -> io::Result<Box<dyn DurableFile>>;
    /// Opens an existing file for writing at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn DurableFile>>;
    /// Opens `path` for reading and writing anywhere, creating it empty if it does not exist
    /// (the catalog's redb file, through [`RedbFile`]).
    fn open_or_create(&self, path: &Path) -> io::Result<Box<dyn DurableFile>>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Makes the names in `dir` (created, removed, renamed) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Called when continuing would be unsafe (an fsync failed, a failed write could not be
    /// cut back). [`StdFs`] aborts the process and never returns; a simulated disk ends the
    /// simulated process (every later operation of it fails) and returns, and the caller then
    /// stops as though the process had ended.
    fn abort(&self, reason: &str);
}

/// A file open for writing.
pub trait DurableFile: Send {
    /// Writes all of `buf` at the current position (the end, for a WAL segment). On error,
    /// any prefix of `buf` may have been written.
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Cuts (or extends with zeros) the file to `len` and moves the position there.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Makes the file's bytes and length durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
    fn len(&self) -> io::Result<u64>;
    /// Fills `buf` from `offset` (an error if the file is shorter).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `data` at `offset`, extending the file if needed; the position is not used.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
}

/// The operating system's files.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdFs;

impl DurableFs for StdFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn DurableFile>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)?;
        Ok(Box::new(StdFile(file)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn DurableFile>> {
        let mut file = OpenOptions::new().write(true).open(path)?;
        file.seek(SeekFrom::End(0))?;
        Ok(Box::new(StdFile(file)))
    }

    fn open_or_create(&self, path: &Path) -> io::Result<Box<dyn DurableFile>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)?;
        Ok(Box::new(StdFile(file)))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn abort(&self, reason: &str) {
        error!(reason, "aborting so that recovery replays the WAL");
        std::process::abort();
    }
}

struct StdFile(File);

impl DurableFile for StdFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)?;
        self.0.seek(SeekFrom::Start(len)).map(|_| ())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_exact_at(buf, offset)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.0.write_all_at(data, offset)
    }
}

/// Creates `dir` and its missing ancestors and makes each new name durable: a directory
/// entry that a power loss can take back would take every file under it along. `dir`'s own
/// entry is synced even if it exists: a process that created it may have died before.
pub fn create_dir_all_durable(fs: &dyn DurableFs, dir: &Path) -> crate::Result<()> {
    let mut missing = Vec::new();
    let mut cursor = Some(dir);
    while let Some(d) = cursor {
        if d.as_os_str().is_empty() {
            break;
        }
        match fs.list_dir(d) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(d),
            Err(source) => return Err(io_error(d, source)),
        }
        cursor = d.parent();
    }
    if missing.is_empty() {
        missing.push(dir);
    }
    fs.create_dir_all(dir).map_err(|s| io_error(dir, s))?;
    for d in missing.into_iter().rev() {
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent).map_err(|s| io_error(parent, s))?;
        }
    }
    Ok(())
}

/// An I/O error with the file it happened to.
pub(crate) fn io_error(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

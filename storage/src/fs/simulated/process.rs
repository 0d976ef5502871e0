//! [`SimulatedFs`]: one simulated process's file operations on a [`SimulatedDisk`].

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;

use super::{Change, Disk, Entry, FaultKind, Inode, Op, SimulatedDisk, not_found};
use crate::fs::{DurableFile, DurableFs};

/// One process's view of a [`SimulatedDisk`]: every operation fails once the process is gone.
#[derive(Debug)]
pub struct SimulatedFs {
    disk: SimulatedDisk,
    epoch: u64,
}

impl SimulatedFs {
    pub(super) fn new(disk: SimulatedDisk, epoch: u64) -> Self {
        Self { disk, epoch }
    }

    fn begin(&self, op: Op, path: &Path) -> io::Result<(MutexGuard<'_, Disk>, Option<FaultKind>)> {
        let mut d = self.disk.lock();
        let fault = d.begin(self.epoch, op, path)?;
        Ok((d, fault))
    }

    /// Begins an operation that has no partial effect: a fault simply fails it.
    fn simple(&self, op: Op, path: &Path) -> io::Result<MutexGuard<'_, Disk>> {
        match self.begin(op, path)? {
            (_, Some(kind)) => Err(kind.error()),
            (d, None) => Ok(d),
        }
    }

    fn open(&self, path: &Path, ino: u64, pos: usize) -> Box<dyn DurableFile> {
        Box::new(SimFile {
            disk: self.disk.clone(),
            epoch: self.epoch,
            path: path.to_path_buf(),
            ino,
            pos,
        })
    }
}

impl DurableFs for SimulatedFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut d = self.simple(Op::CreateDir, dir)?;
        let mut ancestors: Vec<&Path> = dir.ancestors().filter(|a| a.parent().is_some()).collect();
        ancestors.reverse();
        for a in ancestors {
            match d.live.get(a) {
                Some(Entry::Dir) => {}
                Some(Entry::File(_)) => return Err(io::Error::other("a file is in the way")),
                None => {
                    d.live.insert(a.to_path_buf(), Entry::Dir);
                }
            }
        }
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let d = self.simple(Op::ListDir, dir)?;
        if !d.is_dir(dir) {
            return Err(not_found(dir));
        }
        Ok(d.live
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
            .collect())
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let d = self.simple(Op::Read, path)?;
        let ino = d.file(path)?;
        Ok(d.inodes[&ino].live.clone())
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        let d = self.simple(Op::Len, path)?;
        let ino = d.file(path)?;
        Ok(d.inodes[&ino].live.len() as u64)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn DurableFile>> {
        let mut d = self.simple(Op::Create, path)?;
        let (ino, existed) = open_or_make(&mut d, path)?;
        if existed {
            let inode = d.inodes.get_mut(&ino).expect("inode of a live name");
            inode.live.clear();
            inode.unsynced.push(Change::SetLen(0));
        }
        drop(d);
        Ok(self.open(path, ino, 0))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn DurableFile>> {
        let d = self.simple(Op::OpenAppend, path)?;
        let ino = d.file(path)?;
        let len = d.inodes[&ino].live.len();
        drop(d);
        Ok(self.open(path, ino, len))
    }

    fn open_or_create(&self, path: &Path) -> io::Result<Box<dyn DurableFile>> {
        let mut d = self.simple(Op::OpenOrCreate, path)?;
        let (ino, _) = open_or_make(&mut d, path)?;
        let len = d.inodes[&ino].live.len();
        drop(d);
        Ok(self.open(path, ino, len))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut d = self.simple(Op::Remove, path)?;
        d.file(path)?;
        d.live.remove(path);
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut d = self.simple(Op::Rename, from)?;
        let ino = d.file(from)?;
        if !to.parent().is_some_and(|p| d.is_dir(p)) {
            return Err(not_found(to));
        }
        d.live.remove(from);
        d.live.insert(to.to_path_buf(), Entry::File(ino));
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut d = self.simple(Op::SyncDir, dir)?;
        if !d.is_dir(dir) {
            return Err(not_found(dir));
        }
        let in_dir = |map: &BTreeMap<PathBuf, Entry>| -> Vec<PathBuf> {
            map.keys()
                .filter(|p| p.parent() == Some(dir))
                .cloned()
                .collect()
        };
        for path in in_dir(&d.durable) {
            d.durable.remove(&path);
        }
        for path in in_dir(&d.live) {
            let entry = d.live[&path];
            d.durable.insert(path, entry);
        }
        Ok(())
    }

    fn abort(&self, _reason: &str) {
        let mut d = self.disk.lock();
        if d.epoch == self.epoch {
            d.crash();
            d.aborts += 1;
        }
    }
}

/// The inode of the file at `path`, made (empty, its name live) if there is none; and whether
/// it existed.
fn open_or_make(d: &mut Disk, path: &Path) -> io::Result<(u64, bool)> {
    if !path.parent().is_some_and(|p| d.is_dir(p)) {
        return Err(not_found(path));
    }
    match d.live.get(path) {
        Some(Entry::File(ino)) => Ok((*ino, true)),
        Some(Entry::Dir) => Err(io::Error::other("is a directory")),
        None => {
            d.next_inode += 1;
            let ino = d.next_inode;
            d.inodes.insert(ino, Inode::default());
            d.live.insert(path.to_path_buf(), Entry::File(ino));
            Ok((ino, false))
        }
    }
}

struct SimFile {
    disk: SimulatedDisk,
    epoch: u64,
    path: PathBuf,
    ino: u64,
    pos: usize,
}

impl SimFile {
    fn change(&mut self, d: &mut Disk, change: Change) {
        let inode = d.inodes.get_mut(&self.ino).expect("an open file's inode");
        Inode::apply(&mut inode.live, &change);
        self.pos = match &change {
            Change::Write { at, data } => at + data.len(),
            Change::SetLen(len) => *len,
        };
        inode.unsynced.push(change);
    }
}

impl DurableFile for SimFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let disk = self.disk.clone();
        let mut d = disk.lock();
        let fault = d.begin(self.epoch, Op::Append, &self.path)?;
        let written = match fault {
            None => buf.len(),
            Some(FaultKind::ShortWrite) => buf.len() / 2,
            Some(_) => 0,
        };
        if written > 0 {
            let at = self.pos;
            self.change(
                &mut d,
                Change::Write {
                    at,
                    data: buf[..written].to_vec(),
                },
            );
        }
        match fault {
            None => Ok(()),
            Some(FaultKind::ShortWrite) => Err(FaultKind::Enospc.error()),
            Some(kind) => Err(kind.error()),
        }
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let disk = self.disk.clone();
        let mut d = disk.lock();
        if let Some(kind) = d.begin(self.epoch, Op::SetLen, &self.path)? {
            return Err(kind.error());
        }
        self.change(&mut d, Change::SetLen(len as usize));
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let disk = self.disk.clone();
        let mut d = disk.lock();
        let fault = d.begin(self.epoch, Op::SyncData, &self.path)?;
        let inode = d.inodes.get_mut(&self.ino).expect("an open file's inode");
        if let Some(kind) = fault {
            inode.live = inode.durable.clone();
            inode.unsynced.clear();
            return Err(kind.error());
        }
        inode.durable = inode.live.clone();
        inode.unsynced.clear();
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let disk = self.disk.clone();
        let mut d = disk.lock();
        if let Some(kind) = d.begin(self.epoch, Op::FileLen, &self.path)? {
            return Err(kind.error());
        }
        Ok(d.inodes[&self.ino].live.len() as u64)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let disk = self.disk.clone();
        let mut d = disk.lock();
        if let Some(kind) = d.begin(self.epoch, Op::ReadAt, &self.path)? {
            return Err(kind.error());
        }
        let live = &d.inodes[&self.ino].live;
        let start = offset as usize;
        let bytes = live.get(start..start + buf.len());
        let bytes = bytes.ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let disk = self.disk.clone();
        let mut d = disk.lock();
        let fault = d.begin(self.epoch, Op::WriteAt, &self.path)?;
        let written = match fault {
            None => data.len(),
            Some(FaultKind::ShortWrite) => data.len() / 2,
            Some(_) => 0,
        };
        let pos = self.pos;
        if written > 0 {
            let at = offset as usize;
            self.change(
                &mut d,
                Change::Write {
                    at,
                    data: data[..written].to_vec(),
                },
            );
        }
        self.pos = pos;
        match fault {
            None => Ok(()),
            Some(FaultKind::ShortWrite) => Err(FaultKind::Enospc.error()),
            Some(kind) => Err(kind.error()),
        }
    }
}

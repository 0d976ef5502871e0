//! [`SimulatedDisk`]: an in-memory disk that can lose power, after SQLite's crash tests.
//!
//! Each file keeps its durable bytes (as of its last `sync_data`) apart from its live bytes
//! (what a running process reads) and the list of changes in between; each directory keeps its
//! durable names (as of its last `sync_dir`) apart from its live ones. A process works through
//! a [`SimulatedFs`] bound to the disk's current epoch: after a crash, an abort or a power loss
//! the epoch moves on and every operation of the old process fails, as though it had died.
//!
//! - [`SimulatedDisk::crash`] is `kill -9`: the page cache (live state) survives. A crash or a
//!   power loss can also be scheduled before a chosen operation ([`SimulatedDisk::schedule`]).
//! - [`SimulatedDisk::power_loss`] keeps only what was synced, plus, depending on
//!   [`PowerLoss`], some of what was not: a prefix of each file's unsynced changes with the next
//!   torn at a random byte, or each sector on its own (so that later sectors of one write may
//!   survive earlier ones, which real disks do). Directories keep their durable names, or,
//!   unless the loss is [`PowerLoss::Clean`], all of their live names (a create or a remove
//!   that reached the disk without a directory fsync). What survives is durable from then on.
//! - [`Fault`] fails the Nth operation (counted over the disk's life) with EIO, ENOSPC or a
//!   short write, once or for the rest of that process. A failed `sync_data` loses the file's
//!   unsynced bytes: after a failed fsync the kernel may have dropped the dirty pages.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

mod process;
pub use process::SimulatedFs;

/// Sector size of [`PowerLoss::Sectors`]: small, so that the small records of tests tear.
const SECTOR: usize = 512;

/// What a power loss keeps of the bytes written since a file's last fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerLoss {
    /// Nothing; directories keep only their synced names.
    Clean,
    /// The first k changes, in order, and the next one cut at a random byte.
    TornPrefix,
    /// Each sector of the live file or of the durable one, at random; sectors lost past the
    /// durable end read as zeros.
    Sectors,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Eio,
    Enospc,
    /// A write that writes half of its bytes and then fails with ENOSPC (other operations
    /// fail with EIO).
    ShortWrite,
}

/// Fail operation number `op` (1-based, counted over the disk's life); if `persistent`, also
/// every later operation of the same kind in the same process (a full disk keeps refusing
/// writes, yet a file can still be cut back and synced).
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    pub op: u64,
    pub kind: FaultKind,
    pub persistent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    CreateDir,
    ListDir,
    Read,
    Len,
    Create,
    OpenAppend,
    Remove,
    Rename,
    SyncDir,
    Append,
    SetLen,
    SyncData,
    OpenOrCreate,
    FileLen,
    ReadAt,
    WriteAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    File(u64),
    Dir,
}

#[derive(Debug, Clone)]
enum Change {
    Write { at: usize, data: Vec<u8> },
    SetLen(usize),
}

#[derive(Debug, Default)]
struct Inode {
    durable: Vec<u8>,
    live: Vec<u8>,
    unsynced: Vec<Change>,
}

impl Inode {
    fn apply(content: &mut Vec<u8>, change: &Change) {
        match change {
            Change::Write { at, data } => {
                if content.len() < at + data.len() {
                    content.resize(at + data.len(), 0);
                }
                content[*at..at + data.len()].copy_from_slice(data);
            }
            Change::SetLen(len) => content.resize(*len, 0),
        }
    }

    /// What of this file a power loss leaves.
    fn survivor(&self, mode: PowerLoss, rng: &mut SplitMix64) -> Vec<u8> {
        if self.unsynced.is_empty() {
            return self.durable.clone();
        }
        match mode {
            PowerLoss::Clean => self.durable.clone(),
            PowerLoss::TornPrefix => {
                let mut content = self.durable.clone();
                let kept = rng.below(self.unsynced.len() as u64 + 1) as usize;
                for change in &self.unsynced[..kept] {
                    Self::apply(&mut content, change);
                }
                if let Some(Change::Write { at, data }) = self.unsynced.get(kept) {
                    let cut = rng.below(data.len() as u64 + 1) as usize;
                    let torn = Change::Write {
                        at: *at,
                        data: data[..cut].to_vec(),
                    };
                    Self::apply(&mut content, &torn);
                }
                content
            }
            PowerLoss::Sectors => {
                let len = if rng.below(2) == 0 {
                    self.live.len()
                } else {
                    self.durable.len()
                };
                let mut content = vec![0; len];
                for (sector, chunk) in content.chunks_mut(SECTOR).enumerate() {
                    // Past the live end (a cut that may not have reached the disk) the durable
                    // bytes stay; past both ends, zeros.
                    let start = sector * SECTOR;
                    overlay(chunk, &self.durable, start);
                    if rng.below(2) == 0 {
                        overlay(chunk, &self.live, start);
                    }
                }
                content
            }
        }
    }
}

/// Copies into `chunk` the bytes of `from` at `start..start + chunk.len()` that exist.
fn overlay(chunk: &mut [u8], from: &[u8], start: usize) {
    if start < from.len() {
        let end = from.len().min(start + chunk.len());
        chunk[..end - start].copy_from_slice(&from[start..end]);
    }
}

#[derive(Debug, Default)]
struct Disk {
    epoch: u64,
    live: BTreeMap<PathBuf, Entry>,
    durable: BTreeMap<PathBuf, Entry>,
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    ops: u64,
    log: Vec<(Op, PathBuf)>,
    fault: Option<Fault>,
    /// The epoch in which the fault fired, and the kind of operation it failed.
    fault_fired: Option<(u64, Op)>,
    fault_ever_fired: bool,
    /// The operation before which the scheduled event comes: a power loss (mode and seed) or,
    /// with `None`, a crash.
    event_at: Option<(u64, Option<(PowerLoss, u64)>)>,
    power_losses: u64,
    crashes: u64,
    aborts: u64,
}

fn dead() -> io::Error {
    io::Error::other("simulated: this process is gone (crash, abort or power loss)")
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, path.display().to_string())
}

impl FaultKind {
    fn error(self) -> io::Error {
        match self {
            FaultKind::Enospc => io::Error::from_raw_os_error(28),
            FaultKind::Eio | FaultKind::ShortWrite => io::Error::from_raw_os_error(5),
        }
    }
}

impl Disk {
    /// Counts an operation of the process of `epoch`; fails it if that process is gone, loses
    /// power if one is scheduled here, and returns the fault to inject, if any.
    fn begin(&mut self, epoch: u64, op: Op, path: &Path) -> io::Result<Option<FaultKind>> {
        if epoch != self.epoch {
            return Err(dead());
        }
        self.ops += 1;
        self.log.push((op, path.to_path_buf()));
        if let Some((at, event)) = self.event_at
            && self.ops >= at
        {
            self.event_at = None;
            match event {
                Some((mode, seed)) => self.lose_power(mode, seed),
                None => self.crash(),
            }
            return Err(dead());
        }
        if let Some(fault) = self.fault {
            let here = self.ops == fault.op;
            let after = fault.persistent && self.fault_fired == Some((epoch, op));
            if here || after {
                self.fault_fired = Some((epoch, op));
                self.fault_ever_fired = true;
                return Ok(Some(fault.kind));
            }
        }
        Ok(None)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.parent().is_none() || self.live.get(path) == Some(&Entry::Dir)
    }

    fn file(&self, path: &Path) -> io::Result<u64> {
        match self.live.get(path) {
            Some(Entry::File(ino)) => Ok(*ino),
            Some(Entry::Dir) => Err(io::Error::other("is a directory")),
            None => Err(not_found(path)),
        }
    }

    fn crash(&mut self) {
        self.epoch += 1;
        self.crashes += 1;
    }

    fn lose_power(&mut self, mode: PowerLoss, seed: u64) {
        let mut rng = SplitMix64(seed);
        let mut tree = BTreeMap::new();
        let mut dirs = vec![PathBuf::from("/")];
        while let Some(dir) = dirs.pop() {
            let from = if mode != PowerLoss::Clean && rng.below(2) == 0 {
                &self.live
            } else {
                &self.durable
            };
            for (path, entry) in from.iter().filter(|(p, _)| p.parent() == Some(&dir)) {
                tree.insert(path.clone(), *entry);
                if *entry == Entry::Dir {
                    dirs.push(path.clone());
                }
            }
        }
        let mut inodes = HashMap::new();
        for entry in tree.values() {
            if let Entry::File(ino) = entry
                && !inodes.contains_key(ino)
                && let Some(inode) = self.inodes.get(ino)
            {
                let content = inode.survivor(mode, &mut rng);
                inodes.insert(
                    *ino,
                    Inode {
                        durable: content.clone(),
                        live: content,
                        unsynced: Vec::new(),
                    },
                );
            }
        }
        self.live = tree.clone();
        self.durable = tree;
        self.inodes = inodes;
        self.epoch += 1;
        self.power_losses += 1;
    }
}

/// The machine's disk; it outlives the simulated processes that use it.
#[derive(Debug, Clone, Default)]
pub struct SimulatedDisk(Arc<Mutex<Disk>>);

impl SimulatedDisk {
    /// A disk whose only directory is `dir` (and its ancestors), durable.
    pub fn with_dir(dir: &Path) -> Self {
        let disk = Self::default();
        {
            let mut d = disk.lock();
            for ancestor in dir.ancestors().filter(|a| a.parent().is_some()) {
                d.live.insert(ancestor.to_path_buf(), Entry::Dir);
                d.durable.insert(ancestor.to_path_buf(), Entry::Dir);
            }
        }
        disk
    }

    fn lock(&self) -> MutexGuard<'_, Disk> {
        self.0.lock().expect("simulated disk lock")
    }

    /// The file layer of a process started now.
    pub fn process(&self) -> Arc<SimulatedFs> {
        let epoch = self.lock().epoch;
        Arc::new(SimulatedFs::new(self.clone(), epoch))
    }

    /// `kill -9` of the running process now: what it wrote stays in the page cache (and
    /// forgets a scheduled event).
    pub fn crash(&self) {
        let mut d = self.lock();
        d.event_at = None;
        d.crash();
    }

    /// Loses power now (and forgets a scheduled event).
    pub fn power_loss(&self, mode: PowerLoss, seed: u64) {
        let mut d = self.lock();
        d.event_at = None;
        d.lose_power(mode, seed);
    }

    /// Loses power (`Some(mode, seed)`) or crashes the process (`None`) just before the
    /// `after`th operation from now, which then fails.
    pub fn schedule(&self, after: u64, event: Option<(PowerLoss, u64)>) {
        let mut d = self.lock();
        d.event_at = Some((d.ops + after.max(1), event));
    }

    pub fn power_losses(&self) -> u64 {
        self.lock().power_losses
    }

    /// Crashes (scheduled or not) and aborts: every end of a process but a power loss.
    pub fn crashes(&self) -> u64 {
        self.lock().crashes
    }

    /// Arms `fault`, or with `None` disarms it (and [`SimulatedDisk::fault_fired`] still says
    /// whether the last one fired).
    pub fn set_fault(&self, fault: Option<Fault>) {
        let mut d = self.lock();
        if fault.is_some() {
            d.fault_fired = None;
            d.fault_ever_fired = false;
        }
        d.fault = fault;
    }

    pub fn fault_fired(&self) -> bool {
        self.lock().fault_ever_fired
    }

    /// Operations so far, over the disk's life.
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// Operation number `n` (1-based) and its path.
    pub fn op(&self, n: u64) -> Option<(Op, PathBuf)> {
        let d = self.lock();
        d.log.get(n.checked_sub(1)? as usize).cloned()
    }

    /// How many simulated processes called [`DurableFs::abort`].
    pub fn aborts(&self) -> u64 {
        self.lock().aborts
    }

    /// The files in `dir`, without counting an operation.
    pub fn files(&self, dir: &Path) -> Vec<PathBuf> {
        let d = self.lock();
        let files = d
            .live
            .iter()
            .filter(|(p, e)| p.parent() == Some(dir) && **e != Entry::Dir);
        files.map(|(p, _)| p.clone()).collect()
    }

    /// Appends `bytes` to an existing file, durably (damage made between runs, as a test
    /// would make it on a real disk).
    pub fn append_durable(&self, path: &Path, bytes: &[u8]) {
        let mut d = self.lock();
        let ino = d.file(path).expect("append_durable: no such file");
        let inode = d.inodes.get_mut(&ino).expect("inode of a live name");
        inode.live.extend_from_slice(bytes);
        inode.durable = inode.live.clone();
        inode.unsynced.clear();
    }
}

/// SplitMix64: enough randomness for a simulation, and a printed seed replays it.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// The number in environment variable `name`, if it is set (a seed or a count to replay).
pub fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
    )
}

/// A seed from the clock, for a run that was not given one (it prints it).
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

#[cfg(test)]
mod tests;

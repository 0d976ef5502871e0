//! [`WalWriter`]: appends transactions on a dedicated thread with group commit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use arrow::array::RecordBatch;
use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

use super::record::{SourceOffset, encode_frame_of_write, encode_part};
use super::{WalLimits, segment_name};
use crate::fs::{DurableFile, DurableFs, create_dir_all_durable, io_error as io};
use crate::{Error, Result};

/// Receives each committed transaction once it is durable, on the WAL thread, in sequence
/// order, one call per table: `seq` is the highest sequence number of that table's records in
/// the transaction. The hot tier implements it: this is how the WAL hands rows upward without
/// depending on it.
pub trait WalApply: Send + Sync + 'static {
    fn apply(&self, table_id: &str, seq: u64, batches: Vec<RecordBatch>);
}

/// One table's rows in a transaction.
#[derive(Debug, Clone)]
pub struct WalPart {
    pub table_id: String,
    /// The source positions these rows account for (none for INSERT and COPY).
    pub offsets: Vec<SourceOffset>,
    pub batches: Vec<RecordBatch>,
}

/// Most transactions written with one fsync.
const MAX_GROUP: usize = 4096;

/// A transaction, encoded: each part's records, in order; only the very last record commits.
struct Request {
    parts: Vec<EncodedPart>,
    reply: oneshot::Sender<std::result::Result<u64, std::io::Error>>,
}

struct EncodedPart {
    table_id: String,
    bodies: Vec<Vec<u8>>,
    batches: Vec<RecordBatch>,
}

struct Shared {
    fs: Arc<dyn DurableFs>,
    dir: PathBuf,
    /// First sequence numbers of the segments on disk, in order; the last one is being written.
    segments: Mutex<Vec<u64>>,
    /// Every record up to this sequence number has been applied.
    applied: AtomicU64,
}

pub struct WalWriter {
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    shared: Arc<Shared>,
    limits: WalLimits,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for WalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWriter")
            .field("dir", &self.shared.dir)
            .finish_non_exhaustive()
    }
}

impl WalWriter {
    /// Starts writing a new segment whose first record will be `next_seq`. `old_segments` are
    /// the segments replay read (all holding records below `next_seq`); they are deleted once
    /// their records are flushed. Every file operation goes through `fs`.
    pub fn start(
        fs: Arc<dyn DurableFs>,
        dir: &Path,
        next_seq: u64,
        old_segments: Vec<u64>,
        limits: WalLimits,
        apply: Arc<dyn WalApply>,
    ) -> Result<Self> {
        if let Some(&last) = old_segments.last()
            && last >= next_seq
        {
            return Err(Error::Wal(format!(
                "the next record ({next_seq}) would not follow the last segment ({last})"
            )));
        }
        create_dir_all_durable(fs.as_ref(), dir)?;
        let file = create_segment(fs.as_ref(), dir, next_seq)?;
        let mut segments = old_segments;
        segments.push(next_seq);
        let shared = Arc::new(Shared {
            fs,
            dir: dir.to_path_buf(),
            segments: Mutex::new(segments),
            applied: AtomicU64::new(next_seq - 1),
        });
        let (tx, rx) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let segment_bytes = limits.segment_bytes;
        let thread = std::thread::Builder::new()
            .name("oxbow-wal".into())
            .spawn(move || write_loop(rx, file, next_seq, segment_bytes, thread_shared, apply))
            .map_err(|s| io(dir, s))?;
        info!(dir = %dir.display(), next_seq, "WAL writer started");
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            shared,
            limits,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Appends `batches` for `table_id` as one transaction; see [`WalWriter::append`].
    pub async fn append_rows(&self, table_id: &str, batches: Vec<RecordBatch>) -> Result<u64> {
        self.append(vec![WalPart {
            table_id: table_id.to_string(),
            offsets: Vec::new(),
            batches,
        }])
        .await
    }

    /// Appends `parts` as one transaction and returns the sequence number of its last record
    /// once the whole transaction is fsynced and applied: after a crash, replay restores all
    /// of its parts or none. A part too large for one record is split into several.
    pub async fn append(&self, parts: Vec<WalPart>) -> Result<u64> {
        let max_body = self.limits.record_bytes;
        let last = parts.len().saturating_sub(1);
        let parts = parts
            .into_iter()
            .enumerate()
            .map(|(i, part)| {
                let bodies = encode_part(
                    &part.table_id,
                    &part.offsets,
                    &part.batches,
                    i == last,
                    max_body,
                )?;
                Ok(EncodedPart {
                    table_id: part.table_id,
                    bodies,
                    batches: part.batches,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if parts.is_empty() {
            return Ok(self.applied_seq());
        }
        let (reply, done) = oneshot::channel();
        {
            let tx = self.tx.lock().expect("wal sender lock");
            let tx = tx.as_ref().ok_or_else(closed)?;
            tx.send(Request { parts, reply }).map_err(|_| closed())?;
        }
        done.await
            .map_err(|_| closed())?
            .map_err(|source| Error::WalWrite { source })
    }

    /// The directory of the segment files (what [`super::WalTail`] reads).
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Every record up to this sequence number is durable and applied.
    pub fn applied_seq(&self) -> u64 {
        self.shared.applied.load(Ordering::Acquire)
    }

    /// Deletes the closed segments all of whose records have sequence numbers below
    /// `low_water` (that is, are in the Delta tier). The segment being written is never
    /// deleted. Returns how many were deleted.
    pub fn delete_segments_below(&self, low_water: u64) -> Result<usize> {
        let mut segments = self.shared.segments.lock().expect("segments lock");
        let mut deleted = 0;
        while segments.len() >= 2 && segments[1] <= low_water {
            let path = self.shared.dir.join(segment_name(segments[0]));
            match self.shared.fs.remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(io(&path, source)),
            }
            debug!(segment = %path.display(), "deleted a flushed WAL segment");
            segments.remove(0);
            deleted += 1;
        }
        Ok(deleted)
    }

    /// The first sequence numbers of the segment files on disk, oldest first.
    pub fn segments(&self) -> Vec<u64> {
        self.shared.segments.lock().expect("segments lock").clone()
    }

    /// Number of segment files on disk.
    pub fn segment_count(&self) -> usize {
        self.shared.segments.lock().expect("segments lock").len()
    }

    /// Bytes of the segment files on disk (what `max_wal_size` bounds).
    pub fn disk_bytes(&self) -> u64 {
        let segments = self.segments();
        segments
            .iter()
            .filter_map(|s| {
                self.shared
                    .fs
                    .len(&self.shared.dir.join(segment_name(*s)))
                    .ok()
            })
            .sum()
    }

    /// Stops accepting appends and waits for the thread to write what it has.
    pub fn shutdown(&self) {
        self.tx.lock().expect("wal sender lock").take();
        if let Some(thread) = self.thread.lock().expect("wal thread lock").take() {
            thread.join().ok();
        }
    }
}

fn closed() -> Error {
    Error::Wal("the WAL writer has stopped".into())
}

fn create_segment(fs: &dyn DurableFs, dir: &Path, first_seq: u64) -> Result<Box<dyn DurableFile>> {
    let path = dir.join(segment_name(first_seq));
    let file = fs.create(&path).map_err(|s| io(&path, s))?;
    // The new directory entry must be durable before records in the file are acknowledged.
    fs.sync_dir(dir).map_err(|s| io(dir, s))?;
    Ok(file)
}

fn write_loop(
    rx: mpsc::Receiver<Request>,
    mut file: Box<dyn DurableFile>,
    mut next_seq: u64,
    segment_limit: u64,
    shared: Arc<Shared>,
    apply: Arc<dyn WalApply>,
) {
    let mut segment_bytes: u64 = 0;
    let mut buf = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        buf.clear();
        let first_seq = next_seq;
        let mut last_seqs = Vec::with_capacity(group.len());
        for request in &group {
            for part in &request.parts {
                for body in &part.bodies {
                    // The first record of each write says so: replay tells a torn last write
                    // from damage in durable data by it (see the module docs).
                    encode_frame_of_write(&mut buf, next_seq, body, next_seq == first_seq);
                    next_seq += 1;
                }
            }
            last_seqs.push(next_seq - 1);
        }
        if let Err(e) = file.append(&buf) {
            // Nothing of the group is acknowledged. Cut what reached the file, durably, so
            // that the next group's records follow the last good one and a power loss cannot
            // bring back records of statements that were refused; then refuse them: the
            // server keeps serving reads and writes resume when the disk has room again.
            warn!(error = %e, "WAL write failed; the statements of this group are refused");
            if let Err(cut) = file.set_len(segment_bytes).and_then(|()| file.sync_data()) {
                error!(error = %cut, "cannot cut a failed WAL write back");
                shared.fs.abort("a failed WAL write could not be cut back");
                return;
            }
            next_seq = first_seq;
            for request in group {
                request
                    .reply
                    .send(Err(std::io::Error::new(e.kind(), e.to_string())))
                    .ok();
            }
            shrink(&mut buf);
            continue;
        }
        if let Err(e) = file.sync_data() {
            // Never retry a failed fsync: the kernel may have dropped the dirty pages. Nothing
            // of the group is acknowledged: its replies are dropped with the thread.
            error!(error = %e, "WAL fsync failed");
            shared.fs.abort("a WAL fsync failed");
            return;
        }
        segment_bytes += buf.len() as u64;
        let mut seq = first_seq;
        for (request, last_seq) in group.into_iter().zip(last_seqs) {
            for part in request.parts {
                seq += part.bodies.len() as u64;
                apply.apply(&part.table_id, seq - 1, part.batches);
            }
            shared.applied.store(last_seq, Ordering::Release);
            request.reply.send(Ok(last_seq)).ok();
        }
        shrink(&mut buf);
        if segment_bytes >= segment_limit {
            match create_segment(shared.fs.as_ref(), &shared.dir, next_seq) {
                Ok(new_file) => {
                    file = new_file;
                    segment_bytes = 0;
                    shared
                        .segments
                        .lock()
                        .expect("segments lock")
                        .push(next_seq);
                }
                // Keep writing the current segment; the next group tries again.
                Err(e) => warn!(error = %e, "cannot start a new WAL segment"),
            }
        }
    }
    // No fsync at the end: every group was fsynced before it was acknowledged.
}

/// Gives back a frame buffer's memory after a large statement, keeping enough for the next
/// group of small ones.
fn shrink(buf: &mut Vec<u8>) {
    const KEEP: usize = 4 * 1024 * 1024;
    if buf.capacity() > KEEP {
        buf.clear();
        buf.shrink_to(KEEP);
    }
}

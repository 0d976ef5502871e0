//! [`WalWriter`]: appends records on a dedicated thread with group commit.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use arrow::array::RecordBatch;
use tokio::sync::oneshot;
use tracing::{debug, error, info};

use super::record::{SourceOffset, encode_body, encode_frame};
use super::replay::io;
use super::{SEGMENT_BYTES, segment_name};
use crate::{Error, Result};

/// Receives each record once it is durable, on the WAL thread, in sequence order. The hot
/// tier implements it: this is how the WAL hands rows upward without depending on it.
pub trait WalApply: Send + Sync + 'static {
    fn apply(&self, table_id: &str, seq: u64, batch: RecordBatch);
}

/// Most records written with one fsync.
const MAX_GROUP: usize = 4096;

struct Request {
    table_id: String,
    body: Vec<u8>,
    batch: RecordBatch,
    reply: oneshot::Sender<u64>,
}

struct Shared {
    dir: PathBuf,
    /// First sequence numbers of the segments on disk, in order; the last one is being written.
    segments: Mutex<Vec<u64>>,
    /// Every record up to this sequence number has been applied.
    applied: AtomicU64,
}

pub struct WalWriter {
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    shared: Arc<Shared>,
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
    /// the segments replay read; they are deleted once their records are flushed.
    pub fn start(
        dir: &Path,
        next_seq: u64,
        old_segments: Vec<u64>,
        apply: Arc<dyn WalApply>,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|s| io(dir, s))?;
        let file = create_segment(dir, next_seq)?;
        let mut segments = old_segments;
        segments.push(next_seq);
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            segments: Mutex::new(segments),
            applied: AtomicU64::new(next_seq - 1),
        });
        let (tx, rx) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("oxbow-wal".into())
            .spawn(move || write_loop(rx, file, next_seq, thread_shared, apply))
            .map_err(|s| io(dir, s))?;
        info!(dir = %dir.display(), next_seq, "WAL writer started");
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Appends `batch` for `table_id` and returns its sequence number once it is fsynced and
    /// applied.
    pub async fn append(
        &self,
        table_id: &str,
        offsets: &[SourceOffset],
        batch: RecordBatch,
    ) -> Result<u64> {
        let body = encode_body(table_id, offsets, &batch)?;
        let (reply, done) = oneshot::channel();
        let request = Request {
            table_id: table_id.to_string(),
            body,
            batch,
            reply,
        };
        {
            let tx = self.tx.lock().expect("wal sender lock");
            let tx = tx.as_ref().ok_or_else(closed)?;
            tx.send(request).map_err(|_| closed())?;
        }
        done.await.map_err(|_| closed())
    }

    /// Every record up to this sequence number is durable and applied.
    pub fn applied_seq(&self) -> u64 {
        self.shared.applied.load(Ordering::Acquire)
    }

    /// Deletes the closed segments all of whose records have sequence numbers below
    /// `low_water` (that is, are in the Delta tier). Returns how many were deleted.
    pub fn delete_segments_below(&self, low_water: u64) -> Result<usize> {
        let mut segments = self.shared.segments.lock().expect("segments lock");
        let mut deleted = 0;
        while segments.len() >= 2 && segments[1] <= low_water {
            let path = self.shared.dir.join(segment_name(segments[0]));
            match std::fs::remove_file(&path) {
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

    /// Number of segment files on disk.
    pub fn segment_count(&self) -> usize {
        self.shared.segments.lock().expect("segments lock").len()
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

fn create_segment(dir: &Path, first_seq: u64) -> Result<File> {
    let path = dir.join(segment_name(first_seq));
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|s| io(&path, s))?;
    // The new directory entry must be durable before records in the file are acknowledged.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|s| io(dir, s))?;
    Ok(file)
}

fn write_loop(
    rx: mpsc::Receiver<Request>,
    mut file: File,
    mut next_seq: u64,
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
        for request in &group {
            encode_frame(&mut buf, next_seq, &request.body);
            next_seq += 1;
        }
        if let Err(e) = file.write_all(&buf).and_then(|()| file.sync_data()) {
            // Never retry a failed fsync: the kernel may have dropped the dirty pages.
            error!(error = %e, "WAL write or fsync failed; aborting so that recovery replays the WAL");
            std::process::abort();
        }
        segment_bytes += buf.len() as u64;
        for (i, request) in group.into_iter().enumerate() {
            let seq = first_seq + i as u64;
            apply.apply(&request.table_id, seq, request.batch);
            shared.applied.store(seq, Ordering::Release);
            request.reply.send(seq).ok();
        }
        if segment_bytes >= SEGMENT_BYTES {
            match create_segment(&shared.dir, next_seq) {
                Ok(new_file) => {
                    file = new_file;
                    segment_bytes = 0;
                    shared
                        .segments
                        .lock()
                        .expect("segments lock")
                        .push(next_seq);
                }
                Err(e) => {
                    error!(error = %e, "cannot start a new WAL segment; aborting");
                    std::process::abort();
                }
            }
        }
    }
    file.sync_all().ok();
}

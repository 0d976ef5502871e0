//! Reading the WAL back at startup.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::parse_segment_name;
use super::record::{Frame, WalEntry, decode_frame, valid_frame_seq};
use crate::{Error, Result};

/// What replay found.
#[derive(Debug, Default)]
pub struct Replayed {
    /// The highest sequence number in the log (0 if it is empty).
    pub last_seq: u64,
    /// Records of committed transactions handed to `apply`.
    pub records: u64,
    /// Records of transactions that never committed (cut off by a crash, never acknowledged).
    pub uncommitted: u64,
    /// First sequence numbers of the segments that hold records, in order. Segments without
    /// records are deleted: one left behind would share its name with the next segment.
    pub segments: Vec<u64>,
}

/// The segments in `dir`, ordered by their first sequence number.
pub(super) fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(segments),
        Err(source) => return Err(io(dir, source)),
    };
    for entry in entries {
        let entry = entry.map_err(|source| io(dir, source))?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_segment_name) {
            segments.push((first, entry.path()));
        }
    }
    segments.sort();
    Ok(segments)
}

/// Reads every record of every segment in order and hands each committed transaction to
/// `apply`, one call per table it wrote: the table's records' batches together, under the
/// highest sequence number among them.
///
/// - A transaction is the records up to and including one with the commit flag; it never
///   spans segments (the writer writes a whole transaction into one segment, and every start
///   opens a new one). Records after a segment's last commit were never acknowledged and are
///   dropped.
/// - An invalid frame at the end of the last segment with no valid frame after it is the trace
///   of a crash during a write that was never acknowledged: the file is cut there. A frame with
///   a valid checksum that cannot be decoded, or an invalid frame followed by a valid one, is
///   corruption and fails the replay: cutting it would drop acknowledged data.
pub fn replay(dir: &Path, mut apply: impl FnMut(WalEntry) -> Result<()>) -> Result<Replayed> {
    let segments = list_segments(dir)?;
    let mut replayed = Replayed::default();
    let count = segments.len();
    for (i, (first, path)) in segments.into_iter().enumerate() {
        let data = std::fs::read(&path).map_err(|source| io(&path, source))?;
        let last_segment = i + 1 == count;
        let mut pos = 0;
        let mut pending: Vec<WalEntry> = Vec::new();
        let mut records_in_segment = 0u64;
        loop {
            match decode_frame(&data[pos..]) {
                Frame::End => break,
                Frame::Record(entry, len) => {
                    if entry.seq <= replayed.last_seq {
                        return Err(Error::Wal(format!(
                            "{}: record {} after record {}: sequence numbers must increase",
                            path.display(),
                            entry.seq,
                            replayed.last_seq
                        )));
                    }
                    replayed.last_seq = entry.seq;
                    records_in_segment += 1;
                    pos += len;
                    let commit = entry.commit;
                    pending.push(entry);
                    if commit {
                        replayed.records += pending.len() as u64;
                        for entry in by_table(std::mem::take(&mut pending)) {
                            apply(entry)?;
                        }
                    }
                }
                Frame::Invalid(reason) if last_segment => {
                    if let Some(seq) = later_valid_frame(&data[pos..], replayed.last_seq) {
                        return Err(Error::Wal(format!(
                            "{} is corrupt at byte {pos} ({reason}), and a valid record ({seq}) follows: not a torn write",
                            path.display()
                        )));
                    }
                    warn!(
                        segment = %path.display(),
                        offset = pos,
                        dropped_bytes = data.len() - pos,
                        %reason,
                        "cutting off a torn record at the end of the WAL (a write interrupted by a crash, never acknowledged)"
                    );
                    truncate(&path, pos)?;
                    break;
                }
                Frame::Invalid(reason) | Frame::Undecodable(reason) => {
                    return Err(Error::Wal(format!(
                        "{} is corrupt at byte {pos}: {reason}",
                        path.display()
                    )));
                }
            }
        }
        if !pending.is_empty() {
            warn!(
                segment = %path.display(),
                records = pending.len(),
                "dropping records of a transaction that never committed (interrupted by a crash, never acknowledged)"
            );
            replayed.uncommitted += pending.len() as u64;
        }
        if records_in_segment == 0 {
            std::fs::remove_file(&path).map_err(|source| io(&path, source))?;
            sync_dir(dir)?;
            continue;
        }
        replayed.segments.push(first);
    }
    info!(
        records = replayed.records,
        uncommitted = replayed.uncommitted,
        segments = replayed.segments.len(),
        last_seq = replayed.last_seq,
        "WAL replayed"
    );
    Ok(replayed)
}

/// A transaction's records merged per table, in the order the tables first appear.
fn by_table(entries: Vec<WalEntry>) -> Vec<WalEntry> {
    let mut merged: Vec<WalEntry> = Vec::new();
    for entry in entries {
        match merged.iter_mut().find(|m| m.table_id == entry.table_id) {
            Some(m) => {
                m.seq = entry.seq;
                m.offsets.extend(entry.offsets);
                m.batches.extend(entry.batches);
            }
            None => merged.push(entry),
        }
    }
    merged
}

/// The sequence number of a valid frame that starts anywhere in `data` after its first byte
/// and continues the log (a higher number than `last_seq`), if there is one.
fn later_valid_frame(data: &[u8], last_seq: u64) -> Option<u64> {
    (1..data.len()).find_map(|start| valid_frame_seq(&data[start..]).filter(|&s| s > last_seq))
}

fn truncate(path: &Path, len: usize) -> Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|source| io(path, source))?;
    file.set_len(len as u64)
        .map_err(|source| io(path, source))?;
    file.sync_all().map_err(|source| io(path, source))
}

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| io(dir, source))
}

pub(super) fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

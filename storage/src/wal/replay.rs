//! Reading the WAL back at startup.

use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::parse_segment_name;
use super::record::{Frame, WalEntry, decode_frame, valid_frame};
use crate::fs::{DurableFs, io_error as io};
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
pub(super) fn list_segments(fs: &dyn DurableFs, dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    let names = match fs.list_dir(dir) {
        Ok(names) => names,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(segments),
        Err(source) => return Err(io(dir, source)),
    };
    for name in names {
        if let Some(first) = parse_segment_name(&name) {
            segments.push((first, dir.join(name)));
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
/// - Damage in the last segment that holds any bytes is a torn tail, and the file is cut there,
///   unless a valid record that starts a later write follows it (see "Torn tails" in the
///   module docs of `wal`: the writer starts a write only after the previous one is fsynced,
///   so such a record proves the damage is in acknowledged data). Segments after it are empty
///   (a rollover whose first write was lost). Damage in any other segment, damage followed by
///   a later write, and a frame with a valid checksum that cannot be decoded are corruption
///   and fail the replay: cutting them would drop acknowledged data.
pub fn replay(
    fs: &dyn DurableFs,
    dir: &Path,
    mut apply: impl FnMut(WalEntry) -> Result<()>,
) -> Result<Replayed> {
    let segments = list_segments(fs, dir)?;
    let mut replayed = Replayed::default();
    let mut last_with_bytes = None;
    for (i, (_, path)) in segments.iter().enumerate() {
        if fs.len(path).map_err(|source| io(path, source))? > 0 {
            last_with_bytes = Some(i);
        }
    }
    for (i, (first, path)) in segments.into_iter().enumerate() {
        let data = fs.read(&path).map_err(|source| io(&path, source))?;
        // What was read may be in the page cache only (a crash after a write, before its
        // fsync): make it durable before any of it is applied, or a power loss could take back
        // rows that queries have seen.
        sync_file(fs, &path)?;
        let last_segment = Some(i) == last_with_bytes;
        let mut pos = 0;
        let mut pending: Vec<WalEntry> = Vec::new();
        let mut records_in_segment = 0u64;
        // Whether a record read so far starts a write (the writer marks them).
        let mut marked = false;
        loop {
            match decode_frame(&data[pos..]) {
                Frame::End => break,
                Frame::Record(entry, len, write_start) => {
                    marked |= write_start;
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
                    let marked = marked || pos == 0;
                    if let Some(seq) = later_write(&data[pos..], replayed.last_seq, marked) {
                        return Err(Error::Wal(format!(
                            "{} is corrupt at byte {pos} ({reason}), and record {seq}, which starts a later write, follows: not a torn write",
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
                    truncate(fs, &path, pos)?;
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
            fs.remove_file(&path).map_err(|source| io(&path, source))?;
            fs.sync_dir(dir).map_err(|source| io(dir, source))?;
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

/// The sequence number of a valid record found anywhere in `data` after its first byte that
/// starts a write and continues the log (a higher number than `last_seq` and than the valid
/// records before it), if there is one. Records that continue the damaged write are skipped:
/// after a power loss they may survive the damage before them.
///
/// A segment whose valid records carry no write start was written before writes were marked
/// (`marked` is false): there any later valid record counts, as it did then.
fn later_write(data: &[u8], last_seq: u64, marked: bool) -> Option<u64> {
    let mut start = 1;
    let mut prev = last_seq;
    while start < data.len() {
        match valid_frame(&data[start..]) {
            Some(frame) if frame.seq > prev => {
                if frame.write_start || !marked {
                    return Some(frame.seq);
                }
                prev = frame.seq;
                start += frame.len;
            }
            _ => start += 1,
        }
    }
    None
}

fn sync_file(fs: &dyn DurableFs, path: &Path) -> Result<()> {
    let mut file = fs.open_append(path).map_err(|source| io(path, source))?;
    file.sync_data().map_err(|source| io(path, source))
}

fn truncate(fs: &dyn DurableFs, path: &Path, len: usize) -> Result<()> {
    let mut file = fs.open_append(path).map_err(|source| io(path, source))?;
    file.set_len(len as u64)
        .and_then(|()| file.sync_data())
        .map_err(|source| io(path, source))
}

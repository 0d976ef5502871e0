//! Reading the WAL back at startup.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::parse_segment_name;
use super::record::{Frame, WalEntry, decode_frame};
use crate::{Error, Result};

/// What replay found.
#[derive(Debug, Default)]
pub struct Replayed {
    /// The highest sequence number in the log (0 if it is empty).
    pub last_seq: u64,
    pub records: u64,
    /// First sequence numbers of the segments read, in order.
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

/// Reads every record of every segment in order and hands it to `apply`.
///
/// A torn record at the end of the last segment is the trace of a crash during a write that
/// was never acknowledged: it is cut off (the file is truncated) and replay succeeds. An
/// invalid record anywhere else is corruption and fails the replay.
pub fn replay(dir: &Path, mut apply: impl FnMut(WalEntry) -> Result<()>) -> Result<Replayed> {
    let segments = list_segments(dir)?;
    let mut replayed = Replayed::default();
    let count = segments.len();
    for (i, (first, path)) in segments.into_iter().enumerate() {
        let data = std::fs::read(&path).map_err(|source| io(&path, source))?;
        let mut pos = 0;
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
                    replayed.records += 1;
                    apply(entry)?;
                    pos += len;
                }
                Frame::Invalid(reason) if i + 1 == count => {
                    warn!(
                        segment = %path.display(),
                        offset = pos,
                        dropped_bytes = data.len() - pos,
                        %reason,
                        "cutting off a torn record at the end of the WAL (a write interrupted by a crash, never acknowledged)"
                    );
                    let file = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(|source| io(&path, source))?;
                    file.set_len(pos as u64)
                        .map_err(|source| io(&path, source))?;
                    file.sync_all().map_err(|source| io(&path, source))?;
                    break;
                }
                Frame::Invalid(reason) => {
                    return Err(Error::Wal(format!(
                        "{} is corrupt at byte {pos}: {reason}",
                        path.display()
                    )));
                }
            }
        }
        replayed.segments.push(first);
    }
    info!(
        records = replayed.records,
        segments = replayed.segments.len(),
        last_seq = replayed.last_seq,
        "WAL replayed"
    );
    Ok(replayed)
}

pub(super) fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

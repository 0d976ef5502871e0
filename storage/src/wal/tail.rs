//! [`WalTail`]: reads the committed transactions of one table back out of the WAL's segment
//! files, in commit order, from a position on. Sinks follow their table with it.
//!
//! The tail reads only records at or below the writer's applied sequence number (they are
//! whole and fsynced), so it never meets the torn or half-written end of the segment being
//! written. A transaction is the records up to and including the one that commits it; it is
//! reported under that commit record's sequence number, the position a reader has consumed
//! once it has it. Transactions of other tables advance the position too (with no rows), so a
//! reader of a quiet table does not hold old segments.
//!
//! The WAL deletes segments below the lowest pin, so a reader must keep a pin at its position
//! + 1 (see `TableRegistry::set_wal_pin`); if the records after its position are gone all the
//! same, [`WalTail::read`] says so ([`Error::Wal`]) rather than skip them.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;

use super::record::{Frame, decode_frame};
use super::segment_name;
use crate::fs::StdFs;
use crate::{Error, Result};

/// One committed transaction of the followed table.
#[derive(Debug, Clone)]
pub struct TailTransaction {
    /// The sequence number of the record that committed it.
    pub seq: u64,
    /// The table's batches in it, in order (a keyed table's deletes are batches of key
    /// columns marked by `keyed::change::DELETE_MARK`).
    pub batches: Vec<RecordBatch>,
}

/// What one [`WalTail::read`] found.
#[derive(Debug, Default)]
pub struct TailRead {
    /// The followed table's transactions, in commit order.
    pub transactions: Vec<TailTransaction>,
    /// The position after this read: every record at or below it has been read.
    pub position: u64,
}

/// A reader of one table's transactions from the WAL directory.
#[derive(Debug)]
pub struct WalTail {
    dir: PathBuf,
    table_id: String,
    /// Every transaction committed at or below this has been returned.
    position: u64,
    /// Where the next unread transaction starts: (segment's first seq, byte offset).
    cursor: Option<(u64, u64)>,
}

impl WalTail {
    /// A reader of `table_id`'s transactions committed after `position`.
    pub fn new(dir: &Path, table_id: &str, position: u64) -> Self {
        Self {
            dir: dir.to_path_buf(),
            table_id: table_id.to_string(),
            position,
            cursor: None,
        }
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// Reads the transactions committed after the current position and at or below `through`
    /// (the writer's applied sequence number), stopping after the transaction that brings the
    /// rows read to `max_rows` or more. Blocking file I/O: call it off the async runtime.
    pub fn read(&mut self, through: u64, max_rows: usize) -> Result<TailRead> {
        let mut read = TailRead {
            transactions: Vec::new(),
            position: self.position,
        };
        if through <= self.position {
            return Ok(read);
        }
        let segments = super::replay::list_segments(&StdFs, &self.dir)?;
        let firsts: Vec<u64> = segments.iter().map(|(first, _)| *first).collect();
        let (mut index, mut offset) = match self.cursor {
            Some((first, offset)) if firsts.contains(&first) => (
                firsts.iter().position(|f| *f == first).expect("contained"),
                offset,
            ),
            _ => {
                // The segment holding the record after the position: the last one starting at
                // or before it.
                let next = self.position + 1;
                match firsts.iter().rposition(|f| *f <= next) {
                    Some(i) => (i, 0),
                    None => {
                        return Err(Error::Wal(format!(
                            "the WAL no longer holds the records after sequence {} (its oldest segment starts at {}): they were deleted before this reader got them",
                            self.position,
                            firsts.first().map_or("none".to_string(), |f| f.to_string())
                        )));
                    }
                }
            }
        };
        let mut rows = 0usize;
        while index < firsts.len() {
            let path = self.dir.join(segment_name(firsts[index]));
            let data = read_from(&path, offset)?;
            let mut pos = 0usize;
            let mut pending: Vec<RecordBatch> = Vec::new();
            loop {
                match decode_frame(&data[pos..]) {
                    Frame::End => break,
                    Frame::Record(entry, len, _) => {
                        if entry.seq > through {
                            return Ok(read);
                        }
                        if entry.table_id == self.table_id {
                            pending.extend(entry.batches);
                        }
                        pos += len;
                        if !entry.commit {
                            continue;
                        }
                        let batches = std::mem::take(&mut pending);
                        self.cursor = Some((firsts[index], offset + pos as u64));
                        if entry.seq <= self.position {
                            continue;
                        }
                        self.position = entry.seq;
                        read.position = entry.seq;
                        if !batches.is_empty() {
                            rows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
                            read.transactions.push(TailTransaction {
                                seq: entry.seq,
                                batches,
                            });
                        }
                        if rows >= max_rows {
                            return Ok(read);
                        }
                    }
                    // The end of the segment being written may hold a record being written
                    // now (above `through`): the records before it are all there is to read.
                    Frame::Invalid(_) if index + 1 == firsts.len() => return Ok(read),
                    Frame::Invalid(reason) | Frame::Undecodable(reason) => {
                        return Err(Error::Wal(format!(
                            "{} cannot be read at byte {}: {reason}",
                            path.display(),
                            offset + pos as u64
                        )));
                    }
                }
            }
            // The end of this segment; the next one continues the log (a transaction never
            // spans segments, so nothing is pending here).
            index += 1;
            offset = 0;
            if index < firsts.len() {
                self.cursor = Some((firsts[index], 0));
            }
        }
        Ok(read)
    }
}

/// The bytes of `path` from `offset` on.
fn read_from(path: &Path, offset: u64) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).map_err(io)?;
    Ok(data)
}

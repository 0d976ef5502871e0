//! Encoding and decoding of one WAL record (format in the module docs of `wal`).

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::DataType;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::{Error, Result};

/// Records of version 1 hold one batch and each is a transaction of its own; they are still
/// read, so that a WAL written before version 2 replays.
const VERSION_1: u8 = 1;
const VERSION: u8 = 2;
const KIND_ROWS: u8 = 1;
/// The record ends its transaction: its rows and those of every record since the previous
/// commit record become durable and visible together.
const FLAG_COMMIT: u8 = 1;
/// The record is the first of one write of the writer (a group of transactions written with
/// one `write` and made durable by one fsync). The writer starts a write only after the
/// previous one's fsync succeeded, so a write start found after damaged bytes proves that the
/// damage is in durable data (see `wal::replay`).
const FLAG_WRITE_START: u8 = 2;
/// len + crc.
pub(super) const FRAME_HEADER: usize = 8;

/// The largest body a record may have. The frame's length field is a `u32`; a statement
/// larger than this is split into several records of which only the last commits.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// The position in a source that the rows of a record came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOffset {
    pub source: String,
    pub partition: i32,
    pub offset: i64,
}

/// A decoded record.
#[derive(Debug, Clone)]
pub struct WalEntry {
    pub seq: u64,
    pub table_id: String,
    pub offsets: Vec<SourceOffset>,
    pub batches: Vec<RecordBatch>,
    /// Whether this record ends its transaction.
    pub commit: bool,
}

/// The bodies of one table's part of a transaction (everything but the frame and the
/// sequence number), encoded by the appending task so that the WAL writer thread only frames
/// and writes. Each body is at most `max_body` bytes: batches are grouped into bodies and a
/// batch too large for one is split by rows. Only the last body carries `commit`; `offsets`
/// travel in the last body, with the rows they account for.
pub(super) fn encode_part(
    table_id: &str,
    offsets: &[SourceOffset],
    batches: &[RecordBatch],
    commit: bool,
    max_body: usize,
) -> Result<Vec<Vec<u8>>> {
    let header = 3 + 2 + table_id.len() + 2 + 4;
    let offsets_len: usize = offsets.iter().map(|o| 2 + o.source.len() + 12).sum();
    let room = max_body
        .checked_sub(header + offsets_len)
        .ok_or_else(|| too_large(table_id, header + offsets_len, max_body))?;
    let mut encoded = Vec::new();
    for batch in batches {
        encode_fitting(batch, room, table_id, &mut encoded)?;
    }
    let mut groups: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    let mut group_bytes = 0;
    for ipc in encoded {
        let bytes = 4 + ipc.len();
        let group = groups.last_mut().expect("one group at least");
        if !group.is_empty() && group_bytes + bytes > room {
            groups.push(Vec::new());
            group_bytes = 0;
        }
        group_bytes += bytes;
        groups.last_mut().expect("one group at least").push(ipc);
    }
    let last = groups.len() - 1;
    Ok(groups
        .into_iter()
        .enumerate()
        .map(|(i, ipcs)| {
            let is_last = i == last;
            let flags = if is_last && commit { FLAG_COMMIT } else { 0 };
            let offsets = if is_last { offsets } else { &[] };
            body(table_id, offsets, flags, &ipcs)
        })
        .collect())
}

/// Encodes `batch` as one or more IPC streams of at most `room` bytes each (with their
/// length prefix), halving it by rows until each piece fits.
fn encode_fitting(
    batch: &RecordBatch,
    room: usize,
    table_id: &str,
    out: &mut Vec<Vec<u8>>,
) -> Result<()> {
    let ipc = encode_ipc(batch)?;
    if 4 + ipc.len() <= room {
        out.push(ipc);
        return Ok(());
    }
    if batch.num_rows() <= 1 {
        return Err(too_large(table_id, 4 + ipc.len(), room));
    }
    let half = batch.num_rows() / 2;
    encode_fitting(&compact(batch, 0, half)?, room, table_id, out)?;
    encode_fitting(
        &compact(batch, half, batch.num_rows())?,
        room,
        table_id,
        out,
    )
}

/// Rows `start..end` of `batch` in buffers of their own. The IPC writer writes every buffer
/// an array refers to, so a slice would not get smaller; and string and binary views refer
/// to the whole data buffers of the original even after `take`, so they are compacted too.
fn compact(batch: &RecordBatch, start: usize, end: usize) -> Result<RecordBatch> {
    let indices = UInt32Array::from_iter_values(start as u32..end as u32);
    let taken = take_record_batch(batch, &indices).map_err(wal_arrow)?;
    let columns: Vec<ArrayRef> = taken
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Utf8View => Arc::new(c.as_string_view().gc()) as ArrayRef,
            DataType::BinaryView => Arc::new(c.as_binary_view().gc()) as ArrayRef,
            _ => Arc::clone(c),
        })
        .collect();
    RecordBatch::try_new(taken.schema(), columns).map_err(wal_arrow)
}

fn encode_ipc(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut ipc = Vec::with_capacity(batch.get_array_memory_size() / 2 + 256);
    let mut writer = StreamWriter::try_new(&mut ipc, &batch.schema()).map_err(wal_arrow)?;
    writer.write(batch).map_err(wal_arrow)?;
    writer.finish().map_err(wal_arrow)?;
    drop(writer);
    Ok(ipc)
}

fn body(table_id: &str, offsets: &[SourceOffset], flags: u8, ipcs: &[Vec<u8>]) -> Vec<u8> {
    let size: usize = ipcs.iter().map(|i| 4 + i.len()).sum();
    let mut body = Vec::with_capacity(size + table_id.len() + 16);
    body.push(VERSION);
    body.push(KIND_ROWS);
    body.push(flags);
    put_str(&mut body, table_id);
    body.extend_from_slice(&(offsets.len() as u16).to_le_bytes());
    for o in offsets {
        put_str(&mut body, &o.source);
        body.extend_from_slice(&o.partition.to_le_bytes());
        body.extend_from_slice(&o.offset.to_le_bytes());
    }
    body.extend_from_slice(&(ipcs.len() as u32).to_le_bytes());
    for ipc in ipcs {
        body.extend_from_slice(&(ipc.len() as u32).to_le_bytes());
        body.extend_from_slice(ipc);
    }
    body
}

fn too_large(table_id: &str, bytes: usize, limit: usize) -> Error {
    Error::RecordTooLarge {
        table_id: table_id.to_string(),
        bytes,
        limit,
    }
}

/// Appends the frame of record `seq` with `body` to `out`, unmarked (as writers before the
/// write-start flag wrote them; tests write such segments).
#[cfg(test)]
pub(super) fn encode_frame(out: &mut Vec<u8>, seq: u64, body: &[u8]) {
    encode_frame_of_write(out, seq, body, false);
}

/// Appends the frame of record `seq` with `body` (a version 2 body from [`encode_part`]) to
/// `out`, marked as the first record of a write if `write_start`.
pub(super) fn encode_frame_of_write(out: &mut Vec<u8>, seq: u64, body: &[u8], write_start: bool) {
    let len = u32::try_from(8 + body.len()).expect("record bodies are bounded by encode_part");
    let mut flagged = None;
    if write_start && body.len() > 2 && body[0] == VERSION {
        flagged = Some(body[2] | FLAG_WRITE_START);
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    match flagged {
        Some(flags) => {
            hasher.update(&body[..2]);
            hasher.update(&[flags]);
            hasher.update(&body[3..]);
        }
        None => hasher.update(body),
    }
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    match flagged {
        Some(flags) => {
            out.extend_from_slice(&body[..2]);
            out.push(flags);
            out.extend_from_slice(&body[3..]);
        }
        None => out.extend_from_slice(body),
    }
}

/// What reading a frame at some position found.
pub(super) enum Frame {
    /// A record, the frame's total length, and whether it starts a write.
    Record(WalEntry, usize, bool),
    /// Fewer bytes than a whole frame, or a checksum that does not match: a torn write if
    /// nothing valid follows it at the end of the last segment, corruption otherwise.
    Invalid(String),
    /// A frame whose checksum matches but whose body cannot be read (a newer record version
    /// after a downgrade, a bug): never a torn write, always corruption.
    Undecodable(String),
    End,
}

/// Reads the frame starting at `data[0]`; on success also returns its total length.
pub(super) fn decode_frame(data: &[u8]) -> Frame {
    if data.is_empty() {
        return Frame::End;
    }
    let (seq, payload) = match checked_frame(data) {
        Ok(frame) => frame,
        Err(reason) => return Frame::Invalid(reason),
    };
    match decode_body(seq, &payload[8..]) {
        Ok(entry) => Frame::Record(
            entry,
            FRAME_HEADER + payload.len(),
            starts_write(&payload[8..]),
        ),
        Err(e) => Frame::Undecodable(format!("record {seq} cannot be decoded: {e}")),
    }
}

/// A frame whose length and checksum are valid.
pub(super) struct ValidFrame {
    pub seq: u64,
    pub len: usize,
    pub write_start: bool,
}

/// The frame at `data[0]` if its length and checksum are valid.
pub(super) fn valid_frame(data: &[u8]) -> Option<ValidFrame> {
    checked_frame(data).ok().map(|(seq, payload)| ValidFrame {
        seq,
        len: FRAME_HEADER + payload.len(),
        write_start: starts_write(&payload[8..]),
    })
}

fn starts_write(body: &[u8]) -> bool {
    body.len() > 2 && body[0] == VERSION && body[2] & FLAG_WRITE_START != 0
}

fn checked_frame(data: &[u8]) -> Result<(u64, &[u8]), String> {
    if data.len() < FRAME_HEADER + 8 {
        return Err(format!(
            "{} trailing bytes, shorter than a frame header",
            data.len()
        ));
    }
    let len = u32::from_le_bytes(data[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(data[4..8].try_into().expect("4 bytes"));
    if len < 8 || data.len() < FRAME_HEADER + len {
        return Err(format!(
            "frame of {len} bytes but only {} remain",
            data.len() - FRAME_HEADER
        ));
    }
    let payload = &data[FRAME_HEADER..FRAME_HEADER + len];
    if crc32fast::hash(payload) != crc {
        return Err("checksum mismatch".into());
    }
    let seq = u64::from_le_bytes(payload[0..8].try_into().expect("8 bytes"));
    Ok((seq, payload))
}

fn decode_body(seq: u64, body: &[u8]) -> Result<WalEntry, String> {
    let mut r = Reader { data: body, pos: 0 };
    let version = r.u8()?;
    if version != VERSION && version != VERSION_1 {
        return Err(format!("unknown record version {version}"));
    }
    let kind = r.u8()?;
    if kind != KIND_ROWS {
        return Err(format!("unknown record kind {kind}"));
    }
    let commit = if version == VERSION_1 {
        true
    } else {
        r.u8()? & FLAG_COMMIT != 0
    };
    let table_id = r.str()?;
    let count = r.u16()?;
    let mut offsets = Vec::with_capacity(count as usize);
    for _ in 0..count {
        offsets.push(SourceOffset {
            source: r.str()?,
            partition: i32::from_le_bytes(r.take(4)?.try_into().expect("4 bytes")),
            offset: i64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes")),
        });
    }
    let streams = if version == VERSION_1 { 1 } else { r.u32()? };
    let mut batches = Vec::with_capacity(streams as usize);
    for _ in 0..streams {
        let ipc_len = r.u32()? as usize;
        let ipc = r.take(ipc_len)?;
        let reader = StreamReader::try_new(Cursor::new(ipc), None).map_err(|e| e.to_string())?;
        for batch in reader {
            batches.push(batch.map_err(|e| e.to_string())?);
        }
    }
    if r.pos != body.len() {
        return Err(format!("{} bytes after the record", body.len() - r.pos));
    }
    Ok(WalEntry {
        seq,
        table_id,
        offsets,
        batches,
        commit,
    })
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| format!("record truncated at byte {}", self.pos))?;
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn str(&mut self) -> Result<String, String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn wal_arrow(e: arrow::error::ArrowError) -> Error {
    Error::Wal(format!("cannot encode a batch: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        rows(2)
    }

    fn rows(n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(0..n)),
                Arc::new(StringArray::from_iter(
                    (0..n).map(|i| (i % 2 == 0).then(|| format!("name {i}"))),
                )),
            ],
        )
        .unwrap()
    }

    fn frames(bodies: &[Vec<u8>], first_seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            encode_frame(&mut out, first_seq + i as u64, body);
        }
        out
    }

    fn decode_all(mut data: &[u8]) -> Vec<WalEntry> {
        let mut entries = Vec::new();
        loop {
            match decode_frame(data) {
                Frame::End => return entries,
                Frame::Record(entry, len, _) => {
                    entries.push(entry);
                    data = &data[len..];
                }
                _ => panic!("invalid frame"),
            }
        }
    }

    #[test]
    fn a_record_round_trips_with_its_offsets() {
        let offsets = vec![SourceOffset {
            source: "kafka".into(),
            partition: 3,
            offset: 42,
        }];
        let bodies = encode_part("table-1", &offsets, &[batch()], true, MAX_RECORD_BYTES).unwrap();
        assert_eq!(bodies.len(), 1);
        let frame = frames(&bodies, 7);
        let Frame::Record(entry, len, _) = decode_frame(&frame) else {
            panic!("not a record")
        };
        assert_eq!(len, frame.len());
        assert_eq!(entry.seq, 7);
        assert_eq!(entry.table_id, "table-1");
        assert_eq!(entry.offsets, offsets);
        assert_eq!(entry.batches, vec![batch()]);
        assert!(entry.commit);
    }

    #[test]
    fn a_statement_larger_than_a_record_is_split_and_only_its_last_record_commits() {
        let big = rows(10_000);
        let limit = 16 * 1024;
        let offsets = vec![SourceOffset {
            source: "s".into(),
            partition: 0,
            offset: 9,
        }];
        let bodies = encode_part("t", &offsets, &[big.clone(), batch()], true, limit).unwrap();
        assert!(bodies.len() > 4, "{} records", bodies.len());
        assert!(bodies.iter().all(|b| b.len() <= limit));
        let entries = decode_all(&frames(&bodies, 1));
        let commits: Vec<bool> = entries.iter().map(|e| e.commit).collect();
        assert_eq!(commits.iter().filter(|c| **c).count(), 1);
        assert!(commits.last().copied().unwrap());
        assert!(
            entries[..entries.len() - 1]
                .iter()
                .all(|e| e.offsets.is_empty())
        );
        assert_eq!(entries.last().unwrap().offsets, offsets);
        let all: Vec<RecordBatch> = entries.into_iter().flat_map(|e| e.batches).collect();
        let schema = big.schema();
        let joined = arrow::compute::concat_batches(&schema, &all).unwrap();
        let expected = arrow::compute::concat_batches(&schema, &[big, batch()]).unwrap();
        assert_eq!(joined, expected, "every row once, in order");
    }

    #[test]
    fn a_row_larger_than_a_record_is_refused() {
        let err = encode_part("t", &[], &[rows(1)], true, 64).unwrap_err();
        assert!(matches!(err, Error::RecordTooLarge { .. }), "{err}");
    }

    #[test]
    fn version_1_records_still_replay() {
        let mut ipc = Vec::new();
        {
            let mut w = StreamWriter::try_new(&mut ipc, &batch().schema()).unwrap();
            w.write(&batch()).unwrap();
            w.finish().unwrap();
        }
        let mut body = vec![VERSION_1, KIND_ROWS];
        put_str(&mut body, "old");
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(ipc.len() as u32).to_le_bytes());
        body.extend_from_slice(&ipc);
        let entries = decode_all(&frames(&[body], 3));
        assert_eq!(entries.len(), 1);
        assert!(entries[0].commit);
        assert_eq!(entries[0].batches, vec![batch()]);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_detected() {
        let bodies = encode_part("t", &[], &[batch()], true, MAX_RECORD_BYTES).unwrap();
        let frame = frames(&bodies, 1);
        for cut in 1..frame.len() {
            assert!(
                matches!(decode_frame(&frame[..cut]), Frame::Invalid(_)),
                "a frame cut at {cut} bytes must not decode"
            );
        }
        for i in 0..frame.len() {
            let mut bad = frame.clone();
            bad[i] ^= 0x40;
            assert!(
                matches!(decode_frame(&bad), Frame::Invalid(_)),
                "flipping byte {i} must be detected"
            );
        }
    }
}

//! Encoding and decoding of one WAL record (format in the module docs of `wal`).

use std::io::Cursor;

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::{Error, Result};

const VERSION: u8 = 1;
const KIND_ROWS: u8 = 1;
/// len + crc.
pub(super) const FRAME_HEADER: usize = 8;

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
    pub batch: RecordBatch,
}

/// The body of a record (everything but the frame and the sequence number), encoded by the
/// appending task so that the WAL writer thread only frames and writes.
pub(super) fn encode_body(
    table_id: &str,
    offsets: &[SourceOffset],
    batch: &RecordBatch,
) -> Result<Vec<u8>> {
    let mut ipc = Vec::with_capacity(batch.get_array_memory_size() + 256);
    {
        let mut writer = StreamWriter::try_new(&mut ipc, &batch.schema()).map_err(wal_arrow)?;
        writer.write(batch).map_err(wal_arrow)?;
        writer.finish().map_err(wal_arrow)?;
    }
    let mut body = Vec::with_capacity(ipc.len() + table_id.len() + 16);
    body.push(VERSION);
    body.push(KIND_ROWS);
    put_str(&mut body, table_id);
    body.extend_from_slice(&(offsets.len() as u16).to_le_bytes());
    for o in offsets {
        put_str(&mut body, &o.source);
        body.extend_from_slice(&o.partition.to_le_bytes());
        body.extend_from_slice(&o.offset.to_le_bytes());
    }
    body.extend_from_slice(&(ipc.len() as u32).to_le_bytes());
    body.extend_from_slice(&ipc);
    Ok(body)
}

/// Appends the frame of record `seq` with `body` to `out`.
pub(super) fn encode_frame(out: &mut Vec<u8>, seq: u64, body: &[u8]) {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(body);
    out.extend_from_slice(&((8 + body.len()) as u32).to_le_bytes());
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(body);
}

/// What reading a frame at some position found.
pub(super) enum Frame {
    Record(WalEntry, usize),
    /// Fewer bytes than a whole frame, or a checksum that does not match: a torn write if it is
    /// the end of the last segment, corruption otherwise.
    Invalid(String),
    End,
}

/// Reads the frame starting at `data[0]`; on success also returns its total length.
pub(super) fn decode_frame(data: &[u8]) -> Frame {
    if data.is_empty() {
        return Frame::End;
    }
    if data.len() < FRAME_HEADER + 8 {
        return Frame::Invalid(format!(
            "{} trailing bytes, shorter than a frame header",
            data.len()
        ));
    }
    let len = u32::from_le_bytes(data[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(data[4..8].try_into().expect("4 bytes"));
    if len < 8 || data.len() < FRAME_HEADER + len {
        return Frame::Invalid(format!(
            "frame of {len} bytes but only {} remain",
            data.len() - FRAME_HEADER
        ));
    }
    let payload = &data[FRAME_HEADER..FRAME_HEADER + len];
    if crc32fast::hash(payload) != crc {
        return Frame::Invalid("checksum mismatch".into());
    }
    let seq = u64::from_le_bytes(payload[0..8].try_into().expect("8 bytes"));
    match decode_body(seq, &payload[8..]) {
        Ok(entry) => Frame::Record(entry, FRAME_HEADER + len),
        Err(e) => Frame::Invalid(format!("record {seq} cannot be decoded: {e}")),
    }
}

fn decode_body(seq: u64, body: &[u8]) -> Result<WalEntry, String> {
    let mut r = Reader { data: body, pos: 0 };
    let version = r.u8()?;
    if version != VERSION {
        return Err(format!("unknown record version {version}"));
    }
    let kind = r.u8()?;
    if kind != KIND_ROWS {
        return Err(format!("unknown record kind {kind}"));
    }
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
    let ipc_len = u32::from_le_bytes(r.take(4)?.try_into().expect("4 bytes")) as usize;
    let ipc = r.take(ipc_len)?;
    let mut reader = StreamReader::try_new(Cursor::new(ipc), None).map_err(|e| e.to_string())?;
    let batch = reader
        .next()
        .ok_or("no batch in record")?
        .map_err(|e| e.to_string())?;
    Ok(WalEntry {
        seq,
        table_id,
        offsets,
        batch,
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
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a"), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_record_round_trips_with_its_offsets() {
        let offsets = vec![SourceOffset {
            source: "kafka".into(),
            partition: 3,
            offset: 42,
        }];
        let body = encode_body("table-1", &offsets, &batch()).unwrap();
        let mut frame = Vec::new();
        encode_frame(&mut frame, 7, &body);
        let Frame::Record(entry, len) = decode_frame(&frame) else {
            panic!("not a record")
        };
        assert_eq!(len, frame.len());
        assert_eq!(entry.seq, 7);
        assert_eq!(entry.table_id, "table-1");
        assert_eq!(entry.offsets, offsets);
        assert_eq!(entry.batch, batch());
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_detected() {
        let body = encode_body("t", &[], &batch()).unwrap();
        let mut frame = Vec::new();
        encode_frame(&mut frame, 1, &body);
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

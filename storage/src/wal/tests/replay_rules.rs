//! Replay's rules, on segment files written by hand: transactions, torn tails, corruption and
//! empty segments.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};

use crate::Error;
use crate::fs::StdFs;
use crate::wal::record::{encode_frame, encode_frame_of_write, encode_part};
use crate::wal::{MAX_RECORD_BYTES, WalEntry, replay, segment_name};

fn rows(values: &[i64]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
}

/// Frames of one transaction over `parts` (table id, values), from `first_seq` on, written by
/// one write of the writer (its first record marked so).
fn transaction(out: &mut Vec<u8>, first_seq: u64, parts: &[(&str, &[i64])]) -> u64 {
    let mut seq = first_seq;
    for (i, (table, values)) in parts.iter().enumerate() {
        let commit = i + 1 == parts.len();
        for body in encode_part(table, &[], &[rows(values)], commit, MAX_RECORD_BYTES).unwrap() {
            encode_frame_of_write(out, seq, &body, seq == first_seq);
            seq += 1;
        }
    }
    seq
}

/// Frames of single-row transactions `values`, all in one write of the writer.
fn one_write(out: &mut Vec<u8>, first_seq: u64, values: &[i64]) -> u64 {
    for (i, v) in values.iter().enumerate() {
        let body = encode_part("t", &[], &[rows(&[*v])], true, MAX_RECORD_BYTES).unwrap();
        encode_frame_of_write(out, first_seq + i as u64, &body[0], i == 0);
    }
    first_seq + values.len() as u64
}

fn replayed(dir: &Path) -> crate::Result<Vec<(String, u64, Vec<i64>)>> {
    let mut seen = Vec::new();
    replay(&StdFs, dir, |entry: WalEntry| {
        let values = entry
            .batches
            .iter()
            .flat_map(|b| {
                let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                a.values().to_vec()
            })
            .collect();
        seen.push((entry.table_id, entry.seq, values));
        Ok(())
    })?;
    Ok(seen)
}

#[test]
fn a_transaction_over_two_tables_replays_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    let next = transaction(&mut data, 1, &[("a", &[1, 2]), ("b", &[3])]);
    let committed = data.len();
    transaction(&mut data, next, &[("a", &[4]), ("b", &[5])]);
    // The second transaction lost its commit record (a crash before it reached the disk).
    let cut = data.len() - 1;
    std::fs::write(dir.path().join(segment_name(1)), &data[..cut]).unwrap();
    let seen = replayed(dir.path()).unwrap();
    assert_eq!(
        seen,
        vec![("a".into(), 1, vec![1, 2]), ("b".into(), 2, vec![3])],
        "the first transaction whole, nothing of the second"
    );
    let len = std::fs::metadata(dir.path().join(segment_name(1)))
        .unwrap()
        .len();
    assert!(len as usize >= committed, "committed records are never cut");
}

#[test]
fn a_statement_split_over_records_is_applied_once_under_its_last_sequence_number() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<i64> = (0..5000).collect();
    let mut data = Vec::new();
    let mut seq = 1;
    for body in encode_part("t", &[], &[rows(&values)], true, 4096).unwrap() {
        encode_frame(&mut data, seq, &body);
        seq += 1;
    }
    assert!(seq > 3, "the statement took several records");
    std::fs::write(dir.path().join(segment_name(1)), &data).unwrap();
    let seen = replayed(dir.path()).unwrap();
    assert_eq!(seen, vec![("t".into(), seq - 1, values)]);
}

#[test]
fn damage_followed_by_a_later_write_is_corruption_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    let next = transaction(&mut data, 1, &[("t", &[1])]);
    let second = data.len();
    let next = transaction(&mut data, next, &[("t", &[2])]);
    transaction(&mut data, next, &[("t", &[3])]);
    data[second + 12] ^= 0xff; // inside record 2's body: its checksum no longer matches
    let path = dir.path().join(segment_name(1));
    std::fs::write(&path, &data).unwrap();
    let err = replayed(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::Wal(m) if m.contains("not a torn write")),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().len() as usize,
        data.len(),
        "nothing is cut"
    );
}

/// A power loss during one write of several transactions may keep later sectors of it and
/// lose earlier ones (zeros past the durable end). None of it was acknowledged (no fsync
/// returned), so it is a torn tail, not corruption.
#[test]
fn a_torn_write_whose_later_records_survived_is_cut_not_called_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    let next = one_write(&mut data, 1, &[1, 2]);
    let durable = data.len();
    one_write(&mut data, next, &[3, 4, 5, 6]);
    let second_record = durable + (data.len() - durable) / 4;
    data[durable..second_record].fill(0); // the write's first record never reached the disk
    let path = dir.path().join(segment_name(1));
    std::fs::write(&path, &data).unwrap();
    let seen = replayed(dir.path()).unwrap();
    assert_eq!(
        seen.len(),
        2,
        "the durable write, nothing of the torn one: {seen:?}"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, durable);
}

/// Segments written before writes were marked: any valid record after damage is corruption.
#[test]
fn in_an_unmarked_segment_damage_followed_by_a_valid_record_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    for seq in 1..=3 {
        let body = encode_part("t", &[], &[rows(&[seq as i64])], true, MAX_RECORD_BYTES).unwrap();
        encode_frame(&mut data, seq, &body[0]);
    }
    let second = data.len() / 3;
    data[second + 12] ^= 0xff;
    std::fs::write(dir.path().join(segment_name(1)), &data).unwrap();
    let err = replayed(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::Wal(m) if m.contains("not a torn write")),
        "{err}"
    );
}

/// A torn last record is cut off; so it is when an empty segment follows: a rollover whose
/// segment's name reached the disk but whose switch failed (its directory fsync failed, and
/// the writer went on in the old segment). The empty segment is deleted.
fn assert_torn_tail_is_cut(empty_segment_after: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    let next = transaction(&mut data, 1, &[("t", &[1])]);
    let good = data.len();
    transaction(&mut data, next, &[("t", &[2])]);
    let path = dir.path().join(segment_name(1));
    std::fs::write(&path, &data[..data.len() - 3]).unwrap();
    let empty = dir.path().join(segment_name(2));
    if empty_segment_after {
        std::fs::write(&empty, b"").unwrap();
    }
    assert_eq!(
        replayed(dir.path()).unwrap(),
        vec![("t".into(), 1, vec![1])]
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, good);
    assert!(!empty.exists());
}

#[test]
fn a_torn_last_record_is_cut_off() {
    assert_torn_tail_is_cut(false);
}

#[test]
fn a_torn_tail_before_an_empty_last_segment_is_cut() {
    assert_torn_tail_is_cut(true);
}

#[test]
fn a_record_whose_checksum_matches_but_cannot_be_read_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    transaction(&mut data, 1, &[("t", &[1])]);
    let mut body = vec![9u8, 1, 1]; // record version 9: written by a newer Oxbow
    body.extend_from_slice(&[0; 8]);
    encode_frame(&mut data, 2, &body);
    std::fs::write(dir.path().join(segment_name(1)), &data).unwrap();
    let err = replayed(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::Wal(m) if m.contains("unknown record version 9")),
        "{err}"
    );
}

#[test]
fn segments_without_records_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    transaction(&mut data, 1, &[("t", &[1])]);
    std::fs::write(dir.path().join(segment_name(1)), &data).unwrap();
    std::fs::write(dir.path().join(segment_name(2)), b"").unwrap();
    let mut found = None;
    let result = replay(&StdFs, dir.path(), |_| Ok(())).unwrap();
    found.get_or_insert(result.segments.clone());
    assert_eq!(result.segments, vec![1], "the empty segment is not listed");
    assert!(!dir.path().join(segment_name(2)).exists(), "and is deleted");
    assert_eq!(result.last_seq, 1);
}

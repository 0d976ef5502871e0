//! Replay's rules, on segment files written by hand: transactions, torn tails, corruption and
//! empty segments.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};

use super::record::{encode_frame, encode_part};
use super::{MAX_RECORD_BYTES, WalEntry, replay, segment_name};
use crate::Error;

fn rows(values: &[i64]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(values.to_vec()))]).unwrap()
}

/// Frames of one transaction over `parts` (table id, values), from `first_seq` on.
fn transaction(out: &mut Vec<u8>, first_seq: u64, parts: &[(&str, &[i64])]) -> u64 {
    let mut seq = first_seq;
    for (i, (table, values)) in parts.iter().enumerate() {
        let commit = i + 1 == parts.len();
        for body in encode_part(table, &[], &[rows(values)], commit, MAX_RECORD_BYTES).unwrap() {
            encode_frame(out, seq, &body);
            seq += 1;
        }
    }
    seq
}

fn replayed(dir: &Path) -> crate::Result<Vec<(String, u64, Vec<i64>)>> {
    let mut seen = Vec::new();
    replay(dir, |entry: WalEntry| {
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
fn damage_followed_by_a_valid_record_is_corruption_not_a_torn_tail() {
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

#[test]
fn a_torn_last_record_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = Vec::new();
    let next = transaction(&mut data, 1, &[("t", &[1])]);
    let good = data.len();
    transaction(&mut data, next, &[("t", &[2])]);
    let path = dir.path().join(segment_name(1));
    std::fs::write(&path, &data[..data.len() - 3]).unwrap();
    assert_eq!(
        replayed(dir.path()).unwrap(),
        vec![("t".into(), 1, vec![1])]
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, good);
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
    let result = replay(dir.path(), |_| Ok(())).unwrap();
    found.get_or_insert(result.segments.clone());
    assert_eq!(result.segments, vec![1], "the empty segment is not listed");
    assert!(!dir.path().join(segment_name(2)).exists(), "and is deleted");
    assert_eq!(result.last_seq, 1);
}

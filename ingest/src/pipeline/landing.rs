//! What a batch writes besides its good rows: its dead letters (`oxbow.dead_letters`) and the
//! position it brings its source to (`oxbow.source_offsets`), as batches of those tables.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use crate::records::Reject;

/// How far a batch brings its source: `key` names the position (a file, a partition, an
/// idempotency key), `offset` is where the next batch starts (bytes or rows or a Kafka offset),
/// `detail` is JSON the connector reads back (a file's size, a push's counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub key: String,
    pub offset: i64,
    pub detail: Option<String>,
}

fn timestamps(at_us: i64, n: usize) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(vec![at_us; n]).with_timezone("UTC"))
}

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The dead-letter rows of `rejects`.
pub fn dead_letters(
    source: &str,
    table: &str,
    position: Option<&str>,
    rejects: &[Reject],
    at_us: i64,
) -> RecordBatch {
    let n = rejects.len();
    let schema = Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("table_name", DataType::Utf8, true),
        Field::new("stage", DataType::Utf8, false),
        Field::new("field", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, false),
        Field::new("payload", DataType::Utf8, true),
        Field::new("position", DataType::Utf8, true),
        Field::new("received_at", utc(), false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![source; n])),
        Arc::new(StringArray::from(vec![Some(table); n])),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.stage.as_str()),
        )),
        Arc::new(StringArray::from_iter(
            rejects.iter().map(|r| r.field.clone()),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.error.clone()),
        )),
        Arc::new(StringArray::from_iter(
            rejects.iter().map(|r| r.payload.as_deref().map(cap)),
        )),
        Arc::new(StringArray::from(vec![position; n])),
        timestamps(at_us, n),
    ];
    RecordBatch::try_new(schema, columns).expect("columns match the schema")
}

/// A payload is kept whole up to 64 KiB; a larger one is cut there (the error says what
/// was wrong; the row can be found again at its position).
fn cap(payload: &str) -> String {
    const MAX: usize = 64 * 1024;
    if payload.len() <= MAX {
        return payload.to_string();
    }
    let mut end = MAX;
    while !payload.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &payload[..end])
}

/// The `oxbow.source_offsets` rows of `positions`.
pub fn offsets(source_id: &str, source: &str, positions: &[Position], at_us: i64) -> RecordBatch {
    let n = positions.len();
    let schema = Arc::new(Schema::new(vec![
        Field::new("source_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("detail", DataType::Utf8, true),
        Field::new("recorded_at", utc(), false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![source_id; n])),
        Arc::new(StringArray::from(vec![source; n])),
        Arc::new(StringArray::from_iter_values(
            positions.iter().map(|p| p.key.clone()),
        )),
        Arc::new(Int64Array::from_iter_values(
            positions.iter().map(|p| p.offset),
        )),
        Arc::new(StringArray::from_iter(
            positions.iter().map(|p| p.detail.clone()),
        )),
        timestamps(at_us, n),
    ];
    RecordBatch::try_new(schema, columns).expect("columns match the schema")
}

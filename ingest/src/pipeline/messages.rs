//! Message input (Kafka): many messages per arrival, each one a value in the source's format
//! plus its metadata, which the pipeline can add as columns.
//!
//! The values are kept in one buffer with a byte range per message, so a JSON message is
//! framed by its range (a pretty-printed object with newlines is one row) and a refused
//! message is kept as it arrived. Metadata columns:
//!
//! | column | type | what |
//! |---|---|---|
//! | `_kafka_partition` | `integer` | the partition |
//! | `_kafka_offset` | `bigint` | the message's offset |
//! | `_kafka_timestamp` | `timestamptz` | the message's timestamp (create or log-append time) |
//! | `_kafka_key` | `text` | the key as UTF-8 (invalid bytes replaced), NULL without one |
//! | `_kafka_headers` | `text` | the headers as a JSON object (`{"name": "value"}`), NULL without any |
//!
//! They are in the `input` of an `AS SELECT` transform; without a transform, the ones the
//! table has a column for are stored there.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema};

use crate::records::{Payloads, Rows};

pub const PARTITION: &str = "_kafka_partition";
pub const OFFSET: &str = "_kafka_offset";
pub const TIMESTAMP: &str = "_kafka_timestamp";
pub const KEY: &str = "_kafka_key";
pub const HEADERS: &str = "_kafka_headers";

/// Every metadata column, in the order they are appended.
pub const COLUMNS: &[&str] = &[PARTITION, OFFSET, TIMESTAMP, KEY, HEADERS];

/// A batch of messages: values in one buffer, metadata per message.
#[derive(Debug, Clone, Default)]
pub struct Messages {
    pub data: Bytes,
    /// The value of message `i` is `data[ranges[i]]`; ranges ascend.
    pub ranges: Vec<Range<usize>>,
    pub partition: Vec<i32>,
    pub offset: Vec<i64>,
    pub timestamp_ms: Vec<Option<i64>>,
    pub key: Vec<Option<String>>,
    pub headers: Vec<Option<String>>,
}

impl Messages {
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The message whose value starts at byte `start`.
    fn index_of(&self, start: usize) -> Option<usize> {
        self.ranges.binary_search_by_key(&start, |r| r.start).ok()
    }

    /// Metadata column `name` for the messages `rows` (indices).
    fn column(&self, name: &str, rows: &[usize]) -> Option<(Field, ArrayRef)> {
        let array: ArrayRef = match name {
            PARTITION => Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|&i| self.partition[i]),
            )),
            OFFSET => Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|&i| self.offset[i]),
            )),
            TIMESTAMP => Arc::new(
                TimestampMicrosecondArray::from_iter(
                    rows.iter()
                        .map(|&i| self.timestamp_ms[i].map(|ms| ms.saturating_mul(1000))),
                )
                .with_timezone("UTC"),
            ),
            KEY => Arc::new(StringArray::from_iter(
                rows.iter().map(|&i| self.key[i].as_deref()),
            )),
            HEADERS => Arc::new(StringArray::from_iter(
                rows.iter().map(|&i| self.headers[i].as_deref()),
            )),
            _ => return None,
        };
        Some((Field::new(name, array.data_type().clone(), true), array))
    }
}

/// Adds the metadata columns `wanted` to decoded `rows` whose payloads are byte ranges of
/// `messages.data` (one per kept row): a field of the same name is replaced, others appended.
pub fn with_metadata(mut rows: Rows, messages: &Messages, wanted: &[&str]) -> Rows {
    if wanted.is_empty() {
        return rows;
    }
    let Payloads::Ranges { rows: kept, .. } = &rows.payloads else {
        return rows;
    };
    let indices: Vec<usize> = kept
        .iter()
        .map(|r| {
            messages
                .index_of(r.start)
                .expect("a kept row is one of the messages")
        })
        .collect();
    let batch = &rows.batch;
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    for name in wanted {
        let Some((field, array)) = messages.column(name, &indices) else {
            continue;
        };
        match fields.iter().position(|f| f.name() == name) {
            Some(at) => {
                fields[at] = field;
                columns[at] = array;
            }
            None => {
                fields.push(field);
                columns.push(array);
            }
        }
    }
    let options =
        datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(indices.len()));
    rows.batch =
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)
            .expect("metadata columns have one value per kept row");
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::json_rows::{self, UnknownFields};
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{DataType, Int64Type};

    fn messages(values: &[&str]) -> Messages {
        let mut data = Vec::new();
        let mut m = Messages::default();
        for (i, v) in values.iter().enumerate() {
            let start = data.len();
            data.extend_from_slice(v.as_bytes());
            m.ranges.push(start..data.len());
            m.partition.push(i as i32 % 2);
            m.offset.push(100 + i as i64);
            m.timestamp_ms.push(Some(1_700_000_000_000));
            m.key.push(Some(format!("k{i}")));
            m.headers.push(None);
        }
        m.data = Bytes::from(data);
        m
    }

    #[test]
    fn metadata_follows_the_kept_rows_past_a_refused_message() {
        let m = messages(&["{\"id\": 1}", "{nope", "{\"id\":\n 3}"]);
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let rows = json_rows::decode(
            m.data.clone(),
            m.ranges.clone(),
            schema,
            UnknownFields::Ignore,
        );
        assert_eq!(rows.rejects.len(), 1);
        let rows = with_metadata(rows, &m, COLUMNS);
        let offsets = rows.batch.column_by_name(OFFSET).unwrap();
        assert_eq!(
            offsets.as_primitive::<Int64Type>().values().to_vec(),
            vec![100, 102]
        );
        let keys = rows.batch.column_by_name(KEY).unwrap().as_string::<i32>();
        assert_eq!(keys.value(1), "k2");
    }
}

//! Avro messages for sources: `FORMAT AVRO (schema = '<json schema>' [, confluent = 'true',
//! schema_id = 'N'])`, decoded by arrow-avro, one datum per message.
//!
//! Plain: each message is one Avro binary datum of the declared schema. Confluent wire
//! format: a magic byte `0x00`, the 4-byte big-endian schema id, then the datum; the id must
//! be the declared `schema_id` (no registry is consulted: none can be reached here), and a
//! message with another id, no magic byte or a body that is not one datum is a dead letter.
//!
//! arrow-avro's streaming decoder wants the Confluent prefix before every datum, so plain
//! datums get one written in front. Messages are decoded in groups; a group with a bad
//! message is bisected until the bad one is alone, so one bad message costs its neighbours
//! nothing but the retry. A message counts as decoded only when exactly its bytes made
//! exactly one row, so a truncated or padded datum cannot shift its neighbours.

use std::collections::BTreeMap;

use arrow_avro::reader::ReaderBuilder;
use arrow_avro::schema::{AvroSchema, Fingerprint, FingerprintAlgorithm, SchemaStore};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;

use crate::error::IngestError;
use crate::pipeline::messages::Messages;
use crate::records::{Payloads, Reject, Rows, Stage};

/// The Confluent magic byte.
const MAGIC: u8 = 0;
/// Messages per decoder group.
const GROUP: usize = 8192;

#[derive(Debug, Clone)]
pub struct AvroFormat {
    schema_json: String,
    /// The schema id every message must carry (Confluent framing), or `None` for plain datums.
    confluent_id: Option<u32>,
    arrow_schema: SchemaRef,
}

impl AvroFormat {
    /// Reads the `FORMAT AVRO (...)` options; the schema is checked now.
    pub fn parse(options: &BTreeMap<String, String>) -> Result<Self, IngestError> {
        let mut schema_json = None;
        let mut confluent = false;
        let mut schema_id = None;
        for (key, value) in options {
            match key.as_str() {
                "schema" => schema_json = Some(value.clone()),
                "confluent" => {
                    confluent = match value.to_ascii_lowercase().as_str() {
                        "true" | "on" | "yes" => true,
                        "false" | "off" | "no" => false,
                        _ => return Err(IngestError::invalid_option(key, value, "true or false")),
                    }
                }
                "schema_id" => {
                    schema_id = Some(value.trim().parse::<u32>().map_err(|_| {
                        IngestError::invalid_option(
                            key,
                            value,
                            "a schema registry id (a whole number)",
                        )
                    })?)
                }
                "registry" | "schema_registry" | "registry_url" => {
                    return Err(IngestError::Unsupported(
                        "a schema registry is not built yet: declare the schema with schema = '...' (and schema_id for the Confluent wire format)".into(),
                    ));
                }
                _ => {
                    return Err(IngestError::UnknownOption {
                        option: key.clone(),
                        valid: "schema, confluent, schema_id".into(),
                    });
                }
            }
        }
        let schema_json = schema_json.ok_or_else(|| {
            IngestError::MissingOption(
                "schema (of FORMAT AVRO: the writer's Avro schema as JSON)".into(),
            )
        })?;
        let confluent_id = match (confluent, schema_id) {
            (true, Some(id)) => Some(id),
            (true, None) => {
                return Err(IngestError::MissingOption(
                    "schema_id (of FORMAT AVRO with confluent = 'true': the id the messages must carry)".into(),
                ));
            }
            (false, Some(_)) => {
                return Err(IngestError::invalid_option(
                    "schema_id",
                    "",
                    "schema_id together with confluent = 'true'",
                ));
            }
            (false, None) => None,
        };
        let mut format = Self {
            schema_json,
            confluent_id,
            arrow_schema: std::sync::Arc::new(datafusion::arrow::datatypes::Schema::empty()),
        };
        let decoder = format.decoder(1).map_err(|e| {
            IngestError::invalid_option(
                "schema",
                &format.schema_json,
                &format!("an Avro schema ({e})"),
            )
        })?;
        format.arrow_schema = decoder.schema();
        Ok(format)
    }

    fn id(&self) -> u32 {
        self.confluent_id.unwrap_or(0)
    }

    fn decoder(&self, batch_size: usize) -> Result<arrow_avro::reader::Decoder, String> {
        let mut store = SchemaStore::new_with_type(FingerprintAlgorithm::Id);
        let fingerprint = Fingerprint::Id(self.id());
        store
            .set(fingerprint, AvroSchema::new(self.schema_json.clone()))
            .map_err(|e| e.to_string())?;
        ReaderBuilder::new()
            .with_batch_size(batch_size.max(1))
            .with_writer_schema_store(store)
            .with_active_fingerprint(fingerprint)
            .build_decoder()
            .map_err(|e| e.to_string())
    }

    /// The message `value` as the decoder wants it (with the prefix), or why it is refused.
    fn framed(&self, value: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        match self.confluent_id {
            None => {
                out.push(MAGIC);
                out.extend_from_slice(&self.id().to_be_bytes());
                out.extend_from_slice(value);
            }
            Some(want) => {
                if value.len() < 5 || value[0] != MAGIC {
                    return Err(
                        "not in the Confluent wire format (no magic byte 0x00 and schema id)"
                            .into(),
                    );
                }
                let id = u32::from_be_bytes([value[1], value[2], value[3], value[4]]);
                if id != want {
                    return Err(format!(
                        "schema id {id} is not the declared schema_id {want}"
                    ));
                }
                out.extend_from_slice(value);
            }
        }
        Ok(())
    }

    /// Decodes every message of `m`; refused ones become rejects with their bytes in hex.
    pub fn decode(&self, m: &Messages) -> Rows {
        let mut rejects = Vec::new();
        let mut good = Vec::with_capacity(m.len());
        let mut scratch = Vec::new();
        for i in 0..m.len() {
            scratch.clear();
            match self.framed(&m.data[m.ranges[i].clone()], &mut scratch) {
                Ok(()) => good.push(i),
                Err(error) => rejects.push(reject(m, i, error)),
            }
        }
        let mut batches = Vec::new();
        let mut kept = Vec::with_capacity(good.len());
        for group in good.chunks(GROUP) {
            self.group(m, group, &mut batches, &mut kept, &mut rejects);
        }
        let batch = concat_batches(&self.arrow_schema, &batches).expect("one schema");
        Rows {
            batch,
            payloads: Payloads::Ranges {
                data: m.data.clone(),
                rows: kept.iter().map(|&i| m.ranges[i].clone()).collect(),
            },
            rejects,
        }
    }

    fn group(
        &self,
        m: &Messages,
        group: &[usize],
        batches: &mut Vec<RecordBatch>,
        kept: &mut Vec<usize>,
        rejects: &mut Vec<Reject>,
    ) {
        if group.is_empty() {
            return;
        }
        match self.decode_group(m, group) {
            Ok(batch) => {
                batches.push(batch);
                kept.extend_from_slice(group);
            }
            Err(error) if group.len() == 1 => rejects.push(reject(m, group[0], error)),
            Err(_) => {
                let (left, right) = group.split_at(group.len() / 2);
                self.group(m, left, batches, kept, rejects);
                self.group(m, right, batches, kept, rejects);
            }
        }
    }

    fn decode_group(&self, m: &Messages, group: &[usize]) -> Result<RecordBatch, String> {
        let mut decoder = self.decoder(group.len())?;
        let mut buf = Vec::new();
        for &i in group {
            buf.clear();
            self.framed(&m.data[m.ranges[i].clone()], &mut buf)?;
            let consumed = decoder.decode(&buf).map_err(|e| e.to_string())?;
            if consumed != buf.len() {
                return Err(format!(
                    "not one Avro datum of the declared schema ({} of {} bytes read)",
                    consumed.saturating_sub(5),
                    buf.len() - 5
                ));
            }
        }
        let batch = decoder
            .flush()
            .map_err(|e| e.to_string())?
            .unwrap_or_else(|| RecordBatch::new_empty(self.arrow_schema.clone()));
        if batch.num_rows() != group.len() {
            return Err(format!(
                "{} messages made {} rows",
                group.len(),
                batch.num_rows()
            ));
        }
        Ok(batch)
    }
}

fn reject(m: &Messages, i: usize, error: String) -> Reject {
    Reject {
        stage: Stage::Decode,
        field: None,
        error,
        payload: Some(format!("\\x{}", hex::encode(&m.data[m.ranges[i].clone()]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const SCHEMA: &str = r#"{"type":"record","name":"click","fields":[{"name":"id","type":"long"},{"name":"url","type":"string"}]}"#;

    /// Avro's zig-zag varint of `n`.
    fn long(n: i64, out: &mut Vec<u8>) {
        let mut z = ((n << 1) ^ (n >> 63)) as u64;
        loop {
            if z < 0x80 {
                out.push(z as u8);
                return;
            }
            out.push((z as u8 & 0x7f) | 0x80);
            z >>= 7;
        }
    }

    fn datum(id: i64, url: &str) -> Vec<u8> {
        let mut out = Vec::new();
        long(id, &mut out);
        long(url.len() as i64, &mut out);
        out.extend_from_slice(url.as_bytes());
        out
    }

    fn messages(values: Vec<Vec<u8>>) -> Messages {
        let mut m = Messages::default();
        let mut data = Vec::new();
        for (i, v) in values.into_iter().enumerate() {
            let start = data.len();
            data.extend_from_slice(&v);
            m.ranges.push(start..data.len());
            m.partition.push(0);
            m.offset.push(i as i64);
            m.timestamp_ms.push(None);
            m.key.push(None);
            m.headers.push(None);
        }
        m.data = Bytes::from(data);
        m
    }

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_datums_decode_and_a_bad_one_is_refused_alone() {
        let format = AvroFormat::parse(&options(&[("schema", SCHEMA)])).unwrap();
        let mut truncated = datum(2, "bbbb");
        truncated.truncate(3);
        let m = messages(vec![datum(1, "a"), truncated, datum(3, "ccc")]);
        let rows = format.decode(&m);
        assert_eq!(rows.batch.num_rows(), 2);
        assert_eq!(rows.rejects.len(), 1);
    }

    #[test]
    fn confluent_framing_checks_the_schema_id() {
        let format = AvroFormat::parse(&options(&[
            ("schema", SCHEMA),
            ("confluent", "true"),
            ("schema_id", "7"),
        ]))
        .unwrap();
        let framed = |id: u32, body: Vec<u8>| {
            let mut v = vec![0u8];
            v.extend_from_slice(&id.to_be_bytes());
            v.extend_from_slice(&body);
            v
        };
        let m = messages(vec![
            framed(7, datum(1, "a")),
            framed(8, datum(2, "b")),
            datum(3, "c"),
        ]);
        let rows = format.decode(&m);
        assert_eq!(rows.batch.num_rows(), 1);
        assert_eq!(rows.rejects.len(), 2);
        assert!(
            rows.rejects[0].error.contains("schema id 8"),
            "{:?}",
            rows.rejects
        );
    }

    #[test]
    fn a_bad_schema_is_refused_at_create() {
        assert!(AvroFormat::parse(&options(&[("schema", "{\"type\":\"nope\"}")])).is_err());
    }
}

//! JSON input for sources: a JSON array of objects, NDJSON (one object per line), or a single
//! object, decoded into Arrow batches by arrow-json with per-row errors.
//!
//! arrow-json fails a whole batch for one bad value and cannot say which row it was, so each
//! row is first framed and checked on its own with a cheap serde visitor (syntax, an object at
//! the top, unknown fields in strict mode) and only the rows that pass are decoded together.
//! When that decode still fails (a nested value where a scalar is expected), the rows are
//! bisected until the failing ones are alone. A failing row gets one slow retry with its
//! nested values turned into JSON text (so objects can land in `jsonb` and `text` columns);
//! only then is it refused. Good rows never pay for their bad neighbours beyond the bisection.

use std::collections::HashSet;
use std::fmt;
use std::io::Cursor;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::json::ReaderBuilder;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::records::{Payloads, Reject, Rows, Stage};

/// How unknown top-level fields are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownFields {
    /// Refuse the row, naming the field (`schema_mode = 'strict'`).
    Refuse,
    /// Leave the field out (`schema_mode = 'ignore_new_fields'`).
    Ignore,
}

/// Splits `data` into one byte range per JSON value: the elements of a top-level array, a
/// single value, or the non-blank lines of NDJSON. Returns the framing error for a body that
/// is an array but not valid JSON (no element can be trusted then).
pub fn frame(data: &[u8]) -> Result<Vec<Range<usize>>, String> {
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    if data.get(start) == Some(&b'[') {
        let elements: Vec<&serde_json::value::RawValue> =
            serde_json::from_slice(data).map_err(|e| format!("invalid JSON array: {e}"))?;
        let base = data.as_ptr() as usize;
        return Ok(elements
            .iter()
            .map(|raw| {
                let at = raw.get().as_ptr() as usize - base;
                at..at + raw.get().len()
            })
            .collect());
    }
    if data.get(start) == Some(&b'{')
        && let Ok(raw) = serde_json::from_slice::<&serde_json::value::RawValue>(data)
    {
        let at = raw.get().as_ptr() as usize - data.as_ptr() as usize;
        return Ok(vec![at..at + raw.get().len()]);
    }
    let mut rows = Vec::new();
    let mut at = 0;
    for line in data.split(|&b| b == b'\n') {
        let end = at + line.len();
        if line.iter().any(|b| !b.is_ascii_whitespace()) {
            let line_end = if line.last() == Some(&b'\r') {
                end - 1
            } else {
                end
            };
            rows.push(at..line_end);
        }
        at = end + 1;
    }
    Ok(rows)
}

/// Decodes the rows `ranges` of `data` into a batch of `schema`: fields of the rows not in it
/// are refused or ignored as `unknown` says. Values are coerced to the field types as
/// arrow-json does (numbers and booleans into text fields as their JSON text).
pub fn decode(
    data: Bytes,
    ranges: Vec<Range<usize>>,
    schema: SchemaRef,
    unknown: UnknownFields,
) -> Rows {
    let known: HashSet<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut rejects = Vec::new();
    let mut good = Vec::with_capacity(ranges.len());
    for range in ranges {
        let row = &data[range.clone()];
        match check_row(row, &known, unknown) {
            Ok(()) => good.push(range),
            Err(RowProblem { field, error }) => rejects.push(Reject {
                stage: if field.is_some() {
                    Stage::Validate
                } else {
                    Stage::Decode
                },
                field,
                error,
                payload: Some(String::from_utf8_lossy(row).into_owned()),
            }),
        }
    }
    let mut decoder = Bisect {
        data: &data,
        schema: &schema,
        batches: Vec::new(),
        kept: Vec::new(),
        rejects: &mut rejects,
    };
    decoder.run(&good);
    let batch = concat_batches(&schema, &decoder.batches).expect("batches share the schema");
    let kept = std::mem::take(&mut decoder.kept);
    Rows {
        batch,
        payloads: Payloads::Ranges { data, rows: kept },
        rejects,
    }
}

/// The schema of the rows `ranges`, inferred by arrow-json: numbers, booleans and strings keep
/// their types, nested values become text (their JSON), so that a table created from it can
/// take every row. Rows that are not JSON objects are skipped (the decode refuses them).
pub fn infer_schema(data: &[u8], ranges: &[Range<usize>]) -> Schema {
    let mut text = Vec::new();
    for r in ranges.iter().take(1000) {
        let row = &data[r.clone()];
        if serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(row).is_ok() {
            text.extend_from_slice(row);
            text.push(b'\n');
        }
    }
    let inferred = datafusion::arrow::json::reader::infer_json_schema(Cursor::new(text), None)
        .map(|(schema, _)| schema)
        .unwrap_or_else(|_| Schema::empty());
    Schema::new(
        inferred
            .fields()
            .iter()
            .map(|f| {
                let data_type = match f.data_type() {
                    DataType::Int64 | DataType::Float64 | DataType::Boolean | DataType::Utf8 => {
                        f.data_type().clone()
                    }
                    _ => DataType::Utf8,
                };
                Field::new(f.name(), data_type, true)
            })
            .collect::<Vec<_>>(),
    )
}

struct RowProblem {
    field: Option<String>,
    error: String,
}

fn check_row(row: &[u8], known: &HashSet<&str>, unknown: UnknownFields) -> Result<(), RowProblem> {
    let mut de = serde_json::Deserializer::from_slice(row);
    let check = TopLevel { known, unknown };
    let outcome = (&mut de).deserialize_any(check).and_then(|o| {
        de.end()?;
        Ok(o)
    });
    match outcome {
        Ok(None) => Ok(()),
        Ok(Some(field)) => Err(RowProblem {
            error: format!(
                "unknown field \"{field}\": the table has no such column (schema_mode = 'strict')"
            ),
            field: Some(field),
        }),
        Err(e) => Err(RowProblem {
            field: None,
            error: format!("invalid JSON: {e}"),
        }),
    }
}

/// Visits a row's top level: it must be an object; returns its first unknown field when
/// unknown fields are refused. Values are skipped unparsed.
struct TopLevel<'a> {
    known: &'a HashSet<&'a str>,
    unknown: UnknownFields,
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut first_unknown = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if self.unknown == UnknownFields::Refuse
                && first_unknown.is_none()
                && !self.known.contains(key.as_str())
            {
                first_unknown = Some(key.as_str().to_string());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(first_unknown)
    }
}

/// A key, borrowed from the input unless it has escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key::Owned(v.to_string()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Decodes rows together, splitting a failing group in halves until each failure is one row.
struct Bisect<'a> {
    data: &'a Bytes,
    schema: &'a SchemaRef,
    batches: Vec<RecordBatch>,
    kept: Vec<Range<usize>>,
    rejects: &'a mut Vec<Reject>,
}

/// Rows decoded per arrow-json batch.
const DECODE_ROWS: usize = 8192;

impl Bisect<'_> {
    fn run(&mut self, rows: &[Range<usize>]) {
        for group in rows.chunks(DECODE_ROWS) {
            self.group(group);
        }
    }

    fn group(&mut self, rows: &[Range<usize>]) {
        if rows.is_empty() {
            return;
        }
        let bytes: Vec<&[u8]> = rows.iter().map(|r| &self.data[r.clone()]).collect();
        match decode_values(&bytes, self.schema) {
            Ok(batch) => {
                self.batches.push(batch);
                self.kept.extend(rows.iter().cloned());
            }
            Err(error) if rows.len() == 1 => match self.retry_nested(bytes[0]) {
                Some(batch) => {
                    self.batches.push(batch);
                    self.kept.push(rows[0].clone());
                }
                None => self.rejects.push(Reject {
                    stage: Stage::Validate,
                    field: field_of(&error),
                    error,
                    payload: Some(String::from_utf8_lossy(bytes[0]).into_owned()),
                }),
            },
            Err(_) => {
                let (left, right) = rows.split_at(rows.len() / 2);
                self.group(left);
                self.group(right);
            }
        }
    }

    /// The row with its nested values (objects, arrays) as JSON text, for text columns.
    fn retry_nested(&self, row: &[u8]) -> Option<RecordBatch> {
        let serde_json::Value::Object(mut object) = serde_json::from_slice(row).ok()? else {
            return None;
        };
        let mut changed = false;
        for field in self.schema.fields() {
            if field.data_type() != &DataType::Utf8 {
                continue;
            }
            if let Some(value) = object.get_mut(field.name())
                && (value.is_object() || value.is_array())
            {
                *value = serde_json::Value::String(value.to_string());
                changed = true;
            }
        }
        if !changed {
            return None;
        }
        let text = serde_json::to_vec(&object).ok()?;
        decode_values(&[&text], self.schema).ok()
    }
}

fn decode_values(rows: &[&[u8]], schema: &SchemaRef) -> Result<RecordBatch, String> {
    let mut decoder = ReaderBuilder::new(Arc::clone(schema))
        .with_batch_size(rows.len().max(1))
        .with_coerce_primitive(true)
        .build_decoder()
        .map_err(|e| e.to_string())?;
    for row in rows {
        decoder.decode(row).map_err(|e| e.to_string())?;
        decoder.decode(b"\n").map_err(|e| e.to_string())?;
    }
    match decoder.flush().map_err(|e| e.to_string())? {
        Some(batch) if batch.num_rows() == rows.len() => Ok(batch),
        Some(batch) => Err(format!(
            "expected {} rows, decoded {}",
            rows.len(),
            batch.num_rows()
        )),
        None => Err("no rows decoded".into()),
    }
}

/// The field arrow-json names in an error (`whilst decoding field 'a': ...`).
fn field_of(error: &str) -> Option<String> {
    let start = error.find("field '")? + "field '".len();
    let end = error[start..].find('\'')?;
    Some(error[start..start + end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::AsArray;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    fn rows(text: &str, unknown: UnknownFields) -> Rows {
        let data = Bytes::from(text.to_string());
        let ranges = frame(&data).unwrap();
        decode(data, ranges, schema(), unknown)
    }

    #[test]
    fn arrays_lines_and_single_objects_are_framed() {
        assert_eq!(frame(br#"[{"a":1}, {"a":2}]"#).unwrap().len(), 2);
        assert_eq!(frame(b"{\"a\":1}\n\n{\"a\":2}\r\n").unwrap().len(), 2);
        assert_eq!(frame(b"{\n  \"a\": 1\n}\n").unwrap().len(), 1);
        assert!(frame(b"[{\"a\":1},").is_err());
    }

    #[test]
    fn bad_rows_are_refused_alone_with_the_field_named() {
        let out = rows(
            "{\"id\":1,\"name\":\"a\"}\n{\"id\":\"x\"}\n{oops\n{\"id\":3,\"extra\":1}\n{\"id\":\"4\",\"name\":5}\n",
            UnknownFields::Refuse,
        );
        assert_eq!(out.batch.num_rows(), 2);
        let ids = out
            .batch
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        assert_eq!(ids.values().to_vec(), vec![1, 4]);
        assert_eq!(out.batch.column(1).as_string::<i32>().value(1), "5");
        assert_eq!(out.rejects.len(), 3);
        assert_eq!(out.rejects[0].stage, Stage::Decode);
        assert_eq!(out.rejects[1].field.as_deref(), Some("extra"));
        assert_eq!(out.rejects[2].field.as_deref(), Some("id"));
        assert_eq!(out.rejects[2].payload.as_deref(), Some("{\"id\":\"x\"}"));
        match &out.payloads {
            Payloads::Ranges { rows, .. } => assert_eq!(rows.len(), 2),
            _ => panic!("ranges"),
        }
    }

    #[test]
    fn unknown_fields_can_be_ignored_and_nested_values_land_as_text() {
        let out = rows(
            r#"[{"id":1,"extra":true,"name":{"a":[1,2]}}]"#,
            UnknownFields::Ignore,
        );
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        assert_eq!(
            out.batch.column(1).as_string::<i32>().value(0),
            r#"{"a":[1,2]}"#
        );
    }

    #[test]
    fn schemas_are_inferred_with_nested_values_as_text() {
        let data = br#"{"a":1,"b":"x","c":{"d":1},"e":1.5,"f":true}"#;
        let schema = infer_schema(data, &frame(data).unwrap());
        let types: Vec<_> = schema
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(
            types,
            vec![
                DataType::Int64,
                DataType::Utf8,
                DataType::Utf8,
                DataType::Float64,
                DataType::Boolean
            ]
        );
    }
}

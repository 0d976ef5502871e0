//! Result formats of the HTTP query API, each written batch by batch: nothing waits for the
//! whole result.
//!
//! | name | media type | shape |
//! | --- | --- | --- |
//! | `json` (default) | `application/json` | an array of row objects, nulls explicit |
//! | `jsonl` (`ndjson`) | `application/x-ndjson` | one row object per line |
//! | `csv` | `text/csv` | a header line, then RFC 4180 rows |
//! | `arrow` | `application/vnd.apache.arrow.stream` | Arrow IPC stream |
//! | `parquet` | `application/vnd.apache.parquet` | a Parquet file, one row group per 64 Ki rows |
//!
//! Parquet writes its footer last, so its bytes leave per row group rather than per batch.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::json::writer::{JsonArray, LineDelimited};
use datafusion::arrow::json::{Writer as JsonWriter, WriterBuilder as JsonWriterBuilder};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;

/// Rows per Parquet row group: small enough that bytes flow while a large result streams.
const PARQUET_ROW_GROUP: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Jsonl,
    Csv,
    Arrow,
    Parquet,
}

impl Format {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "json" => Format::Json,
            "jsonl" | "ndjson" => Format::Jsonl,
            "csv" => Format::Csv,
            "arrow" => Format::Arrow,
            "parquet" => Format::Parquet,
            _ => return None,
        })
    }

    /// The format an `Accept` header asks for, if it names one of ours.
    pub fn from_accept(accept: &str) -> Option<Self> {
        accept.split(',').find_map(|part| {
            let media = part.split(';').next().unwrap_or("").trim();
            Some(match media {
                "application/json" => Format::Json,
                "application/x-ndjson" | "application/jsonl" | "application/ndjson" => {
                    Format::Jsonl
                }
                "text/csv" => Format::Csv,
                "application/vnd.apache.arrow.stream" => Format::Arrow,
                "application/vnd.apache.parquet" | "application/x-parquet" => Format::Parquet,
                _ => return None,
            })
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Jsonl => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }

    pub fn encoder(self, schema: &SchemaRef) -> Result<Box<dyn Encoder>, ArrowError> {
        Ok(match self {
            Format::Json => Box::new(Json::<JsonArray>::new()),
            Format::Jsonl => Box::new(Json::<LineDelimited>::new()),
            Format::Csv => Box::new(Csv {
                schema: Arc::clone(schema),
                header_written: false,
            }),
            Format::Arrow => Box::new(Arrow(Some(StreamWriter::try_new(Vec::new(), schema)?))),
            Format::Parquet => Box::new(Parquet(Some(
                ArrowWriter::try_new(
                    Vec::new(),
                    Arc::clone(schema),
                    Some(
                        WriterProperties::builder()
                            .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP))
                            .build(),
                    ),
                )
                .map_err(|e| ArrowError::ExternalError(Box::new(e)))?,
            ))),
        })
    }
}

/// Turns batches into the bytes of one format.
pub trait Encoder: Send {
    /// The bytes of `batch` (maybe none yet: Parquet holds a row group).
    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, ArrowError>;
    /// The last bytes, after the last batch.
    fn finish(&mut self) -> Result<Bytes, ArrowError>;
}

struct Json<F: datafusion::arrow::json::writer::JsonFormat>(JsonWriter<Vec<u8>, F>);

impl<F: datafusion::arrow::json::writer::JsonFormat> Json<F> {
    fn new() -> Self {
        Self(
            JsonWriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, F>(Vec::new()),
        )
    }
}

impl<F: datafusion::arrow::json::writer::JsonFormat + Send> Encoder for Json<F> {
    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, ArrowError> {
        self.0.write(batch)?;
        Ok(Bytes::from(std::mem::take(self.0.get_mut())))
    }

    fn finish(&mut self) -> Result<Bytes, ArrowError> {
        self.0.finish()?;
        Ok(Bytes::from(std::mem::take(self.0.get_mut())))
    }
}

struct Csv {
    schema: SchemaRef,
    header_written: bool,
}

impl Csv {
    fn write(&mut self, batch: &RecordBatch) -> Result<Bytes, ArrowError> {
        let mut writer = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(!self.header_written)
            .build(Vec::new());
        writer.write(batch)?;
        self.header_written = true;
        Ok(Bytes::from(writer.into_inner()))
    }
}

impl Encoder for Csv {
    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, ArrowError> {
        self.write(batch)
    }

    /// The header alone when there were no rows.
    fn finish(&mut self) -> Result<Bytes, ArrowError> {
        if self.header_written {
            return Ok(Bytes::new());
        }
        self.write(&RecordBatch::new_empty(Arc::clone(&self.schema)))
    }
}

struct Arrow(Option<StreamWriter<Vec<u8>>>);

impl Encoder for Arrow {
    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, ArrowError> {
        let writer = self.0.as_mut().expect("not finished");
        writer.write(batch)?;
        Ok(Bytes::from(std::mem::take(writer.get_mut())))
    }

    fn finish(&mut self) -> Result<Bytes, ArrowError> {
        match self.0.take() {
            Some(mut writer) => {
                writer.finish()?;
                Ok(Bytes::from(writer.into_inner()?))
            }
            None => Ok(Bytes::new()),
        }
    }
}

struct Parquet(Option<ArrowWriter<Vec<u8>>>);

fn parquet_error(e: datafusion::parquet::errors::ParquetError) -> ArrowError {
    ArrowError::ExternalError(Box::new(e))
}

impl Encoder for Parquet {
    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, ArrowError> {
        let writer = self.0.as_mut().expect("not finished");
        writer.write(batch).map_err(parquet_error)?;
        // Only bytes already written (whole row groups): the writer keeps its own offsets.
        Ok(Bytes::from(std::mem::take(writer.inner_mut())))
    }

    fn finish(&mut self) -> Result<Bytes, ArrowError> {
        match self.0.take() {
            Some(writer) => Ok(Bytes::from(writer.into_inner().map_err(parquet_error)?)),
            None => Ok(Bytes::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a,b"), None])),
            ],
        )
        .unwrap()
    }

    fn encode(format: Format, batches: &[RecordBatch]) -> Vec<u8> {
        let mut encoder = format.encoder(&batch().schema()).unwrap();
        let mut out = Vec::new();
        for b in batches {
            out.extend_from_slice(&encoder.batch(b).unwrap());
        }
        out.extend_from_slice(&encoder.finish().unwrap());
        out
    }

    #[test]
    fn text_formats_join_batches_into_one_document() {
        let two = [batch(), batch()];
        let json: serde_json::Value = serde_json::from_slice(&encode(Format::Json, &two)).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 4);
        assert_eq!(json[1], serde_json::json!({"id": 2, "name": null}));
        assert_eq!(encode(Format::Json, &[]), b"[]");
        let lines = String::from_utf8(encode(Format::Jsonl, &two)).unwrap();
        assert_eq!(lines.lines().count(), 4);
        let csv = String::from_utf8(encode(Format::Csv, &two)).unwrap();
        assert_eq!(csv, "id,name\n1,\"a,b\"\n2,\n1,\"a,b\"\n2,\n");
        assert_eq!(
            String::from_utf8(encode(Format::Csv, &[])).unwrap(),
            "id,name\n"
        );
    }

    #[test]
    fn binary_formats_read_back() {
        let two = [batch(), batch()];
        let bytes = encode(Format::Arrow, &two);
        let reader =
            datafusion::arrow::ipc::reader::StreamReader::try_new(&bytes[..], None).unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 4);
        let bytes = Bytes::from(encode(Format::Parquet, &two));
        let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            bytes, 1024,
        )
        .unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 4);
    }

    #[test]
    fn accept_and_names_choose_the_format() {
        assert_eq!(Format::from_accept("text/csv"), Some(Format::Csv));
        assert_eq!(
            Format::from_accept("application/vnd.apache.arrow.stream;q=1"),
            Some(Format::Arrow)
        );
        assert_eq!(Format::from_accept("*/*"), None);
        assert_eq!(Format::from_name("NDJSON"), Some(Format::Jsonl));
        assert_eq!(Format::from_name("xml"), None);
    }
}

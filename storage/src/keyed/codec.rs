//! [`KeyCodec`]: the key columns of rows as bytes that compare and hash equal exactly when the
//! keys are equal (arrow's row format), so one hash map serves every key type and composite
//! keys alike.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};
use arrow::util::display::array_value_to_string;

use crate::{Error, Result};

/// An encoded key.
pub type Key = Box<[u8]>;

#[derive(Debug, Clone)]
pub struct KeyCodec {
    /// Key column names in key order.
    names: Vec<String>,
    /// Their indices in the table's schema.
    indices: Vec<usize>,
    fields: Vec<SortField>,
    schema: SchemaRef,
}

impl KeyCodec {
    /// The codec of the key `names` of a table with `schema`.
    pub fn new(schema: &SchemaRef, names: &[String]) -> Result<Self> {
        let mut indices = Vec::with_capacity(names.len());
        let mut fields = Vec::with_capacity(names.len());
        for name in names {
            let index = schema
                .index_of(name)
                .map_err(|e| Error::DataFusion(e.into()))?;
            fields.push(SortField::new(schema.field(index).data_type().clone()));
            indices.push(index);
        }
        let key_schema = Arc::new(
            schema
                .project(&indices)
                .map_err(|e| Error::DataFusion(e.into()))?,
        );
        Ok(Self {
            names: names.to_vec(),
            indices,
            fields,
            schema: key_schema,
        })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Indices of the key columns in the table's schema.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The schema of the key columns alone (that of a delete batch, without its mark).
    pub fn key_schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The keys of `columns` (the key columns, in key order), one per row.
    pub fn encode_columns(&self, columns: &[ArrayRef]) -> Result<Vec<Key>> {
        let converter =
            RowConverter::new(self.fields.clone()).map_err(|e| Error::DataFusion(e.into()))?;
        let rows = converter
            .convert_columns(columns)
            .map_err(|e| Error::DataFusion(e.into()))?;
        Ok(rows.iter().map(|r| Box::from(r.as_ref())).collect())
    }

    /// The key columns of encoded keys, in key order (the inverse of
    /// [`KeyCodec::encode_columns`]).
    pub fn decode(&self, keys: &[Key]) -> Result<Vec<ArrayRef>> {
        let converter =
            RowConverter::new(self.fields.clone()).map_err(|e| Error::DataFusion(e.into()))?;
        let parser = converter.parser();
        let rows: Vec<_> = keys.iter().map(|k| parser.parse(k)).collect();
        converter
            .convert_rows(rows)
            .map_err(|e| Error::DataFusion(e.into()))
    }

    /// The keys of a batch with the table's schema.
    pub fn encode(&self, batch: &RecordBatch) -> Result<Vec<Key>> {
        let columns: Vec<ArrayRef> = self
            .indices
            .iter()
            .map(|i| Arc::clone(batch.column(*i)))
            .collect();
        self.encode_columns(&columns)
    }

    /// The keys of a batch holding the key columns by name (a delete batch, or any batch
    /// with the table's columns).
    pub fn encode_by_name(&self, batch: &RecordBatch) -> Result<Vec<Key>> {
        let columns = self
            .names
            .iter()
            .map(|n| {
                batch.column_by_name(n).cloned().ok_or_else(|| {
                    Error::Wal(format!("a keyed change lacks the key column \"{n}\""))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.encode_columns(&columns)
    }

    /// `(a, b)=(1, x)`, as PostgreSQL's `DETAIL: Key (...)=(...) already exists.`
    pub fn describe(&self, batch: &RecordBatch, row: usize) -> String {
        let values: Vec<String> = self
            .names
            .iter()
            .map(|n| {
                batch
                    .column_by_name(n)
                    .and_then(|c| array_value_to_string(c, row).ok())
                    .unwrap_or_default()
            })
            .collect();
        format!("({})=({})", self.names.join(", "), values.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn equal_composite_keys_encode_equal_and_others_differ() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, false),
            Field::new("v", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 1, 2])),
                Arc::new(StringArray::from(vec!["x", "x", "x"])),
                Arc::new(Int64Array::from(vec![10, 20, 30])),
            ],
        )
        .unwrap();
        let codec = KeyCodec::new(&schema, &["a".into(), "b".into()]).unwrap();
        let keys = codec.encode(&batch).unwrap();
        assert_eq!(keys[0], keys[1]);
        assert_ne!(keys[0], keys[2]);
        assert_eq!(codec.describe(&batch, 2), "(a, b)=(2, x)");
        let decoded = codec.decode(&keys).unwrap();
        assert_eq!(codec.encode_columns(&decoded).unwrap(), keys);
    }
}

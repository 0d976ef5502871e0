//! The definitions the catalog keeps. They are serialised as JSON inside redb, so every field
//! added later must have a serde default to keep old catalogs readable.

use std::fmt;

use arrow_schema::{Field, Schema};
use serde::{Deserialize, Serialize};

use crate::SqlType;

/// A schema-qualified name. Names are stored as PostgreSQL folds them: unquoted identifiers
/// lower-cased by the parser, quoted ones kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectName {
    pub schema: String,
    pub name: String,
}

impl ObjectName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// The key of this object in the catalog store. NUL cannot appear in an identifier.
    pub(crate) fn key(&self) -> String {
        format!("{}\u{0}{}", self.schema, self.name)
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub sql_type: SqlType,
    pub nullable: bool,
}

/// A table: its columns, where its Delta table lives, and how its hot tier behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    /// Stable identity of the table, kept across renames; used as the Delta `txn` app id.
    pub id: String,
    pub name: ObjectName,
    pub columns: Vec<ColumnDef>,
    /// Path of the Delta table relative to the lakehouse root.
    pub location: String,
    #[serde(default)]
    pub options: TableOptions,
    /// The columns of the declared `PRIMARY KEY`, in key order (empty: none). Oxbow does not
    /// enforce uniqueness (rows arrive as an append-only stream); the key is recorded so that
    /// `pg_index`, `pg_constraint` and `information_schema` describe it to tools.
    #[serde(default)]
    pub primary_key: Vec<String>,
}

/// Per-table settings of the hot tier (`CREATE TABLE ... WITH (...)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableOptions {
    /// Hot rows older than this are flushed to Delta (`flush_interval = '10s'`).
    pub flush_interval_ms: u64,
    /// A table with this many hot rows is flushed (`flush_rows = 1000000`). Together with the
    /// interval this sets the size of the Parquet files the lakehouse tier gets.
    pub flush_rows: u64,
    /// The column holding event time (`time_column = 'ts'`): hot batches keep its min/max so
    /// that time filters skip them.
    pub time_column: Option<String>,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            flush_interval_ms: 10_000,
            flush_rows: 1_000_000,
            time_column: None,
        }
    }
}

impl TableDef {
    /// The Arrow schema rows of this table have.
    pub fn arrow_schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(&c.name, c.sql_type.arrow_type(), c.nullable))
                .collect::<Vec<_>>(),
        )
    }

    /// [`TableDef::arrow_schema`] with each column's declared SQL type in its field metadata
    /// where Arrow's type does not tell it (the schema queries plan against).
    pub fn described_schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| {
                    let field = Field::new(&c.name, c.sql_type.arrow_type(), c.nullable);
                    match c.sql_type.field_metadata() {
                        Some(metadata) => field.with_metadata(metadata),
                        None => field,
                    }
                })
                .collect::<Vec<_>>(),
        )
    }

    /// The default location of a table's Delta files: `tables/<schema>/<table>`.
    pub fn default_location(name: &ObjectName) -> String {
        format!("tables/{}/{}", name.schema, name.name)
    }
}

/// A view: a stored query, planned again each time it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewDef {
    pub name: ObjectName,
    /// The query text, as the user wrote it after `AS`.
    pub query: String,
}

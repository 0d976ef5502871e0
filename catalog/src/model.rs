//! The definitions the catalog keeps. They are serialised as JSON inside redb, so every field
//! added later must have a serde default to keep old catalogs readable.

use std::fmt;

use arrow_schema::{Field, Schema};
use serde::{Deserialize, Serialize};

use crate::partition::{GENERATION_EXPRESSION_KEY, PartitionColumn, PartitionTransform};
use crate::{Error, Result, SqlType};

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

    /// The key of this object in the catalog store. NUL cannot appear in an identifier
    /// ([`check_identifier`] refuses it), so keys of different objects never collide.
    pub(crate) fn key(&self) -> String {
        format!("{}\u{0}{}", self.schema, self.name)
    }
}

/// The longest identifier PostgreSQL keeps, in bytes (`NAMEDATALEN - 1`).
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// Checks that `name` can name a schema, table or view. Any identifier PostgreSQL accepts is
/// accepted, whatever its characters (`..`, `a/b`, `a#x`): names never become paths, table
/// locations come from ids ([`TableDef::location_for_id`]). Refused: the empty name and NUL
/// (PostgreSQL cannot receive either; NUL separates the parts of a catalog key), and names
/// over [`MAX_IDENTIFIER_BYTES`]. PostgreSQL would truncate those with a NOTICE and then
/// look up every later reference truncated too; Oxbow refuses them instead (42622), so a
/// name is never silently different from the one written.
pub fn check_identifier(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::InvalidName {
            name: name.into(),
            reason: "zero-length identifier",
        });
    }
    if name.contains('\u{0}') {
        return Err(Error::InvalidName {
            name: name.replace('\u{0}', "\\0"),
            reason: "identifiers cannot contain NUL",
        });
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(Error::NameTooLong {
            name: name.into(),
            bytes: name.len(),
        });
    }
    Ok(())
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
    /// Path of the Delta table relative to the lakehouse root. Tables created since ids
    /// became locations have [`TableDef::location_for_id`]; older catalogs hold
    /// `tables/<schema>/<name>`, which storage still opens (after checking it stays under the
    /// root) but never deletes.
    pub location: String,
    #[serde(default)]
    pub options: TableOptions,
    /// The columns of the declared `PRIMARY KEY`, in key order (empty: none), described to
    /// tools by `pg_index`, `pg_constraint` and `information_schema`. Enforced (one row per
    /// key, newest version wins) only when [`TableOptions::keyed`] is set, which every table
    /// created with a key since keyed tables exist has; older tables stay append-only.
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
    /// The table keeps one row per `PRIMARY KEY` value (set by `CREATE TABLE` when a key is
    /// declared; not a `WITH` option). Tables from catalogs older than keyed tables read
    /// `false` and keep their rows as they were written.
    pub keyed: bool,
    /// Every write is an upsert: a row whose key exists replaces it instead of failing with
    /// 23505 (`WITH (upsert = true)`, what sources into keyed tables want).
    pub upsert: bool,
    /// The partition columns of the Delta table (`PARTITION BY (day(ts))`), in order; empty:
    /// not partitioned.
    pub partition_by: Vec<PartitionColumn>,
    /// Druid's ingest-time rollup (`WITH (rollup_only = true)`): the table keeps no rows of
    /// its own, only the partial aggregates of the materialized views over it. A write to it
    /// without a view is refused rather than dropped.
    pub rollup_only: bool,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            flush_interval_ms: 10_000,
            flush_rows: 1_000_000,
            time_column: None,
            keyed: false,
            upsert: false,
            partition_by: Vec::new(),
            rollup_only: false,
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

    /// The schema of the table's Delta table: its rows' columns, then one column per derived
    /// partition (`ts_day`), declared as a Delta generated column so that the Delta writer
    /// fills it and other readers know how it was made.
    pub fn lake_schema(&self) -> Schema {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.sql_type.arrow_type(), c.nullable))
            .collect();
        for p in self.options.partition_by.iter().filter(|p| p.is_derived()) {
            let Some(source) = self.columns.iter().find(|c| c.name == p.source) else {
                continue;
            };
            let data_type = match p.transform {
                PartitionTransform::Hour | PartitionTransform::Identity => {
                    source.sql_type.arrow_type()
                }
                PartitionTransform::Day | PartitionTransform::Month => {
                    arrow_schema::DataType::Date32
                }
            };
            let expression = p.generation_expression().unwrap_or_default();
            fields.push(Field::new(p.delta_name(), data_type, true).with_metadata(
                std::collections::HashMap::from([(
                    GENERATION_EXPRESSION_KEY.to_string(),
                    expression,
                )]),
            ));
        }
        Schema::new(fields)
    }

    /// The names of the Delta partition columns, in order.
    pub fn partition_columns(&self) -> Vec<String> {
        self.options
            .partition_by
            .iter()
            .map(PartitionColumn::delta_name)
            .collect()
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

    /// The location of the Delta files of the table with this id: `tables/<id>`. Derived
    /// from the id, never from the name, so that no name can point elsewhere and a table
    /// created again under an old name gets a directory of its own.
    pub fn location_for_id(id: &str) -> String {
        format!("{TABLE_DIR}/{id}")
    }

    /// Whether this table keeps one row per primary key (see [`TableOptions::keyed`]).
    pub fn is_keyed(&self) -> bool {
        self.options.keyed && !self.primary_key.is_empty()
    }

    /// Whether this table's location is the one its id gives: only then does storage know the
    /// directory is this table's alone, and may delete it.
    pub fn has_id_location(&self) -> bool {
        is_plain_id(&self.id) && self.location == Self::location_for_id(&self.id)
    }
}

/// The directory under the lakehouse root that holds one directory per table.
pub const TABLE_DIR: &str = "tables";

/// Table ids are uuids; anything else (a hand-edited catalog) cannot be a path segment of
/// its own and never owns a directory.
fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A view: a stored query, planned again each time it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewDef {
    pub name: ObjectName,
    /// The query text, as the user wrote it after `AS`.
    pub query: String,
    /// Set for a materialized view (a continuous rollup): where its partial aggregates live
    /// and how they are computed and read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollup: Option<RollupDef>,
}

/// A continuous rollup (`CREATE MATERIALIZED VIEW`): the view's query split in two. Every
/// write to `source` runs `partial_sql` over the written rows alone and appends its result
/// (one row of partial aggregates per group the rows touch) to `state_table`, in the same
/// WAL transaction as the rows themselves; the view answers with `read_sql`, which merges
/// the partial rows of each group. Partial rows are never updated, only added, so late and
/// out-of-order rows are exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupDef {
    /// The table the view aggregates, and its id (a view follows its table by id).
    pub source: ObjectName,
    pub source_id: String,
    /// The hidden table of partial aggregates (in [`ROLLUP_SCHEMA`]).
    pub state_table: ObjectName,
    /// The query over `source` giving one row of partial states per group.
    pub partial_sql: String,
    /// The query over `state_table` the view answers with.
    pub read_sql: String,
    /// The query over `state_table` that merges its partial rows per group, run on the rows
    /// each flush of it hands to Delta (fewer rows, the same answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_sql: Option<String>,
}

/// The schema holding the partial-aggregate tables of materialized views.
pub const ROLLUP_SCHEMA: &str = "oxbow_rollups";

//! The ingest pipeline: what happens to a source's input between its connector and its table.
//!
//! Stages, in order, each declared in `CREATE SOURCE`:
//! 1. **Decode** (`crate::formats`): bytes to Arrow batches, one bad row never costing its
//!    neighbours (JSON rows are checked one by one and bisected, CSV records read one by one).
//! 2. **Transform and enrich** ([`transform`]): the optional `AS SELECT ... FROM input`.
//! 3. **Validate** ([`coerce`]): fields to the table's columns, cast as PostgreSQL casts text;
//!    unknown fields per `schema_mode` (refused, ignored, or added as new columns:
//!    [`evolve`]); NOT NULL, `varchar(n)` and JSON checks.
//! 4. **Event time** ([`event_time`], inside validate): `time_column` read from ISO strings or
//!    epoch numbers, the arrival time when missing.
//! 5. **Deduplicate** ([`dedup`]) on `dedup_key` within `dedup_window`, on the rows as the
//!    table will hold them (so the key is compared as stored and recovered from the table).
//! 6. **Land** ([`landing`]): the good rows, the dead letters of every stage and the source's
//!    new position are written as one WAL transaction ([`oxbow_storage::Database::write`]):
//!    input rows = landed + deduplicated + dead letters, always, also after a crash.
//!
//! Validation runs after the transform when there is one: then the transform's output is what
//! must fit the table, and `input` has every field of the arriving rows.

pub mod coerce;
pub mod dedup;
pub mod event_time;
pub mod evolve;
pub mod landing;
pub mod messages;
pub mod options;
pub mod transform;

use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::prelude::SessionContext;
use oxbow_catalog::types::SqlType;
use oxbow_catalog::{ColumnDef, ObjectName, TableDef, TableOptions};
use oxbow_storage::Database;
use oxbow_storage::database::ingest_tables::{DEAD_LETTERS, SOURCE_OFFSETS};
use oxbow_storage::database::system_tables::SYSTEM_SCHEMA;
use tracing::{info, instrument};

use crate::error::IngestError;
use crate::formats::json_rows::{self, UnknownFields};
use crate::formats::source_format::SourceFormat;
use crate::formats::{csv_rows, parquet_rows};
use crate::records::{Payloads, Reject, Rows, Stage};
pub use dedup::DedupState;
pub use landing::Position;
pub use options::{PipelineOptions, SchemaMode};
pub use transform::Transform;

/// A batch through every stage, ready to be written.
#[derive(Debug)]
pub struct Prepared {
    parts: Vec<(ObjectName, Vec<RecordBatch>)>,
    pub outcome: BatchOutcome,
    pub dedup_keys: Vec<u64>,
    pub arrival: i64,
}

impl Prepared {
    /// Writes the batch's rows, dead letters and positions as one WAL transaction; returns
    /// once durable.
    pub async fn land(self, db: &Database) -> Result<BatchOutcome, IngestError> {
        db.write(self.parts).await?;
        Ok(self.outcome)
    }
}

/// One arrival: bytes in the source's format, or rows a connector made itself.
#[derive(Debug, Clone)]
pub enum Payload {
    Bytes(Bytes),
    Rows(RecordBatch),
    /// Many messages, each a value in the source's format with its metadata (Kafka).
    Messages(Arc<messages::Messages>),
}

/// What one batch came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub accepted: u64,
    pub rejected: u64,
    pub deduplicated: u64,
    /// Rows the transform's query left out (a `WHERE`), neither landed nor refused.
    pub filtered: u64,
    pub bytes: u64,
    /// The latest event time among the landed rows (microseconds), if the table has one.
    pub max_event_time_us: Option<i64>,
}

/// The position key prefix of an HTTP push's `Idempotency-Key`: its row in
/// `oxbow.source_offsets` is written with the push's rows, so a retry after a crash is known.
pub const RECEIPT_PREFIX: &str = "idempotency:";

impl BatchOutcome {
    /// The counts as recorded with a receipt, so a retry gets the first answer again.
    pub fn receipt_detail(&self) -> String {
        format!(
            "{{\"accepted\":{},\"rejected\":{},\"deduplicated\":{}}}",
            self.accepted, self.rejected, self.deduplicated
        )
    }

    /// The counts of a receipt's detail.
    pub fn from_receipt(detail: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(detail).ok()?;
        Some(Self {
            accepted: v.get("accepted")?.as_u64()?,
            rejected: v.get("rejected")?.as_u64()?,
            deduplicated: v.get("deduplicated")?.as_u64()?,
            ..Self::default()
        })
    }
}

/// A source's pipeline: its stages' state (the dedup keys, the transform's session) and where
/// its rows go. One batch at a time (the caller serialises).
pub struct Pipeline {
    source_id: String,
    source_name: String,
    target: ObjectName,
    format: SourceFormat,
    options: PipelineOptions,
    transform: Option<Transform>,
    dedup: Option<DedupState>,
    db: Arc<Database>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("source", &self.source_name)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Pipeline {
    pub fn new(
        db: Arc<Database>,
        base: &SessionContext,
        source_id: String,
        source_name: String,
        target: ObjectName,
        format: SourceFormat,
        options: PipelineOptions,
        transform: Option<&str>,
    ) -> Result<Self, IngestError> {
        let transform = transform
            .map(|sql| Transform::new(base, sql))
            .transpose()
            .map_err(|e| IngestError::Transform(e.to_string()))?;
        let dedup = options
            .dedup_key
            .clone()
            .map(|key| DedupState::new(key, options.dedup_window));
        Ok(Self {
            source_id,
            source_name,
            target,
            format,
            options,
            transform,
            dedup,
            db,
        })
    }

    pub fn target(&self) -> &ObjectName {
        &self.target
    }

    pub fn options(&self) -> &PipelineOptions {
        &self.options
    }

    pub fn source_id(&self) -> &str {
        &self.source_id
    }

    /// The dedup state, for recovery from the table at start.
    pub fn dedup_mut(&mut self) -> Option<&mut DedupState> {
        self.dedup.as_mut()
    }

    /// Runs one arrival through every stage and lands it with `positions`, as one WAL
    /// transaction. Returns once it is durable. On `Err` nothing was written (and the dedup
    /// state is as before): the caller may retry the same input.
    pub async fn process(
        &mut self,
        payload: Payload,
        format: Option<&SourceFormat>,
        positions: Vec<Position>,
        receipt: Option<&str>,
    ) -> Result<BatchOutcome, IngestError> {
        let prepared = self.prepare(payload, format, positions, receipt).await?;
        let keys = prepared.dedup_keys.clone();
        let arrival = prepared.arrival;
        match prepared.land(&self.db).await {
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                self.abort(&keys, arrival);
                Err(e)
            }
        }
    }

    /// The stages of [`Pipeline::process`] up to the write: what to write, and the counts.
    /// The kept rows' dedup keys are reserved now, so a concurrent batch with the same key is
    /// a duplicate; [`Pipeline::abort`] releases them if the write fails. Lets a caller write
    /// without holding the pipeline (HTTP pushes share one fsync then).
    #[instrument(skip_all, fields(source = %self.source_name))]
    pub async fn prepare(
        &mut self,
        payload: Payload,
        format: Option<&SourceFormat>,
        mut positions: Vec<Position>,
        receipt: Option<&str>,
    ) -> Result<Prepared, IngestError> {
        let arrival = now_us();
        let bytes = match &payload {
            Payload::Bytes(b) => b.len() as u64,
            Payload::Rows(b) => b.get_array_memory_size() as u64,
            Payload::Messages(m) => m.data.len() as u64,
        };
        let format = format.unwrap_or(&self.format).clone();
        let mut table = self
            .db
            .table(&self.target)
            .map(|t| (*t.table().def()).clone());
        let mut parts = self.decode(payload.clone(), &format, table.as_ref());
        if self.options.schema_mode == SchemaMode::Evolve
            && let Some(def) = table.as_ref()
        {
            // JSON read as text against the table refuses rows with new fields: add those
            // fields as columns and decode again (a few rounds at most: each adds columns).
            let mut def = def.clone();
            for _ in 0..4 {
                let rejects: Vec<Reject> = parts.iter().flat_map(|r| r.rejects.clone()).collect();
                let columns = evolve::json_columns(&rejects, &def);
                if columns.is_empty() {
                    break;
                }
                match self.add_columns(columns).await {
                    Ok(wider) => def = wider,
                    Err(e) => {
                        explain_failed_evolve(&mut parts, &e);
                        break;
                    }
                }
                parts = self.decode(payload.clone(), &format, Some(&def));
            }
            table = Some(def);
        }
        let mut landed: Vec<RecordBatch> = Vec::new();
        let mut rejects: Vec<Reject> = Vec::new();
        let mut outcome = BatchOutcome {
            bytes,
            ..BatchOutcome::default()
        };
        let mut dedup_keys = Vec::new();
        let mut def = table;
        for rows in parts.iter_mut() {
            if let Some(transform) = &self.transform
                && rows.batch.num_rows() > 0
            {
                let before = rows.batch.num_rows();
                match transform.apply(rows.batch.clone()).await {
                    Ok(out) => {
                        if out.num_rows() != before {
                            outcome.filtered += before.saturating_sub(out.num_rows()) as u64;
                            rows.payloads = Payloads::Typed(out.clone());
                        }
                        rows.batch = out;
                    }
                    Err(e) => rows.refuse_all(Stage::Transform, None, e.to_string()),
                }
            }
            if def.is_none() && rows.batch.num_rows() > 0 {
                def = Some(self.create_target(rows.batch.schema()).await?);
            }
            if self.options.schema_mode == SchemaMode::Evolve
                && let Some(current) = def.as_ref()
            {
                let columns = evolve::typed_columns(&rows.batch.schema(), current);
                if !columns.is_empty() {
                    match self.add_columns(columns).await {
                        Ok(wider) => def = Some(wider),
                        // Strict mode's check below refuses the rows, naming the field.
                        Err(e) => {
                            tracing::warn!(source = %self.source_name, error = %e, "cannot add the new fields as columns")
                        }
                    }
                }
            }
            let Some(def) = def.as_ref() else {
                rejects.append(&mut rows.rejects);
                continue;
            };
            if self.options.schema_mode != SchemaMode::IgnoreNewFields {
                refuse_unknown_columns(rows, def);
            }
            // The source's time column, else the table's.
            let time_column = self
                .options
                .time_column
                .clone()
                .or_else(|| def.options.time_column.clone());
            coerce::to_table(
                rows,
                def,
                time_column.as_deref(),
                self.options.time_format,
                arrival,
            );
            rejects.append(&mut rows.rejects);
            let mut batch = rows.batch.clone();
            if let Some(dedup) = self.dedup.as_mut() {
                let out = dedup.filter(&batch, arrival);
                outcome.deduplicated += out.dropped as u64;
                dedup_keys.extend(out.keys);
                batch = out.kept;
            }
            if let Some(index) = time_column
                .as_ref()
                .and_then(|c| batch.schema().index_of(c).ok())
            {
                outcome.max_event_time_us = outcome
                    .max_event_time_us
                    .max(max_micros(batch.column(index)));
            }
            outcome.accepted += batch.num_rows() as u64;
            landed.push(batch);
        }
        outcome.rejected = rejects.len() as u64;
        let mut write: Vec<(ObjectName, Vec<RecordBatch>)> = Vec::new();
        if !landed.is_empty() && outcome.accepted > 0 {
            write.push((self.target.clone(), landed));
        }
        if !rejects.is_empty() {
            let position = positions.first().map(|p| format!("{}@{}", p.key, p.offset));
            let letters = landing::dead_letters(
                &self.source_name,
                &self.target.to_string(),
                position.as_deref(),
                &rejects,
                arrival,
            );
            write.push((ObjectName::new(SYSTEM_SCHEMA, DEAD_LETTERS), vec![letters]));
        }
        if let Some(key) = receipt {
            positions.push(Position {
                key: format!("{RECEIPT_PREFIX}{key}"),
                offset: 1,
                detail: Some(outcome.receipt_detail()),
            });
        }
        if !positions.is_empty() {
            let offsets = landing::offsets(&self.source_id, &self.source_name, &positions, arrival);
            write.push((
                ObjectName::new(SYSTEM_SCHEMA, SOURCE_OFFSETS),
                vec![offsets],
            ));
        }
        if let Some(dedup) = self.dedup.as_mut() {
            dedup.commit(dedup_keys.clone(), arrival);
        }
        Ok(Prepared {
            parts: write,
            outcome,
            dedup_keys,
            arrival,
        })
    }

    /// Releases the dedup keys of a prepared batch whose write failed.
    pub fn abort(&mut self, keys: &[u64], arrival: i64) {
        if let Some(dedup) = self.dedup.as_mut() {
            dedup.forget(keys, arrival);
        }
    }

    /// Decodes an arrival into batches of rows. For a table that exists and no transform,
    /// JSON and CSV fields are read as text and cast by the validate stage; otherwise the
    /// types are inferred.
    fn decode(
        &self,
        payload: Payload,
        format: &SourceFormat,
        table: Option<&TableDef>,
    ) -> Vec<Rows> {
        let typed_input = self.transform.is_some() || table.is_none();
        match payload {
            Payload::Rows(batch) => vec![Rows {
                payloads: Payloads::Typed(batch.clone()),
                batch,
                rejects: Vec::new(),
            }],
            Payload::Messages(m) => {
                // A transform sees every metadata column; a table keeps the ones it has.
                let wanted: Vec<&str> = match (&self.transform, table) {
                    (Some(_), _) => messages::COLUMNS.to_vec(),
                    (None, Some(def)) => messages::COLUMNS
                        .iter()
                        .copied()
                        .filter(|c| def.columns.iter().any(|col| col.name == *c))
                        .collect(),
                    (None, None) => Vec::new(),
                };
                let rows = match format {
                    SourceFormat::Json => {
                        self.decode_json(m.data.clone(), m.ranges.clone(), table, typed_input)
                    }
                    SourceFormat::Avro(avro) => avro.decode(&m),
                    other => unreadable(
                        &m.data,
                        format!("{other:?} messages cannot be read (KAFKA takes JSON or AVRO)"),
                    ),
                };
                vec![messages::with_metadata(rows, &m, &wanted)]
            }
            Payload::Bytes(data) => match format {
                SourceFormat::Avro(_) => vec![unreadable(
                    &data,
                    "FORMAT AVRO is read from Kafka messages only".into(),
                )],
                SourceFormat::Json => {
                    let ranges = match json_rows::frame(&data) {
                        Ok(r) => r,
                        Err(error) => return vec![unreadable(&data, error)],
                    };
                    vec![self.decode_json(data, ranges, table, typed_input)]
                }
                SourceFormat::Csv(options) => match csv_rows::decode(data.clone(), options) {
                    Ok(rows) => vec![rows],
                    Err(error) => vec![unreadable(&data, error)],
                },
                SourceFormat::Parquet => match parquet_rows::decode(data.clone()) {
                    Ok(batches) => batches
                        .into_iter()
                        .map(|batch| Rows {
                            payloads: Payloads::Typed(batch.clone()),
                            batch,
                            rejects: Vec::new(),
                        })
                        .collect(),
                    Err(error) => vec![unreadable(&data, error)],
                },
            },
        }
    }

    /// Decodes the JSON rows `ranges` of `data`. For a table that exists and no transform,
    /// fields are read as text (the validate stage casts them); otherwise types are inferred.
    fn decode_json(
        &self,
        data: Bytes,
        ranges: Vec<std::ops::Range<usize>>,
        table: Option<&TableDef>,
        typed_input: bool,
    ) -> Rows {
        let (schema, unknown) = match table {
            Some(def) if !typed_input => {
                let unknown = match self.options.schema_mode {
                    // Evolve: the refused rows name the new fields (see `prepare`).
                    SchemaMode::Strict | SchemaMode::Evolve => UnknownFields::Refuse,
                    SchemaMode::IgnoreNewFields => UnknownFields::Ignore,
                };
                (text_schema(def), unknown)
            }
            _ => {
                // A transform's `input` has every field of the rows, and every column of the
                // table (NULL where a batch lacks it), so that its query plans whatever fields
                // a batch happens to carry.
                let mut fields: Vec<Field> = json_rows::infer_schema(&data, &ranges)
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                for column in table.map(|d| d.columns.as_slice()).unwrap_or_default() {
                    if !fields.iter().any(|f| f.name() == &column.name) {
                        fields.push(Field::new(&column.name, DataType::Utf8, true));
                    }
                }
                (Arc::new(Schema::new(fields)), UnknownFields::Ignore)
            }
        };
        json_rows::decode(data, ranges, schema, unknown)
    }

    /// Adds `columns` to the target table (`schema_mode = 'evolve'`; one that another source
    /// added meanwhile is skipped) and returns the table's new definition.
    async fn add_columns(&self, columns: Vec<ColumnDef>) -> Result<TableDef, IngestError> {
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        self.db.add_columns(&self.target, columns, true).await?;
        info!(table = %self.target, columns = ?names, "schema_mode = 'evolve' added columns");
        let table = self
            .db
            .table(&self.target)
            .ok_or_else(|| IngestError::Connector(format!("table {} vanished", self.target)))?;
        Ok((*table.table().def()).clone())
    }

    /// Creates the target table from the first rows' schema: their types as CREATE TABLE AS
    /// would give them, the time column as `timestamptz`.
    async fn create_target(&self, schema: SchemaRef) -> Result<TableDef, IngestError> {
        let time = self.options.time_column.clone();
        let mut columns: Vec<ColumnDef> = schema
            .fields()
            .iter()
            .map(|f| ColumnDef {
                name: f.name().clone(),
                sql_type: if Some(f.name()) == time.as_ref() {
                    SqlType::TimestampTz
                } else {
                    SqlType::from_arrow(f.data_type()).unwrap_or(SqlType::Text)
                },
                nullable: true,
            })
            .collect();
        if let Some(time) = &time
            && !columns.iter().any(|c| &c.name == time)
        {
            columns.push(ColumnDef {
                name: time.clone(),
                sql_type: SqlType::TimestampTz,
                nullable: true,
            });
        }
        let options = TableOptions {
            time_column: time,
            ..TableOptions::default()
        };
        self.db
            .create_table(self.target.clone(), columns, options, Vec::new(), true)
            .await?;
        info!(table = %self.target, "created the target table of a source from its first rows");
        let table = self
            .db
            .table(&self.target)
            .ok_or_else(|| IngestError::Connector(format!("table {} vanished", self.target)))?;
        Ok((*table.table().def()).clone())
    }
}

/// The table's columns, every one as text: JSON values are read as their text and then cast
/// as PostgreSQL casts text input (validate stage).
fn text_schema(def: &TableDef) -> SchemaRef {
    Arc::new(Schema::new(
        def.columns
            .iter()
            .map(|c| Field::new(&c.name, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ))
}

/// The rows refused for a new field stay refused when the table could not take it as a column:
/// their reason says why.
fn explain_failed_evolve(parts: &mut [Rows], error: &IngestError) {
    for reject in parts.iter_mut().flat_map(|r| r.rejects.iter_mut()) {
        if evolve::is_unknown_field(reject) {
            reject.error = format!(
                "{} (schema_mode = 'evolve' could not add it: {error})",
                reject.error.trim_end_matches(" (schema_mode = 'strict')")
            );
        }
    }
}

/// An arrival that is not rows at all: one dead letter with the framing error.
fn unreadable(data: &Bytes, error: String) -> Rows {
    let payload = String::from_utf8_lossy(&data[..data.len().min(64 * 1024)]).into_owned();
    Rows {
        batch: RecordBatch::new_empty(Arc::new(Schema::empty())),
        payloads: Payloads::Ranges {
            data: data.clone(),
            rows: Vec::new(),
        },
        rejects: vec![Reject {
            stage: Stage::Decode,
            field: None,
            error,
            payload: Some(payload),
        }],
    }
}

/// Strict mode for typed input (CSV headers, Parquet columns, a transform's output): a field
/// the table lacks refuses every row, naming it.
fn refuse_unknown_columns(rows: &mut Rows, def: &TableDef) {
    let unknown = rows
        .batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .find(|name| !def.columns.iter().any(|c| &c.name == name));
    if let Some(field) = unknown {
        let error = format!(
            "unknown field \"{field}\": table {} has no such column (schema_mode = 'strict')",
            def.name
        );
        rows.refuse_all(Stage::Validate, Some(field), error);
    }
}

fn max_micros(column: &datafusion::arrow::array::ArrayRef) -> Option<i64> {
    let as_us =
        datafusion::arrow::compute::cast(column, &DataType::Timestamp(TimeUnit::Microsecond, None))
            .ok()?;
    datafusion::arrow::compute::max(datafusion::arrow::array::AsArray::as_primitive::<
        datafusion::arrow::datatypes::TimestampMicrosecondType,
    >(&as_us))
}

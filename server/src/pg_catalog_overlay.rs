//! `pg_catalog` as datafusion-pg-catalog builds it, with the tables it cannot fill from Arrow
//! schemas corrected from Oxbow's own catalog.
//!
//! - `pg_attribute`: the library derives it from each table's Arrow schema, so a `varchar(20)`
//!   column is `text` with typmod -1 and `numeric(12,3)` loses its precision: psql's `\d`,
//!   pgJDBC's `getColumns`, psqlODBC's `SQLColumns` and SQLAlchemy's inspector all read their
//!   types from there. The overlay keeps every row the library produces (and so its OIDs,
//!   which `pg_class` shares) and rewrites `atttypid` and `atttypmod` of Oxbow columns.
//! - `pg_class`: passed through, remembering which relation each OID names, so that
//!   `pg_get_viewdef(oid)` can find a view's query.
//! - `pg_index` and `pg_constraint`: one row per declared primary key (and `pg_class` a row
//!   for its index), with key columns as arrays; the library's rows describe a PostgreSQL
//!   server's own catalog and are left out.
//! - `pg_settings` gains `max_index_keys`, which pgJDBC reads before listing keys.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, Int32Array, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{SchemaProvider, Session};
use datafusion::common::ScalarValue;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{ExecutionPlan, collect};
use oxbow_catalog::ObjectName;
use oxbow_storage::Database;

use crate::result_columns::pg_type;

/// The user names clients have logged in with since the server started. Oxbow has no roles
/// (any name is accepted, with every right), so these are what `pg_roles` lists: tools such as
/// DBeaver look the session's user up there.
pub type LoginUsers = Arc<RwLock<std::collections::BTreeSet<String>>>;

/// The relation each OID of `pg_class` named when it was last read.
pub type RelationOids = Arc<RwLock<HashMap<i64, ObjectName>>>;

/// The `pg_catalog` schema: the library's, with the tables above corrected.
#[derive(Debug)]
pub struct PgCatalogOverlay {
    inner: Arc<dyn SchemaProvider>,
    db: Arc<Database>,
    relations: RelationOids,
    users: LoginUsers,
}

impl PgCatalogOverlay {
    pub fn new(
        inner: Arc<dyn SchemaProvider>,
        db: Arc<Database>,
        relations: RelationOids,
        users: LoginUsers,
    ) -> Self {
        Self {
            inner,
            db,
            relations,
            users,
        }
    }
}

#[async_trait]
impl SchemaProvider for PgCatalogOverlay {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        if name.eq_ignore_ascii_case("pg_attribute") {
            let (Some(attributes), Some(classes), Some(namespaces)) = (
                self.inner.table("pg_attribute").await?,
                self.inner.table("pg_class").await?,
                self.inner.table("pg_namespace").await?,
            ) else {
                return self.inner.table(name).await;
            };
            return Ok(Some(Arc::new(PgAttribute {
                attributes,
                classes,
                namespaces,
                db: Arc::clone(&self.db),
            })));
        }
        let lower = name.to_ascii_lowercase();
        let Some(inner) = self.inner.table(name).await? else {
            return Ok(None);
        };
        let extra: Vec<(&'static str, ScalarValue)> = match lower.as_str() {
            "pg_index" | "pg_constraint" => {
                let (Some(classes), Some(namespaces)) = (
                    self.inner.table("pg_class").await?,
                    self.inner.table("pg_namespace").await?,
                ) else {
                    return Ok(Some(inner));
                };
                let keys = Keys {
                    classes,
                    namespaces,
                    db: Arc::clone(&self.db),
                };
                return Ok(Some(Arc::new(KeyTable {
                    schema: keys_schema(&inner.schema()),
                    keys,
                    constraints: lower == "pg_constraint",
                })));
            }
            "pg_roles" => {
                let users = Arc::clone(&self.users);
                return Ok(Some(Arc::new(WithRows {
                    inner,
                    rows: Box::new(move || role_rows(&users)),
                })));
            }
            "pg_class" => {
                let Some(namespaces) = self.inner.table("pg_namespace").await? else {
                    return Ok(Some(inner));
                };
                return Ok(Some(Arc::new(PgClass {
                    inner,
                    namespaces,
                    db: Arc::clone(&self.db),
                    relations: Arc::clone(&self.relations),
                })));
            }
            "pg_settings" => vec![
                ("name", ScalarValue::Utf8(Some("max_index_keys".into()))),
                ("setting", ScalarValue::Utf8(Some("32".into()))),
                ("vartype", ScalarValue::Utf8(Some("integer".into()))),
                ("context", ScalarValue::Utf8(Some("internal".into()))),
                ("category", ScalarValue::Utf8(Some("Preset Options".into()))),
            ],
            _ => return Ok(Some(inner)),
        };
        let row: HashMap<&'static str, ScalarValue> = extra.into_iter().collect();
        Ok(Some(Arc::new(WithRows {
            inner,
            rows: Box::new(move || vec![row.clone()]),
        })))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// `pg_attribute` with the declared types of Oxbow columns.
#[derive(Debug)]
struct PgAttribute {
    attributes: Arc<dyn TableProvider>,
    classes: Arc<dyn TableProvider>,
    namespaces: Arc<dyn TableProvider>,
    db: Arc<Database>,
}

async fn scan_all(table: &Arc<dyn TableProvider>, state: &dyn Session) -> Result<Vec<RecordBatch>> {
    let plan = table.scan(state, None, &[], None).await?;
    collect(plan, state.task_ctx()).await
}

/// Integer OIDs of a catalog column, whichever integer type the library chose for it.
fn oids(batch: &RecordBatch, column: &str) -> Result<Vec<Option<i64>>> {
    let array = batch
        .column_by_name(column)
        .ok_or_else(|| DataFusionError::Internal(format!("pg_catalog column {column} missing")))?;
    let array =
        datafusion::arrow::compute::cast(array, &datafusion::arrow::datatypes::DataType::Int64)?;
    let a = array.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    Ok((0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect())
}

fn strings(batch: &RecordBatch, column: &str) -> Result<Vec<Option<String>>> {
    let array = batch
        .column_by_name(column)
        .ok_or_else(|| DataFusionError::Internal(format!("pg_catalog column {column} missing")))?;
    let array =
        datafusion::arrow::compute::cast(array, &datafusion::arrow::datatypes::DataType::Utf8)?;
    let a = array.as_string::<i32>();
    Ok((0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
        .collect())
}

/// The relation each OID in `classes` (batches of `pg_class`) names.
async fn relation_names(
    classes: &[RecordBatch],
    namespaces: &Arc<dyn TableProvider>,
    state: &dyn Session,
) -> Result<HashMap<i64, ObjectName>> {
    let mut schemas = HashMap::new();
    for batch in scan_all(namespaces, state).await? {
        for (oid, name) in oids(&batch, "oid")?
            .into_iter()
            .zip(strings(&batch, "nspname")?)
        {
            if let (Some(oid), Some(name)) = (oid, name) {
                schemas.insert(oid, name);
            }
        }
    }
    let mut relations = HashMap::new();
    for batch in classes {
        let names = strings(batch, "relname")?;
        let namespaces = oids(batch, "relnamespace")?;
        for ((oid, name), namespace) in oids(batch, "oid")?.into_iter().zip(names).zip(namespaces) {
            if let (Some(oid), Some(name), Some(schema)) =
                (oid, name, namespace.and_then(|n| schemas.get(&n)))
            {
                relations.insert(oid, ObjectName::new(schema.clone(), name));
            }
        }
    }
    Ok(relations)
}

impl PgAttribute {
    /// `batch` with the type and typmod of every Oxbow column set from its declared type.
    fn correct(
        &self,
        batch: &RecordBatch,
        relations: &HashMap<i64, ObjectName>,
    ) -> Result<RecordBatch> {
        let relids = oids(batch, "attrelid")?;
        let attnums = oids(batch, "attnum")?;
        let schema = batch.schema();
        let typid_index = schema.index_of("atttypid")?;
        let typmod_index = schema.index_of("atttypmod")?;
        let mut typids = oids(batch, "atttypid")?;
        let mut typmods = oids(batch, "atttypmod")?;
        let mut tables = HashMap::new();
        for row in 0..batch.num_rows() {
            let (Some(relid), Some(attnum)) = (relids[row], attnums[row]) else {
                continue;
            };
            let Some(name) = relations.get(&relid) else {
                continue;
            };
            let def = tables
                .entry(relid)
                .or_insert_with(|| self.db.table(name).map(|t| t.table().def().clone()));
            let Some(column) = def
                .as_ref()
                .and_then(|d| d.columns.get(usize::try_from(attnum - 1).ok()?))
            else {
                continue;
            };
            let field = datafusion::arrow::datatypes::Field::new(
                &column.name,
                column.sql_type.arrow_type(),
                true,
            );
            let field = match column.sql_type.field_metadata() {
                Some(m) => field.with_metadata(m),
                None => field,
            };
            let (ty, typmod) = pg_type(&field);
            typids[row] = Some(i64::from(ty.oid()));
            typmods[row] = Some(i64::from(typmod));
        }
        let mut columns = batch.columns().to_vec();
        columns[typid_index] = Arc::new(Int32Array::from(
            typids
                .iter()
                .map(|v| v.map(|v| v as i32))
                .collect::<Vec<_>>(),
        ));
        columns[typmod_index] = Arc::new(Int32Array::from(
            typmods
                .iter()
                .map(|v| v.map(|v| v as i32))
                .collect::<Vec<_>>(),
        ));
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// `pg_class`, recording the relation each OID names as it is read.
#[derive(Debug)]
struct PgClass {
    inner: Arc<dyn TableProvider>,
    namespaces: Arc<dyn TableProvider>,
    db: Arc<Database>,
    relations: RelationOids,
}

#[async_trait]
impl TableProvider for PgClass {
    /// The library's columns, and `reloptions` (NULL: Oxbow has no storage parameters),
    /// which SQLAlchemy's index reflection selects.
    fn schema(&self) -> SchemaRef {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};

        let inner = self.inner.schema();
        let mut fields: Vec<Field> = inner.fields().iter().map(|f| f.as_ref().clone()).collect();
        if inner.index_of("reloptions").is_err() {
            fields.push(Field::new(
                "reloptions",
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                true,
            ));
        }
        Arc::new(Schema::new(fields))
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = self.schema();
        let mut batches = scan_all(&self.inner, state)
            .await?
            .into_iter()
            .map(|b| with_null_columns(b, &schema))
            .collect::<Result<Vec<_>>>()?;
        let names = relation_names(&batches, &self.namespaces, state).await?;
        let mut namespaces = HashMap::new();
        for batch in &batches {
            for (oid, ns) in oids(batch, "oid")?
                .into_iter()
                .zip(oids(batch, "relnamespace")?)
            {
                if let (Some(oid), Some(ns)) = (oid, ns) {
                    namespaces.insert(oid, ns);
                }
            }
        }
        // A table with a key has an index (psql's `\d` lists it then).
        let keys = primary_keys(&self.db, &names);
        let keyed: std::collections::HashSet<i64> = keys.iter().map(|k| k.table_oid).collect();
        if !keyed.is_empty() {
            batches = batches
                .into_iter()
                .map(|b| with_index_flag(b, &keyed))
                .collect::<Result<Vec<_>>>()?;
        }
        // Each primary key's index is a relation of its own (relkind 'i'), as in PostgreSQL.
        for key in keys {
            let values = HashMap::from([
                ("oid", ScalarValue::Int64(Some(key.index_oid))),
                ("relname", ScalarValue::Utf8(Some(key.name.clone()))),
                (
                    "relnamespace",
                    ScalarValue::Int64(namespaces.get(&key.table_oid).copied()),
                ),
                ("relkind", ScalarValue::Utf8(Some("i".into()))),
                ("relam", ScalarValue::Int64(Some(BTREE_AM_OID))),
                ("relowner", ScalarValue::Int64(Some(10))),
                (
                    "relnatts",
                    ScalarValue::Int64(Some(key.columns.len() as i64)),
                ),
                ("relpersistence", ScalarValue::Utf8(Some("p".into()))),
            ]);
            batches.push(row_batch(&schema, &values)?);
        }
        self.relations
            .write()
            .expect("relations lock")
            .extend(names);
        scan_batches(schema, batches, state, projection, filters, limit).await
    }
}

/// The rows a [`WithRows`] table adds: column name to value, the others NULL or zero.
type ExtraRows = Vec<HashMap<&'static str, ScalarValue>>;

/// A catalog table with rows of its own added, computed at each scan.
struct WithRows {
    inner: Arc<dyn TableProvider>,
    rows: Box<dyn Fn() -> ExtraRows + Send + Sync>,
}

impl std::fmt::Debug for WithRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithRows").finish_non_exhaustive()
    }
}

/// Role OIDs: above the ones tables and keys get here.
const ROLE_OID_BASE: i64 = 1 << 28;

/// `pg_roles` rows: a superuser login role per user name seen at login.
fn role_rows(users: &LoginUsers) -> ExtraRows {
    let users = users.read().expect("users lock");
    users
        .iter()
        .enumerate()
        .map(|(i, user)| {
            let yes = || ScalarValue::Boolean(Some(true));
            HashMap::from([
                ("oid", ScalarValue::Int64(Some(ROLE_OID_BASE + i as i64))),
                ("rolname", ScalarValue::Utf8(Some(user.clone()))),
                ("rolsuper", yes()),
                ("rolinherit", yes()),
                ("rolcreaterole", yes()),
                ("rolcreatedb", yes()),
                ("rolcanlogin", yes()),
                ("rolreplication", ScalarValue::Boolean(Some(false))),
                ("rolbypassrls", yes()),
                ("rolconnlimit", ScalarValue::Int64(Some(-1))),
                ("rolpassword", ScalarValue::Utf8(Some("********".into()))),
            ])
        })
        .collect()
}

#[async_trait]
impl TableProvider for WithRows {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut batches = scan_all(&self.inner, state).await?;
        let schema = self.schema();
        for row in (self.rows)() {
            batches.push(row_batch(&schema, &row)?);
        }
        scan_batches(schema, batches, state, projection, filters, limit).await
    }
}

/// Scans `batches` of `schema` held in memory (how every overlay table answers).
async fn scan_batches(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    state: &dyn Session,
    projection: Option<&Vec<usize>>,
    filters: &[Expr],
    limit: Option<usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    MemTable::try_new(schema, vec![batches])?
        .scan(state, projection, filters, limit)
        .await
}

/// `pg_class` rows with `relhasindex` set for the tables in `keyed`.
fn with_index_flag(
    batch: RecordBatch,
    keyed: &std::collections::HashSet<i64>,
) -> Result<RecordBatch> {
    use datafusion::arrow::array::BooleanArray;

    let Ok(index) = batch.schema().index_of("relhasindex") else {
        return Ok(batch);
    };
    let current = batch.column(index).as_boolean().clone();
    let flags: BooleanArray = oids(&batch, "oid")?
        .iter()
        .enumerate()
        .map(|(row, oid)| {
            Some(
                oid.is_some_and(|o| keyed.contains(&o))
                    || (current.is_valid(row) && current.value(row)),
            )
        })
        .collect();
    let mut columns = batch.columns().to_vec();
    columns[index] = Arc::new(flags);
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// `batch` with NULL columns appended up to `schema`'s (whose leading columns it has).
fn with_null_columns(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let mut columns = batch.columns().to_vec();
    for field in schema.fields().iter().skip(columns.len()) {
        columns.push(datafusion::arrow::array::new_null_array(
            field.data_type(),
            batch.num_rows(),
        ));
    }
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// One row of `schema`: the named columns set (cast to the column's type), the others NULL,
/// or zero/false/empty where the column is not nullable.
fn row_batch(schema: &SchemaRef, values: &HashMap<&str, ScalarValue>) -> Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let value = match values.get(field.name().as_str()) {
                Some(v) if v.data_type() == *field.data_type() => v.clone(),
                Some(v) => v.cast_to(field.data_type())?,
                None if field.is_nullable() => ScalarValue::try_from(field.data_type())?,
                None => ScalarValue::new_default(field.data_type())?,
            };
            value.to_array_of_size(1)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// `pg_am` OID of btree, the access method every key index reports.
const BTREE_AM_OID: i64 = 403;

/// The index and constraint OIDs of a key are derived from its table's OID, so that they are
/// the same in every catalog table and every query (table OIDs are below 2^24 here).
const INDEX_OID_OFFSET: i64 = 1 << 30;
const CONSTRAINT_OID_OFFSET: i64 = 1 << 29;

/// A declared primary key, as the catalog tables describe it.
struct PrimaryKey {
    table_oid: i64,
    namespace_oid: i64,
    index_oid: i64,
    constraint_oid: i64,
    /// `<table>_pkey`, PostgreSQL's default name for both the index and the constraint.
    name: String,
    /// Attribute numbers (1-based) of the key columns, in key order.
    columns: Vec<i16>,
}

/// The primary keys of the Oxbow tables among `relations`.
fn primary_keys(db: &Database, relations: &HashMap<i64, ObjectName>) -> Vec<PrimaryKey> {
    let mut keys: Vec<PrimaryKey> = relations
        .iter()
        .filter_map(|(oid, name)| {
            let def = db.table(name)?.table().def().clone();
            if def.primary_key.is_empty() {
                return None;
            }
            let columns = def
                .primary_key
                .iter()
                .filter_map(|k| def.columns.iter().position(|c| &c.name == k))
                .map(|i| i as i16 + 1)
                .collect();
            Some(PrimaryKey {
                table_oid: *oid,
                namespace_oid: 0,
                index_oid: oid + INDEX_OID_OFFSET,
                constraint_oid: oid + CONSTRAINT_OID_OFFSET,
                name: format!("{}_pkey", name.name),
                columns,
            })
        })
        .collect();
    keys.sort_by_key(|k| k.table_oid);
    keys
}

/// What `pg_index` and `pg_constraint` are built from.
#[derive(Debug)]
struct Keys {
    classes: Arc<dyn TableProvider>,
    namespaces: Arc<dyn TableProvider>,
    db: Arc<Database>,
}

impl Keys {
    async fn primary_keys(&self, state: &dyn Session) -> Result<Vec<PrimaryKey>> {
        let classes = scan_all(&self.classes, state).await?;
        let names = relation_names(&classes, &self.namespaces, state).await?;
        let mut namespaces = HashMap::new();
        for batch in &classes {
            for (oid, ns) in oids(batch, "oid")?
                .into_iter()
                .zip(oids(batch, "relnamespace")?)
            {
                if let (Some(oid), Some(ns)) = (oid, ns) {
                    namespaces.insert(oid, ns);
                }
            }
        }
        let mut keys = primary_keys(&self.db, &names);
        for key in &mut keys {
            key.namespace_oid = namespaces.get(&key.table_oid).copied().unwrap_or(0);
        }
        Ok(keys)
    }
}

/// The library's schema of `pg_index` or `pg_constraint` with the key columns as arrays of
/// attribute numbers (it has them as text, so `unnest(indkey)`, `indkey[1]` and
/// `attnum = ANY(conkey)` fail).
fn keys_schema(library: &SchemaRef) -> SchemaRef {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    let fields: Vec<Field> = library
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "indkey" | "indoption" | "conkey" | "confkey" => Field::new(
                f.name(),
                DataType::List(Arc::new(Field::new_list_field(DataType::Int16, true))),
                true,
            ),
            "indclass" | "indcollation" => Field::new(
                f.name(),
                DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true))),
                true,
            ),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn int2_array(values: &[i16]) -> ScalarValue {
    ScalarValue::List(ScalarValue::new_list_nullable(
        &values
            .iter()
            .map(|v| ScalarValue::Int16(Some(*v)))
            .collect::<Vec<_>>(),
        &datafusion::arrow::datatypes::DataType::Int16,
    ))
}

/// `pg_index` or `pg_constraint` with one row per declared primary key. The library's rows
/// (exported from a PostgreSQL server's own catalog, with OIDs that name nothing here) are
/// left out.
#[derive(Debug)]
struct KeyTable {
    schema: SchemaRef,
    keys: Keys,
    constraints: bool,
}

#[async_trait]
impl TableProvider for KeyTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut batches = Vec::new();
        for key in self.keys.primary_keys(state).await? {
            let n = key.columns.len() as i64;
            let values: HashMap<&str, ScalarValue> = if self.constraints {
                HashMap::from([
                    ("oid", ScalarValue::Int64(Some(key.constraint_oid))),
                    ("conname", ScalarValue::Utf8(Some(key.name.clone()))),
                    ("connamespace", ScalarValue::Int64(Some(key.namespace_oid))),
                    ("contype", ScalarValue::Utf8(Some("p".into()))),
                    ("convalidated", ScalarValue::Boolean(Some(true))),
                    ("conrelid", ScalarValue::Int64(Some(key.table_oid))),
                    ("conindid", ScalarValue::Int64(Some(key.index_oid))),
                    ("confupdtype", ScalarValue::Utf8(Some(" ".into()))),
                    ("confdeltype", ScalarValue::Utf8(Some(" ".into()))),
                    ("confmatchtype", ScalarValue::Utf8(Some(" ".into()))),
                    ("conislocal", ScalarValue::Boolean(Some(true))),
                    ("connoinherit", ScalarValue::Boolean(Some(true))),
                    ("conkey", int2_array(&key.columns)),
                ])
            } else {
                HashMap::from([
                    ("indexrelid", ScalarValue::Int64(Some(key.index_oid))),
                    ("indrelid", ScalarValue::Int64(Some(key.table_oid))),
                    ("indnatts", ScalarValue::Int64(Some(n))),
                    ("indnkeyatts", ScalarValue::Int64(Some(n))),
                    ("indisunique", ScalarValue::Boolean(Some(true))),
                    ("indisprimary", ScalarValue::Boolean(Some(true))),
                    ("indimmediate", ScalarValue::Boolean(Some(true))),
                    ("indisvalid", ScalarValue::Boolean(Some(true))),
                    ("indisready", ScalarValue::Boolean(Some(true))),
                    ("indislive", ScalarValue::Boolean(Some(true))),
                    ("indkey", int2_array(&key.columns)),
                    ("indoption", int2_array(&vec![0; key.columns.len()])),
                ])
            };
            batches.push(row_batch(&self.schema, &values)?);
        }
        scan_batches(self.schema(), batches, state, projection, filters, limit).await
    }
}

#[async_trait]
impl TableProvider for PgAttribute {
    fn schema(&self) -> SchemaRef {
        self.attributes.schema()
    }

    fn table_type(&self) -> TableType {
        self.attributes.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Attributes first: the library assigns table OIDs as it scans, pg_class then reuses them.
        let attributes = scan_all(&self.attributes, state).await?;
        let classes = scan_all(&self.classes, state).await?;
        let relations = relation_names(&classes, &self.namespaces, state).await?;
        let mut corrected = attributes
            .iter()
            .map(|b| self.correct(b, &relations))
            .collect::<Result<Vec<_>>>()?;
        // A primary key's index is a relation with one attribute per key column, as in
        // PostgreSQL (psqlODBC's SQLPrimaryKeys joins them).
        let schema = self.schema();
        for key in primary_keys(&self.db, &relations) {
            let Some(def) = relations
                .get(&key.table_oid)
                .and_then(|name| self.db.table(name))
                .map(|t| t.table().def().clone())
            else {
                continue;
            };
            for (position, attnum) in key.columns.iter().enumerate() {
                let Some(column) = def.columns.get(*attnum as usize - 1) else {
                    continue;
                };
                let field = datafusion::arrow::datatypes::Field::new(
                    &column.name,
                    column.sql_type.arrow_type(),
                    true,
                );
                let field = match column.sql_type.field_metadata() {
                    Some(m) => field.with_metadata(m),
                    None => field,
                };
                let (ty, typmod) = pg_type(&field);
                let values = HashMap::from([
                    ("attrelid", ScalarValue::Int64(Some(key.index_oid))),
                    ("attname", ScalarValue::Utf8(Some(column.name.clone()))),
                    ("atttypid", ScalarValue::Int64(Some(i64::from(ty.oid())))),
                    ("atttypmod", ScalarValue::Int64(Some(i64::from(typmod)))),
                    ("attnum", ScalarValue::Int64(Some(position as i64 + 1))),
                    ("attnotnull", ScalarValue::Boolean(Some(true))),
                    ("attisdropped", ScalarValue::Boolean(Some(false))),
                    ("attislocal", ScalarValue::Boolean(Some(true))),
                    ("attstattargets", ScalarValue::Int64(Some(-1))),
                ]);
                corrected.push(row_batch(&schema, &values)?);
            }
        }
        scan_batches(self.schema(), corrected, state, projection, filters, limit).await
    }
}

/// `pg_get_viewdef(view [, pretty])`: the query of a view, by the OID `pg_class` gave it
/// (SQLAlchemy's `get_view_definition`, DBeaver's view editor). NULL for other relations.
pub fn pg_get_viewdef(
    db: Arc<Database>,
    relations: RelationOids,
) -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Signature, TypeSignature, Volatility};

    let lookup = move |oid: Option<i64>| -> Option<String> {
        let name = relations
            .read()
            .expect("relations lock")
            .get(&oid?)?
            .clone();
        let view = db.catalog().view(&name).ok()??;
        Some(format!(" {};", view.query.trim().trim_end_matches(';')))
    };
    let udf = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args[..1])?;
        let oids = datafusion::arrow::compute::cast(&arrays[0], &DataType::Int64)?;
        let oids = oids.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let defs: StringArray = (0..oids.len())
            .map(|i| lookup(oids.is_valid(i).then(|| oids.value(i))))
            .collect();
        Ok(if matches!(args[0], ColumnarValue::Scalar(_)) {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&defs, 0)?)
        } else {
            ColumnarValue::Array(Arc::new(defs))
        })
    };
    datafusion::logical_expr::ScalarUDF::from(
        datafusion::logical_expr::expr_fn::SimpleScalarUDF::new_with_signature(
            "pg_get_viewdef",
            Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Int64]),
                    TypeSignature::Exact(vec![DataType::Int64, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
            DataType::Utf8,
            Arc::new(udf),
        ),
    )
}

/// `pg_get_indexdef(index [, column, pretty])`: for a primary key's index, its `CREATE INDEX`
/// (column 0) or the name of its `column`-th key column (pgJDBC `getIndexInfo`, SQLAlchemy
/// `get_indexes`). NULL for an OID that is no key index.
pub fn pg_get_indexdef(
    db: Arc<Database>,
    relations: RelationOids,
) -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Signature, TypeSignature, Volatility};

    let lookup = move |oid: i64, column: i64| -> Option<String> {
        let table = relations
            .read()
            .expect("relations lock")
            .get(&(oid - INDEX_OID_OFFSET))?
            .clone();
        let def = db.table(&table)?.table().def().clone();
        if def.primary_key.is_empty() {
            return None;
        }
        if column == 0 {
            return Some(format!(
                "CREATE UNIQUE INDEX {}_pkey ON {}.{} USING btree ({})",
                table.name,
                table.schema,
                table.name,
                def.primary_key.join(", ")
            ));
        }
        def.primary_key
            .get(usize::try_from(column - 1).ok()?)
            .cloned()
    };
    let udf = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let oids = datafusion::arrow::compute::cast(&arrays[0], &DataType::Int64)?;
        let oids = oids.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let columns = match arrays.get(1) {
            Some(c) => Some(datafusion::arrow::compute::cast(c, &DataType::Int64)?),
            None => None,
        };
        let defs: StringArray = (0..oids.len())
            .map(|i| {
                let column = columns.as_ref().map_or(0, |c| {
                    let c = c.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                    if c.is_valid(i) { c.value(i) } else { 0 }
                });
                oids.is_valid(i)
                    .then(|| lookup(oids.value(i), column))
                    .flatten()
            })
            .collect();
        Ok(
            if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
                ColumnarValue::Scalar(ScalarValue::try_from_array(&defs, 0)?)
            } else {
                ColumnarValue::Array(Arc::new(defs))
            },
        )
    };
    datafusion::logical_expr::ScalarUDF::from(
        datafusion::logical_expr::expr_fn::SimpleScalarUDF::new_with_signature(
            "pg_get_indexdef",
            Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Int64]),
                    TypeSignature::Exact(vec![DataType::Int64, DataType::Int64, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
            DataType::Utf8,
            Arc::new(udf),
        ),
    )
}

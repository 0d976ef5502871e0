//! `pg_catalog` as datafusion-pg-catalog builds it, with the tables it cannot fill from Arrow
//! schemas corrected from Oxbow's own catalog.
//!
//! # Layout
//! - [`attributes`]: `pg_attribute`. The library derives it from each table's Arrow schema, so
//!   a `varchar(20)` column would be `text` with typmod -1 and `numeric(12,3)` would lose its
//!   precision (psql's `\d`, pgJDBC's `getColumns`, psqlODBC's `SQLColumns` and SQLAlchemy's
//!   inspector read types there). The library's rows are kept (and so its OIDs, which
//!   `pg_class` shares); `atttypid` and `atttypmod` of Oxbow columns are rewritten.
//! - [`classes`]: `pg_class`, remembering which relation each OID names (for
//!   `pg_get_viewdef(oid)` and `pg_table_is_visible(oid)`), with a relation per key index.
//! - [`keys`]: `pg_index` and `pg_constraint`, one row per declared primary key, with key
//!   columns as arrays; the library's rows describe a PostgreSQL server's own catalog and are
//!   left out.
//! - [`catalog_oids`]: PostgreSQL's fixed OIDs for the catalog tables themselves
//!   (`pg_class` is 1259), which clients hard-code.
//! - [`relation_functions`]: the functions that look relations up by OID;
//!   [`privilege_functions`]: `has_table_privilege` and its siblings, from the grants;
//!   [`size_functions`]: `pg_table_size`, `pg_database_size`, `pg_size_pretty` and kin.
//! - [`acl_arrays`]: `pg_namespace.nspacl` (the schema grants) and `pg_proc.proacl` as text
//!   arrays (psql's `\dn+`, `\df+`).
//! - [`tables_views`]: `pg_tables` without Oxbow's views, `pg_views` with them.
//! - `pg_roles` lists the catalog's roles, and the other user names seen at login (trust);
//!   `pg_auth_members` the memberships between them; `pg_settings` gains `max_index_keys`, which
//!   pgJDBC reads before listing keys.
//!
//! Invariant: an OID names the same relation in every table of this overlay and in every
//! function that takes one.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session};
use datafusion::common::ScalarValue;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{ExecutionPlan, collect};
use oxbow_catalog::ObjectName;
use oxbow_storage::Database;

mod acl_arrays;
mod attributes;
mod catalog_oids;
mod classes;
mod keys;
mod privilege_functions;
mod relation_functions;
mod size_functions;
mod tables_views;

use attributes::PgAttribute;
use classes::PgClass;
use keys::{KeyTable, Keys, keys_schema};
pub use privilege_functions::{PRIVILEGE_FUNCTIONS, privilege_functions};
pub use relation_functions::{pg_get_indexdef, pg_get_viewdef, pg_table_is_visible};
pub use size_functions::size_functions;

/// The user names clients have logged in with since the server started. Under `--auth trust`
/// a name that is no role is accepted with every right; `pg_roles` lists those names beside
/// the catalog's roles, because tools such as DBeaver look the session's user up there.
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
            "pg_tables" | "pg_views" | "pg_matviews" => {
                return Ok(Some(Arc::new(tables_views::TablesOrViews {
                    inner,
                    db: Arc::clone(&self.db),
                    kind: match lower.as_str() {
                        "pg_tables" => tables_views::RelationList::Tables,
                        "pg_views" => tables_views::RelationList::Views,
                        _ => tables_views::RelationList::Matviews,
                    },
                })));
            }
            "pg_roles" => {
                let users = Arc::clone(&self.users);
                let db = Arc::clone(&self.db);
                return Ok(Some(Arc::new(WithRows {
                    inner,
                    rows: Box::new(move || role_rows(&db, &users)),
                })));
            }
            "pg_auth_members" => {
                let users = Arc::clone(&self.users);
                let db = Arc::clone(&self.db);
                return Ok(Some(Arc::new(WithRows {
                    inner,
                    rows: Box::new(move || member_rows(&db, &users)),
                })));
            }
            "pg_namespace" | "pg_proc" | "pg_policy" => {
                let (column, item) = match lower.as_str() {
                    "pg_proc" => ("proacl", DataType::Utf8),
                    "pg_policy" => ("polroles", DataType::Int64),
                    _ => ("nspacl", DataType::Utf8),
                };
                return Ok(Some(Arc::new(acl_arrays::AclArray {
                    inner,
                    db: Arc::clone(&self.db),
                    column,
                    item,
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

pub(super) async fn scan_all(
    table: &Arc<dyn TableProvider>,
    state: &dyn Session,
) -> Result<Vec<RecordBatch>> {
    let plan = table.scan(state, None, &[], None).await?;
    collect(plan, state.task_ctx()).await
}

/// Integer OIDs of a catalog column, whichever integer type the library chose for it.
pub(super) fn oids(batch: &RecordBatch, column: &str) -> Result<Vec<Option<i64>>> {
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

pub(super) fn strings(batch: &RecordBatch, column: &str) -> Result<Vec<Option<String>>> {
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

/// The namespace OID of each relation OID in `classes` (batches of `pg_class`).
pub(super) fn relation_namespaces(classes: &[RecordBatch]) -> Result<HashMap<i64, i64>> {
    let mut namespaces = HashMap::new();
    for batch in classes {
        for (oid, ns) in oids(batch, "oid")?
            .into_iter()
            .zip(oids(batch, "relnamespace")?)
        {
            if let (Some(oid), Some(ns)) = (oid, ns) {
                namespaces.insert(oid, ns);
            }
        }
    }
    Ok(namespaces)
}

/// The relation each OID in `classes` (batches of `pg_class`) names.
pub(super) async fn relation_names(
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

/// Every name `pg_roles` lists, with its OID, superuser and login flags: the catalog's roles
/// as they are, then each other user name seen at login (under `--auth trust`, where such a
/// name is let in with every right) as a superuser, then the predefined roles.
fn listed_roles(db: &Database, users: &LoginUsers) -> Vec<(String, i64, bool, bool)> {
    let roles = db.catalog().roles().unwrap_or_default();
    let logins = users.read().expect("users lock");
    let others = logins
        .iter()
        .filter(|user| !roles.iter().any(|r| &r.name == *user))
        .map(|user| (user.clone(), true, true));
    let mut listed: Vec<_> = roles
        .iter()
        .map(|r| (r.name.clone(), r.superuser, r.login))
        .chain(others)
        .enumerate()
        .map(|(i, (name, superuser, login))| (name, ROLE_OID_BASE + i as i64, superuser, login))
        .collect();
    listed.extend(
        oxbow_catalog::PREDEFINED_ROLES
            .iter()
            .map(|name| (name.to_string(), predefined_role_oid(name), false, false)),
    );
    listed
}

/// The OID PostgreSQL gives the predefined role `name` (pg_authid.dat), so that a client
/// that knows them finds them.
fn predefined_role_oid(name: &str) -> i64 {
    match name {
        oxbow_catalog::READ_SERVER_FILES => 4569,
        oxbow_catalog::WRITE_SERVER_FILES => 4570,
        _ => ROLE_OID_BASE - 1,
    }
}

/// `pg_roles` rows, one per [`listed_roles`] name.
fn role_rows(db: &Database, users: &LoginUsers) -> ExtraRows {
    listed_roles(db, users)
        .into_iter()
        .map(|(name, oid, superuser, login)| {
            let flag = |b: bool| ScalarValue::Boolean(Some(b));
            HashMap::from([
                ("oid", ScalarValue::Int64(Some(oid))),
                ("rolname", ScalarValue::Utf8(Some(name))),
                ("rolsuper", flag(superuser)),
                ("rolinherit", flag(true)),
                ("rolcreaterole", flag(superuser)),
                ("rolcreatedb", flag(superuser)),
                ("rolcanlogin", flag(login)),
                ("rolreplication", flag(false)),
                ("rolbypassrls", flag(superuser)),
                ("rolconnlimit", ScalarValue::Int64(Some(-1))),
                ("rolpassword", ScalarValue::Utf8(Some("********".into()))),
            ])
        })
        .collect()
}

/// `pg_auth_members` rows: one per membership, by the OIDs `pg_roles` gives the roles (psql's
/// `\du` "Member of", `pg_has_role`'s tools).
fn member_rows(db: &Database, users: &LoginUsers) -> ExtraRows {
    let oids: HashMap<String, i64> = listed_roles(db, users)
        .into_iter()
        .map(|(name, oid, _, _)| (name, oid))
        .collect();
    let memberships = db.catalog().memberships().unwrap_or_default();
    memberships
        .into_iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let oid = |name: &str| oids.get(name).map(|o| ScalarValue::Int64(Some(*o)));
            Some(HashMap::from([
                (
                    "oid",
                    ScalarValue::Int64(Some(MEMBERSHIP_OID_BASE + i as i64)),
                ),
                ("roleid", oid(&m.role)?),
                ("member", oid(&m.member)?),
                (
                    "grantor",
                    oid(&m.grantor).unwrap_or(ScalarValue::Int64(Some(10))),
                ),
                ("admin_option", ScalarValue::Boolean(Some(m.admin))),
                ("inherit_option", ScalarValue::Boolean(Some(true))),
                ("set_option", ScalarValue::Boolean(Some(true))),
            ]))
        })
        .collect()
}

/// Membership OIDs (PostgreSQL 16 gives `pg_auth_members` rows an OID): above the roles'.
const MEMBERSHIP_OID_BASE: i64 = ROLE_OID_BASE + (1 << 20);

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
pub(super) async fn scan_batches(
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

/// `batch` with NULL columns appended up to `schema`'s (whose leading columns it has).
pub(super) fn with_null_columns(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
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
pub(super) fn row_batch(
    schema: &SchemaRef,
    values: &HashMap<&str, ScalarValue>,
) -> Result<RecordBatch> {
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

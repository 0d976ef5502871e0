//! `pg_catalog` as datafusion-pg-catalog builds it, with the tables it cannot fill from Arrow
//! schemas corrected from Oxbow's own catalog.
//!
//! datafusion-pg-catalog derives `pg_attribute` from each table's Arrow schema, so a
//! `varchar(20)` column is `text` with typmod -1 and `numeric(12,3)` loses its precision:
//! psql's `\d`, pgJDBC's `getColumns`, psqlODBC's `SQLColumns` and SQLAlchemy's inspector all
//! read their types from there. The overlay keeps every row the library produces (and so its
//! OIDs, which `pg_class` shares) and rewrites `atttypid` and `atttypmod` of Oxbow columns.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, Int32Array, RecordBatch};
use datafusion::arrow::datatypes::{Int16Type, Int32Type, SchemaRef, UInt32Type};
use datafusion::catalog::{SchemaProvider, Session};
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::{ExecutionPlan, collect};
use oxbow_catalog::ObjectName;
use oxbow_storage::Database;

use crate::result_columns::pg_type;

/// The `pg_catalog` schema: the library's, with `pg_attribute` corrected.
#[derive(Debug)]
pub struct PgCatalogOverlay {
    inner: Arc<dyn SchemaProvider>,
    db: Arc<Database>,
}

impl PgCatalogOverlay {
    pub fn new(inner: Arc<dyn SchemaProvider>, db: Arc<Database>) -> Self {
        Self { inner, db }
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
        self.inner.table(name).await
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
    let values = match array.data_type() {
        datafusion::arrow::datatypes::DataType::Int32 => {
            let a = array.as_primitive::<Int32Type>();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| i64::from(a.value(i))))
                .collect()
        }
        datafusion::arrow::datatypes::DataType::UInt32 => {
            let a = array.as_primitive::<UInt32Type>();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| i64::from(a.value(i))))
                .collect()
        }
        datafusion::arrow::datatypes::DataType::Int16 => {
            let a = array.as_primitive::<Int16Type>();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| i64::from(a.value(i))))
                .collect()
        }
        other => {
            return Err(DataFusionError::Internal(format!(
                "pg_catalog column {column} has type {other}"
            )));
        }
    };
    Ok(values)
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

impl PgAttribute {
    /// The relation each table OID names.
    async fn relations(&self, state: &dyn Session) -> Result<HashMap<i64, ObjectName>> {
        let mut schemas = HashMap::new();
        for batch in scan_all(&self.namespaces, state).await? {
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
        for batch in scan_all(&self.classes, state).await? {
            let names = strings(&batch, "relname")?;
            let namespaces = oids(&batch, "relnamespace")?;
            for ((oid, name), namespace) in
                oids(&batch, "oid")?.into_iter().zip(names).zip(namespaces)
            {
                if let (Some(oid), Some(name), Some(schema)) =
                    (oid, name, namespace.and_then(|n| schemas.get(&n)))
                {
                    relations.insert(oid, ObjectName::new(schema.clone(), name));
                }
            }
        }
        Ok(relations)
    }

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
        let relations = self.relations(state).await?;
        let corrected = attributes
            .iter()
            .map(|b| self.correct(b, &relations))
            .collect::<Result<Vec<_>>>()?;
        MemTable::try_new(self.schema(), vec![corrected])?
            .scan(state, projection, filters, limit)
            .await
    }
}

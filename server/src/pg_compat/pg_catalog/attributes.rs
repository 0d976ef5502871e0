//! `pg_attribute` with the declared types of Oxbow columns, and the attributes of key indexes.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Int32Array, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use oxbow_catalog::ObjectName;
use oxbow_storage::Database;

use super::keys::primary_keys;
use super::{catalog_oids, oids, relation_names, row_batch, scan_all, scan_batches};
use crate::wire::describe::pg_type;

/// The PostgreSQL type and typmod of a column as declared (`varchar(20)` is 1043 with 24).
fn declared_pg_type(column: &oxbow_catalog::ColumnDef) -> (pgwire::api::Type, i32) {
    let field =
        datafusion::arrow::datatypes::Field::new(&column.name, column.sql_type.arrow_type(), true);
    let field = match column.sql_type.field_metadata() {
        Some(m) => field.with_metadata(m),
        None => field,
    };
    pg_type(&field)
}

/// `pg_attribute` with the declared types of Oxbow columns.
#[derive(Debug)]
pub(super) struct PgAttribute {
    pub(super) attributes: Arc<dyn TableProvider>,
    pub(super) classes: Arc<dyn TableProvider>,
    pub(super) namespaces: Arc<dyn TableProvider>,
    pub(super) db: Arc<Database>,
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
            let (ty, typmod) = declared_pg_type(column);
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
    /// The library's columns, with `attacl` a text array as PostgreSQL's `aclitem[]` (always
    /// NULL: there are no column privileges; psql's `\dp` joins it into text).
    fn schema(&self) -> SchemaRef {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};

        let inner = self.attributes.schema();
        let fields: Vec<Field> = inner
            .fields()
            .iter()
            .map(|f| {
                if f.name() == "attacl" {
                    Field::new("attacl", super::acl_arrays::list_of(DataType::Utf8), true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
        Arc::new(Schema::new(fields))
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
        let fixed = catalog_oids::remap(&classes)?;
        let classes = catalog_oids::apply_all(classes, "oid", &fixed)?;
        let attributes = catalog_oids::apply_all(attributes, "attrelid", &fixed)?;
        let relations = relation_names(&classes, &self.namespaces, state).await?;
        let schema = self.schema();
        let mut corrected = attributes
            .iter()
            .map(|b| {
                let b = self.correct(b, &relations)?;
                let columns = schema
                    .fields()
                    .iter()
                    .zip(b.columns())
                    .map(|(field, column)| match field.name().as_str() {
                        "attacl" => datafusion::arrow::array::new_null_array(
                            field.data_type(),
                            b.num_rows(),
                        ),
                        _ => Arc::clone(column),
                    })
                    .collect();
                Ok(RecordBatch::try_new(Arc::clone(&schema), columns)?)
            })
            .collect::<Result<Vec<_>>>()?;
        // A primary key's index is a relation with one attribute per key column, as in
        // PostgreSQL (psqlODBC's SQLPrimaryKeys joins them).
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
                let (ty, typmod) = declared_pg_type(column);
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

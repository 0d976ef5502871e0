//! Declared primary keys as PostgreSQL's catalog shows them: rows of `pg_index` and
//! `pg_constraint`, with key columns as arrays of attribute numbers.
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use oxbow_catalog::ObjectName;
use oxbow_storage::Database;

use super::{relation_names, relation_namespaces, row_batch, scan_all, scan_batches};

/// `pg_am` OID of btree, the access method every key index reports.
pub(super) const BTREE_AM_OID: i64 = 403;

/// The index and constraint OIDs of a key are derived from its table's OID, so that they are
/// the same in every catalog table and every query (table OIDs are below 2^24 here).
pub(super) const INDEX_OID_OFFSET: i64 = 1 << 30;
pub(super) const CONSTRAINT_OID_OFFSET: i64 = 1 << 29;

/// A declared primary key, as the catalog tables describe it.
pub(super) struct PrimaryKey {
    pub(super) table_oid: i64,
    pub(super) namespace_oid: i64,
    pub(super) index_oid: i64,
    pub(super) constraint_oid: i64,
    /// `<table>_pkey`, PostgreSQL's default name for both the index and the constraint.
    pub(super) name: String,
    /// Attribute numbers (1-based) of the key columns, in key order.
    pub(super) columns: Vec<i16>,
}

/// The primary keys of the Oxbow tables among `relations`.
pub(super) fn primary_keys(db: &Database, relations: &HashMap<i64, ObjectName>) -> Vec<PrimaryKey> {
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
pub(super) struct Keys {
    pub(super) classes: Arc<dyn TableProvider>,
    pub(super) namespaces: Arc<dyn TableProvider>,
    pub(super) db: Arc<Database>,
}

impl Keys {
    async fn primary_keys(&self, state: &dyn Session) -> Result<Vec<PrimaryKey>> {
        let classes = scan_all(&self.classes, state).await?;
        let names = relation_names(&classes, &self.namespaces, state).await?;
        let namespaces = relation_namespaces(&classes)?;
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
pub(super) fn keys_schema(library: &SchemaRef) -> SchemaRef {
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
pub(super) struct KeyTable {
    pub(super) schema: SchemaRef,
    pub(super) keys: Keys,
    pub(super) constraints: bool,
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

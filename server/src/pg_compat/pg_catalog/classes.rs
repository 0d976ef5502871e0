//! `pg_class` with the relations Oxbow adds (key indexes) and the OIDs it fixes.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use oxbow_storage::Database;

use super::keys::{BTREE_AM_OID, primary_keys};
use super::{
    RelationOids, catalog_oids, oids, relation_names, relation_namespaces, row_batch, scan_all,
    scan_batches, with_null_columns,
};

/// `pg_class`, recording the relation each OID names as it is read.
#[derive(Debug)]
pub(super) struct PgClass {
    pub(super) inner: Arc<dyn TableProvider>,
    pub(super) namespaces: Arc<dyn TableProvider>,
    pub(super) db: Arc<Database>,
    pub(super) relations: RelationOids,
}

#[async_trait]
impl TableProvider for PgClass {
    /// The library's columns, and `reloptions` (NULL: Oxbow has no storage parameters),
    /// which SQLAlchemy's index reflection selects.
    fn schema(&self) -> SchemaRef {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};

        let inner = self.inner.schema();
        let mut fields: Vec<Field> = inner.fields().iter().map(|f| f.as_ref().clone()).collect();
        for added in ["reloptions", "relacl"] {
            if inner.index_of(added).is_err() {
                fields.push(Field::new(
                    added,
                    super::acl_arrays::list_of(DataType::Utf8),
                    true,
                ));
            }
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
        let fixed = catalog_oids::remap(&batches)?;
        batches = catalog_oids::apply_all(batches, "oid", &fixed)?;
        let names = relation_names(&batches, &self.namespaces, state).await?;
        batches = with_relacl(batches, &names, &self.db)?;
        let namespaces = relation_namespaces(&batches)?;
        // A table with a key has an index (psql's `\d` lists it then).
        let keys = primary_keys(&self.db, &names);
        let keyed: std::collections::HashSet<i64> = keys.iter().map(|k| k.table_oid).collect();
        if !keyed.is_empty() {
            batches = batches
                .into_iter()
                .map(|b| with_index_flag(b, &keyed))
                .collect::<Result<Vec<_>>>()?;
        }
        // A materialized view is relkind 'm' (psql's `\dm`, `\d+ v`), not the library's 'v'.
        // One read of the catalog, not one per relation: BI tools read pg_class constantly.
        let materialized: std::collections::HashSet<oxbow_catalog::ObjectName> = self
            .db
            .catalog()
            .materialized_views()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        let matviews: std::collections::HashSet<i64> = names
            .iter()
            .filter(|(_, name)| materialized.contains(*name))
            .map(|(oid, _)| *oid)
            .collect();
        if !matviews.is_empty() {
            batches = batches
                .into_iter()
                .map(|b| with_relkind(b, &matviews, "m"))
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

/// `pg_class` rows with `relacl` set from the table grants (`role=arwd/oxbow`; NULL for a
/// relation nobody was granted anything on, PostgreSQL's default ACL): psql's `\dp`, pgAdmin.
fn with_relacl(
    batches: Vec<RecordBatch>,
    names: &HashMap<i64, oxbow_catalog::ObjectName>,
    db: &oxbow_storage::Database,
) -> Result<Vec<RecordBatch>> {
    let grants = db
        .catalog()
        .all_privileges()
        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
    let acls = super::acl_arrays::acls(
        grants
            .into_iter()
            .map(|(role, relation, p)| (role, relation, p.acl_letters())),
    );
    batches
        .into_iter()
        .map(|batch| {
            let Ok(index) = batch.schema().index_of("relacl") else {
                return Ok(batch);
            };
            let oids = oids(&batch, "oid")?;
            let mut columns = batch.columns().to_vec();
            columns[index] = super::acl_arrays::text_arrays(oids.iter().map(|oid| {
                oid.and_then(|o| names.get(&o))
                    .and_then(|n| acls.get(n))
                    .map(|items| items.iter().map(String::as_str))
            }));
            Ok(RecordBatch::try_new(batch.schema(), columns)?)
        })
        .collect()
}

/// `pg_class` rows with `relkind` set to `kind` for the relations in `oids_of`.
fn with_relkind(
    batch: RecordBatch,
    oids_of: &std::collections::HashSet<i64>,
    kind: &str,
) -> Result<RecordBatch> {
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use datafusion::arrow::compute::cast;

    let Ok(index) = batch.schema().index_of("relkind") else {
        return Ok(batch);
    };
    let current = cast(
        batch.column(index),
        &datafusion::arrow::datatypes::DataType::Utf8,
    )?;
    let current = current.as_string::<i32>();
    let kinds: StringArray = oids(&batch, "oid")?
        .iter()
        .enumerate()
        .map(|(row, oid)| match oid {
            Some(o) if oids_of.contains(o) => Some(kind),
            _ => current.is_valid(row).then(|| current.value(row)),
        })
        .collect();
    let kinds: ArrayRef = cast(&kinds, batch.schema().field(index).data_type())?;
    let mut columns = batch.columns().to_vec();
    columns[index] = kinds;
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
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

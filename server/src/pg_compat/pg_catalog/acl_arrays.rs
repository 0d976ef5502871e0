//! ACL columns as PostgreSQL types them, `aclitem[]` (here text arrays), where the library has
//! text, which psql's `\dn+` and `\df+` (`array_to_string(n.nspacl, E'\n')`) cannot take:
//!
//! - `pg_namespace.nspacl`: the schema's grants, `grantee=UC/grantor`, or NULL for a schema
//!   nobody was granted anything on (PostgreSQL's default ACL). Grants here have no recorded
//!   grantor; every one reads as granted by `oxbow`, as in
//!   `information_schema.table_privileges` (`crate::pg_compat::table_grants`).
//! - `pg_proc.proacl`: the library's text (`{postgres=X/postgres}`) split into its items.
//! - `pg_policy.polroles`, an `oid[]` (psql's `\dp` asks `oid = ANY (polroles)`; Oxbow has no
//!   policies, so the table is empty).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, ListBuilder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use oxbow_storage::Database;

use super::{scan_all, scan_batches, strings};

/// A catalog table whose array column `column`, text in the library, is an array of `item`.
#[derive(Debug)]
pub struct AclArray {
    pub inner: Arc<dyn TableProvider>,
    pub db: Arc<Database>,
    pub column: &'static str,
    pub item: DataType,
}

/// `{a,b}` (PostgreSQL's array text, without quoting: ACL items need none) as its items.
fn items(text: &str) -> Vec<&str> {
    let inner = text.trim().trim_start_matches('{').trim_end_matches('}');
    inner.split(',').filter(|i| !i.is_empty()).collect()
}

pub(super) fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// The ACL of each object with grants, from `(role, object, aclitem letters)`:
/// `grantee=letters/oxbow` per role, in the grants' order. Schemas (`nspacl`) and relations
/// (`pg_class.relacl`, `super::classes`) are made the same way.
pub(super) fn acls<K: Ord>(
    grants: impl IntoIterator<Item = (String, K, String)>,
) -> BTreeMap<K, Vec<String>> {
    let mut acls: BTreeMap<K, Vec<String>> = BTreeMap::new();
    for (role, object, letters) in grants {
        if !letters.is_empty() {
            acls.entry(object)
                .or_default()
                .push(format!("{role}={letters}/oxbow"));
        }
    }
    acls
}

fn schema_acls(db: &Database) -> Result<BTreeMap<String, Vec<String>>> {
    let grants = db
        .catalog()
        .all_schema_privileges()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    Ok(acls(
        grants
            .into_iter()
            .map(|(role, schema, p)| (role, schema, p.acl_letters())),
    ))
}

/// A text-array column, one row per item list (`None`: NULL).
pub(super) fn text_arrays<'a, I>(rows: impl IntoIterator<Item = Option<I>>) -> ArrayRef
where
    I: IntoIterator<Item = &'a str>,
{
    let mut builder = ListBuilder::new(StringBuilder::new());
    for row in rows {
        match row {
            Some(items) => {
                for item in items {
                    builder.values().append_value(item);
                }
                builder.append(true);
            }
            None => builder.append(false),
        }
    }
    Arc::new(builder.finish())
}

#[async_trait]
impl TableProvider for AclArray {
    fn schema(&self) -> SchemaRef {
        let inner = self.inner.schema();
        let fields: Vec<Field> = inner
            .fields()
            .iter()
            .map(|f| {
                if f.name() == self.column {
                    Field::new(f.name(), list_of(self.item.clone()), true)
                } else {
                    f.as_ref().clone()
                }
            })
            .collect();
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
        let grants = match self.column {
            "nspacl" => Some(schema_acls(&self.db)?),
            _ => None,
        };
        let mut batches = Vec::new();
        for batch in scan_all(&self.inner, state).await? {
            let texts = match &grants {
                Some(grants) => {
                    let names = strings(&batch, "nspname")?;
                    text_arrays(names.iter().map(|n| {
                        n.as_ref()
                            .and_then(|n| grants.get(n))
                            .map(|g| g.iter().map(String::as_str))
                    }))
                }
                None => {
                    let texts = strings(&batch, self.column)?;
                    text_arrays(texts.iter().map(|t| t.as_deref().map(items)))
                }
            };
            let acl: ArrayRef =
                datafusion::arrow::compute::cast(&texts, &list_of(self.item.clone()))?;
            let columns: Vec<ArrayRef> = schema
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(field, column)| {
                    if field.name() == self.column {
                        Arc::clone(&acl)
                    } else {
                        Arc::clone(column)
                    }
                })
                .collect();
            batches.push(RecordBatch::try_new(Arc::clone(&schema), columns)?);
        }
        scan_batches(schema, batches, state, projection, filters, limit).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn acl_text_splits_into_items() {
        assert_eq!(
            super::items("{postgres=X/postgres,pg_monitor=X/postgres}"),
            vec!["postgres=X/postgres", "pg_monitor=X/postgres"]
        );
        assert!(super::items("{}").is_empty());
    }
}

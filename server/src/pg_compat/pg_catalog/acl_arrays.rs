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

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(item, true)))
}

/// The ACL of each schema with grants: `grantee=UC/oxbow` per role, in role order.
/// (`pg_class.relacl` is made the same way, in `super::classes`.)
fn acls(db: &Database) -> Result<BTreeMap<String, Vec<String>>> {
    let grants = db
        .catalog()
        .all_schema_privileges()
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let mut acls: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (role, schema, privileges) in grants {
        let letters = privileges.acl_letters();
        if !letters.is_empty() {
            acls.entry(schema)
                .or_default()
                .push(format!("{role}={letters}/oxbow"));
        }
    }
    Ok(acls)
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
            "nspacl" => Some(acls(&self.db)?),
            _ => None,
        };
        let mut batches = Vec::new();
        for batch in scan_all(&self.inner, state).await? {
            let mut builder = ListBuilder::new(StringBuilder::new());
            let mut append = |acl: Option<Vec<&str>>| match acl {
                Some(acl) => {
                    for item in acl {
                        builder.values().append_value(item);
                    }
                    builder.append(true);
                }
                None => builder.append(false),
            };
            match &grants {
                Some(grants) => {
                    for name in strings(&batch, "nspname")? {
                        append(
                            name.and_then(|n| grants.get(&n))
                                .map(|g| g.iter().map(String::as_str).collect()),
                        );
                    }
                }
                None => {
                    for text in strings(&batch, self.column)? {
                        append(text.as_deref().map(items));
                    }
                }
            }
            let acl: ArrayRef =
                datafusion::arrow::compute::cast(&builder.finish(), &list_of(self.item.clone()))?;
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

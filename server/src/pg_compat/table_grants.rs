//! `information_schema.table_privileges` and `role_table_grants`: one row per privilege a role
//! was granted on a table or view (`GRANT SELECT ON t TO alice`), read from the catalog's
//! grants at each scan, so a `GRANT` or `REVOKE` shows at once.
//!
//! PostgreSQL lists there also what owners hold, and shows a role that is not a superuser
//! only the rows granted to or by its roles; Oxbow has no owners (superusers hold everything
//! and are not listed), and lists every grant to everyone, as `pg_class.relacl` shows them in
//! PostgreSQL. The grantor is not recorded: it reads as the first superuser, `oxbow`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::datasource::{MemTable, TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use oxbow_storage::Database;

use super::DATABASE_NAME;

/// The role every grant reads as granted by (the default first superuser).
const GRANTOR: &str = "oxbow";

const COLUMNS: &[&str] = &[
    "grantor",
    "grantee",
    "table_catalog",
    "table_schema",
    "table_name",
    "privilege_type",
    "is_grantable",
    "with_hierarchy",
];

/// The grants as a view of `information_schema`.
#[derive(Debug)]
pub struct TableGrants {
    db: Arc<Database>,
    schema: SchemaRef,
}

impl TableGrants {
    pub fn new(db: Arc<Database>) -> Self {
        let fields: Vec<Field> = COLUMNS
            .iter()
            .map(|name| Field::new(*name, DataType::Utf8, true))
            .collect();
        Self {
            db,
            schema: Arc::new(Schema::new(fields)),
        }
    }

    fn rows(&self) -> Result<Vec<[String; 8]>> {
        let grants = self
            .db
            .catalog()
            .all_privileges()
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let mut rows = Vec::new();
        for (role, table, held) in grants {
            for (privilege, on) in [
                ("SELECT", held.select),
                ("INSERT", held.insert),
                ("UPDATE", held.update),
                ("DELETE", held.delete),
            ] {
                if on {
                    rows.push([
                        GRANTOR.to_string(),
                        role.clone(),
                        DATABASE_NAME.to_string(),
                        table.schema.clone(),
                        table.name.clone(),
                        privilege.to_string(),
                        "NO".to_string(),
                        // PostgreSQL: YES for SELECT (it reaches child tables), NO otherwise.
                        if privilege == "SELECT" { "YES" } else { "NO" }.to_string(),
                    ]);
                }
            }
        }
        Ok(rows)
    }
}

#[async_trait]
impl TableProvider for TableGrants {
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
        let rows = self.rows()?;
        let columns = (0..COLUMNS.len())
            .map(|i| {
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r[i].as_str()),
                )) as datafusion::arrow::array::ArrayRef
            })
            .collect();
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        MemTable::try_new(Arc::clone(&self.schema), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

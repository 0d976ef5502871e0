//! `pg_tables` and `pg_views`. The library lists every relation of `pg_class` in `pg_tables`,
//! Oxbow's views included, and leaves `pg_views` empty. dbt learns what kind each relation is
//! from these two (and then dropped a renamed-away view with `DROP TABLE`, 42809), as do
//! Metabase's privilege query and psql users. Here each Oxbow view is a row of `pg_views`
//! (with its query as `definition`) and not of `pg_tables`; every other row is the library's.
//! A materialized view is a row of `pg_matviews` instead (psql's `\dm`), as in PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use oxbow_catalog::ViewDef;
use oxbow_storage::Database;

use super::{row_batch, scan_all, scan_batches, strings};

#[derive(Debug)]
pub(super) struct TablesOrViews {
    pub inner: Arc<dyn TableProvider>,
    pub db: Arc<Database>,
    pub kind: RelationList,
}

/// Which of the three lists a [`TablesOrViews`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RelationList {
    Tables,
    Views,
    Matviews,
}

fn oxbow_views(db: &Database) -> Vec<ViewDef> {
    let catalog = db.catalog();
    catalog
        .schemas()
        .unwrap_or_default()
        .iter()
        .flat_map(|schema| catalog.views(schema).unwrap_or_default())
        .collect()
}

#[async_trait]
impl TableProvider for TablesOrViews {
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
        let views = oxbow_views(&self.db);
        let names: HashSet<(String, String)> = views
            .iter()
            .map(|v| (v.name.schema.clone(), v.name.name.clone()))
            .collect();
        let name_column = match self.kind {
            RelationList::Tables => "tablename",
            RelationList::Views => "viewname",
            RelationList::Matviews => "matviewname",
        };
        let schema = self.schema();
        let mut batches = Vec::new();
        for batch in scan_all(&self.inner, state).await? {
            let schemas = strings(&batch, "schemaname")?;
            let relations = strings(&batch, name_column)?;
            let keep: BooleanArray = schemas
                .iter()
                .zip(&relations)
                .map(|(s, r)| match (s, r) {
                    (Some(s), Some(r)) => Some(!names.contains(&(s.clone(), r.clone()))),
                    _ => Some(true),
                })
                .collect();
            batches.push(filter_record_batch(&batch, &keep)?);
        }
        let listed = views.into_iter().filter(|v| match self.kind {
            RelationList::Tables => false,
            RelationList::Views => v.rollup.is_none(),
            RelationList::Matviews => v.rollup.is_some(),
        });
        for view in listed {
            if self.kind == RelationList::Matviews {
                let row = HashMap::from([
                    (
                        "schemaname",
                        ScalarValue::Utf8(Some(view.name.schema.clone())),
                    ),
                    (
                        "matviewname",
                        ScalarValue::Utf8(Some(view.name.name.clone())),
                    ),
                    ("matviewowner", ScalarValue::Utf8(Some("oxbow".into()))),
                    ("hasindexes", ScalarValue::Boolean(Some(false))),
                    ("ispopulated", ScalarValue::Boolean(Some(true))),
                    ("definition", ScalarValue::Utf8(Some(view.query.clone()))),
                ]);
                batches.push(row_batch(&schema, &row)?);
                continue;
            }
            {
                let row = HashMap::from([
                    (
                        "schemaname",
                        ScalarValue::Utf8(Some(view.name.schema.clone())),
                    ),
                    ("viewname", ScalarValue::Utf8(Some(view.name.name.clone()))),
                    ("viewowner", ScalarValue::Utf8(Some("oxbow".into()))),
                    ("definition", ScalarValue::Utf8(Some(view.query.clone()))),
                ]);
                batches.push(row_batch(&schema, &row)?);
            }
        }
        scan_batches(schema, batches, state, projection, filters, limit).await
    }
}

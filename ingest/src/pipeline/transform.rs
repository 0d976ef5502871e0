//! Transform and enrich: the optional `AS SELECT ... FROM input` of a source, run by DataFusion
//! over each micro-batch. `input` is the batch; every other name resolves as in any query, so
//! a join against an Oxbow table is a lookup that sees the table's current contents (both
//! tiers), and the PII functions (`mask_email`, `mask`, `sha256`) are there.
//!
//! Each source gets a session of its own whose default schema is wrapped: `input` there is
//! the current batch, every other name is the real schema's. Nothing is registered in the
//! shared catalog, so sources cannot see each other's batches.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProviderList, SchemaProvider,
};
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;

/// The name the batch has in the transform's query.
pub const INPUT: &str = "input";

pub struct Transform {
    ctx: SessionContext,
    sql: String,
    input: Arc<Mutex<Option<Arc<dyn TableProvider>>>>,
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform").field("sql", &self.sql).finish()
    }
}

impl Transform {
    /// A transform running `sql` in a session derived from `base` (the server's session, with
    /// Oxbow's catalog and functions).
    pub fn new(base: &SessionContext, sql: &str) -> DfResult<Self> {
        let state = base.state();
        let options = state.config().options();
        let default_catalog = options.catalog.default_catalog.clone();
        let default_schema = options.catalog.default_schema.clone();
        let input: Arc<Mutex<Option<Arc<dyn TableProvider>>>> = Arc::new(Mutex::new(None));
        let list = MemoryCatalogProviderList::new();
        let catalogs = state.catalog_list();
        for name in catalogs.catalog_names() {
            let Some(catalog) = catalogs.catalog(&name) else {
                continue;
            };
            let catalog: Arc<dyn CatalogProvider> = if name == default_catalog {
                Arc::new(InputCatalog {
                    inner: catalog,
                    schema: default_schema.clone(),
                    input: Arc::clone(&input),
                })
            } else {
                catalog
            };
            list.register_catalog(name, catalog);
        }
        let state = SessionStateBuilder::new_from_existing(state)
            .with_catalog_list(Arc::new(list))
            .build();
        Ok(Self {
            ctx: SessionContext::new_with_state(state),
            sql: sql.to_string(),
            input,
        })
    }

    /// Runs the query over `batch` and returns its rows.
    pub async fn apply(&self, batch: RecordBatch) -> DfResult<RecordBatch> {
        let schema = batch.schema();
        let table = MemTable::try_new(Arc::clone(&schema), vec![vec![batch]])?;
        *self.input.lock().expect("input lock") = Some(Arc::new(table));
        let result = async {
            let frame = self.ctx.sql(&self.sql).await?;
            let out_schema = Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await?;
            Ok::<_, DataFusionError>(concat_batches(&out_schema, &batches)?)
        }
        .await;
        *self.input.lock().expect("input lock") = None;
        result
    }
}

#[derive(Debug)]
struct InputCatalog {
    inner: Arc<dyn CatalogProvider>,
    schema: String,
    input: Arc<Mutex<Option<Arc<dyn TableProvider>>>>,
}

impl CatalogProvider for InputCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.inner.schema_names()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let inner = self.inner.schema(name)?;
        if name != self.schema {
            return Some(inner);
        }
        Some(Arc::new(InputSchema {
            inner,
            input: Arc::clone(&self.input),
        }))
    }
}

#[derive(Debug)]
struct InputSchema {
    inner: Arc<dyn SchemaProvider>,
    input: Arc<Mutex<Option<Arc<dyn TableProvider>>>>,
}

#[async_trait]
impl SchemaProvider for InputSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.inner.table_names();
        names.push(INPUT.to_string());
        names
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        if name == INPUT {
            return Ok(self.input.lock().expect("input lock").clone());
        }
        self.inner.table(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        name == INPUT || self.inner.table_exist(name)
    }
}

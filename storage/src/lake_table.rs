//! [`LakeTable`]: one table's Delta Lake tier.
//!
//! Oxbow is the only writer of its Delta tables, so every write here is serialised by a
//! per-table lock and the in-memory [`DeltaTable`] is replaced by the state each commit
//! returns: reads never need to list the `_delta_log` to see our own writes.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::logical_expr::Expr;
use deltalake::DeltaTable;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::protocol::SaveMode;
use oxbow_catalog::TableDef;
use tokio::sync::{Mutex, RwLock};
use tracing::{debug, instrument};

use crate::{Error, LakeRoot, Result};

pub struct LakeTable {
    def: TableDef,
    /// The latest committed state of the table.
    state: RwLock<DeltaTable>,
    /// Held for the whole of a write, from reading the snapshot to installing the new state.
    write_lock: Mutex<()>,
}

impl std::fmt::Debug for LakeTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LakeTable")
            .field("name", &self.def.name)
            .finish_non_exhaustive()
    }
}

impl LakeTable {
    /// Creates the Delta table for `def` (its first commit holds the schema).
    ///
    /// A directory left at the location by a table whose creation or drop was interrupted is
    /// not in the catalog, so it is overwritten rather than reported as a conflict.
    #[instrument(skip_all, fields(table = %def.name))]
    pub async fn create(root: &LakeRoot, def: &TableDef) -> Result<Self> {
        let url = root.table_url(&def.location)?;
        let schema: StructType = (&def.arrow_schema())
            .try_into_kernel()
            .map_err(|e| Error::delta(&def.name, e.into()))?;
        let table = deltalake::operations::create::CreateBuilder::new()
            .with_location(url.as_str())
            .with_storage_options(root.storage_options().clone())
            .with_table_name(def.name.name.clone())
            .with_columns(schema.fields().cloned())
            .with_save_mode(SaveMode::Overwrite)
            .await
            .map_err(|e| Error::delta(&def.name, e))?;
        debug!(%url, "created Delta table");
        Ok(Self::with_state(def.clone(), table))
    }

    /// Opens the existing Delta table of `def` at its latest version.
    #[instrument(skip_all, fields(table = %def.name))]
    pub async fn open(root: &LakeRoot, def: &TableDef) -> Result<Self> {
        let url = root.table_url(&def.location)?;
        let table = deltalake::open_table_with_storage_options(url, root.storage_options().clone())
            .await
            .map_err(|e| Error::delta(&def.name, e))?;
        Ok(Self::with_state(def.clone(), table))
    }

    fn with_state(def: TableDef, table: DeltaTable) -> Self {
        Self {
            def,
            state: RwLock::new(table),
            write_lock: Mutex::new(()),
        }
    }

    pub fn def(&self) -> &TableDef {
        &self.def
    }

    /// The latest committed state (cheap to clone: the snapshot is shared).
    pub async fn snapshot(&self) -> DeltaTable {
        self.state.read().await.clone()
    }

    /// The Delta version of the latest commit.
    pub async fn version(&self) -> Option<i64> {
        self.state.read().await.version().map(|v| v as i64)
    }

    /// A DataFusion provider reading the latest committed snapshot.
    pub async fn scan_provider(&self) -> Result<Arc<dyn TableProvider>> {
        let table = self.snapshot().await;
        table
            .table_provider()
            .await
            .map_err(|e| Error::DataFusion(e))
    }

    /// The Arrow schema of the Delta table, as DataFusion reads it.
    pub async fn arrow_schema(&self) -> Result<SchemaRef> {
        Ok(self.scan_provider().await?.schema())
    }

    /// Appends `batches` as one Delta commit and returns the number of rows written.
    #[instrument(skip_all, fields(table = %self.def.name))]
    pub async fn append(&self, batches: Vec<RecordBatch>) -> Result<u64> {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows == 0 {
            return Ok(0);
        }
        self.check_not_null(&batches)?;
        let _guard = self.write_lock.lock().await;
        let table = self.snapshot().await;
        let table = table
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .await
            .map_err(|e| Error::delta(&self.def.name, e))?;
        debug!(rows, version = ?table.version(), "appended");
        *self.state.write().await = table;
        Ok(rows as u64)
    }

    /// Deletes the rows matching `predicate` (all rows when `None`) in one commit.
    #[instrument(skip_all, fields(table = %self.def.name))]
    pub async fn delete(&self, predicate: Option<Expr>) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        let table = self.snapshot().await;
        let mut builder = table.delete();
        if let Some(predicate) = predicate {
            builder = builder.with_predicate(predicate);
        }
        let (table, metrics) = builder.await.map_err(|e| Error::delta(&self.def.name, e))?;
        *self.state.write().await = table;
        Ok(metrics.num_deleted_rows.unwrap_or(0) as u64)
    }

    /// Sets `assignments` on the rows matching `predicate` (all rows when `None`) in one commit.
    #[instrument(skip_all, fields(table = %self.def.name))]
    pub async fn update(
        &self,
        assignments: Vec<(String, Expr)>,
        predicate: Option<Expr>,
    ) -> Result<u64> {
        let _guard = self.write_lock.lock().await;
        let table = self.snapshot().await;
        let mut builder = table.update();
        for (column, value) in assignments {
            builder = builder.with_update(column, value);
        }
        if let Some(predicate) = predicate {
            builder = builder.with_predicate(predicate);
        }
        let (table, metrics) = builder.await.map_err(|e| Error::delta(&self.def.name, e))?;
        *self.state.write().await = table;
        Ok(metrics.num_updated_rows as u64)
    }

    /// `NOT NULL` is checked here, before anything is written, so that the error names the
    /// column as PostgreSQL would rather than surfacing as a Parquet writer failure.
    fn check_not_null(&self, batches: &[RecordBatch]) -> Result<()> {
        for column in self.def.columns.iter().filter(|c| !c.nullable) {
            for batch in batches {
                let has_null = batch
                    .column_by_name(&column.name)
                    .is_none_or(|array| array.null_count() > 0);
                if has_null {
                    return Err(Error::NotNullViolation {
                        table: self.def.name.name.clone(),
                        column: column.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

//! `ADD COLUMN` on a [`Table`]: new nullable columns reach both tiers at once.
//!
//! The Delta tier gets one commit of a `metaData` action with the wider schema (deltalake's
//! `add_columns`); Parquet files written before it lack the columns and read as NULL, which
//! every Delta reader does. The hot tier's batches are refitted ([`crate::hot::reshape`]) and
//! the table's definition and schema swapped under the state lock in one step, so a scan sees
//! either the old shape everywhere or the new one everywhere. WAL records written before the
//! change keep their old schema on disk and are fitted when they are applied (also at replay).
//!
//! The catalog is the authority on a table's columns: the caller ([`crate::Database`]) writes
//! the new definition there first. If the process dies before the Delta commit, opening the
//! table commits the missing columns then ([`Table::add_missing_columns`]), so the two never
//! disagree for long and never in the direction that loses a column.

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use deltalake::DeltaTable;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use oxbow_catalog::TableDef;
use tracing::{info, instrument};

use super::{Shape, Table, run_detached};
use crate::{Error, Result};

impl Table {
    /// Gives the table the name of `def` (the same table, renamed in the catalog). Its id,
    /// location, columns and rows are unchanged.
    pub(crate) fn rename(&self, def: TableDef) {
        let mut shape = self.shape.write().expect("table shape lock");
        debug_assert_eq!(shape.def.id, def.id);
        shape.def = Arc::new(def);
    }

    /// Gives the table the columns of `def` (the same table with columns added at the end),
    /// in Delta and in the hot tier. Once it returns `Ok`, the Delta commit is durable and
    /// every scan planned after it sees the new columns (NULL in older rows).
    #[instrument(skip_all, fields(table = %self.def().name))]
    pub async fn add_columns(self: &Arc<Self>, def: TableDef) -> Result<()> {
        let table = Arc::clone(self);
        run_detached("ALTER TABLE", async move {
            let _guard = table.write_lock.lock().await;
            table.check_not_dropped()?;
            let base = table.current_delta();
            let delta = match commit_missing_columns(&def, &base).await {
                Ok(delta) => delta,
                Err(error) => {
                    // The commit may have landed: decided by the reloaded log's schema.
                    table.refresh_after_error(&base, &error).await;
                    let now = table.current_delta();
                    if missing_columns(&def, &now).await?.is_empty() {
                        now
                    } else {
                        return Err(error);
                    }
                }
            };
            table.sync(&delta).await?;
            let schema = rows_schema(&def, &delta).await?;
            let mut state = table.state.write().expect("table state lock");
            state.hot.refit(&schema)?;
            state.delta = delta;
            *table.shape.write().expect("table shape lock") = Shape {
                def: Arc::new(def),
                schema,
            };
            drop(state);
            info!("added columns");
            Ok(())
        })
        .await
    }
}

/// Commits the columns of `def` that `delta` lacks (none: `delta` itself). Called when a table
/// opens, to finish an `ADD COLUMN` whose catalog change landed but whose Delta commit did not.
pub(super) async fn commit_missing_columns(
    def: &TableDef,
    delta: &DeltaTable,
) -> Result<DeltaTable> {
    let missing = missing_columns(def, delta).await?;
    if missing.is_empty() {
        return Ok(delta.clone());
    }
    let fields: StructType = (&Schema::new(missing))
        .try_into_kernel()
        .map_err(|e| Error::delta(&def.name, e.into()))?;
    delta
        .clone()
        .add_columns()
        .with_fields(fields.fields().cloned().collect::<Vec<_>>())
        .await
        .map_err(|e| Error::delta(&def.name, e))
}

/// The fields of `def`'s columns that the Delta schema of `delta` does not have.
pub(super) async fn missing_columns(
    def: &TableDef,
    delta: &DeltaTable,
) -> Result<Vec<arrow::datatypes::Field>> {
    let present = delta_schema(delta).await?;
    Ok(def
        .arrow_schema()
        .fields()
        .iter()
        .filter(|f| present.field_with_name(f.name()).is_err())
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect())
}

/// The schema of the table's rows as `delta`'s current version holds them: its Delta schema
/// without the derived partition columns (`ts_day`), which rows never carry.
pub(super) async fn rows_schema(def: &TableDef, delta: &DeltaTable) -> Result<SchemaRef> {
    let full = delta_schema(delta).await?;
    let derived: Vec<String> = def
        .options
        .partition_by
        .iter()
        .filter(|p| p.is_derived())
        .map(|p| p.delta_name())
        .collect();
    if derived.is_empty() {
        return Ok(full);
    }
    let keep: Vec<usize> = (0..full.fields().len())
        .filter(|i| !derived.contains(full.field(*i).name()))
        .collect();
    Ok(std::sync::Arc::new(
        full.project(&keep)
            .map_err(|e| Error::DataFusion(e.into()))?,
    ))
}

/// The Arrow schema of `delta`'s current version, as scans read it.
pub(super) async fn delta_schema(delta: &DeltaTable) -> Result<SchemaRef> {
    Ok(delta
        .table_provider()
        .await
        .map_err(Error::DataFusion)?
        .schema())
}

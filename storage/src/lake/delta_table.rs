//! A table's Delta table under the [`LakeRoot`]: creating it, opening it, and deleting every
//! file at its location, when that location is provably the table's own.

use deltalake::DeltaTable;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::protocol::SaveMode;
use futures::{StreamExt, TryStreamExt};
use oxbow_catalog::TableDef;
use tracing::debug;

use super::LakeRoot;
use crate::{Error, Result};

/// Creates the Delta table of `def`, whose first commit holds the schema. The location is new
/// (it comes from a fresh id), so a Delta table already there is an error, never overwritten
/// (`SaveMode::ErrorIfExists`).
pub(crate) async fn create_table(root: &LakeRoot, def: &TableDef) -> Result<DeltaTable> {
    let url = root.table_url(&def.location)?;
    // The rows' columns and the derived partition columns (`ts_day`, a generated column).
    let schema: StructType = (&def.lake_schema())
        .try_into_kernel()
        .map_err(|e| Error::delta(&def.name, e.into()))?;
    let mut builder = deltalake::operations::create::CreateBuilder::new();
    let partitions = def.partition_columns();
    if !partitions.is_empty() {
        builder = builder.with_partition_columns(partitions);
    }
    let table = builder
        .with_location(url.as_str())
        .with_storage_options(root.storage_options().clone())
        .with_table_name(def.name.name.clone())
        .with_columns(schema.fields().cloned())
        .with_save_mode(SaveMode::ErrorIfExists)
        .await
        .map_err(|e| Error::delta(&def.name, e))?;
    debug!(%url, "created Delta table");
    Ok(table)
}

/// Opens the existing Delta table of `def` at its latest version.
pub(crate) async fn open_table(root: &LakeRoot, def: &TableDef) -> Result<DeltaTable> {
    let url = root.table_url(&def.location)?;
    deltalake::open_table_with_storage_options(url, root.storage_options().clone())
        .await
        .map_err(|e| Error::delta(&def.name, e))
}

/// Deletes every object under the location of `def`, local or remote, if that location is
/// the table's own.
///
/// Ownership rule: a location belongs to a table only if it is `tables/<id>` for the table's
/// own id ([`TableDef::has_id_location`]). Ids are fresh uuids and a catalog holds one table
/// per id, so no other table, the WAL or the catalog can be inside it. A location written by an
/// older version (`tables/<schema>/<name>`) is never deleted: a name such as `a/b` nests
/// inside table `a`'s directory, so the files are kept and [`Error::ForeignLocation`] says so.
pub(crate) async fn delete_table_files(root: &LakeRoot, def: &TableDef) -> Result<()> {
    if !def.has_id_location() {
        return Err(Error::ForeignLocation {
            table: def.name.to_string(),
            location: def.location.clone(),
        });
    }
    let url = root.table_url(&def.location)?;
    if root.is_local() {
        let path = url.to_file_path().map_err(|()| Error::InvalidLocation {
            location: url.to_string(),
            reason: "not a local path".into(),
        })?;
        return match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io {
                path: path.display().to_string(),
                source,
            }),
        };
    }
    // The log store's object store is rooted at the table URL (which ends in `/`), so it lists
    // and deletes only objects under `<root>/tables/<id>/`.
    let store = deltalake::DeltaTableBuilder::from_url(url)
        .and_then(|b| {
            b.with_storage_options(root.storage_options().clone())
                .build()
        })
        .map_err(|e| Error::delta(&def.name, e))?
        .log_store()
        .object_store(None);
    let paths = store.list(None).map_ok(|meta| meta.location).boxed();
    store
        .delete_stream(paths)
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| Error::delta(&def.name, e.into()))?;
    Ok(())
}

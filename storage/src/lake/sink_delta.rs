//! [`DeltaSinkTable`]: a Delta table a sink writes (`CREATE SINK ... INTO DELTA`), outside the
//! lake root, exactly once.
//!
//! Each batch is one Delta commit carrying a `txn` action whose app id is the sink's id and
//! whose version is the WAL position the batch reaches. After a crash the sink reads that
//! version back ([`DeltaSinkTable::committed_position`]) and resumes above it; a commit that
//! reported an error is decided the same way, by reloading the log, never by retrying
//! blindly. Commits on a local directory are fsynced before the position is reported.

use std::path::PathBuf;

use arrow::array::RecordBatch;
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use url::Url;

use crate::{Error, Result};

pub struct DeltaSinkTable {
    table: DeltaTable,
    location: String,
    app_id: String,
    synced: Option<u64>,
}

impl std::fmt::Debug for DeltaSinkTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaSinkTable")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl DeltaSinkTable {
    /// Opens (or prepares to create, on the first batch) the Delta table at `location`: a
    /// local directory (`/dir`) or an object-store URL (`s3://bucket/prefix`, with the
    /// lake's credentials from the environment).
    pub async fn open(location: &str, sink_id: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidLocation {
            location: location.to_string(),
            reason,
        };
        let url = if location.starts_with('/') {
            let dir = PathBuf::from(location);
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|source| Error::Io {
                    path: location.to_string(),
                    source,
                })?;
            Url::from_directory_path(&dir).map_err(|()| invalid("not an absolute path".into()))?
        } else {
            Url::parse(location).map_err(|e| invalid(e.to_string()))?
        };
        let table =
            DeltaTable::try_from_url_with_storage_options(url, super::s3_options_from_env())
                .await
                .map_err(|e| Error::delta(location, e))?;
        Ok(Self {
            table,
            location: location.to_string(),
            app_id: sink_id.to_string(),
            synced: None,
        })
    }

    /// The position of the last batch the table holds from this sink (its `txn` version), or
    /// `None` if it holds none (or does not exist yet).
    pub async fn committed_position(&self) -> Result<Option<u64>> {
        let Ok(snapshot) = self.table.snapshot() else {
            return Ok(None);
        };
        let version = snapshot
            .transaction_version(self.table.log_store().as_ref(), &self.app_id)
            .await
            .map_err(|e| Error::delta(&self.location, e))?;
        Ok(version.map(|v| v.max(0) as u64))
    }

    /// Appends `batches` in one commit that records `position` as this sink's `txn` version,
    /// and makes it durable. After an error the log is reloaded: if the `txn` reached
    /// `position` the commit landed and this returns `Ok`.
    pub async fn append(&mut self, batches: Vec<RecordBatch>, position: u64) -> Result<()> {
        let commit = CommitProperties::default()
            .with_application_transaction(Transaction::new(&self.app_id, position as i64));
        let written = self
            .table
            .clone()
            .write(batches)
            .with_save_mode(SaveMode::Append)
            // A column added to the sink's table (ALTER TABLE ... ADD COLUMN) is added here.
            .with_schema_mode(SchemaMode::Merge)
            .with_commit_properties(commit)
            .await;
        match written {
            Ok(table) => {
                self.table = table;
                self.sync().await
            }
            Err(e) => {
                let error = Error::delta(&self.location, e);
                if self.table.version().is_some() {
                    self.table
                        .update_state()
                        .await
                        .map_err(|e| Error::delta(&self.location, e))?;
                } else if let Ok(fresh) = DeltaTable::try_from_url_with_storage_options(
                    self.table.table_url().clone(),
                    super::s3_options_from_env(),
                )
                .await
                {
                    self.table = fresh;
                }
                if self
                    .committed_position()
                    .await?
                    .is_some_and(|p| p >= position)
                {
                    self.sync().await
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn sync(&mut self) -> Result<()> {
        self.synced = super::sync_commits(&self.table, None, self.synced).await?;
        Ok(())
    }
}

//! Sinks: the definitions of `CREATE SINK` and how far each has got, kept in the catalog so
//! that a sink survives a restart and resumes by itself.
//!
//! A sink's progress ([`SinkProgress`]) is the WAL sequence number through which its target
//! holds every row of the sink's table. It is written here only *after* the target committed
//! the batch that reached it, so the catalog may lag the target but never lead it; each target
//! can also tell its own committed position (file names, the Delta `txn`, Kafka headers), and
//! the sink resumes from the higher of the two. Nothing is skipped (the catalog never leads)
//! and nothing is doubled (the target's own record wins).
//!
//! Target and format options are kept as the user wrote them (`key = 'value'` pairs); each
//! target checks its own options when the sink is created.

use std::collections::BTreeMap;

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::store::{decode, encode};
use crate::{Catalog, Error, ObjectName, Result, check_identifier};

/// `schema\0name` -> JSON [`SinkDef`].
const SINKS: TableDefinition<&str, &str> = TableDefinition::new("sinks");
/// sink id -> JSON [`SinkProgress`].
/// The name of a sink that reads `table`, if any (inside a catalog transaction: a rename).
pub(crate) fn reading_from(
    txn: &redb::WriteTransaction,
    table: &ObjectName,
) -> Result<Option<ObjectName>> {
    let sinks = txn.open_table(SINKS)?;
    for entry in sinks.iter()? {
        let (k, v) = entry?;
        let def: SinkDef = decode(k.value(), v.value())?;
        if &def.from == table {
            return Ok(Some(def.name));
        }
    }
    Ok(None)
}

const SINK_PROGRESS: TableDefinition<&str, &str> = TableDefinition::new("sink_progress");

/// What `CREATE SINK` declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkDef {
    /// Stable identity: the key of its progress, its file names, its Delta `txn` app id and
    /// its Kafka `transactional.id`.
    pub id: String,
    pub name: ObjectName,
    /// The table whose committed writes the sink emits.
    pub from: ObjectName,
    /// `files`, `delta`, `kafka`.
    pub target: String,
    #[serde(default)]
    pub target_options: BTreeMap<String, String>,
    /// `json`, `csv`, `parquet`.
    pub format: String,
    /// `WITH (...)`: `start`, `max_batch_rows`, `batch_interval`.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Set by `ALTER SINK ... PAUSE`, cleared by `RESUME`.
    #[serde(default)]
    pub paused: bool,
    /// The statement as the user wrote it.
    #[serde(default)]
    pub definition: String,
    /// The role that created it, which may alter and drop it besides a superuser (`None`:
    /// created before owners were kept, so a superuser's).
    #[serde(default)]
    pub owner: Option<String>,
}

/// How far a sink has got, durable across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkProgress {
    /// The WAL sequence number through which the target holds every row of the table; `None`
    /// while a `start = 'earliest'` sink has not yet emitted the table's lake snapshot.
    pub position: Option<u64>,
    /// Why the sink stopped for good (it fell further behind than `max_wal_size` allows, its
    /// table was dropped); a failed sink stays failed across restarts until it is dropped.
    #[serde(default)]
    pub failed: Option<String>,
}

impl Catalog {
    /// Registers a sink with its starting progress, in one transaction. Fails if the name is
    /// taken by another sink; the caller checks the table.
    pub fn create_sink(&self, def: &SinkDef, progress: &SinkProgress) -> Result<()> {
        check_identifier(&def.name.name)?;
        let key = def.name.key();
        let txn = self.db.begin_write()?;
        {
            let mut sinks = txn.open_table(SINKS)?;
            if sinks.get(key.as_str())?.is_some() {
                return Err(Error::SinkExists(def.name.name.clone()));
            }
            sinks.insert(key.as_str(), encode(def).as_str())?;
            txn.open_table(SINK_PROGRESS)?
                .insert(def.id.as_str(), encode(progress).as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Replaces a sink's definition (`ALTER SINK`).
    pub fn update_sink(&self, def: &SinkDef) -> Result<()> {
        let key = def.name.key();
        let txn = self.db.begin_write()?;
        {
            let mut sinks = txn.open_table(SINKS)?;
            if sinks.get(key.as_str())?.is_none() {
                return Err(Error::SinkNotFound(def.name.name.clone()));
            }
            sinks.insert(key.as_str(), encode(def).as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Removes a sink and its progress, and returns its definition.
    pub fn drop_sink(&self, name: &ObjectName) -> Result<SinkDef> {
        let key = name.key();
        let txn = self.db.begin_write()?;
        let def: SinkDef = {
            let mut sinks = txn.open_table(SINKS)?;
            let removed = sinks.remove(key.as_str())?;
            match removed {
                Some(json) => decode(&key, json.value())?,
                None => return Err(Error::SinkNotFound(name.name.clone())),
            }
        };
        txn.open_table(SINK_PROGRESS)?.remove(def.id.as_str())?;
        txn.commit()?;
        Ok(def)
    }

    pub fn sink(&self, name: &ObjectName) -> Result<Option<SinkDef>> {
        let key = name.key();
        let txn = self.db.begin_read()?;
        let sinks = match txn.open_table(SINKS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let value = sinks.get(key.as_str())?;
        value.map(|v| decode(&key, v.value())).transpose()
    }

    /// Every sink, in name order.
    pub fn sinks(&self) -> Result<Vec<SinkDef>> {
        let txn = self.db.begin_read()?;
        let sinks = match txn.open_table(SINKS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut defs = Vec::new();
        for entry in sinks.iter()? {
            let (k, v) = entry?;
            defs.push(decode(k.value(), v.value())?);
        }
        Ok(defs)
    }

    /// The progress of sink `id` (the default, nothing emitted, if it has none).
    pub fn sink_progress(&self, id: &str) -> Result<SinkProgress> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(SINK_PROGRESS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(SinkProgress::default()),
            Err(e) => return Err(e.into()),
        };
        let value = table.get(id)?;
        Ok(value
            .map(|v| decode(id, v.value()))
            .transpose()?
            .unwrap_or_default())
    }

    /// The progress of every sink, by sink id (the WAL keeps what they still need from the
    /// moment the database opens).
    pub fn all_sink_progress(&self) -> Result<Vec<(String, SinkProgress)>> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(SINK_PROGRESS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut all = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            all.push((k.value().to_string(), decode(k.value(), v.value())?));
        }
        Ok(all)
    }

    /// Records sink `id`'s progress, if the sink still exists (a sink dropped meanwhile keeps
    /// no progress). Call it only after the target committed what `progress` claims.
    pub fn set_sink_progress(&self, id: &str, progress: &SinkProgress) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(SINK_PROGRESS)?;
            if table.get(id)?.is_some() {
                table.insert(id, encode(progress).as_str())?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(name: &str) -> SinkDef {
        SinkDef {
            id: format!("id-{name}"),
            name: ObjectName::new("public", name),
            from: ObjectName::new("public", "t"),
            target: "files".into(),
            target_options: BTreeMap::from([("path".into(), "/tmp/out".into())]),
            format: "json".into(),
            options: BTreeMap::new(),
            paused: false,
            definition: String::new(),
            owner: None,
        }
    }

    #[test]
    fn sinks_and_their_progress_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        let start = SinkProgress {
            position: Some(7),
            failed: None,
        };
        {
            let catalog = Catalog::open(&path).unwrap();
            assert!(catalog.sinks().unwrap().is_empty());
            catalog.create_sink(&sink("a"), &start).unwrap();
            assert!(matches!(
                catalog.create_sink(&sink("a"), &start),
                Err(Error::SinkExists(_))
            ));
            let mut paused = sink("a");
            paused.paused = true;
            catalog.update_sink(&paused).unwrap();
            catalog
                .set_sink_progress(
                    "id-a",
                    &SinkProgress {
                        position: Some(42),
                        failed: None,
                    },
                )
                .unwrap();
            // A sink that is gone gets no progress back.
            catalog.set_sink_progress("id-gone", &start).unwrap();
        }
        let catalog = Catalog::open(&path).unwrap();
        let all = catalog.sinks().unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].paused);
        assert_eq!(catalog.sink_progress("id-a").unwrap().position, Some(42));
        assert_eq!(catalog.all_sink_progress().unwrap().len(), 1);
        catalog.drop_sink(&ObjectName::new("public", "a")).unwrap();
        assert_eq!(
            catalog.sink_progress("id-a").unwrap(),
            SinkProgress::default()
        );
        assert!(matches!(
            catalog.drop_sink(&ObjectName::new("public", "a")),
            Err(Error::SinkNotFound(_))
        ));
    }
}

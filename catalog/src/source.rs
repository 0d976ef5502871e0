//! Sources: the definitions of `CREATE SOURCE`, kept in the catalog so that a source survives
//! a restart and resumes by itself.
//!
//! A source is catalog state only; where it has got to (file positions, partition offsets)
//! is not here but in the data (`oxbow.source_offsets`, written in the same WAL transaction
//! as the rows), so the catalog never has to be in step with the WAL.
//!
//! Connector and format options are kept as the user wrote them (`key = 'value'` pairs), so
//! that connectors added later (Kafka, Postgres) need no catalog change; each connector
//! checks its own options when the source is created.

use std::collections::BTreeMap;

use redb::{ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::store::{decode, encode};
use crate::{Catalog, Error, ObjectName, Result, check_identifier};

/// `schema\0name` -> JSON [`SourceDef`].
const SOURCES: TableDefinition<&str, &str> = TableDefinition::new("sources");

/// The name of a source whose target is `table`, if any (read inside a catalog transaction).
pub(crate) fn writing_into(
    txn: &redb::WriteTransaction,
    table: &ObjectName,
) -> Result<Option<ObjectName>> {
    let sources = match txn.open_table(SOURCES) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    for entry in sources.iter()? {
        let (k, v) = entry?;
        let def: SourceDef = decode(k.value(), v.value())?;
        if &def.target == table {
            return Ok(Some(def.name));
        }
    }
    Ok(None)
}

/// What `CREATE SOURCE` declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceDef {
    /// Stable identity, the key of the source's offsets and dead letters.
    pub id: String,
    pub name: ObjectName,
    /// `datagen`, `http`, `files` (later `kafka`, `postgres`).
    pub connector: String,
    #[serde(default)]
    pub connector_options: BTreeMap<String, String>,
    /// `json`, `csv`, `parquet`.
    pub format: String,
    #[serde(default)]
    pub format_options: BTreeMap<String, String>,
    /// The table rows go to.
    pub target: ObjectName,
    /// `WITH (...)`: pipeline options (`time_column`, `schema_mode`, `dedup_key`, ...).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The `AS SELECT ... FROM input` transform, as written.
    #[serde(default)]
    pub transform: Option<String>,
    /// Set by `ALTER SOURCE ... PAUSE`, cleared by `RESUME`.
    #[serde(default)]
    pub paused: bool,
    /// The statement as the user wrote it, for `SHOW CREATE`-style introspection.
    #[serde(default)]
    pub definition: String,
    /// The role that created it, which may alter and drop it besides a superuser (`None`:
    /// created before owners were kept, so a superuser's).
    #[serde(default)]
    pub owner: Option<String>,
}

impl Catalog {
    /// Registers a source. Fails if the name is taken by another source; the caller checks
    /// the target table.
    pub fn create_source(&self, def: &SourceDef) -> Result<()> {
        check_identifier(&def.name.name)?;
        let key = def.name.key();
        let txn = self.db.begin_write()?;
        {
            let mut sources = txn.open_table(SOURCES)?;
            if sources.get(key.as_str())?.is_some() {
                return Err(Error::SourceExists(def.name.name.clone()));
            }
            sources.insert(key.as_str(), encode(def).as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Replaces a source's definition (`ALTER SOURCE`).
    pub fn update_source(&self, def: &SourceDef) -> Result<()> {
        let key = def.name.key();
        let txn = self.db.begin_write()?;
        {
            let mut sources = txn.open_table(SOURCES)?;
            if sources.get(key.as_str())?.is_none() {
                return Err(Error::SourceNotFound(def.name.name.clone()));
            }
            sources.insert(key.as_str(), encode(def).as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Removes a source and returns its definition.
    pub fn drop_source(&self, name: &ObjectName) -> Result<SourceDef> {
        let key = name.key();
        let txn = self.db.begin_write()?;
        let def = {
            let mut sources = txn.open_table(SOURCES)?;
            let removed = sources.remove(key.as_str())?;
            match removed {
                Some(json) => decode(&key, json.value())?,
                None => return Err(Error::SourceNotFound(name.name.clone())),
            }
        };
        txn.commit()?;
        Ok(def)
    }

    pub fn source(&self, name: &ObjectName) -> Result<Option<SourceDef>> {
        let key = name.key();
        let txn = self.db.begin_read()?;
        let sources = match txn.open_table(SOURCES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let value = sources.get(key.as_str())?;
        value.map(|v| decode(&key, v.value())).transpose()
    }

    /// Every source, in name order.
    pub fn sources(&self) -> Result<Vec<SourceDef>> {
        let txn = self.db.begin_read()?;
        let sources = match txn.open_table(SOURCES) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut defs = Vec::new();
        for entry in sources.iter()? {
            let (k, v) = entry?;
            defs.push(decode(k.value(), v.value())?);
        }
        Ok(defs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str) -> SourceDef {
        SourceDef {
            id: format!("id-{name}"),
            name: ObjectName::new("public", name),
            connector: "datagen".into(),
            connector_options: BTreeMap::from([("rows_per_second".into(), "10".into())]),
            format: "json".into(),
            format_options: BTreeMap::new(),
            target: ObjectName::new("public", "t"),
            options: BTreeMap::new(),
            transform: None,
            paused: false,
            definition: String::new(),
            owner: None,
        }
    }

    #[test]
    fn sources_survive_reopening_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        {
            let catalog = Catalog::open(&path).unwrap();
            assert!(catalog.sources().unwrap().is_empty());
            catalog.create_source(&source("a")).unwrap();
            assert!(matches!(
                catalog.create_source(&source("a")),
                Err(Error::SourceExists(_))
            ));
            let mut paused = source("a");
            paused.paused = true;
            catalog.update_source(&paused).unwrap();
        }
        let catalog = Catalog::open(&path).unwrap();
        let all = catalog.sources().unwrap();
        assert_eq!(all.len(), 1);
        assert!(all[0].paused);
        catalog
            .drop_source(&ObjectName::new("public", "a"))
            .unwrap();
        assert!(matches!(
            catalog.drop_source(&ObjectName::new("public", "a")),
            Err(Error::SourceNotFound(_))
        ));
    }
}

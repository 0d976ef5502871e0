//! [`Catalog`]: the catalog persisted in one redb file (`<data-dir>/catalog.redb`).
//!
//! Each public method that changes the catalog runs in exactly one redb write transaction and
//! checks its preconditions inside it, so concurrent DDL cannot interleave (redb has a single
//! writer) and a failed statement changes nothing.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{DEFAULT_SCHEMA, Error, ObjectName, Result, TableDef, ViewDef, check_identifier};

/// schema name -> `{}` (a schema has no properties yet; the value leaves room for them).
pub(crate) const SCHEMAS: TableDefinition<&str, &str> = TableDefinition::new("schemas");
/// `schema\0name` -> JSON [`TableDef`].
pub(crate) const TABLES: TableDefinition<&str, &str> = TableDefinition::new("tables");
/// `schema\0name` -> JSON [`ViewDef`].
pub(crate) const VIEWS: TableDefinition<&str, &str> = TableDefinition::new("views");

/// Schemas that belong to the system and cannot be created or dropped by users.
const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema", "oxbow"];

pub struct Catalog {
    pub(crate) db: Database,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

impl Catalog {
    /// Opens the catalog at `path`, creating it (with the `public` schema) if it does not exist.
    pub fn open(path: &Path) -> Result<Self> {
        Self::init(Database::create(path)?)
    }

    /// Opens the catalog on `backend` instead of a file of redb's own (tests run it on a
    /// simulated disk that loses power), creating it if it is empty.
    pub fn open_with_backend(backend: impl redb::StorageBackend) -> Result<Self> {
        Self::init(redb::Builder::new().create_with_backend(backend)?)
    }

    fn init(db: Database) -> Result<Self> {
        let txn = db.begin_write()?;
        {
            let mut schemas = txn.open_table(SCHEMAS)?;
            txn.open_table(TABLES)?;
            txn.open_table(VIEWS)?;
            crate::roles::create_tables(&txn)?;
            crate::grants::create_tables(&txn)?;
            crate::members::create_tables(&txn)?;
            if schemas.get(DEFAULT_SCHEMA)?.is_none() {
                schemas.insert(DEFAULT_SCHEMA, "{}")?;
            }
        }
        txn.commit()?;
        Ok(Self { db })
    }

    pub fn schemas(&self) -> Result<Vec<String>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SCHEMAS)?;
        let mut names = Vec::new();
        for entry in table.iter()? {
            let (k, _) = entry?;
            names.push(k.value().to_string());
        }
        Ok(names)
    }

    pub fn schema_exists(&self, schema: &str) -> Result<bool> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(SCHEMAS)?.get(schema)?.is_some())
    }

    /// Creates a schema. Returns `false` (and changes nothing) if it exists and
    /// `if_not_exists` is set.
    pub fn create_schema(&self, schema: &str, if_not_exists: bool) -> Result<bool> {
        check_identifier(schema)?;
        if SYSTEM_SCHEMAS.contains(&schema) {
            return Err(Error::SchemaExists(schema.into()));
        }
        let txn = self.db.begin_write()?;
        {
            let mut schemas = txn.open_table(SCHEMAS)?;
            if schemas.get(schema)?.is_some() {
                return if if_not_exists {
                    Ok(false)
                } else {
                    Err(Error::SchemaExists(schema.into()))
                };
            }
            schemas.insert(schema, "{}")?;
        }
        txn.commit()?;
        Ok(true)
    }

    /// Drops an empty schema. Returns `false` if it does not exist and `if_exists` is set.
    pub fn drop_schema(&self, schema: &str, if_exists: bool) -> Result<bool> {
        let txn = self.db.begin_write()?;
        {
            let mut schemas = txn.open_table(SCHEMAS)?;
            if schemas.get(schema)?.is_none() {
                return if if_exists {
                    Ok(false)
                } else {
                    Err(Error::SchemaNotFound(schema.into()))
                };
            }
            let objects = count_in_schema(&txn.open_table(TABLES)?, schema)?
                + count_in_schema(&txn.open_table(VIEWS)?, schema)?;
            if objects > 0 {
                return Err(Error::SchemaNotEmpty {
                    schema: schema.into(),
                    objects,
                });
            }
            schemas.remove(schema)?;
        }
        crate::grants::remove_schema_grants_where(&txn, |_, s| s == schema)?;
        txn.commit()?;
        Ok(true)
    }

    pub fn tables(&self, schema: &str) -> Result<Vec<TableDef>> {
        self.list(TABLES, schema)
    }

    pub fn views(&self, schema: &str) -> Result<Vec<ViewDef>> {
        self.list(VIEWS, schema)
    }

    /// The materialized views that aggregate the table with id `table_id`, in every schema.
    pub fn rollups_over(&self, table_id: &str) -> Result<Vec<ViewDef>> {
        let mut views = self.materialized_views()?;
        views.retain(|v| v.rollup.as_ref().is_some_and(|r| r.source_id == table_id));
        Ok(views)
    }

    /// Every materialized view, in every schema (one read of the views table).
    pub fn materialized_views(&self) -> Result<Vec<ViewDef>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(VIEWS)?;
        let mut views = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let view: ViewDef = decode(k.value(), v.value())?;
            if view.rollup.is_some() {
                views.push(view);
            }
        }
        Ok(views)
    }

    pub fn table(&self, name: &ObjectName) -> Result<Option<TableDef>> {
        self.get(TABLES, name)
    }

    pub fn view(&self, name: &ObjectName) -> Result<Option<ViewDef>> {
        self.get(VIEWS, name)
    }

    /// Registers a table. Fails if its schema is missing or its name is taken by a table or view.
    pub fn create_table(&self, def: &TableDef) -> Result<()> {
        self.insert_relation(TABLES, &def.name, def)
    }

    /// Replaces the definition of an existing table (same id) in one transaction: the columns
    /// `ALTER TABLE ... ADD COLUMN` added. Fails if the table is gone or is another table now.
    pub fn replace_table(&self, def: &TableDef) -> Result<()> {
        let key = def.name.key();
        let txn = self.db.begin_write()?;
        {
            let mut tables = txn.open_table(TABLES)?;
            let current = tables.get(key.as_str())?.map(|v| v.value().to_string());
            match current {
                Some(json) if decode::<TableDef>(&key, &json)?.id == def.id => {
                    tables.insert(key.as_str(), encode(def).as_str())?;
                }
                _ => return Err(Error::RelationNotFound(def.name.name.clone())),
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Registers a table of the system schema (`oxbow.dead_letters`) unless a table of that
    /// name is there already, and returns the definition in the catalog. The system schema is
    /// not in the `schemas` table (users cannot create objects in it), so this is the only way
    /// a table gets into it.
    pub fn ensure_system_table(&self, def: &TableDef) -> Result<TableDef> {
        let key = def.name.key();
        let txn = self.db.begin_write()?;
        let existing = {
            let mut tables = txn.open_table(TABLES)?;
            let found = tables.get(key.as_str())?.map(|v| v.value().to_string());
            match found {
                Some(json) => Some(decode::<TableDef>(&key, &json)?),
                None => {
                    tables.insert(key.as_str(), encode(def).as_str())?;
                    None
                }
            }
        };
        txn.commit()?;
        Ok(existing.unwrap_or_else(|| def.clone()))
    }

    pub fn create_view(&self, def: &ViewDef, or_replace: bool) -> Result<()> {
        if or_replace && self.view(&def.name)?.is_some() {
            let txn = self.db.begin_write()?;
            txn.open_table(VIEWS)?
                .insert(def.name.key().as_str(), encode(def).as_str())?;
            txn.commit()?;
            return Ok(());
        }
        self.insert_relation(VIEWS, &def.name, def)
    }

    /// Removes a table's definition and returns it, so the caller can delete its files.
    pub fn drop_table(&self, name: &ObjectName) -> Result<TableDef> {
        self.remove_relation(TABLES, name, "table")
    }

    pub fn drop_view(&self, name: &ObjectName) -> Result<ViewDef> {
        self.remove_relation(VIEWS, name, "view")
    }

    fn insert_relation<T: Serialize>(
        &self,
        def_table: TableDefinition<&str, &str>,
        name: &ObjectName,
        def: &T,
    ) -> Result<()> {
        check_identifier(&name.name)?;
        let key = name.key();
        let txn = self.db.begin_write()?;
        {
            if txn
                .open_table(SCHEMAS)?
                .get(name.schema.as_str())?
                .is_none()
            {
                return Err(Error::SchemaNotFound(name.schema.clone()));
            }
            if txn.open_table(TABLES)?.get(key.as_str())?.is_some()
                || txn.open_table(VIEWS)?.get(key.as_str())?.is_some()
            {
                return Err(Error::RelationExists(name.name.clone()));
            }
            txn.open_table(def_table)?
                .insert(key.as_str(), encode(def).as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    fn remove_relation<T: DeserializeOwned>(
        &self,
        def_table: TableDefinition<&str, &str>,
        name: &ObjectName,
        expected: &'static str,
    ) -> Result<T> {
        let key = name.key();
        let txn = self.db.begin_write()?;
        crate::grants::remove_where(&txn, |_, schema, relation| {
            schema == name.schema && relation == name.name
        })?;
        let def = {
            let mut table = txn.open_table(def_table)?;
            let removed = table.remove(key.as_str())?;
            match removed {
                Some(json) => decode(&key, json.value())?,
                None => {
                    let other = if expected == "table" { VIEWS } else { TABLES };
                    return Err(if txn.open_table(other)?.get(key.as_str())?.is_some() {
                        Error::WrongObjectType {
                            name: name.name.clone(),
                            expected,
                        }
                    } else {
                        Error::RelationNotFound(name.name.clone())
                    });
                }
            }
        };
        txn.commit()?;
        Ok(def)
    }

    fn list<T: DeserializeOwned>(
        &self,
        def_table: TableDefinition<&str, &str>,
        schema: &str,
    ) -> Result<Vec<T>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(def_table)?;
        let (start, end) = schema_range(schema);
        let mut defs = Vec::new();
        for entry in table.range(start.as_str()..end.as_str())? {
            let (k, v) = entry?;
            defs.push(decode(k.value(), v.value())?);
        }
        Ok(defs)
    }

    fn get<T: DeserializeOwned>(
        &self,
        def_table: TableDefinition<&str, &str>,
        name: &ObjectName,
    ) -> Result<Option<T>> {
        let key = name.key();
        let txn = self.db.begin_read()?;
        let table = txn.open_table(def_table)?;
        let value = table.get(key.as_str())?;
        value.map(|v| decode(&key, v.value())).transpose()
    }
}

/// The key range `[schema\0, schema\x01)` holding every object of one schema.
fn schema_range(schema: &str) -> (String, String) {
    (format!("{schema}\u{0}"), format!("{schema}\u{1}"))
}

fn count_in_schema(
    table: &impl ReadableTable<&'static str, &'static str>,
    schema: &str,
) -> Result<usize> {
    let (start, end) = schema_range(schema);
    Ok(table.range(start.as_str()..end.as_str())?.count())
}

pub(crate) fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("catalog definitions are plain data and always serialise")
}

pub(crate) fn decode<T: DeserializeOwned>(key: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|source| Error::Corrupt {
        key: key.replace('\u{0}', "."),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ColumnDef, SqlType};

    fn table(schema: &str, name: &str) -> TableDef {
        let name = ObjectName::new(schema, name);
        let id = format!("id-{}-{}", name.schema, name.name);
        TableDef {
            primary_key: Vec::new(),
            location: TableDef::location_for_id(&id),
            id,
            name,
            options: Default::default(),
            columns: vec![ColumnDef {
                name: "id".into(),
                sql_type: SqlType::BigInt,
                nullable: false,
            }],
        }
    }

    #[test]
    fn definitions_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        {
            let catalog = Catalog::open(&path).unwrap();
            catalog.create_schema("s", false).unwrap();
            catalog.create_table(&table("s", "t")).unwrap();
            catalog
                .create_view(
                    &ViewDef {
                        name: ObjectName::new("s", "v"),
                        query: "SELECT 1".into(),
                        rollup: None,
                    },
                    false,
                )
                .unwrap();
        }
        let catalog = Catalog::open(&path).unwrap();
        assert_eq!(catalog.schemas().unwrap(), vec!["public", "s"]);
        assert_eq!(catalog.tables("s").unwrap(), vec![table("s", "t")]);
        assert_eq!(catalog.views("s").unwrap().len(), 1);
        assert!(catalog.tables("public").unwrap().is_empty());
    }

    #[test]
    fn tables_and_views_share_one_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("c.redb")).unwrap();
        catalog.create_table(&table("public", "t")).unwrap();
        let view = ViewDef {
            name: ObjectName::new("public", "t"),
            query: "SELECT 1".into(),
            rollup: None,
        };
        assert!(matches!(
            catalog.create_view(&view, false),
            Err(Error::RelationExists(_))
        ));
        assert!(matches!(
            catalog.drop_view(&view.name),
            Err(Error::WrongObjectType { .. })
        ));
    }

    #[test]
    fn a_failed_create_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("c.redb")).unwrap();
        assert!(matches!(
            catalog.create_table(&table("missing", "t")),
            Err(Error::SchemaNotFound(_))
        ));
        catalog.create_table(&table("public", "t")).unwrap();
        assert!(matches!(
            catalog.create_table(&table("public", "t")),
            Err(Error::RelationExists(_))
        ));
        assert_eq!(catalog.tables("public").unwrap().len(), 1);
    }

    #[test]
    fn any_postgres_identifier_names_a_table_and_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("c.redb")).unwrap();
        for name in [
            "..",
            "../../wal",
            "a#x",
            "a/b",
            "a?b",
            "ünï ✓",
            &"n".repeat(63),
        ] {
            catalog.create_table(&table("public", name)).unwrap();
        }
        assert!(matches!(
            catalog.create_table(&table("public", &"n".repeat(64))),
            Err(Error::NameTooLong { bytes: 64, .. })
        ));
        assert!(matches!(
            catalog.create_table(&table("public", "")),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            catalog.create_table(&table("public", "a\u{0}b")),
            Err(Error::InvalidName { .. })
        ));
        assert!(matches!(
            catalog.create_schema(&"s".repeat(64), false),
            Err(Error::NameTooLong { .. })
        ));
        assert_eq!(catalog.tables("public").unwrap().len(), 7);
    }

    #[test]
    fn only_the_location_its_id_gives_is_a_tables_own() {
        let mut def = table("public", "t");
        assert!(def.has_id_location());
        def.location = "tables/public/t".into();
        assert!(
            !def.has_id_location(),
            "a name-based location of an older catalog"
        );
        def.id = "../x".into();
        def.location = TableDef::location_for_id(&def.id);
        assert!(
            !def.has_id_location(),
            "an id that is no plain path segment"
        );
    }

    #[test]
    fn a_schema_with_objects_cannot_be_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("c.redb")).unwrap();
        catalog.create_schema("s", false).unwrap();
        catalog.create_table(&table("s", "t")).unwrap();
        assert!(matches!(
            catalog.drop_schema("s", false),
            Err(Error::SchemaNotEmpty { objects: 1, .. })
        ));
        catalog.drop_table(&ObjectName::new("s", "t")).unwrap();
        assert!(catalog.drop_schema("s", false).unwrap());
        assert!(!catalog.drop_schema("s", true).unwrap());
    }
}

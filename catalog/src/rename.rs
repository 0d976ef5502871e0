//! `ALTER TABLE | VIEW ... RENAME TO`: a relation gets a new name in its schema, in one redb
//! transaction with its grants, so that a failed rename changes nothing.
//!
//! A table keeps its id and its location (`tables/<id>`, or the name-made location of an
//! older table): its files and its WAL records, which name tables by id, never move. A table
//! that a source writes into, a sink reads or a materialized view aggregates is refused (each names its table), so none is
//! left pointing at a name that has gone.

use redb::ReadableTable;

use crate::store::{TABLES, VIEWS, decode, encode};
use crate::{Catalog, Error, ObjectName, Result, TableDef, ViewDef, check_identifier};

/// What a rename changed: the definition under its new name.
#[derive(Debug, Clone)]
pub enum Renamed {
    Table(TableDef),
    View(ViewDef),
}

impl Catalog {
    /// Renames the table or view `from` to `to` (which must be in the same schema and free
    /// among tables and views).
    pub fn rename_relation(&self, from: &ObjectName, to: &ObjectName) -> Result<Renamed> {
        check_identifier(&to.name)?;
        if from.schema != to.schema {
            return Err(Error::InvalidName {
                name: to.to_string(),
                reason: "a relation is renamed within its schema",
            });
        }
        let (old_key, new_key) = (from.key(), to.key());
        let txn = self.db.begin_write()?;
        let renamed = {
            let mut tables = txn.open_table(TABLES)?;
            let mut views = txn.open_table(VIEWS)?;
            if old_key != new_key
                && (tables.get(new_key.as_str())?.is_some()
                    || views.get(new_key.as_str())?.is_some())
            {
                return Err(Error::RelationExists(to.name.clone()));
            }
            let table = tables.get(old_key.as_str())?.map(|v| v.value().to_string());
            let renamed = if let Some(json) = table {
                if let Some(source) = crate::source::writing_into(&txn, from)? {
                    return Err(Error::RelationInUse {
                        name: from.name.clone(),
                        by: format!("source \"{source}\" writes into it"),
                    });
                }
                if let Some(sink) = crate::sink::reading_from(&txn, from)? {
                    return Err(Error::RelationInUse {
                        name: from.name.clone(),
                        by: format!("sink \"{sink}\" reads it"),
                    });
                }
                let mut def: TableDef = decode(&old_key, &json)?;
                for entry in views.iter()? {
                    let (k, v) = entry?;
                    let view: ViewDef = decode(k.value(), v.value())?;
                    if view.rollup.as_ref().is_some_and(|r| r.source_id == def.id) {
                        return Err(Error::RelationInUse {
                            name: from.name.clone(),
                            by: format!("materialized view \"{}\" aggregates it", view.name),
                        });
                    }
                }
                def.name = to.clone();
                tables.remove(old_key.as_str())?;
                tables.insert(new_key.as_str(), encode(&def).as_str())?;
                Renamed::Table(def)
            } else {
                let view = views.get(old_key.as_str())?.map(|v| v.value().to_string());
                let Some(json) = view else {
                    return Err(Error::RelationNotFound(from.name.clone()));
                };
                let mut def: ViewDef = decode(&old_key, &json)?;
                def.name = to.clone();
                views.remove(old_key.as_str())?;
                views.insert(new_key.as_str(), encode(&def).as_str())?;
                Renamed::View(def)
            };
            crate::grants::rename(&txn, from, to)?;
            renamed
        };
        txn.commit()?;
        Ok(renamed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ColumnDef, RoleDef, SqlType, TableOptions, TablePrivileges};

    fn setup() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("catalog.redb")).unwrap();
        catalog
            .create_role(&RoleDef {
                name: "alice".into(),
                superuser: false,
                login: true,
                scram: None,
            })
            .unwrap();
        (dir, catalog)
    }

    fn table(name: &str) -> TableDef {
        TableDef {
            id: format!("id-{name}"),
            name: ObjectName::new("public", name),
            columns: vec![ColumnDef {
                name: "x".into(),
                sql_type: SqlType::Integer,
                nullable: true,
            }],
            options: TableOptions::default(),
            location: TableDef::location_for_id(&format!("id-{name}")),
            primary_key: vec![],
        }
    }

    #[test]
    fn a_table_keeps_its_id_location_and_grants_under_the_new_name() {
        let (_dir, catalog) = setup();
        catalog.create_table(&table("a")).unwrap();
        let from = ObjectName::new("public", "a");
        let to = ObjectName::new("public", "b");
        catalog
            .change_privileges(
                &["alice".to_string()],
                &[from.clone()],
                TablePrivileges::ALL,
                false,
            )
            .unwrap();
        let Renamed::Table(def) = catalog.rename_relation(&from, &to).unwrap() else {
            panic!("a table was renamed");
        };
        assert_eq!(def.id, "id-a");
        assert_eq!(def.location, table("a").location);
        assert!(catalog.table(&from).unwrap().is_none());
        assert_eq!(catalog.table(&to).unwrap().unwrap().id, "id-a");
        assert_eq!(
            catalog.table_privileges("alice", &to).unwrap(),
            TablePrivileges::ALL
        );
        assert_eq!(
            catalog.table_privileges("alice", &from).unwrap(),
            TablePrivileges::default()
        );
    }

    #[test]
    fn a_taken_name_a_missing_relation_and_another_schema_change_nothing() {
        let (_dir, catalog) = setup();
        catalog.create_table(&table("a")).unwrap();
        catalog
            .create_view(
                &ViewDef {
                    name: ObjectName::new("public", "v"),
                    query: "SELECT 1".into(),
                    rollup: None,
                },
                false,
            )
            .unwrap();
        let a = ObjectName::new("public", "a");
        let v = ObjectName::new("public", "v");
        assert!(matches!(
            catalog.rename_relation(&a, &v),
            Err(Error::RelationExists(_))
        ));
        assert!(matches!(
            catalog.rename_relation(
                &ObjectName::new("public", "nope"),
                &ObjectName::new("public", "z")
            ),
            Err(Error::RelationNotFound(_))
        ));
        assert!(
            catalog
                .rename_relation(&a, &ObjectName::new("other", "a"))
                .is_err()
        );
        assert!(catalog.table(&a).unwrap().is_some());
        let Renamed::View(def) = catalog
            .rename_relation(&v, &ObjectName::new("public", "w"))
            .unwrap()
        else {
            panic!("a view was renamed");
        };
        assert_eq!(def.query, "SELECT 1");
        assert!(catalog.view(&v).unwrap().is_none());
    }
}

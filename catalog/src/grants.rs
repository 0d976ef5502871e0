//! Privileges: which role may `SELECT`, `INSERT`, `UPDATE` or `DELETE` which table or view,
//! and which may use (`USAGE`) or create in (`CREATE`) which schema. Superusers hold every
//! privilege and have no entries here. What a role holds through its memberships
//! (`crate::members`) is added by the `effective_*` lookups, which the server checks.
//!
//! Entries are keyed by role and object name, and go with either: dropping a role, a relation
//! or a schema removes its entries in the same transaction, so an object created again under
//! an old name starts with no grants.

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::store::{decode, encode};
use crate::{Catalog, Error, ObjectName, Result};

/// `role\0schema\0name` -> JSON [`TablePrivileges`].
const GRANTS: TableDefinition<&str, &str> = TableDefinition::new("grants");
/// `role\0schema` -> JSON [`SchemaPrivileges`].
const SCHEMA_GRANTS: TableDefinition<&str, &str> = TableDefinition::new("schema_grants");

/// The privileges one role holds on one schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchemaPrivileges {
    /// May look relations up in the schema (needed beside the relation's own privilege).
    pub usage: bool,
    /// May create tables and views in the schema.
    pub create: bool,
}

impl SchemaPrivileges {
    /// PostgreSQL's `aclitem` letters (`UC`: USAGE, CREATE).
    pub fn acl_letters(&self) -> String {
        [(self.usage, 'U'), (self.create, 'C')]
            .iter()
            .filter(|(held, _)| *held)
            .map(|(_, letter)| letter)
            .collect()
    }

    pub const ALL: Self = Self {
        usage: true,
        create: true,
    };

    fn union(self, other: Self) -> Self {
        Self {
            usage: self.usage || other.usage,
            create: self.create || other.create,
        }
    }

    fn without(self, other: Self) -> Self {
        Self {
            usage: self.usage && !other.usage,
            create: self.create && !other.create,
        }
    }
}

/// The privileges one role holds on one relation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TablePrivileges {
    pub select: bool,
    pub insert: bool,
    pub update: bool,
    pub delete: bool,
}

impl TablePrivileges {
    /// PostgreSQL's `aclitem` letters for these privileges, in its order (`arwd`: INSERT,
    /// SELECT, UPDATE, DELETE).
    pub fn acl_letters(&self) -> String {
        [
            (self.insert, 'a'),
            (self.select, 'r'),
            (self.update, 'w'),
            (self.delete, 'd'),
        ]
        .iter()
        .filter(|(held, _)| *held)
        .map(|(_, letter)| letter)
        .collect()
    }

    pub const ALL: Self = Self {
        select: true,
        insert: true,
        update: true,
        delete: true,
    };

    fn union(self, other: Self) -> Self {
        Self {
            select: self.select || other.select,
            insert: self.insert || other.insert,
            update: self.update || other.update,
            delete: self.delete || other.delete,
        }
    }

    fn without(self, other: Self) -> Self {
        Self {
            select: self.select && !other.select,
            insert: self.insert && !other.insert,
            update: self.update && !other.update,
            delete: self.delete && !other.delete,
        }
    }

    fn is_empty(self) -> bool {
        self == Self::default()
    }
}

fn key(role: &str, table: &ObjectName) -> String {
    format!("{role}\u{0}{}", table.key())
}

pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(GRANTS)?;
    txn.open_table(SCHEMA_GRANTS)?;
    Ok(())
}

/// Removes every schema entry whose (role, schema) matches `matches`.
pub(crate) fn remove_schema_grants_where(
    txn: &WriteTransaction,
    matches: impl Fn(&str, &str) -> bool,
) -> Result<()> {
    let mut table = txn.open_table(SCHEMA_GRANTS)?;
    let mut doomed = Vec::new();
    for entry in table.iter()? {
        let (k, _) = entry?;
        if let Some((role, schema)) = k.value().split_once('\u{0}')
            && matches(role, schema)
        {
            doomed.push(k.value().to_string());
        }
    }
    for k in doomed {
        table.remove(k.as_str())?;
    }
    Ok(())
}

/// Removes every entry whose key matches `matches` (role and relation parts).
pub(crate) fn remove_where(
    txn: &WriteTransaction,
    matches: impl Fn(&str, &str, &str) -> bool,
) -> Result<()> {
    let mut table = txn.open_table(GRANTS)?;
    let mut doomed = Vec::new();
    for entry in table.iter()? {
        let (k, _) = entry?;
        let parts: Vec<&str> = k.value().split('\u{0}').collect();
        if let [role, schema, name] = parts.as_slice()
            && matches(role, schema, name)
        {
            doomed.push(k.value().to_string());
        }
    }
    for k in doomed {
        table.remove(k.as_str())?;
    }
    Ok(())
}

/// Moves every entry of relation `from` to `to` (a rename).
pub(crate) fn rename(txn: &WriteTransaction, from: &ObjectName, to: &ObjectName) -> Result<()> {
    let mut table = txn.open_table(GRANTS)?;
    let suffix = format!("\u{0}{}", from.key());
    let mut moved = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        if let Some(role) = k.value().strip_suffix(suffix.as_str())
            && !role.contains('\u{0}')
        {
            moved.push((k.value().to_string(), key(role, to), v.value().to_string()));
        }
    }
    for (old, new, value) in moved {
        table.remove(old.as_str())?;
        table.insert(new.as_str(), value.as_str())?;
    }
    Ok(())
}

impl Catalog {
    /// What `role` may do with `table` (nothing when no entry exists).
    pub fn table_privileges(&self, role: &str, table: &ObjectName) -> Result<TablePrivileges> {
        let key = key(role, table);
        let txn = self.db.begin_read()?;
        let grants = txn.open_table(GRANTS)?;
        let value = grants.get(key.as_str())?;
        Ok(value
            .map(|v| decode(&key, v.value()))
            .transpose()?
            .unwrap_or_default())
    }

    /// What `role` may do with `table`, itself or through the roles it belongs to.
    pub fn effective_table_privileges(
        &self,
        role: &str,
        table: &ObjectName,
    ) -> Result<TablePrivileges> {
        let mut held = TablePrivileges::default();
        for role in self.roles_held(role)? {
            held = held.union(self.table_privileges(&role, table)?);
        }
        Ok(held)
    }

    /// What `role` may do in `schema` by its own grants.
    pub fn schema_privileges(&self, role: &str, schema: &str) -> Result<SchemaPrivileges> {
        let key = format!("{role}\u{0}{schema}");
        let txn = self.db.begin_read()?;
        let grants = txn.open_table(SCHEMA_GRANTS)?;
        let value = grants.get(key.as_str())?;
        Ok(value
            .map(|v| decode(&key, v.value()))
            .transpose()?
            .unwrap_or_default())
    }

    /// What `role` may do in `schema`, itself or through the roles it belongs to. Everyone
    /// may use the default schema (PostgreSQL grants `USAGE` on `public` to `PUBLIC`).
    pub fn effective_schema_privileges(
        &self,
        role: &str,
        schema: &str,
    ) -> Result<SchemaPrivileges> {
        let mut held = SchemaPrivileges {
            usage: schema == crate::DEFAULT_SCHEMA,
            create: false,
        };
        for role in self.roles_held(role)? {
            held = held.union(self.schema_privileges(&role, schema)?);
        }
        Ok(held)
    }

    /// Every schema entry: (role, schema, privileges), for the catalog views.
    pub fn all_schema_privileges(&self) -> Result<Vec<(String, String, SchemaPrivileges)>> {
        let txn = self.db.begin_read()?;
        let grants = txn.open_table(SCHEMA_GRANTS)?;
        let mut all = Vec::new();
        for entry in grants.iter()? {
            let (k, v) = entry?;
            if let Some((role, schema)) = k.value().split_once('\u{0}') {
                all.push((
                    role.to_string(),
                    schema.to_string(),
                    decode(k.value(), v.value())?,
                ));
            }
        }
        Ok(all)
    }

    /// `GRANT` (or with `revoke`, `REVOKE`) `change` on each of `schemas` to each of `roles`,
    /// in one transaction: every role and schema must exist, or nothing changes.
    pub fn change_schema_privileges(
        &self,
        roles: &[String],
        schemas: &[String],
        change: SchemaPrivileges,
        revoke: bool,
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let roles_table = txn.open_table(crate::roles::ROLES)?;
            for role in roles {
                if roles_table.get(role.as_str())?.is_none() {
                    return Err(Error::RoleNotFound(role.clone()));
                }
            }
            let schema_table = txn.open_table(crate::store::SCHEMAS)?;
            for schema in schemas {
                if schema_table.get(schema.as_str())?.is_none() {
                    return Err(Error::SchemaNotFound(schema.clone()));
                }
            }
            let mut grants = txn.open_table(SCHEMA_GRANTS)?;
            for role in roles {
                for schema in schemas {
                    let k = format!("{role}\u{0}{schema}");
                    let held: SchemaPrivileges = match grants.get(k.as_str())? {
                        Some(v) => decode(&k, v.value())?,
                        None => SchemaPrivileges::default(),
                    };
                    let now = if revoke {
                        held.without(change)
                    } else {
                        held.union(change)
                    };
                    if now == SchemaPrivileges::default() {
                        grants.remove(k.as_str())?;
                    } else {
                        grants.insert(k.as_str(), encode(&now).as_str())?;
                    }
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Every entry: (role, relation, privileges), for the catalog views.
    pub fn all_privileges(&self) -> Result<Vec<(String, ObjectName, TablePrivileges)>> {
        let txn = self.db.begin_read()?;
        let grants = txn.open_table(GRANTS)?;
        let mut all = Vec::new();
        for entry in grants.iter()? {
            let (k, v) = entry?;
            let parts: Vec<&str> = k.value().split('\u{0}').collect();
            if let [role, schema, name] = parts.as_slice() {
                all.push((
                    role.to_string(),
                    ObjectName::new(*schema, *name),
                    decode(k.value(), v.value())?,
                ));
            }
        }
        Ok(all)
    }

    /// `GRANT` (or with `revoke`, `REVOKE`) `change` on each of `tables` to each of `roles`,
    /// in one transaction: every role and relation must exist, or nothing changes.
    pub fn change_privileges(
        &self,
        roles: &[String],
        tables: &[ObjectName],
        change: TablePrivileges,
        revoke: bool,
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let roles_table = txn.open_table(crate::roles::ROLES)?;
            for role in roles {
                if roles_table.get(role.as_str())?.is_none() {
                    return Err(Error::RoleNotFound(role.clone()));
                }
            }
            let relations = txn.open_table(crate::store::TABLES)?;
            let views = txn.open_table(crate::store::VIEWS)?;
            for table in tables {
                let k = table.key();
                if relations.get(k.as_str())?.is_none() && views.get(k.as_str())?.is_none() {
                    return Err(Error::RelationNotFound(table.name.clone()));
                }
            }
            let mut grants = txn.open_table(GRANTS)?;
            for role in roles {
                for table in tables {
                    let k = key(role, table);
                    let held: TablePrivileges = match grants.get(k.as_str())? {
                        Some(v) => decode(&k, v.value())?,
                        None => TablePrivileges::default(),
                    };
                    let now = if revoke {
                        held.without(change)
                    } else {
                        held.union(change)
                    };
                    if now.is_empty() {
                        grants.remove(k.as_str())?;
                    } else {
                        grants.insert(k.as_str(), encode(&now).as_str())?;
                    }
                }
            }
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ColumnDef, RoleDef, SqlType, TableDef};

    fn setup() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("c.redb")).unwrap();
        catalog
            .create_role(&RoleDef {
                name: "alice".into(),
                superuser: false,
                login: true,
                scram: None,
            })
            .unwrap();
        catalog
            .create_table(&TableDef {
                id: "t1".into(),
                name: ObjectName::new("public", "t"),
                columns: vec![ColumnDef {
                    name: "id".into(),
                    sql_type: SqlType::BigInt,
                    nullable: true,
                }],
                location: TableDef::location_for_id("t1"),
                options: Default::default(),
                primary_key: Vec::new(),
            })
            .unwrap();
        (dir, catalog)
    }

    #[test]
    fn grants_add_up_revokes_take_away_and_unknown_names_change_nothing() {
        let (_dir, catalog) = setup();
        let t = ObjectName::new("public", "t");
        let select = TablePrivileges {
            select: true,
            ..Default::default()
        };
        let alice = vec!["alice".to_string()];
        catalog
            .change_privileges(&alice, &[t.clone()], select, false)
            .unwrap();
        catalog
            .change_privileges(
                &alice,
                &[t.clone()],
                TablePrivileges {
                    insert: true,
                    ..Default::default()
                },
                false,
            )
            .unwrap();
        let held = catalog.table_privileges("alice", &t).unwrap();
        assert!(held.select && held.insert && !held.update);
        catalog
            .change_privileges(&alice, &[t.clone()], select, true)
            .unwrap();
        assert!(!catalog.table_privileges("alice", &t).unwrap().select);
        assert!(matches!(
            catalog.change_privileges(&["bob".into()], &[t.clone()], select, false),
            Err(Error::RoleNotFound(_))
        ));
        assert!(matches!(
            catalog.change_privileges(
                &alice,
                &[ObjectName::new("public", "missing")],
                select,
                false
            ),
            Err(Error::RelationNotFound(_))
        ));
    }

    #[test]
    fn dropping_the_table_or_the_role_drops_its_grants() {
        let (_dir, catalog) = setup();
        let t = ObjectName::new("public", "t");
        let alice = vec!["alice".to_string()];
        catalog
            .change_privileges(&alice, &[t.clone()], TablePrivileges::ALL, false)
            .unwrap();
        catalog.drop_table(&t).unwrap();
        assert!(catalog.all_privileges().unwrap().is_empty());
        let (_dir, catalog) = setup();
        catalog
            .change_privileges(&alice, &[t.clone()], TablePrivileges::ALL, false)
            .unwrap();
        catalog.drop_role("alice").unwrap();
        assert!(catalog.all_privileges().unwrap().is_empty());
    }

    #[test]
    fn schema_grants_reach_members_and_go_with_the_schema_or_role() {
        let (_dir, catalog) = setup();
        catalog.create_schema("shop", false).unwrap();
        catalog
            .create_role(&RoleDef {
                name: "readers".into(),
                superuser: false,
                login: false,
                scram: None,
            })
            .unwrap();
        let readers = vec!["readers".to_string()];
        let shop = vec!["shop".to_string()];
        let usage = SchemaPrivileges {
            usage: true,
            create: false,
        };
        assert!(
            catalog
                .effective_schema_privileges("alice", "public")
                .unwrap()
                .usage
        );
        assert!(
            !catalog
                .effective_schema_privileges("alice", "shop")
                .unwrap()
                .usage
        );
        catalog
            .change_schema_privileges(&readers, &shop, usage, false)
            .unwrap();
        catalog
            .grant_membership(&readers, &["alice".to_string()], false, "oxbow")
            .unwrap();
        let held = catalog
            .effective_schema_privileges("alice", "shop")
            .unwrap();
        assert!(held.usage && !held.create);
        assert!(matches!(
            catalog.change_schema_privileges(&readers, &["nope".into()], usage, false),
            Err(Error::SchemaNotFound(_))
        ));
        catalog.drop_schema("shop", false).unwrap();
        assert!(catalog.all_schema_privileges().unwrap().is_empty());
        catalog.create_schema("shop", false).unwrap();
        catalog
            .change_schema_privileges(&readers, &shop, SchemaPrivileges::ALL, false)
            .unwrap();
        catalog.drop_role("readers").unwrap();
        assert!(catalog.all_schema_privileges().unwrap().is_empty());
    }
}

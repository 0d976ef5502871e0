//! Roles: who may log in, whether they are superusers, and the SCRAM-SHA-256 key that proves
//! their password.
//!
//! The plain password is never stored. A role keeps its RFC 5802 `SaltedPassword`
//! (`Hi(password, salt, iterations)`), which is what pgwire's SCRAM server needs; it is not
//! the password, but it is password-equivalent for SCRAM, so the catalog file must stay
//! readable by the server's user only (the server makes it 0600).
//!
//! The store also keeps one random value per cluster, the mock-authentication nonce, from
//! which the server derives a stable fake salt for user names that do not exist, so that
//! SCRAM's first answer looks the same for a missing user as for a real one (PostgreSQL's
//! `mock_auth_nonce`).
//!
//! PostgreSQL's predefined roles that Oxbow gives a meaning ([`PREDEFINED_ROLES`]) exist in
//! every cluster without being stored: they cannot log in, be created, altered or dropped,
//! and are granted like any role (`GRANT pg_read_server_files TO alice`). Every name starting
//! with `pg_` is reserved for them, as in PostgreSQL.

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::store::{decode, encode};
use crate::{Catalog, Error, Result, check_identifier};

/// role name -> JSON [`RoleDef`].
pub(crate) const ROLES: TableDefinition<&str, &str> = TableDefinition::new("roles");
/// setting name -> value: settings of the whole cluster (the mock-authentication nonce).
const CLUSTER: TableDefinition<&str, &[u8]> = TableDefinition::new("cluster");
const MOCK_AUTH_NONCE: &str = "mock_auth_nonce";

/// Members may create sources that read the server's files and object stores with the
/// server's own identity (`CREATE SOURCE ... FROM FILES`), as PostgreSQL's role of that name
/// lets its members `COPY FROM` a server file.
pub const READ_SERVER_FILES: &str = "pg_read_server_files";
/// Members may create sinks that write the server's files and object stores (`TO FILES`,
/// `TO DELTA`).
pub const WRITE_SERVER_FILES: &str = "pg_write_server_files";
/// The predefined roles, in the order `pg_roles` lists them.
pub const PREDEFINED_ROLES: [&str; 2] = [READ_SERVER_FILES, WRITE_SERVER_FILES];

/// Whether `name` is reserved for predefined roles (PostgreSQL reserves every `pg_` name).
pub fn is_reserved_role_name(name: &str) -> bool {
    name.starts_with("pg_")
}

/// The definition of the predefined role `name`, if it is one.
pub fn predefined_role(name: &str) -> Option<RoleDef> {
    PREDEFINED_ROLES.contains(&name).then(|| RoleDef {
        name: name.to_string(),
        superuser: false,
        login: false,
        scram: None,
    })
}

/// A role. Serialised as JSON, so every field added later needs a serde default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleDef {
    pub name: String,
    #[serde(default)]
    pub superuser: bool,
    /// Whether the role may log in (`LOGIN`); a role without it only holds privileges.
    #[serde(default = "default_true")]
    pub login: bool,
    /// The key its password is checked with; `None`: no password, so no SCRAM login.
    #[serde(default)]
    pub scram: Option<ScramKey>,
}

fn default_true() -> bool {
    true
}

/// What SCRAM-SHA-256 needs to check a password: the salt, the iteration count, and
/// `SaltedPassword = Hi(Normalize(password), salt, iterations)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramKey {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub salted_password: Vec<u8>,
}

/// Opens (creating when missing) the tables of this module inside the catalog's opening
/// transaction, so that later read transactions find them.
pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(ROLES)?;
    txn.open_table(CLUSTER)?;
    Ok(())
}

impl Catalog {
    /// Every role created in this cluster, by name (not the predefined ones: see
    /// [`PREDEFINED_ROLES`]).
    pub fn roles(&self) -> Result<Vec<RoleDef>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ROLES)?;
        let mut roles = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            roles.push(decode(k.value(), v.value())?);
        }
        Ok(roles)
    }

    /// The role `name`, created or predefined.
    pub fn role(&self, name: &str) -> Result<Option<RoleDef>> {
        if let Some(role) = predefined_role(name) {
            return Ok(Some(role));
        }
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ROLES)?;
        let value = table.get(name)?;
        value.map(|v| decode(name, v.value())).transpose()
    }

    /// Creates a role; fails if one of that name exists.
    pub fn create_role(&self, role: &RoleDef) -> Result<()> {
        check_identifier(&role.name)?;
        if is_reserved_role_name(&role.name) {
            return Err(Error::ReservedRole(format!(
                "role name \"{}\" is reserved: role names starting with \"pg_\" are reserved",
                role.name
            )));
        }
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(ROLES)?;
            if table.get(role.name.as_str())?.is_some() {
                return Err(Error::RoleExists(role.name.clone()));
            }
            table.insert(role.name.as_str(), encode(role).as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Replaces an existing role's definition (`ALTER ROLE`).
    pub fn update_role(&self, role: &RoleDef) -> Result<()> {
        refuse_predefined(&role.name, "alter")?;
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(ROLES)?;
            if table.get(role.name.as_str())?.is_none() {
                return Err(Error::RoleNotFound(role.name.clone()));
            }
            table.insert(role.name.as_str(), encode(role).as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Removes a role, its privileges and its memberships (both ways), and returns it.
    pub fn drop_role(&self, name: &str) -> Result<RoleDef> {
        refuse_predefined(name, "drop")?;
        let txn = self.db.begin_write()?;
        crate::grants::remove_where(&txn, |role, _, _| role == name)?;
        crate::grants::remove_schema_grants_where(&txn, |role, _| role == name)?;
        crate::members::remove_role(&txn, name)?;
        let role = {
            let mut table = txn.open_table(ROLES)?;
            let removed = table.remove(name)?;
            match removed {
                Some(json) => decode(name, json.value())?,
                None => return Err(Error::RoleNotFound(name.into())),
            }
        };
        txn.commit()?;
        Ok(role)
    }

    /// The cluster's mock-authentication nonce, made from `fresh` the first time it is asked
    /// for and the same ever after.
    pub fn mock_auth_nonce(&self, fresh: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>> {
        {
            let txn = self.db.begin_read()?;
            if let Some(v) = txn.open_table(CLUSTER)?.get(MOCK_AUTH_NONCE)? {
                return Ok(v.value().to_vec());
            }
        }
        let txn = self.db.begin_write()?;
        let nonce = {
            let mut table = txn.open_table(CLUSTER)?;
            // Checked again inside the write transaction: two first starts cannot race, but
            // the read above was outside it.
            let existing = table.get(MOCK_AUTH_NONCE)?.map(|v| v.value().to_vec());
            match existing {
                Some(nonce) => nonce,
                None => {
                    let nonce = fresh();
                    table.insert(MOCK_AUTH_NONCE, nonce.as_slice())?;
                    nonce
                }
            }
        };
        txn.commit()?;
        Ok(nonce)
    }
}

fn refuse_predefined(name: &str, action: &str) -> Result<()> {
    match predefined_role(name) {
        Some(_) => Err(Error::ReservedRole(format!(
            "cannot {action} role \"{name}\": it is predefined (required by the database system)"
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str) -> RoleDef {
        RoleDef {
            name: name.into(),
            superuser: false,
            login: true,
            scram: Some(ScramKey {
                salt: vec![1, 2, 3],
                iterations: 4096,
                salted_password: vec![9; 32],
            }),
        }
    }

    #[test]
    fn roles_survive_reopening_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.redb");
        {
            let catalog = Catalog::open(&path).unwrap();
            catalog.create_role(&role("alice")).unwrap();
            assert!(matches!(
                catalog.create_role(&role("alice")),
                Err(Error::RoleExists(_))
            ));
        }
        let catalog = Catalog::open(&path).unwrap();
        assert_eq!(catalog.role("alice").unwrap(), Some(role("alice")));
        assert_eq!(catalog.role("bob").unwrap(), None);
        catalog.drop_role("alice").unwrap();
        assert!(catalog.roles().unwrap().is_empty());
        assert!(matches!(
            catalog.drop_role("alice"),
            Err(Error::RoleNotFound(_))
        ));
    }

    #[test]
    fn a_role_written_before_a_field_existed_reads_with_its_default() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("c.redb")).unwrap();
        let txn = catalog.db.begin_write().unwrap();
        txn.open_table(ROLES)
            .unwrap()
            .insert("old", r#"{"name":"old"}"#)
            .unwrap();
        txn.commit().unwrap();
        let old = catalog.role("old").unwrap().unwrap();
        assert!(old.login && !old.superuser && old.scram.is_none());
    }

    #[test]
    fn predefined_roles_exist_without_being_stored_and_cannot_be_changed() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("c.redb")).unwrap();
        let read = catalog.role(READ_SERVER_FILES).unwrap().unwrap();
        assert!(!read.login && !read.superuser && read.scram.is_none());
        // Not stored: the first start still finds no role.
        assert!(catalog.roles().unwrap().is_empty());
        for result in [
            catalog.create_role(&role("pg_read_server_files")),
            catalog.create_role(&role("pg_mine")),
            catalog.update_role(&read),
            catalog.drop_role(READ_SERVER_FILES).map(|_| ()),
        ] {
            assert!(matches!(result, Err(Error::ReservedRole(_))), "{result:?}");
        }
        catalog.create_role(&role("alice")).unwrap();
        catalog
            .grant_membership(
                &[READ_SERVER_FILES.into()],
                &["alice".into()],
                false,
                "oxbow",
            )
            .unwrap();
        assert!(
            catalog
                .roles_held("alice")
                .unwrap()
                .contains(READ_SERVER_FILES)
        );
    }

    #[test]
    fn the_mock_nonce_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.redb");
        let first = Catalog::open(&path)
            .unwrap()
            .mock_auth_nonce(|| vec![7; 32])
            .unwrap();
        let again = Catalog::open(&path)
            .unwrap()
            .mock_auth_nonce(|| vec![8; 32])
            .unwrap();
        assert_eq!(first, vec![7; 32]);
        assert_eq!(again, first);
    }
}

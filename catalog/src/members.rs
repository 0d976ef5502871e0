//! Role membership (`GRANT role TO member`): a member holds every privilege its roles hold,
//! through any chain of memberships (PostgreSQL's `INHERIT`, the default), and a member with
//! the admin option may grant the role on. Superuser status is a role's own attribute and is
//! never inherited, as in PostgreSQL.
//!
//! Entries go with either role: dropping a role removes its memberships both ways in the
//! same transaction. A grant that would make a role a member of itself, directly or through
//! a chain, is refused (PostgreSQL's 0LP01).

use std::collections::{BTreeSet, HashMap};

use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::store::{decode, encode};
use crate::{Catalog, Error, Result};

/// `role\0member` -> JSON [`Membership`].
const MEMBERS: TableDefinition<&str, &str> = TableDefinition::new("members");

/// One membership of `member` in `role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub role: String,
    pub member: String,
    /// May `member` grant `role` to others (`WITH ADMIN OPTION`).
    #[serde(default)]
    pub admin: bool,
    /// The role that granted it.
    #[serde(default)]
    pub grantor: String,
}

fn key(role: &str, member: &str) -> String {
    format!("{role}\u{0}{member}")
}

pub(crate) fn create_tables(txn: &WriteTransaction) -> Result<()> {
    txn.open_table(MEMBERS)?;
    Ok(())
}

/// Removes every membership of `role` and in `role` (a dropped role).
pub(crate) fn remove_role(txn: &WriteTransaction, role: &str) -> Result<()> {
    let mut table = txn.open_table(MEMBERS)?;
    let mut doomed = Vec::new();
    for entry in table.iter()? {
        let (k, _) = entry?;
        if let Some((r, m)) = k.value().split_once('\u{0}')
            && (r == role || m == role)
        {
            doomed.push(k.value().to_string());
        }
    }
    for k in doomed {
        table.remove(k.as_str())?;
    }
    Ok(())
}

fn read_all(table: &impl ReadableTable<&'static str, &'static str>) -> Result<Vec<Membership>> {
    let mut all = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        all.push(decode(k.value(), v.value())?);
    }
    Ok(all)
}

/// `member` and every role it belongs to, through any chain of memberships.
fn closure(all: &[Membership], member: &str) -> BTreeSet<String> {
    let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
    for m in all {
        parents
            .entry(m.member.as_str())
            .or_default()
            .push(m.role.as_str());
    }
    let mut seen = BTreeSet::from([member.to_string()]);
    let mut todo = vec![member.to_string()];
    while let Some(next) = todo.pop() {
        for parent in parents.get(next.as_str()).into_iter().flatten() {
            if seen.insert(parent.to_string()) {
                todo.push(parent.to_string());
            }
        }
    }
    seen
}

impl Catalog {
    /// Every membership, by role then member.
    pub fn memberships(&self) -> Result<Vec<Membership>> {
        let txn = self.db.begin_read()?;
        read_all(&txn.open_table(MEMBERS)?)
    }

    /// `role` and every role it is a member of, directly or not: whose privileges it holds.
    pub fn roles_held(&self, role: &str) -> Result<BTreeSet<String>> {
        Ok(closure(&self.memberships()?, role))
    }

    /// Whether `member` may grant or revoke `role`: it holds `role` with the admin option,
    /// directly or through a role it belongs to.
    pub fn has_admin_option(&self, member: &str, role: &str) -> Result<bool> {
        let all = self.memberships()?;
        let held = closure(&all, member);
        Ok(all
            .iter()
            .any(|m| m.role == role && m.admin && held.contains(&m.member)))
    }

    /// `GRANT role, ... TO member, ... [WITH ADMIN OPTION]`, in one transaction: every role
    /// must exist and no grant may close a cycle, or nothing changes. Granting a membership
    /// that exists again keeps it (and adds the admin option when asked).
    pub fn grant_membership(
        &self,
        roles: &[String],
        members: &[String],
        admin: bool,
        grantor: &str,
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let role_table = txn.open_table(crate::roles::ROLES)?;
            for name in roles.iter().chain(members) {
                if role_table.get(name.as_str())?.is_none()
                    && crate::roles::predefined_role(name).is_none()
                {
                    return Err(Error::RoleNotFound(name.clone()));
                }
            }
            let mut table = txn.open_table(MEMBERS)?;
            let mut all = read_all(&table)?;
            for role in roles {
                for member in members {
                    // `member` in `role` is a cycle when `role` already belongs to `member`.
                    if role == member || closure(&all, role).contains(member) {
                        return Err(Error::InvalidGrant(format!(
                            "role \"{member}\" is a member of role \"{role}\""
                        )));
                    }
                    let k = key(role, member);
                    let existing: Option<Membership> = match table.get(k.as_str())? {
                        Some(v) => Some(decode(&k, v.value())?),
                        None => None,
                    };
                    let entry = match existing {
                        Some(mut held) => {
                            held.admin |= admin;
                            held
                        }
                        None => Membership {
                            role: role.clone(),
                            member: member.clone(),
                            admin,
                            grantor: grantor.to_string(),
                        },
                    };
                    table.insert(k.as_str(), encode(&entry).as_str())?;
                    all.retain(|m| !(m.role == *role && m.member == *member));
                    all.push(entry);
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// `REVOKE role, ... FROM member, ...` (with `admin_only`, `REVOKE ADMIN OPTION FOR`: the
    /// membership stays, without the option); a membership that does not exist is skipped, as
    /// PostgreSQL does. Returns the pairs that did not exist.
    pub fn revoke_membership(
        &self,
        roles: &[String],
        members: &[String],
        admin_only: bool,
    ) -> Result<Vec<(String, String)>> {
        let txn = self.db.begin_write()?;
        let mut missing = Vec::new();
        {
            let role_table = txn.open_table(crate::roles::ROLES)?;
            for name in roles.iter().chain(members) {
                if role_table.get(name.as_str())?.is_none()
                    && crate::roles::predefined_role(name).is_none()
                {
                    return Err(Error::RoleNotFound(name.clone()));
                }
            }
            let mut table = txn.open_table(MEMBERS)?;
            for role in roles {
                for member in members {
                    let k = key(role, member);
                    let removed: Option<Membership> = match table.remove(k.as_str())? {
                        Some(v) => Some(decode(&k, v.value())?),
                        None => None,
                    };
                    let Some(mut kept) = removed else {
                        missing.push((role.clone(), member.clone()));
                        continue;
                    };
                    if admin_only {
                        kept.admin = false;
                        table.insert(k.as_str(), encode(&kept).as_str())?;
                    }
                }
            }
        }
        txn.commit()?;
        Ok(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RoleDef;

    fn setup(names: &[&str]) -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&dir.path().join("c.redb")).unwrap();
        for name in names {
            catalog
                .create_role(&RoleDef {
                    name: name.to_string(),
                    superuser: false,
                    login: true,
                    scram: None,
                })
                .unwrap();
        }
        (dir, catalog)
    }

    fn s(v: &str) -> Vec<String> {
        vec![v.to_string()]
    }

    #[test]
    fn membership_is_transitive_and_cycles_are_refused() {
        let (_dir, catalog) = setup(&["analysts", "readers", "alice"]);
        catalog
            .grant_membership(&s("readers"), &s("analysts"), false, "oxbow")
            .unwrap();
        catalog
            .grant_membership(&s("analysts"), &s("alice"), true, "oxbow")
            .unwrap();
        let held = catalog.roles_held("alice").unwrap();
        assert_eq!(
            held.into_iter().collect::<Vec<_>>(),
            ["alice", "analysts", "readers"]
        );
        assert!(catalog.has_admin_option("alice", "analysts").unwrap());
        assert!(!catalog.has_admin_option("alice", "readers").unwrap());
        for (role, member) in [("alice", "readers"), ("alice", "alice")] {
            assert!(matches!(
                catalog.grant_membership(&s(role), &s(member), false, "oxbow"),
                Err(Error::InvalidGrant(_))
            ));
        }
        assert!(matches!(
            catalog.grant_membership(&s("nobody"), &s("alice"), false, "oxbow"),
            Err(Error::RoleNotFound(_))
        ));
    }

    #[test]
    fn revoking_and_dropping_remove_memberships() {
        let (_dir, catalog) = setup(&["readers", "alice", "bob"]);
        let both = vec!["alice".to_string(), "bob".to_string()];
        catalog
            .grant_membership(&s("readers"), &both, false, "oxbow")
            .unwrap();
        let missing = catalog
            .revoke_membership(&s("readers"), &both[..1], false)
            .unwrap();
        assert!(missing.is_empty());
        assert_eq!(
            catalog
                .revoke_membership(&s("readers"), &both[..1], false)
                .unwrap(),
            vec![("readers".to_string(), "alice".to_string())]
        );
        assert!(catalog.roles_held("bob").unwrap().contains("readers"));
        catalog
            .grant_membership(&s("readers"), &s("bob"), true, "oxbow")
            .unwrap();
        catalog
            .revoke_membership(&s("readers"), &s("bob"), true)
            .unwrap();
        assert!(!catalog.has_admin_option("bob", "readers").unwrap());
        assert!(catalog.roles_held("bob").unwrap().contains("readers"));
        catalog.drop_role("readers").unwrap();
        assert!(catalog.memberships().unwrap().is_empty());
    }
}

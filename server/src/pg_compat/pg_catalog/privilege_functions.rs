//! `has_table_privilege`, `has_any_column_privilege`, `has_schema_privilege`,
//! `has_database_privilege` and `pg_has_role`, answered from the catalog's grants and
//! memberships, where datafusion-pg-catalog's stubs answer `true` to everything (tools such as
//! pgAdmin, DBeaver and Metabase hide or grey out what these say a user cannot touch).
//!
//! The two-argument forms (about the current user) are rewritten to the three-argument ones
//! with the session's user name before planning (`crate::sql::rewrite::ast`), since a
//! function registered once for the server does not know the session.
//!
//! As in PostgreSQL: a superuser holds everything; a relation or schema named by text that
//! does not exist is an error (42P01, 3F000), one named by an OID that does not exist is NULL;
//! an unknown privilege word is 22023; a list (`'SELECT, INSERT'`) asks whether any is held.
//! A user name that is no role is an error (42704) unless it logged in under `--auth trust`,
//! where such a name holds every right. `WITH GRANT OPTION` is never held by a role that is
//! not a superuser (there are no grant options), nor are `TRUNCATE`, `REFERENCES` and
//! `TRIGGER` (only superusers truncate here).

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Signature, Volatility};
use oxbow_catalog::{DEFAULT_SCHEMA, ObjectName};
use oxbow_storage::Database;

use super::{LoginUsers, RelationOids};
use crate::error::ServerError;

/// Schemas of the system, usable by everyone and created in by nobody but superusers.
const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema", "oxbow"];

/// Who is asked about.
enum Who {
    /// A superuser, or a name let in under trust: holds everything.
    Everything,
    /// A role that is not a superuser.
    Role(String),
}

#[derive(Clone)]
struct Lookup {
    db: Arc<Database>,
    relations: RelationOids,
    users: LoginUsers,
}

fn failed(e: impl Into<ServerError>) -> DataFusionError {
    DataFusionError::External(Box::new(e.into()))
}

impl Lookup {
    fn who(&self, name: &str) -> Result<Who> {
        match self.db.catalog().role(name).map_err(failed)? {
            Some(role) if role.superuser => Ok(Who::Everything),
            Some(role) => Ok(Who::Role(role.name)),
            None if self.users.read().expect("users lock").contains(name) => Ok(Who::Everything),
            None => Err(failed(oxbow_catalog::Error::RoleNotFound(name.into()))),
        }
    }

    /// The relation a text or OID argument names; `None` for an OID that names nothing.
    fn relation(&self, object: &Object) -> Result<Option<ObjectName>> {
        match object {
            Object::Oid(oid) => Ok(self
                .relations
                .read()
                .expect("relations lock")
                .get(oid)
                .cloned()),
            Object::Name(text) => {
                let parts = name_parts(text);
                let catalog = self.db.catalog();
                let name = match parts.as_slice() {
                    [name] => {
                        let public = ObjectName::new(DEFAULT_SCHEMA, name.as_str());
                        let exists = catalog.table(&public).map_err(failed)?.is_some()
                            || catalog.view(&public).map_err(failed)?.is_some();
                        if !exists && name.starts_with("pg_") {
                            ObjectName::new("pg_catalog", name.as_str())
                        } else {
                            public
                        }
                    }
                    [schema, name] | [_, schema, name] => {
                        ObjectName::new(schema.as_str(), name.as_str())
                    }
                    _ => {
                        return Err(failed(ServerError::InvalidParameterValue(format!(
                            "invalid name syntax: \"{text}\""
                        ))));
                    }
                };
                if SYSTEM_SCHEMAS.contains(&name.schema.as_str())
                    || catalog.table(&name).map_err(failed)?.is_some()
                    || catalog.view(&name).map_err(failed)?.is_some()
                {
                    Ok(Some(name))
                } else {
                    Err(failed(oxbow_catalog::Error::RelationNotFound(text.clone())))
                }
            }
        }
    }

    fn table_privilege(&self, user: &str, table: &Object, asked: &str) -> Result<Option<bool>> {
        let words = privilege_words(
            asked,
            &[
                "SELECT",
                "INSERT",
                "UPDATE",
                "DELETE",
                "TRUNCATE",
                "REFERENCES",
                "TRIGGER",
            ],
        )?;
        let who = self.who(user)?;
        let Some(name) = self.relation(table)? else {
            return Ok(None);
        };
        let Who::Role(role) = who else {
            return Ok(Some(true));
        };
        let held = if SYSTEM_SCHEMAS.contains(&name.schema.as_str()) {
            oxbow_catalog::TablePrivileges {
                select: true,
                ..Default::default()
            }
        } else {
            self.db
                .catalog()
                .effective_table_privileges(&role, &name)
                .map_err(failed)?
        };
        Ok(Some(words.iter().any(|(word, grant_option)| {
            !grant_option
                && match word.as_str() {
                    "SELECT" => held.select,
                    "INSERT" => held.insert,
                    "UPDATE" => held.update,
                    "DELETE" => held.delete,
                    _ => false,
                }
        })))
    }

    fn schema_privilege(&self, user: &str, schema: &Object, asked: &str) -> Result<Option<bool>> {
        let words = privilege_words(asked, &["USAGE", "CREATE"])?;
        let who = self.who(user)?;
        let schema = match schema {
            Object::Name(text) => name_parts(text).pop().unwrap_or_default(),
            // Schema OIDs are the library's; Oxbow keeps no map of them.
            Object::Oid(_) => return Ok(None),
        };
        let system = SYSTEM_SCHEMAS.contains(&schema.as_str());
        if !system && !self.db.catalog().schema_exists(&schema).map_err(failed)? {
            return Err(failed(oxbow_catalog::Error::SchemaNotFound(schema)));
        }
        let Who::Role(role) = who else {
            return Ok(Some(true));
        };
        let held = if system {
            oxbow_catalog::SchemaPrivileges {
                usage: true,
                create: false,
            }
        } else {
            self.db
                .catalog()
                .effective_schema_privileges(&role, &schema)
                .map_err(failed)?
        };
        Ok(Some(words.iter().any(|(word, grant_option)| {
            !grant_option
                && match word.as_str() {
                    "USAGE" => held.usage,
                    _ => held.create,
                }
        })))
    }

    fn database_privilege(
        &self,
        user: &str,
        _database: &Object,
        asked: &str,
    ) -> Result<Option<bool>> {
        let words = privilege_words(asked, &["CREATE", "CONNECT", "TEMPORARY", "TEMP"])?;
        Ok(Some(match self.who(user)? {
            Who::Everything => true,
            // Everyone may connect and create temporary tables; only superusers create schemas.
            Who::Role(_) => words
                .iter()
                .any(|(word, grant_option)| !grant_option && word != "CREATE"),
        }))
    }

    fn has_role(&self, user: &str, role: &Object, asked: &str) -> Result<Option<bool>> {
        let words = privilege_words(asked, &["MEMBER", "USAGE", "SET"])?;
        let who = self.who(user)?;
        let Object::Name(role) = role else {
            return Ok(None);
        };
        let role = name_parts(role).pop().unwrap_or_default();
        let catalog = self.db.catalog();
        if catalog.role(&role).map_err(failed)?.is_none() {
            return Err(failed(oxbow_catalog::Error::RoleNotFound(role)));
        }
        let Who::Role(member) = who else {
            return Ok(Some(true));
        };
        let held: BTreeSet<String> = catalog.roles_held(&member).map_err(failed)?;
        let mut answer = false;
        for (_, admin) in &words {
            answer |= if *admin {
                catalog.has_admin_option(&member, &role).map_err(failed)?
            } else {
                held.contains(&role)
            };
        }
        Ok(Some(answer))
    }
}

/// A relation, schema or role argument: its name as text, or an OID.
enum Object {
    Name(String),
    Oid(i64),
}

/// `'SELECT, insert WITH GRANT OPTION'` as `[("SELECT", false), ("INSERT", true)]`; a word
/// outside `allowed` is PostgreSQL's 22023.
fn privilege_words(text: &str, allowed: &[&str]) -> Result<Vec<(String, bool)>> {
    text.split(',')
        .map(|word| {
            let upper = word.trim().to_ascii_uppercase();
            let (word, option) = match upper
                .strip_suffix(" WITH GRANT OPTION")
                .or_else(|| upper.strip_suffix(" WITH ADMIN OPTION"))
            {
                Some(word) => (word.trim_end().to_string(), true),
                None => (upper.clone(), false),
            };
            if allowed.contains(&word.as_str()) {
                Ok((word, option))
            } else {
                Err(failed(ServerError::InvalidParameterValue(format!(
                    "unrecognized privilege type: \"{}\"",
                    text.trim()
                ))))
            }
        })
        .collect()
}

/// The parts of a dotted name as PostgreSQL reads a `regclass` text: unquoted parts folded
/// to lower case, quoted ones kept (`""` is a quote).
fn name_parts(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c if quoted => current.push(c),
            c => current.extend(c.to_lowercase()),
        }
    }
    parts.push(current);
    parts
}

type Answer = fn(&Lookup, &str, &Object, &str) -> Result<Option<bool>>;

fn udf(name: &'static str, lookup: Lookup, answer: Answer) -> ScalarUDF {
    let evaluate = move |args: &[ColumnarValue]| -> Result<ColumnarValue> {
        if args.len() != 3 {
            return Err(DataFusionError::Plan(format!(
                "{name} takes 3 arguments here (the 2-argument form is rewritten to name the \
                 current user), got {}",
                args.len()
            )));
        }
        let all_scalars = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let text = |array: &ArrayRef| datafusion::arrow::compute::cast(array, &DataType::Utf8);
        let users = text(&arrays[0])?;
        let users = users.as_string::<i32>();
        let objects: Box<dyn Fn(usize) -> Option<Object>> = if arrays[1].data_type().is_integer() {
            let oids = datafusion::arrow::compute::cast(&arrays[1], &DataType::Int64)?;
            Box::new(move |i| {
                let oids = oids.as_primitive::<Int64Type>();
                oids.is_valid(i).then(|| Object::Oid(oids.value(i)))
            })
        } else {
            let names = text(&arrays[1])?;
            Box::new(move |i| {
                let names = names.as_string::<i32>();
                names
                    .is_valid(i)
                    .then(|| Object::Name(names.value(i).to_string()))
            })
        };
        let asked = text(&arrays[2])?;
        let asked = asked.as_string::<i32>();
        let mut out = Vec::with_capacity(users.len());
        for i in 0..users.len() {
            let value = match (users.is_valid(i), objects(i), asked.is_valid(i)) {
                (true, Some(object), true) => {
                    answer(&lookup, users.value(i), &object, asked.value(i))?
                }
                _ => None,
            };
            out.push(value);
        }
        crate::pg_compat::functions::columnar(Arc::new(BooleanArray::from(out)), all_scalars)
    };
    ScalarUDF::from(
        datafusion::logical_expr::expr_fn::SimpleScalarUDF::new_with_signature(
            name,
            Signature::variadic_any(Volatility::Stable),
            DataType::Boolean,
            Arc::new(evaluate),
        ),
    )
}

/// The privilege functions, to register over the library's stubs.
pub fn privilege_functions(
    db: Arc<Database>,
    relations: RelationOids,
    users: LoginUsers,
) -> Vec<ScalarUDF> {
    let lookup = Lookup {
        db,
        relations,
        users,
    };
    vec![
        udf(
            "has_table_privilege",
            lookup.clone(),
            Lookup::table_privilege,
        ),
        udf(
            "has_any_column_privilege",
            lookup.clone(),
            Lookup::table_privilege,
        ),
        udf(
            "has_schema_privilege",
            lookup.clone(),
            Lookup::schema_privilege,
        ),
        udf(
            "has_database_privilege",
            lookup.clone(),
            Lookup::database_privilege,
        ),
        udf("pg_has_role", lookup, Lookup::has_role),
    ]
}

/// The functions above, whose two-argument forms `crate::sql::rewrite::ast` completes.
pub const PRIVILEGE_FUNCTIONS: &[&str] = &[
    "has_table_privilege",
    "has_any_column_privilege",
    "has_schema_privilege",
    "has_database_privilege",
    "pg_has_role",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_like_regclass_text() {
        assert_eq!(name_parts("Shop.Orders"), ["shop", "orders"]);
        assert_eq!(name_parts("\"Shop\".\"a.b\"\"c\""), ["Shop", "a.b\"c"]);
        assert_eq!(name_parts("t"), ["t"]);
    }

    #[test]
    fn privilege_lists_and_refusals() {
        let words =
            privilege_words("select, INSERT with grant option", &["SELECT", "INSERT"]).unwrap();
        assert_eq!(
            words,
            [("SELECT".to_string(), false), ("INSERT".to_string(), true)]
        );
        assert!(privilege_words("SELEKT", &["SELECT"]).is_err());
    }
}

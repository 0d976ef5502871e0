//! Role statements: `CREATE ROLE` (and `CREATE USER`, rewritten to `CREATE ROLE ... LOGIN`
//! before parsing), `ALTER ROLE ... [WITH] PASSWORD | LOGIN | SUPERUSER ...`, `DROP ROLE`,
//! `GRANT`/`REVOKE` of `SELECT`, `INSERT`, `UPDATE`, `DELETE` (or `ALL`) `ON [TABLE] t, ... |
//! ALL TABLES IN SCHEMA s`, of `USAGE`, `CREATE` (or `ALL`) `ON SCHEMA s, ...`, and of role
//! membership (`GRANT role TO member [WITH ADMIN OPTION]`, `REVOKE [ADMIN OPTION FOR] role
//! FROM member`, which `crate::sql::rewrite::text` turns into sqlparser's `ROLE` actions).
//! Who may run them is `super::privileges`'.
//!
//! Passwords become SCRAM keys here (`crate::auth::scram_key`); the text is never stored.
//! Refused with 0A000 rather than ignored: other privileges (`TRUNCATE`, `REFERENCES`, ...),
//! column lists, `WITH GRANT OPTION` on objects, `PUBLIC`, `GRANTED BY`, `RENAME TO`, and the
//! role options Oxbow does not keep (`CREATEDB`, `CONNECTION LIMIT`, `VALID UNTIL`, ...).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Action, AlterRoleOperation, CreateRole, Expr, GrantObjects, Grantee, GranteeName, GranteesType,
    ObjectName as AstName, ObjectType, Password, Privileges, RoleOption, Statement, Value,
};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use oxbow_catalog::{ObjectName, RoleDef, SchemaPrivileges, ScramKey, TablePrivileges};
use oxbow_storage::Database;
use pgwire::api::ClientInfo;
use pgwire::api::results::{Response, Tag};
use pgwire::error::PgWireResult;

use super::privileges::SessionRole;
use crate::error::ServerError;
use crate::sql::names;

pub struct RoleStatements {
    db: Arc<Database>,
}

impl RoleStatements {
    pub fn new(db: Arc<Database>) -> Self {
        Self { db }
    }

    fn is_own(statement: &Statement) -> bool {
        matches!(
            statement,
            Statement::CreateRole(_)
                | Statement::AlterRole { .. }
                | Statement::Grant(_)
                | Statement::Revoke(_)
                | Statement::Drop {
                    object_type: ObjectType::Role,
                    ..
                }
        )
    }

    fn execute(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &(impl ClientInfo + ?Sized),
    ) -> Result<Response, ServerError> {
        let session = client
            .session_extensions()
            .get::<SessionRole>()
            .map(|s| s.name.clone());
        match statement {
            Statement::CreateRole(create) => create_roles(&self.db, create),
            Statement::AlterRole { name, operation } => {
                alter_role(&self.db, &names::ident(name), operation)
            }
            Statement::Drop {
                names: roles,
                if_exists,
                ..
            } => drop_roles(&self.db, roles, *if_exists, session.as_deref()),
            Statement::Grant(grant) => {
                if let Some(roles) = granted_roles(&grant.privileges, grant.objects.as_ref())? {
                    let members = grantee_names(&grant.grantees)?;
                    let grantor = session.as_deref().unwrap_or("oxbow");
                    self.db.catalog().grant_membership(
                        &roles,
                        &members,
                        grant.with_grant_option,
                        grantor,
                    )?;
                    return Ok(Response::Execution(Tag::new("GRANT ROLE")));
                }
                if grant.with_grant_option {
                    return Err(ServerError::Unsupported("WITH GRANT OPTION".into()));
                }
                if grant.granted_by.is_some() || grant.as_grantor.is_some() {
                    return Err(ServerError::Unsupported("GRANTED BY".into()));
                }
                change(
                    &self.db,
                    ctx,
                    &grant.privileges,
                    grant.objects.as_ref(),
                    &grant.grantees,
                    false,
                )
            }
            Statement::Revoke(revoke) => {
                let admin_only = match &revoke.granted_by {
                    None => false,
                    Some(by) if by.value == crate::sql::rewrite::text::ADMIN_OPTION_FOR => true,
                    Some(_) => return Err(ServerError::Unsupported("GRANTED BY".into())),
                };
                if let Some(roles) = granted_roles(&revoke.privileges, revoke.objects.as_ref())? {
                    let members = grantee_names(&revoke.grantees)?;
                    self.db
                        .catalog()
                        .revoke_membership(&roles, &members, admin_only)?;
                    return Ok(Response::Execution(Tag::new("REVOKE ROLE")));
                }
                if admin_only {
                    return Err(ServerError::Unsupported(
                        "ADMIN OPTION FOR outside role membership".into(),
                    ));
                }
                change(
                    &self.db,
                    ctx,
                    &revoke.privileges,
                    revoke.objects.as_ref(),
                    &revoke.grantees,
                    true,
                )
            }
            _ => unreachable!("is_own"),
        }
    }
}

/// The roles a `GRANT`/`REVOKE` hands out as memberships (`ROLE a, ROLE b` with no `ON`), or
/// `None` for a grant of privileges on objects.
pub(super) fn granted_roles(
    privileges: &Privileges,
    objects: Option<&GrantObjects>,
) -> Result<Option<Vec<String>>, ServerError> {
    let Privileges::Actions(actions) = privileges else {
        return Ok(None);
    };
    if !actions.iter().any(|a| matches!(a, Action::Role { .. })) {
        return Ok(None);
    }
    if objects.is_some() {
        return Err(ServerError::Unsupported("GRANT ROLE ... ON".into()));
    }
    actions
        .iter()
        .map(|action| match action {
            Action::Role { role } => role_name(role),
            other => Err(ServerError::Unsupported(format!(
                "{other} beside role names in one GRANT"
            ))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn role_name(name: &AstName) -> Result<String, ServerError> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(names::ident)
            .ok_or_else(|| ServerError::Unsupported(format!("the role name {name}"))),
        _ => Err(ServerError::Unsupported(format!("the role name {name}"))),
    }
}

/// The SCRAM key of a `PASSWORD` clause; `PASSWORD NULL`: none.
fn password_key(password: &Password) -> Result<Option<ScramKey>, ServerError> {
    match password {
        Password::NullPassword => Ok(None),
        Password::Password(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(text) | Value::EscapedStringLiteral(text) => {
                crate::auth::scram_key(text)
                    .map(Some)
                    .map_err(ServerError::Unsupported)
            }
            _ => Err(ServerError::Unsupported(
                "a PASSWORD that is not a string".into(),
            )),
        },
        Password::Password(_) => Err(ServerError::Unsupported(
            "a PASSWORD that is not a string".into(),
        )),
    }
}

fn create_roles(db: &Database, create: &CreateRole) -> Result<Response, ServerError> {
    let unsupported = [
        (create.inherit.is_some(), "INHERIT"),
        (create.bypassrls.is_some(), "BYPASSRLS"),
        (create.create_db.is_some(), "CREATEDB"),
        (create.create_role.is_some(), "CREATEROLE"),
        (create.replication.is_some(), "REPLICATION"),
        (create.connection_limit.is_some(), "CONNECTION LIMIT"),
        (create.valid_until.is_some(), "VALID UNTIL"),
        (
            !create.in_role.is_empty() || !create.in_group.is_empty(),
            "IN ROLE",
        ),
        (!create.role.is_empty() || !create.user.is_empty(), "ROLE"),
        (!create.admin.is_empty(), "ADMIN"),
    ];
    if let Some((_, what)) = unsupported.iter().find(|(given, _)| *given) {
        return Err(ServerError::Unsupported(format!("CREATE ROLE ... {what}")));
    }
    let scram = match &create.password {
        Some(password) => password_key(password)?,
        None => None,
    };
    for name in &create.names {
        let role = RoleDef {
            name: role_name(name)?,
            superuser: create.superuser.unwrap_or(false),
            login: create.login.unwrap_or(false),
            scram: scram.clone(),
        };
        match db.catalog().create_role(&role) {
            Err(oxbow_catalog::Error::RoleExists(_)) if create.if_not_exists => {}
            other => other?,
        }
    }
    Ok(Response::Execution(Tag::new("CREATE ROLE")))
}

fn alter_role(
    db: &Database,
    name: &str,
    operation: &AlterRoleOperation,
) -> Result<Response, ServerError> {
    let AlterRoleOperation::WithOptions { options } = operation else {
        return Err(ServerError::Unsupported(format!(
            "ALTER ROLE ... {operation}"
        )));
    };
    let mut role = db
        .catalog()
        .role(name)?
        .ok_or_else(|| oxbow_catalog::Error::RoleNotFound(name.into()))?;
    for option in options {
        match option {
            RoleOption::Login(login) => role.login = *login,
            RoleOption::SuperUser(superuser) => role.superuser = *superuser,
            RoleOption::Password(password) => role.scram = password_key(password)?,
            other => {
                return Err(ServerError::Unsupported(format!("ALTER ROLE ... {other}")));
            }
        }
    }
    db.catalog().update_role(&role)?;
    Ok(Response::Execution(Tag::new("ALTER ROLE")))
}

fn drop_roles(
    db: &Database,
    roles: &[AstName],
    if_exists: bool,
    session: Option<&str>,
) -> Result<Response, ServerError> {
    let roles = roles.iter().map(role_name).collect::<Result<Vec<_>, _>>()?;
    if let Some(own) = roles.iter().find(|r| Some(r.as_str()) == session) {
        return Err(ServerError::ObjectInUse(format!(
            "current user cannot be dropped (role \"{own}\")"
        )));
    }
    for role in roles {
        match db.catalog().drop_role(&role) {
            Err(oxbow_catalog::Error::RoleNotFound(_)) if if_exists => {}
            other => {
                other?;
            }
        }
    }
    Ok(Response::Execution(Tag::new("DROP ROLE")))
}

fn privileges_of(privileges: &Privileges) -> Result<TablePrivileges, ServerError> {
    let actions = match privileges {
        Privileges::All { .. } => return Ok(TablePrivileges::ALL),
        Privileges::Actions(actions) => actions,
    };
    let mut held = TablePrivileges::default();
    for action in actions {
        match action {
            Action::Select { columns: None } => held.select = true,
            Action::Insert { columns: None } => held.insert = true,
            Action::Update { columns: None } => held.update = true,
            Action::Delete => held.delete = true,
            Action::Select { .. } | Action::Insert { .. } | Action::Update { .. } => {
                return Err(ServerError::Unsupported("column privileges".into()));
            }
            other => return Err(ServerError::Unsupported(format!("the privilege {other}"))),
        }
    }
    Ok(held)
}

fn schema_privileges_of(privileges: &Privileges) -> Result<SchemaPrivileges, ServerError> {
    let actions = match privileges {
        Privileges::All { .. } => return Ok(SchemaPrivileges::ALL),
        Privileges::Actions(actions) => actions,
    };
    let mut held = SchemaPrivileges::default();
    for action in actions {
        match action {
            Action::Usage => held.usage = true,
            Action::Create { obj_type: None } => held.create = true,
            other => {
                return Err(ServerError::Unsupported(format!(
                    "the privilege {other} on a schema"
                )));
            }
        }
    }
    Ok(held)
}

fn grantee_names(grantees: &[Grantee]) -> Result<Vec<String>, ServerError> {
    grantees
        .iter()
        .map(|grantee| match (&grantee.grantee_type, &grantee.name) {
            (
                GranteesType::Role | GranteesType::User | GranteesType::None,
                Some(GranteeName::ObjectName(name)),
            ) => role_name(name),
            _ => Err(ServerError::Unsupported(format!("granting to {grantee}"))),
        })
        .collect()
}

fn change(
    db: &Database,
    ctx: &SessionContext,
    privileges: &Privileges,
    objects: Option<&GrantObjects>,
    grantees: &[Grantee],
    revoke: bool,
) -> Result<Response, ServerError> {
    let tables: Vec<ObjectName> = match objects {
        Some(GrantObjects::Tables(tables)) => tables
            .iter()
            .map(|t| names::object_name(t, ctx))
            .collect::<Result<_, _>>()?,
        // PostgreSQL's ALL TABLES IN SCHEMA covers views too, and only those that exist now.
        Some(GrantObjects::AllTablesInSchema { schemas }) => {
            let mut tables = Vec::new();
            for schema in schemas {
                let schema = role_name(schema)?;
                if !db.catalog().schema_exists(&schema)? {
                    return Err(oxbow_catalog::Error::SchemaNotFound(schema).into());
                }
                tables.extend(db.catalog().tables(&schema)?.into_iter().map(|t| t.name));
                tables.extend(db.catalog().views(&schema)?.into_iter().map(|v| v.name));
            }
            tables
        }
        Some(GrantObjects::Schemas(schemas)) => {
            let schemas = schemas
                .iter()
                .map(role_name)
                .collect::<Result<Vec<_>, _>>()?;
            let change = schema_privileges_of(privileges)?;
            let roles = grantee_names(grantees)?;
            db.catalog()
                .change_schema_privileges(&roles, &schemas, change, revoke)?;
            return Ok(Response::Execution(Tag::new(if revoke {
                "REVOKE"
            } else {
                "GRANT"
            })));
        }
        Some(other) => return Err(ServerError::Unsupported(format!("GRANT ... ON {other}"))),
        None => {
            return Err(ServerError::Unsupported(
                "a GRANT or REVOKE of privileges without ON".into(),
            ));
        }
    };
    let change = privileges_of(privileges)?;
    let roles = grantee_names(grantees)?;
    db.catalog()
        .change_privileges(&roles, &tables, change, revoke)?;
    Ok(Response::Execution(Tag::new(if revoke {
        "REVOKE"
    } else {
        "GRANT"
    })))
}

#[async_trait]
impl QueryHook for RoleStatements {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::is_own(statement).then(|| self.execute(statement, ctx, &*client).map_err(Into::into))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        Self::is_own(statement).then(|| Ok(super::empty_plan()))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        Self::is_own(statement).then(|| self.execute(statement, ctx, &*client).map_err(Into::into))
    }
}

//! Privilege checks: before any other hook sees a statement, the session's role must hold
//! the privilege on every table or view the statement reads or writes, or the statement fails
//! with 42501 (`permission denied for table t`). Checked again at every execution, against
//! the catalog as it is then, so a `REVOKE` takes effect on the other sessions' next statement.
//!
//! - Reading (`SELECT`, a query's `FROM`, `COPY ... TO`, the sources of `INSERT ... SELECT`,
//!   `UPDATE ... FROM`, `DELETE ... USING`, `EXPLAIN`, `PREPARE`, a cursor's query, and any
//!   other statement that names a relation) needs `SELECT`; `INSERT` and
//!   `COPY ... FROM` need `INSERT` on their target, `UPDATE` `UPDATE`, `DELETE` `DELETE`.
//! - A relation outside `public` also needs `USAGE` on its schema (`permission denied for
//!   schema s`), as in PostgreSQL, where `public` is usable by everyone.
//! - A role holds what it was granted and what the roles it is a member of hold, through any
//!   chain (`oxbow_catalog::members`); superuser status is its own, never inherited.
//! - A view needs `SELECT` on the view only (PostgreSQL checks its base tables against the
//!   view's owner, and every view's owner is a superuser here).
//! - `CREATE TABLE | VIEW` needs `CREATE` on the schema, and the role that creates a
//!   relation is granted every privilege on it (what PostgreSQL's owner holds); `CREATE
//!   TEMPORARY TABLE` needs nothing. Other DDL, `TRUNCATE` and role statements need a
//!   superuser: there are no owners yet. A role may change its own password, and a role
//!   holding another with the admin option may grant and revoke it.
//! - Sources and sinks, outside sqlparser's grammar, are checked by
//!   `crate::statements::sources::access` (files need `pg_read_server_files` or
//!   `pg_write_server_files`, as `COPY` to and from server files does in PostgreSQL).
//! - `pg_catalog`, `information_schema` and `oxbow` are readable by everyone.
//!
//! Who the session is ([`SessionRole`]) is set at login (`crate::wire::startup`). Under
//! `--auth trust` a user name that is no role is let in with every right, as before roles
//! existed; a name that is a role gets that role's rights. The same answers reach SQL through
//! `has_table_privilege`, `has_schema_privilege` and `pg_has_role` ([`Access`]).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    self, AlterRoleOperation, CopySource, FromTable, ObjectType, RoleOption, Statement,
    TableFactor, TableObject, visit_relations,
};
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use oxbow_catalog::{ObjectName, TablePrivileges};
use oxbow_storage::Database;
use pgwire::api::ClientInfo;
use pgwire::api::results::Response;
use pgwire::error::PgWireResult;

use crate::error::ServerError;
use crate::sql::names;

/// The role a session acts as.
#[derive(Debug, Clone)]
pub struct SessionRole {
    pub name: String,
    /// Logged in under `--auth trust` with a name that is no role: every right.
    pub trusted: bool,
}

/// What a session may do, before any object is looked at.
pub enum Rights {
    /// Everything: a superuser, or a name that is no role under `--auth trust`.
    All,
    /// What this role holds (`None`: a name that is no role, which holds nothing).
    Of(Option<oxbow_catalog::RoleDef>),
}

/// The rights of `session`, read from the catalog as it is now.
pub fn rights(db: &Database, session: &SessionRole) -> Result<Rights, ServerError> {
    if session.trusted {
        return Ok(Rights::All);
    }
    Ok(match db.catalog().role(&session.name)? {
        Some(role) if role.superuser => Rights::All,
        role => Rights::Of(role),
    })
}

/// Schemas whose relations everyone may read.
const PUBLIC_SCHEMAS: &[&str] = &["pg_catalog", "information_schema", "oxbow"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Privilege {
    Select,
    Insert,
    Update,
    Delete,
}

impl Privilege {
    fn held_in(self, held: TablePrivileges) -> bool {
        match self {
            Privilege::Select => held.select,
            Privilege::Insert => held.insert,
            Privilege::Update => held.update,
            Privilege::Delete => held.delete,
        }
    }
}

/// What a statement needs.
enum Needs {
    Nothing,
    /// Only a superuser may run it; the name of the statement.
    Superuser(&'static str),
    Relations(Vec<(ast::ObjectName, Privilege)>),
    /// A superuser, or the admin option on each of these roles (membership grants).
    RoleAdmin(Vec<String>),
    /// A superuser, or `CREATE` on the schema of `target`; and `SELECT` on what it reads.
    CreateIn {
        target: ast::ObjectName,
        reads: Vec<(ast::ObjectName, Privilege)>,
    },
}

/// The relations a statement writes (with the privilege), the rest of what it names read.
fn needs(statement: &Statement, session: &str) -> Needs {
    let mut writes: Vec<(ast::ObjectName, Privilege)> = Vec::new();
    match statement {
        Statement::Explain { statement, .. } | Statement::Prepare { statement, .. } => {
            return needs(statement, session);
        }
        Statement::Query(_) => {}
        Statement::Insert(insert) => {
            if let TableObject::TableName(name) = &insert.table {
                writes.push((name.clone(), Privilege::Insert));
            }
        }
        Statement::Update(update) => {
            if let TableFactor::Table { name, .. } = &update.table.relation {
                writes.push((name.clone(), Privilege::Update));
            }
        }
        Statement::Delete(delete) => {
            let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
            for table in from {
                if let TableFactor::Table { name, .. } = &table.relation {
                    writes.push((name.clone(), Privilege::Delete));
                }
            }
        }
        Statement::Merge(merge) => {
            // As PostgreSQL: the privilege of each action the clauses name.
            if let TableFactor::Table { name, .. } = &merge.table {
                for clause in &merge.clauses {
                    let privilege = match clause.action {
                        ast::MergeAction::Insert(_) => Privilege::Insert,
                        ast::MergeAction::Update(_) => Privilege::Update,
                        ast::MergeAction::Delete { .. } => Privilege::Delete,
                    };
                    writes.push((name.clone(), privilege));
                }
            }
        }
        Statement::Copy { source, to, .. } => {
            return match source {
                CopySource::Table { table_name, .. } => Needs::Relations(vec![(
                    table_name.clone(),
                    if *to {
                        Privilege::Select
                    } else {
                        Privilege::Insert
                    },
                )]),
                CopySource::Query(query) => Needs::Relations(reads(query.as_ref(), &[])),
            };
        }
        Statement::AlterRole {
            name,
            operation: AlterRoleOperation::WithOptions { options },
        } if names::ident(name) == session
            && options.iter().all(|o| matches!(o, RoleOption::Password(_))) =>
        {
            return Needs::Nothing;
        }
        Statement::CreateTable(create) if create.temporary => {
            return Needs::Relations(reads(statement, &[]));
        }
        Statement::CreateTable(create) => {
            let mut reads = reads(statement, &[]);
            // The new table is named by the statement itself; `LIKE other` is a read.
            if let Some(i) = reads.iter().position(|(n, _)| *n == create.name) {
                reads.remove(i);
            }
            return Needs::CreateIn {
                target: create.name.clone(),
                reads,
            };
        }
        Statement::CreateView(create) if create.materialized => {
            return Needs::Superuser("CREATE MATERIALIZED VIEW");
        }
        // Replacing a view is its owner's right in PostgreSQL; there are no owners yet.
        Statement::CreateView(create) if create.or_replace => {
            return Needs::Superuser("CREATE OR REPLACE VIEW");
        }
        Statement::CreateView(create) => {
            return Needs::CreateIn {
                target: create.name.clone(),
                reads: reads(create.query.as_ref(), &[]),
            };
        }
        Statement::CreateSchema { .. } => return Needs::Superuser("CREATE SCHEMA"),
        Statement::Drop {
            object_type: ObjectType::Role,
            ..
        } => return Needs::Superuser("DROP ROLE"),
        Statement::Drop { .. } => return Needs::Superuser("DROP"),
        Statement::Truncate(_) => return Needs::Superuser("TRUNCATE"),
        Statement::AlterTable(_) => return Needs::Superuser("ALTER TABLE"),
        Statement::CreateIndex(_) => return Needs::Superuser("CREATE INDEX"),
        Statement::CreateRole(_) => return Needs::Superuser("CREATE ROLE"),
        Statement::AlterRole { .. } => return Needs::Superuser("ALTER ROLE"),
        Statement::Grant(grant) => {
            return match super::roles::granted_roles(&grant.privileges, grant.objects.as_ref()) {
                Ok(Some(roles)) => Needs::RoleAdmin(roles),
                _ => Needs::Superuser("GRANT"),
            };
        }
        Statement::Revoke(revoke) => {
            return match super::roles::granted_roles(&revoke.privileges, revoke.objects.as_ref()) {
                Ok(Some(roles)) => Needs::RoleAdmin(roles),
                _ => Needs::Superuser("REVOKE"),
            };
        }
        Statement::CreateFunction(_) | Statement::CreateExtension(_) => {
            return Needs::Superuser("CREATE FUNCTION/EXTENSION");
        }
        // Anything else (cursors' DECLARE ... FOR SELECT, SHOW COLUMNS, SET, ...) needs SELECT
        // on whatever relation it names: none for most.
        _ => {}
    }
    let mut all = reads(statement, &writes);
    all.extend(writes);
    Needs::Relations(all)
}

/// Every relation `node` names, as `SELECT`, except one occurrence of each of `targets`
/// (the target of a write is named once by the statement itself).
fn reads<V: ast::Visit>(
    node: &V,
    targets: &[(ast::ObjectName, Privilege)],
) -> Vec<(ast::ObjectName, Privilege)> {
    let mut named = Vec::new();
    let _ = visit_relations(node, |relation| {
        named.push(relation.clone());
        std::ops::ControlFlow::<()>::Continue(())
    });
    for (target, _) in targets {
        if let Some(i) = named.iter().position(|n| n == target) {
            named.remove(i);
        }
    }
    named.into_iter().map(|n| (n, Privilege::Select)).collect()
}

/// Checks that the session may run `statement`.
pub fn check(
    db: &Database,
    ctx: &SessionContext,
    client: &(impl ClientInfo + ?Sized),
    statement: &Statement,
) -> Result<(), ServerError> {
    let Some(session) = client.session_extensions().get::<SessionRole>() else {
        return Ok(());
    };
    check_role(db, ctx, &session, statement)
}

/// Checks that `session` may run `statement`: [`check`] for callers without a pgwire
/// connection (the HTTP API).
pub fn check_role(
    db: &Database,
    ctx: &SessionContext,
    session: &SessionRole,
    statement: &Statement,
) -> Result<(), ServerError> {
    let Rights::Of(role) = rights(db, session)? else {
        return Ok(());
    };
    let catalog = db.catalog();
    let access = Access {
        db,
        role: role.as_ref().map(|r| r.name.as_str()),
    };
    match needs(statement, &session.name) {
        Needs::Nothing => Ok(()),
        Needs::Superuser(what) => Err(needs_superuser(what, &session.name)),
        Needs::RoleAdmin(roles) => {
            for granted in roles {
                if role.is_none() || !catalog.has_admin_option(&session.name, &granted)? {
                    return Err(ServerError::InsufficientPrivilege(format!(
                        "permission to grant role \"{granted}\" denied: only a superuser or a \
                         role with the admin option on it may grant or revoke it"
                    )));
                }
            }
            Ok(())
        }
        Needs::CreateIn { target, reads } => {
            let target = names::object_name(&target, ctx)?;
            if !access.schema(&target.schema)?.create {
                return Err(ServerError::InsufficientPrivilege(format!(
                    "permission denied for schema {}",
                    target.schema
                )));
            }
            access.relations(ctx, reads)
        }
        Needs::Relations(relations) => access.relations(ctx, relations),
    }
}

fn needs_superuser(what: &str, role: &str) -> ServerError {
    ServerError::InsufficientPrivilege(format!(
        "permission denied: {what} needs a superuser (role \"{role}\" is not one)"
    ))
}

/// What a role that is not a superuser holds (`role` is `None` for a name that is no role,
/// which holds nothing).
pub struct Access<'a> {
    pub db: &'a Database,
    pub role: Option<&'a str>,
}

impl Access<'_> {
    /// Its privileges on `schema`.
    pub fn schema(&self, schema: &str) -> Result<oxbow_catalog::SchemaPrivileges, ServerError> {
        if PUBLIC_SCHEMAS.contains(&schema) {
            return Ok(oxbow_catalog::SchemaPrivileges {
                usage: true,
                create: false,
            });
        }
        Ok(match self.role {
            Some(role) => self
                .db
                .catalog()
                .effective_schema_privileges(role, schema)?,
            None => oxbow_catalog::SchemaPrivileges {
                usage: schema == oxbow_catalog::DEFAULT_SCHEMA,
                create: false,
            },
        })
    }

    /// Its privileges on the relation `name` (of kind `kind`), or the 42501 it gets for
    /// lacking `USAGE` on the relation's schema.
    pub fn relation(&self, name: &ObjectName) -> Result<TablePrivileges, ServerError> {
        if PUBLIC_SCHEMAS.contains(&name.schema.as_str()) {
            return Ok(TablePrivileges {
                select: true,
                ..Default::default()
            });
        }
        if !self.schema(&name.schema)?.usage {
            return Err(ServerError::InsufficientPrivilege(format!(
                "permission denied for schema {}",
                name.schema
            )));
        }
        Ok(match self.role {
            Some(role) => self.db.catalog().effective_table_privileges(role, name)?,
            None => TablePrivileges::default(),
        })
    }

    /// Checks every `(relation, privilege)` of a statement.
    fn relations(
        &self,
        ctx: &SessionContext,
        relations: Vec<(ast::ObjectName, Privilege)>,
    ) -> Result<(), ServerError> {
        let catalog = self.db.catalog();
        for (name, privilege) in relations {
            let Ok(name) = names::object_name(&name, ctx) else {
                continue;
            };
            if PUBLIC_SCHEMAS.contains(&name.schema.as_str()) {
                continue;
            }
            let kind = if catalog.table(&name)?.is_some() {
                "table"
            } else if catalog.view(&name)?.is_some() {
                "view"
            } else {
                // Not a relation of the catalog (a CTE, or missing: planning says so).
                continue;
            };
            if !privilege.held_in(self.relation(&name)?) {
                return Err(denied(kind, &name));
            }
        }
        Ok(())
    }
}

/// After `CREATE TABLE | VIEW` by a role that is not a superuser: the role gets every
/// privilege on what it created, as PostgreSQL's owner holds them.
pub fn grant_to_creator(
    db: &Database,
    client: &(impl ClientInfo + ?Sized),
    created: &ObjectName,
) -> Result<(), ServerError> {
    let Some(session) = client.session_extensions().get::<SessionRole>() else {
        return Ok(());
    };
    let catalog = db.catalog();
    match rights(db, &session)? {
        Rights::Of(Some(role)) => Ok(catalog.change_privileges(
            &[role.name],
            std::slice::from_ref(created),
            TablePrivileges::ALL,
            false,
        )?),
        _ => Ok(()),
    }
}

/// Checks that the session's role is a superuser (or logged in under trust): for statements
/// outside sqlparser's grammar, which [`check`] does not see (the lakehouse statements).
pub fn require_superuser(
    db: &Database,
    client: &(impl ClientInfo + ?Sized),
    what: &str,
) -> Result<(), ServerError> {
    let Some(session) = client.session_extensions().get::<SessionRole>() else {
        return Ok(());
    };
    match rights(db, &session)? {
        Rights::All => Ok(()),
        Rights::Of(_) => Err(needs_superuser(what, &session.name)),
    }
}

/// Checks that `session` may insert into `table` (an HTTP push into a source's table, a new
/// source's target).
pub fn check_insert(
    db: &Database,
    session: &SessionRole,
    table: &ObjectName,
) -> Result<(), ServerError> {
    check_table(db, session, table, Privilege::Insert)
}

/// Checks that `session` may read `table` (what a new sink reads).
pub fn check_select(
    db: &Database,
    session: &SessionRole,
    table: &ObjectName,
) -> Result<(), ServerError> {
    check_table(db, session, table, Privilege::Select)
}

fn check_table(
    db: &Database,
    session: &SessionRole,
    table: &ObjectName,
    privilege: Privilege,
) -> Result<(), ServerError> {
    let Rights::Of(role) = rights(db, session)? else {
        return Ok(());
    };
    let access = Access {
        db,
        role: role.as_ref().map(|r| r.name.as_str()),
    };
    if privilege.held_in(access.relation(table)?) {
        Ok(())
    } else {
        Err(denied("table", table))
    }
}

fn denied(kind: &str, name: &ObjectName) -> ServerError {
    ServerError::InsufficientPrivilege(format!("permission denied for {kind} {}", name.name))
}

/// The hook that runs [`check`] before every other hook.
pub struct PrivilegeHook {
    db: Arc<Database>,
}

impl PrivilegeHook {
    pub fn new(db: Arc<Database>) -> Self {
        Self { db }
    }

    fn refuse<T>(
        &self,
        ctx: &SessionContext,
        client: &(impl ClientInfo + ?Sized),
        statement: &Statement,
    ) -> Option<PgWireResult<T>> {
        check(&self.db, ctx, client, statement)
            .err()
            .map(|e| Err(e.into()))
    }
}

#[async_trait]
impl QueryHook for PrivilegeHook {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.refuse(ctx, &*client, statement)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        self.refuse(ctx, client, statement)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.refuse(ctx, &*client, statement)
    }
}

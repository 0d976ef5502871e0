//! Who may change sources and sinks. A source writes a table and a sink reads one, and both
//! reach outside the server with the server's own identity (its files, its object-store
//! credentials, its network), so each kind asks for what PostgreSQL asks for the same reach:
//!
//! | statement | needs (besides a superuser, who may do all) |
//! |---|---|
//! | `CREATE SOURCE ... FROM DATAGEN \| HTTP` | `INSERT` on the target table |
//! | `CREATE SOURCE ... FROM FILES` | that, and membership of `pg_read_server_files` (PostgreSQL's role for `COPY FROM` a server file) |
//! | `CREATE SOURCE ... FROM KAFKA` (and any other connector) | a superuser: it connects to other hosts as the server |
//! | `CREATE SINK ... TO FILES \| DELTA` | `SELECT` on the table it reads, and membership of `pg_write_server_files` |
//! | `CREATE SINK ... TO KAFKA` | a superuser |
//! | `DROP` / `ALTER ... PAUSE \| RESUME` | the role that created it, or a member of that role |
//! | `SHOW SOURCES \| SINKS` | nothing |
//!
//! The checks run before the statement, against the catalog as it is then, like every other
//! privilege check (`crate::statements::privileges`).

use std::collections::BTreeSet;

use datafusion::prelude::SessionContext;
use oxbow_catalog::{READ_SERVER_FILES, WRITE_SERVER_FILES};
use oxbow_storage::Database;
use pgwire::api::ClientInfo;

use super::parse::{self as source_parse, SourceStatement};
use crate::error::ServerError;
use crate::sql::names::object_name;
use crate::statements::privileges::{self, Rights, SessionRole};
use crate::statements::sinks::parse::{self as sink_parse, SinkStatement};

/// Checks that the session may run `query`, a source or sink statement.
pub fn check(
    db: &Database,
    ctx: &SessionContext,
    client: &(impl ClientInfo + ?Sized),
    query: &str,
) -> Result<(), ServerError> {
    let Some(session) = client.session_extensions().get::<SessionRole>() else {
        return Ok(());
    };
    let Rights::Of(role) = privileges::rights(db, &session)? else {
        return Ok(());
    };
    let catalog = db.catalog();
    // Roles it holds, itself included; a name that is no role holds nothing.
    let held = match role {
        Some(_) => catalog.roles_held(&session.name)?,
        None => BTreeSet::new(),
    };
    let who = Who {
        session: &session,
        held,
    };
    if crate::statements::sinks::is_sink_statement(query) {
        match sink_parse::parse(query)? {
            SinkStatement::Create(c) => match c.target.as_str() {
                "files" | "delta" => {
                    who.member_of(WRITE_SERVER_FILES, "a sink that writes the server's files")?;
                    privileges::check_select(db, &session, &object_name(&c.from, ctx)?)
                }
                other => Err(who.needs_superuser(&format!("a {other} sink"))),
            },
            SinkStatement::Drop { names, .. } => names.iter().try_for_each(|name| {
                who.owns(
                    catalog.sink(&object_name(name, ctx)?)?.map(|s| s.owner),
                    "sink",
                    name,
                )
            }),
            SinkStatement::Alter { name, .. } => who.owns(
                catalog.sink(&object_name(&name, ctx)?)?.map(|s| s.owner),
                "sink",
                &name,
            ),
            SinkStatement::Show => Ok(()),
        }
    } else {
        match source_parse::parse(query)? {
            SourceStatement::Create(c) => {
                match c.connector.as_str() {
                    "datagen" | "http" => {}
                    "files" => {
                        who.member_of(READ_SERVER_FILES, "a source that reads the server's files")?
                    }
                    other => return Err(who.needs_superuser(&format!("a {other} source"))),
                }
                privileges::check_insert(db, &session, &object_name(&c.target, ctx)?)
            }
            SourceStatement::Drop { names, .. } => names.iter().try_for_each(|name| {
                who.owns(
                    catalog.source(&object_name(name, ctx)?)?.map(|s| s.owner),
                    "source",
                    name,
                )
            }),
            SourceStatement::Alter { name, .. } => who.owns(
                catalog.source(&object_name(&name, ctx)?)?.map(|s| s.owner),
                "source",
                &name,
            ),
            SourceStatement::Show => Ok(()),
        }
    }
}

/// A session that is not a superuser, with the roles it holds.
struct Who<'a> {
    session: &'a SessionRole,
    held: BTreeSet<String>,
}

impl Who<'_> {
    fn member_of(&self, role: &str, what: &str) -> Result<(), ServerError> {
        if self.held.contains(role) {
            return Ok(());
        }
        Err(ServerError::InsufficientPrivilege(format!(
            "permission denied to create {what}: only superusers and members of role \
             \"{role}\" may (role \"{}\" is neither)",
            self.session.name
        )))
    }

    fn needs_superuser(&self, what: &str) -> ServerError {
        ServerError::InsufficientPrivilege(format!(
            "permission denied to create {what}: it needs a superuser (role \"{}\" is not one)",
            self.session.name
        ))
    }

    /// `owner`: `None` when there is no such object (the statement then says so itself, or
    /// skips it under IF EXISTS), `Some(None)` when it has no recorded owner (a superuser's).
    fn owns(
        &self,
        owner: Option<Option<String>>,
        kind: &str,
        name: &datafusion::sql::sqlparser::ast::ObjectName,
    ) -> Result<(), ServerError> {
        match owner {
            None => Ok(()),
            Some(Some(owner)) if self.held.contains(&owner) => Ok(()),
            Some(_) => Err(ServerError::InsufficientPrivilege(format!(
                "must be owner of {kind} {name}"
            ))),
        }
    }
}

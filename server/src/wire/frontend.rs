//! The PostgreSQL frontend: pgwire handlers for one connection, built on datafusion-postgres'
//! session service with Oxbow's statements hooked in front of DataFusion; its startup
//! (TLS policy, authentication) is `crate::wire::startup`'s, its cancels `crate::wire::cancel`'s.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::{DfSessionService, QueryHook};
use oxbow_storage::Database;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::CancelHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ClientInfo, ErrorHandler, PgWireServerHandlers};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::tokio::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::sql::memory::QueryMemory;
use crate::statements::{
    CopyInHandler, CopyInSlot, OxbowStatements, PrivilegeHook, RoleStatements, SavepointHook,
    SelectStatements, SessionStatements, TransactionStatements,
};
use crate::wire::cancel::{CancelRegistry, RunningStatement};
use crate::wire::extended::{OxbowExtendedQuery, OxbowParser};
use crate::wire::simple::OxbowSimpleQuery;
use crate::wire::sqlstate;
use crate::wire::startup::{Startup, StartupPolicy};

/// What all connections share: the database, the template session, how connections start
/// (TLS, authentication, slots) and the registry `CancelRequest` looks connections up in.
pub struct Frontend {
    db: Arc<Database>,
    sources: Arc<oxbow_ingest::SourceManager>,
    base: SessionContext,
    policy: Arc<StartupPolicy>,
    tls: Option<TlsAcceptor>,
    memory: QueryMemory,
}

impl Frontend {
    pub fn new(
        db: Arc<Database>,
        sources: Arc<oxbow_ingest::SourceManager>,
        base: SessionContext,
        policy: StartupPolicy,
        tls: Option<TlsAcceptor>,
        memory: QueryMemory,
    ) -> Self {
        Self {
            db,
            sources,
            base,
            policy: Arc::new(policy),
            tls,
            memory,
        }
    }

    /// The acceptor for connections that ask for TLS; `None`: plaintext only.
    pub fn tls(&self) -> Option<TlsAcceptor> {
        self.tls.clone()
    }

    /// The handlers of a new connection, with a session of its own.
    pub fn connection(&self) -> Connection {
        // Each connection has a transaction block of its own in its session config.
        let mut state = self.base.state();
        state
            .config_mut()
            .set_extension(Arc::new(oxbow_storage::TransactionWrites::default()));
        // Its own memory pool, so that its query's limit is its own (`SET statement_mem`).
        let running = Arc::new(RunningStatement::default());
        match self.memory.session_runtime(state.runtime_env()) {
            Ok((runtime, limit)) => {
                state = crate::sql::session::with_runtime(state, runtime);
                running.attach_memory(Arc::clone(&limit));
                state.config_mut().set_extension(limit);
            }
            Err(e) => warn!(error = %e, "no session memory pool: the query runs unlimited"),
        }
        // Its own temporary tables, as the schema pg_temp of its own view of the catalogs.
        // Set on the context, not through SessionStateBuilder: a rebuilt state gets
        // DataFusion's default functions back over Oxbow's replacements (to_char with
        // PostgreSQL's patterns answered the pattern itself).
        let temp = Arc::new(crate::sql::temp_tables::TempTables::default());
        let catalogs = temp.catalogs(Arc::clone(state.catalog_list()));
        state.config_mut().set_extension(temp);
        let ctx = Arc::new(SessionContext::new_with_state(state));
        ctx.register_catalog_list(catalogs);
        let copy_in = Arc::new(CopyInSlot::default());
        // Savepoints before transactions (which would take `ROLLBACK TO` for `ROLLBACK`);
        // transactions next: it refuses statements in an aborted transaction block.
        // Privileges first: no hook answers a statement the session may not run.
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(PrivilegeHook::new(Arc::clone(&self.db))),
            Arc::new(SavepointHook),
            Arc::new(TransactionStatements),
            // Before OxbowStatements, which takes every DROP.
            Arc::new(RoleStatements::new(Arc::clone(&self.db))),
            Arc::new(OxbowStatements::new(
                Arc::clone(&self.db),
                Arc::clone(&copy_in),
            )),
            Arc::new(SessionStatements),
            Arc::new(SetShowHook),
            Arc::new(crate::statements::cursors::CursorStatements),
            Arc::new(SelectStatements),
        ];
        let session = Arc::new(DfSessionService::new_with_hooks(Arc::clone(&ctx), hooks));
        Connection {
            extended: Arc::new(OxbowExtendedQuery {
                parser: Arc::new(OxbowParser {
                    inner: session.query_parser(),
                }),
                inner: Arc::clone(&session),
                sources: Arc::clone(&self.sources),
                ctx: Arc::clone(&ctx),
                running: Arc::clone(&running),
            }),
            simple: Arc::new(OxbowSimpleQuery {
                inner: Arc::clone(&session),
                ctx,
                db: Arc::clone(&self.db),
                sources: Arc::clone(&self.sources),
                running: Arc::clone(&running),
            }),
            copy_in: Arc::new(CopyInHandler::new(copy_in)),
            startup: Arc::new(Startup::new(Arc::clone(&self.policy), running)),
            cancel: Arc::clone(&self.policy.cancels),
        }
    }
}

/// Turns every engine error into a PostgreSQL error with its SQLSTATE before it is sent.
pub struct SqlStateErrors;

impl ErrorHandler for SqlStateErrors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        if let PgWireError::InvalidPassword(_) = error {
            // pgwire names the user of the SCRAM message, which libpq leaves empty; the
            // startup message's user is the one PostgreSQL names.
            let user = client.metadata().get("user").cloned().unwrap_or_default();
            info!(user, peer = %client.socket_addr(), "password authentication failed");
            *error = PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".into(),
                sqlstate::code::INVALID_PASSWORD.into(),
                format!("password authentication failed for user \"{user}\""),
            )));
            return;
        }
        sqlstate::to_user_error(error);
        debug!(%error, "statement failed");
    }
}

pub struct Connection {
    simple: Arc<OxbowSimpleQuery>,
    extended: Arc<OxbowExtendedQuery>,
    copy_in: Arc<CopyInHandler>,
    startup: Arc<Startup>,
    cancel: Arc<CancelRegistry>,
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.simple)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.extended)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.startup)
    }

    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        Arc::clone(&self.copy_in)
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(SqlStateErrors)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::clone(&self.cancel)
    }
}

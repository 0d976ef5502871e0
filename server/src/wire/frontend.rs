//! The PostgreSQL frontend: pgwire handlers for one connection, built on datafusion-postgres'
//! session service with Oxbow's statements hooked in front of DataFusion.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::{DfSessionService, QueryHook};
use futures::SinkExt;
use oxbow_storage::Database;
use pgwire::api::auth::StartupHandler;
use pgwire::api::auth::noop::NoopStartupHandler;
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use pgwire::api::copy::CopyHandler;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::{ClientInfo, ConnectionManager, ErrorHandler, PgWireServerHandlers};
use pgwire::error::PgWireError;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::startup::ParameterStatus;
use tracing::debug;

use crate::pg_compat::pg_catalog::LoginUsers;
use crate::statements::{
    CopyInHandler, CopyInSlot, OxbowStatements, SavepointHook, SelectStatements, SessionStatements,
    TransactionStatements,
};
use crate::wire::extended::{OxbowExtendedQuery, OxbowParser};
use crate::wire::simple::OxbowSimpleQuery;
use crate::wire::sqlstate;

/// What all connections share: the database, the template session, and the registry of
/// connections that `CancelRequest` looks queries up in.
pub struct Frontend {
    db: Arc<Database>,
    sources: Arc<oxbow_ingest::SourceManager>,
    base: SessionContext,
    startup: Arc<Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl Frontend {
    pub fn new(
        db: Arc<Database>,
        sources: Arc<oxbow_ingest::SourceManager>,
        base: SessionContext,
        users: LoginUsers,
    ) -> Self {
        let connections = Arc::new(ConnectionManager::new());
        Self {
            db,
            sources,
            base,
            startup: Arc::new(Startup {
                connections: Arc::clone(&connections),
                users,
            }),
            cancel: Arc::new(DefaultCancelHandler::new(connections)),
        }
    }

    /// The handlers of a new connection, with a session of its own.
    pub fn connection(&self) -> Connection {
        // Each connection has a transaction block of its own in its session config.
        let mut state = self.base.state();
        state
            .config_mut()
            .set_extension(Arc::new(oxbow_storage::TransactionWrites::default()));
        let ctx = Arc::new(SessionContext::new_with_state(state));
        let copy_in = Arc::new(CopyInSlot::default());
        // Savepoints before transactions (which would take `ROLLBACK TO` for `ROLLBACK`);
        // transactions next: it refuses statements in an aborted transaction block.
        let hooks: Vec<Arc<dyn QueryHook>> = vec![
            Arc::new(SavepointHook),
            Arc::new(TransactionStatements),
            Arc::new(OxbowStatements::new(
                Arc::clone(&self.db),
                Arc::clone(&copy_in),
            )),
            Arc::new(SessionStatements),
            Arc::new(SetShowHook),
            Arc::new(CursorStatementHook),
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
            }),
            simple: Arc::new(OxbowSimpleQuery {
                inner: Arc::clone(&session),
                ctx,
                db: Arc::clone(&self.db),
                sources: Arc::clone(&self.sources),
            }),
            copy_in: Arc::new(CopyInHandler::new(copy_in)),
            startup: Arc::clone(&self.startup),
            cancel: Arc::clone(&self.cancel),
        }
    }
}

/// Accepts every user without a password (authentication is not built yet), and records the
/// user name for `pg_roles`.
pub struct Startup {
    connections: Arc<ConnectionManager>,
    users: LoginUsers,
}

#[async_trait::async_trait]
impl NoopStartupHandler for Startup {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.connections))
    }

    async fn post_startup<C>(
        &self,
        client: &mut C,
        _message: pgwire::messages::PgWireFrontendMessage,
    ) -> pgwire::error::PgWireResult<()>
    where
        C: ClientInfo + futures::Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some(user) = client.metadata().get("user") {
            self.users.write().expect("users lock").insert(user.clone());
        }
        // pgwire has already queued its ParameterStatus messages (unflushed), with a
        // `server_version` of `16.6-pgwire-<version>`; a later status for the same name wins
        // in every driver, so this one makes libpq, pgJDBC and asyncpg read PostgreSQL 16.6.
        // (Replacing pgwire's startup handler would lose its crate-private registration of
        // the connection, which cancel requests need.)
        client
            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                "server_version".into(),
                crate::pg_compat::SERVER_VERSION.into(),
            )))
            .await?;
        Ok(())
    }
}

/// Turns every engine error into a PostgreSQL error with its SQLSTATE before it is sent.
pub struct SqlStateErrors;

impl ErrorHandler for SqlStateErrors {
    fn on_error<C>(&self, _client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        sqlstate::to_user_error(error);
        debug!(%error, "statement failed");
    }
}

pub struct Connection {
    simple: Arc<OxbowSimpleQuery>,
    extended: Arc<OxbowExtendedQuery>,
    copy_in: Arc<CopyInHandler>,
    startup: Arc<Startup>,
    cancel: Arc<DefaultCancelHandler>,
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

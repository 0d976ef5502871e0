//! The startup of a connection: the TLS policy, the connection limit, authentication (trust,
//! or SCRAM-SHA-256 through pgwire's SASL handler), then the registration that lets a
//! `CancelRequest` find the connection.
//!
//! One [`Startup`] per connection: pgwire's SASL handler keeps the state of one exchange.
//! It is built at the `StartupMessage`, when it is known whether the connection is TLS:
//! SCRAM-SHA-256-PLUS is offered only then, because libpq refuses a server that offers it
//! over plaintext.
//!
//! Checked in this order, each a FATAL error that closes the connection: plaintext under
//! `--require-tls` (28000), no free connection slot (53300), a failed password (28P01, the
//! same for a user that does not exist).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::ScramAuth;
use pgwire::api::auth::{
    DefaultServerParameterProvider, ServerParameterProvider, StartupHandler, finish_authentication,
    protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, PgWireConnectionState, PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tracing::{debug, info};

use crate::auth::source::CatalogAuthSource;
use crate::auth::{AuthMethod, SCRAM_ITERATIONS};
use crate::pg_compat::pg_catalog::LoginUsers;
use crate::statements::SessionRole;
use crate::wire::cancel::{CancelRegistry, RunningStatement};
use crate::wire::sqlstate::code;

/// What every connection's startup shares.
pub struct StartupPolicy {
    pub method: AuthMethod,
    pub require_tls: bool,
    pub source: Arc<CatalogAuthSource>,
    /// The PEM certificate chain, when TLS is on and its certificate can be used for
    /// `tls-server-end-point` channel binding (RSA or ECDSA; pgwire refuses Ed25519).
    pub channel_binding_cert: Option<Vec<u8>>,
    pub slots: Arc<ConnectionSlots>,
    pub cancels: Arc<CancelRegistry>,
    pub users: LoginUsers,
    /// Shared so that process ids are unique across connections (pgwire's SASL handler would
    /// otherwise start each connection's count at the same number).
    pub pids: Arc<RandomPidSecretKeyGenerator>,
}

impl StartupPolicy {
    /// Whether SCRAM-SHA-256-PLUS can be offered with `cert_pem`; checked once at start.
    pub fn usable_for_channel_binding(cert_pem: &[u8]) -> Result<(), PgWireError> {
        let mut probe = ScramAuth::new(Arc::new(NoUsers));
        probe.configure_certificate(cert_pem)
    }
}

/// The AuthSource of the start-time certificate probe; never asked.
#[derive(Debug)]
struct NoUsers;

#[async_trait]
impl pgwire::api::auth::AuthSource for NoUsers {
    async fn get_password(
        &self,
        _login: &pgwire::api::auth::LoginInfo,
    ) -> PgWireResult<pgwire::api::auth::Password> {
        Err(PgWireError::UserNameRequired)
    }
}

/// The connections that may be open at once (`--max-connections`); a slot is taken at the
/// startup message and given back when the connection ends.
#[derive(Debug)]
pub struct ConnectionSlots {
    max: usize,
    used: AtomicUsize,
}

/// A taken slot, kept in the connection's session extensions.
pub struct Slot(Arc<ConnectionSlots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!("oxbow_connections", "protocol" => "pgwire").decrement(1.0);
    }
}

impl ConnectionSlots {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            used: AtomicUsize::new(0),
        }
    }

    fn take(self: &Arc<Self>) -> Option<Slot> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| {
                metrics::gauge!("oxbow_connections", "protocol" => "pgwire").increment(1.0);
                Slot(Arc::clone(self))
            })
    }
}

fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        message,
    )))
}

/// The ParameterStatus values sent after authentication: pgwire's, with PostgreSQL's version
/// (pgwire says `16.6-pgwire-<version>`, which some drivers cannot parse).
pub struct OxbowParameters;

impl ServerParameterProvider for OxbowParameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let mut parameters = DefaultServerParameterProvider::default().server_parameters(client)?;
        parameters.insert(
            "server_version".into(),
            crate::pg_compat::SERVER_VERSION.into(),
        );
        Some(parameters)
    }
}

/// The startup handler of one connection.
pub struct Startup {
    policy: Arc<StartupPolicy>,
    running: Arc<RunningStatement>,
    sasl: OnceLock<SASLAuthStartupHandler<OxbowParameters>>,
}

impl Startup {
    pub fn new(policy: Arc<StartupPolicy>, running: Arc<RunningStatement>) -> Self {
        Self {
            policy,
            running,
            sasl: OnceLock::new(),
        }
    }

    fn sasl(&self, secure: bool) -> &SASLAuthStartupHandler<OxbowParameters> {
        self.sasl.get_or_init(|| {
            let mut scram = ScramAuth::new(Arc::clone(&self.policy.source) as _);
            scram.set_iterations(SCRAM_ITERATIONS as usize);
            if secure
                && let Some(pem) = &self.policy.channel_binding_cert
                && let Err(e) = scram.configure_certificate(pem)
            {
                debug!(error = %e, "SCRAM-SHA-256-PLUS not offered");
            }
            SASLAuthStartupHandler::new(Arc::new(OxbowParameters))
                .with_scram(scram)
                .with_pid_secret_key_generator(Arc::clone(&self.policy.pids) as _)
        })
    }

    /// The checks made before any authentication.
    fn admit<C: ClientInfo>(&self, client: &C) -> PgWireResult<()> {
        let user = client.metadata().get("user").cloned().unwrap_or_default();
        if self.policy.require_tls && !client.is_secure() {
            info!(user, "refused a plaintext connection (--require-tls)");
            return Err(fatal(
                code::INVALID_AUTHORIZATION_SPECIFICATION,
                "this server accepts only TLS connections (--require-tls): connect with sslmode=require or stronger".into(),
            ));
        }
        let Some(slot) = self.policy.slots.take() else {
            info!(
                user,
                max = self.policy.slots.max,
                "refused a connection: all slots are taken"
            );
            return Err(fatal(
                code::TOO_MANY_CLIENTS,
                "sorry, too many clients already".into(),
            ));
        };
        client.session_extensions().insert(slot);
        Ok(())
    }

    /// The connection is logged in: make it cancellable and known to `pg_roles`.
    fn logged_in<C: ClientInfo>(&self, client: &C) {
        let (pid, secret) = client.pid_and_secret_key();
        let registration = self.policy.cancels.register(pid, &secret, &self.running);
        client.session_extensions().insert(registration);
        client
            .session_extensions()
            .insert(Arc::clone(&self.running));
        let user = client.metadata().get("user").cloned().unwrap_or_default();
        // Under trust a name that is no role has every right (see `statements::privileges`).
        let trusted = self.policy.method == AuthMethod::Trust && !self.policy.source.is_role(&user);
        client.session_extensions().insert(SessionRole {
            name: user.clone(),
            trusted,
        });
        let superuser = trusted || self.policy.source.is_superuser(&user);
        client.session_extensions().insert(IsSuperuser(superuser));
        debug!(user, pid, method = %self.policy.method, trusted, "logged in");
        self.policy.users.write().expect("users lock").insert(user);
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(startup) = &message {
            save_startup_parameters_to_metadata(client, startup);
            self.admit(client)?;
        }
        match self.policy.method {
            AuthMethod::Trust => {
                if let PgWireFrontendMessage::Startup(startup) = &message {
                    protocol_negotiation(client, startup).await?;
                    let user = client.metadata().get("user").cloned().unwrap_or_default();
                    if self.policy.source.is_role_without_login(&user) {
                        return Err(fatal(
                            code::INVALID_AUTHORIZATION_SPECIFICATION,
                            format!("role \"{user}\" is not permitted to log in"),
                        ));
                    }
                    let (pid, secret) = self.policy.pids.generate(client);
                    client.set_pid_and_secret_key(pid, secret);
                    finish_authentication(client, &OxbowParameters).await?;
                }
            }
            AuthMethod::ScramSha256 => {
                let secure = client.is_secure();
                self.sasl(secure).on_startup(client, message).await?;
            }
        }
        if matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            self.logged_in(client);
        }
        Ok(())
    }
}

/// Whether the session logged in as a superuser (`SHOW is_superuser`), as of login.
#[derive(Debug, Clone, Copy)]
pub struct IsSuperuser(pub bool);

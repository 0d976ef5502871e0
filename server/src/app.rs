//! Starting and stopping the server: open the database (replaying its WAL), choose how clients
//! authenticate (and create the first superuser), load TLS, build the session template,
//! listen for PostgreSQL connections until a shutdown signal, then flush and stop.

use std::sync::Arc;

use oxbow_storage::wal::WalLimits;
use oxbow_storage::{Database, DatabaseConfig, LakeRoot};
use pgwire::api::RandomPidSecretKeyGenerator;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::auth::source::CatalogAuthSource;

use crate::config::ServeConfig;
use crate::pg_compat::pg_catalog::LoginUsers;
use crate::sql::memory::QueryMemory;
use crate::sql::session;
use crate::wire::cancel::CancelRegistry;
use crate::wire::connection::ConnectionLimits;
use crate::wire::frontend::Frontend;
use crate::wire::listener;
use crate::wire::startup::{ConnectionSlots, StartupPolicy};

/// Runs `oxbow serve` until SIGTERM or Ctrl-C; the error is the sentence the user sees.
pub async fn serve(config: ServeConfig) -> Result<(), String> {
    deltalake::aws::register_handlers(None);
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        format!(
            "cannot create data directory {}: {e}",
            config.data_dir.display()
        )
    })?;
    let lake = match &config.lake {
        Some(url) => LakeRoot::from_url(url),
        None => LakeRoot::local(&config.data_dir),
    }
    .map_err(|e| e.to_string())?;
    let db = Database::open(DatabaseConfig {
        data_dir: config.data_dir.clone(),
        lake,
        hot_memory_limit: config.hot_memory_mb * 1024 * 1024,
        wal_limits: WalLimits {
            segment_bytes: config.wal_segment_bytes,
            record_bytes: config
                .wal_record_bytes
                .min(oxbow_storage::wal::MAX_RECORD_BYTES),
        },
        max_wal_bytes: config.max_wal_bytes(),
    })
    .await
    .map_err(|e| {
        format!(
            "cannot open the database in {}: {e}",
            config.data_dir.display()
        )
    })?;
    let password = config.configured_password()?;
    let http_addr = config.http_addr()?;
    // Every listener counts: trust is refused when the HTTP API is off loopback too.
    let listeners: Vec<std::net::SocketAddr> =
        std::iter::once(config.pg_listen).chain(http_addr).collect();
    let method = crate::auth::choose_method(config.auth, &listeners, password.is_some())?;
    protect_catalog(&config.data_dir);
    crate::auth::create_first_superuser(db.catalog(), &config.user, password.as_deref(), method)?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(crate::wire::tls::load(cert, key)?),
        _ => None,
    };
    if config.require_tls && tls.is_none() {
        return Err("--require-tls needs --tls-cert and --tls-key".into());
    }
    let users = LoginUsers::default();
    let policy = StartupPolicy {
        method,
        require_tls: config.require_tls,
        source: Arc::new(CatalogAuthSource::new(Arc::clone(&db))?),
        channel_binding_cert: tls.as_ref().and_then(|tls| {
            match StartupPolicy::usable_for_channel_binding(&tls.cert_pem) {
                Ok(()) => Some(tls.cert_pem.clone()),
                Err(e) => {
                    warn!(error = %e, "SCRAM-SHA-256-PLUS (channel binding) is off: the certificate's algorithm cannot be used for it");
                    None
                }
            }
        }),
        slots: Arc::new(ConnectionSlots::new(config.max_connections)),
        cancels: Arc::new(CancelRegistry::default()),
        users: Arc::clone(&users),
        pids: Arc::new(RandomPidSecretKeyGenerator::default()),
    };
    let base = session::base_context(Arc::clone(&db), Arc::clone(&users))
        .await
        .map_err(|e| format!("cannot set up the SQL session: {e}"))?;
    // Bound before the sources start, so that a taken port fails the start cleanly.
    let http_listener = match http_addr {
        Some(addr) => Some(crate::http::bind(addr).await?),
        None => None,
    };
    let sources = oxbow_ingest::SourceManager::start(
        Arc::clone(&db),
        base.clone(),
        oxbow_ingest::SourcesConfig {
            files: oxbow_ingest::sources::files::FileAccess {
                allowed_roots: config.allow_file_root.clone(),
                // The lake's credentials, whether or not the lake itself is on S3.
                storage_options: oxbow_storage::lake::s3_options_from_env(),
            },
            max_wal_bytes: config.max_wal_bytes(),
        },
    )
    .await
    .map_err(|e| format!("cannot start the sources: {e}"))?;
    session::register_sources_table(&base, &sources)
        .map_err(|e| format!("cannot set up the SQL session: {e}"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let readiness = crate::http::Readiness::default();
    let stopping = readiness.clone();
    tokio::spawn(async move {
        crate::shutdown::signal().await;
        stopping.set_stopping();
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let memory = QueryMemory::new(config.memory_pool_mb, config.query_memory_mb);
    let http_addr_bound = match &http_listener {
        Some(listener) => Some(listener.local_addr().map_err(|e| e.to_string())?),
        None => None,
    };
    let http_task = http_listener.map(|listener| {
        let router = crate::http::router(
            crate::http::HttpState {
                sources: Arc::clone(&sources),
                engine: crate::http::QueryEngine {
                    db: Arc::clone(&db),
                    base: base.clone(),
                    memory: memory.clone(),
                },
                auth: crate::http::HttpAuth {
                    method,
                    db: Arc::clone(&db),
                },
                readiness: readiness.clone(),
            },
            config.http_body_limit_mb.saturating_mul(1024 * 1024),
        );
        tokio::spawn(crate::http::serve(
            listener,
            router,
            stopped(stop_rx.clone()),
        ))
    });
    let listener = TcpListener::bind(config.pg_listen).await.map_err(|e| {
        format!(
            "cannot listen on {}: {e} (is PostgreSQL or another oxbow already using it? choose another address with --pg-listen)",
            config.pg_listen
        )
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if let Some(path) = &config.ready_file {
        write_ready_file(path, addr, http_addr_bound)?;
    }
    readiness.set_ready();
    info!(
        pg_listen = %addr,
        data_dir = %config.data_dir.display(),
        lake = %db.lake().url(),
        auth = %method,
        tls = tls.is_some(),
        require_tls = config.require_tls,
        "oxbow is ready; connect with: psql \"host={} port={} user={}\"",
        addr.ip(),
        addr.port(),
        config.user
    );
    if let Some(budget) = crate::wire::memory_watchdog::budget(config.memory_limit_mb) {
        crate::wire::memory_watchdog::spawn(Arc::clone(&policy.cancels), budget);
    }
    let frontend = Arc::new(Frontend::new(
        Arc::clone(&db),
        Arc::clone(&sources),
        base,
        policy,
        tls.map(|tls| tls.acceptor),
        memory,
    ));
    let limits = ConnectionLimits {
        max_message_bytes: config.max_message_bytes,
        idle_in_transaction: (config.idle_in_transaction_timeout_ms > 0)
            .then(|| std::time::Duration::from_millis(config.idle_in_transaction_timeout_ms)),
    };
    let _ = crate::statements::settings::idle_timeout::SERVER_LIMIT.set(limits.idle_in_transaction);
    listener::run(listener, frontend, limits, stopped(stop_rx)).await;
    if let Some(task) = http_task {
        let _ = task.await;
    }
    sources.shutdown().await;
    db.shutdown().await;
    info!("stopped");
    Ok(())
}

/// Writes `--ready-file`: the bound addresses, to a temporary name renamed into place.
fn write_ready_file(
    path: &std::path::Path,
    pg: std::net::SocketAddr,
    http: Option<std::net::SocketAddr>,
) -> Result<(), String> {
    let mut text = format!("pg={pg}\n");
    if let Some(http) = http {
        text.push_str(&format!("http={http}\n"));
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write --ready-file {}: {e}", path.display()))
}

/// Makes the catalog readable by the server's user only: it holds the roles' SCRAM keys,
/// which are password-equivalent for SCRAM (`oxbow_catalog::roles`).
fn protect_catalog(data_dir: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = data_dir.join("catalog.redb");
        if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            warn!(error = %e, path = %path.display(), "cannot make the catalog private (0600)");
        }
    }
}

//! Starting and stopping the server: open the database (replaying its WAL), build the session
//! template, listen for PostgreSQL connections until a shutdown signal, then flush and stop.

use std::sync::Arc;

use oxbow_storage::wal::WalLimits;
use oxbow_storage::{Database, DatabaseConfig, LakeRoot};
use tokio::net::TcpListener;
use tracing::info;

use crate::config::ServeConfig;
use crate::pg_compat::pg_catalog::LoginUsers;
use crate::sql::session;
use crate::wire::frontend::Frontend;
use crate::wire::listener;

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
    let users = LoginUsers::default();
    let base = session::base_context(Arc::clone(&db), Arc::clone(&users))
        .await
        .map_err(|e| format!("cannot set up the SQL session: {e}"))?;
    let http_addr = config.http_addr()?;
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
        },
    )
    .await
    .map_err(|e| format!("cannot start the sources: {e}"))?;
    session::register_sources_table(&base, &sources)
        .map_err(|e| format!("cannot set up the SQL session: {e}"))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        crate::shutdown::signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let http_task = http_listener.map(|listener| {
        let router = crate::http::router(
            Arc::clone(&sources),
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
    info!(
        pg_listen = %addr,
        data_dir = %config.data_dir.display(),
        lake = %db.lake().url(),
        "oxbow is ready; connect with: psql \"host={} port={} user=oxbow\"",
        addr.ip(),
        addr.port()
    );
    let frontend = Arc::new(Frontend::new(
        Arc::clone(&db),
        Arc::clone(&sources),
        base,
        users,
    ));
    listener::run(listener, frontend, stopped(stop_rx)).await;
    if let Some(task) = http_task {
        let _ = task.await;
    }
    sources.shutdown().await;
    db.shutdown().await;
    info!("stopped");
    Ok(())
}

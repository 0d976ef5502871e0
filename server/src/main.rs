//! `oxbow`: a real-time analytics database that speaks the PostgreSQL wire protocol.
//!
//! # Layout
//! - [`config`]: the `serve` settings (flags and `OXBOW_*` environment variables).
//! - [`server`]: the accept loop and shutdown.
//! - [`frontend`]: pgwire handlers per connection (startup, queries, COPY, errors, cancel);
//!   [`simple_query`]: `FLUSH TABLE` in front of the simple-query path.
//! - [`session`]: the DataFusion session each connection starts from.
//! - [`statements`]: the statements Oxbow runs itself (DDL, DML tags, COPY, SHOW TABLES);
//!   [`table_options`]: `CREATE TABLE ... WITH (...)`.
//! - [`copy_format`]: COPY's text and CSV formats.
//! - [`sqlstate`]: the one mapping of errors to SQLSTATE codes.

mod boolean_literals;
mod bytea_literals;
mod config;
mod copy_binary;
mod copy_format;
mod cursor_move;
mod error;
mod extended_query;
mod frontend;
mod function_signatures;
mod functions;
mod information_schema;
mod names;
mod parameter_types;
mod pg_catalog_overlay;
mod query_rewrites;
mod result_columns;
mod server;
mod session;
mod simple_query;
mod sql_rewrites;
mod sql_types;
mod sqlstate;
mod statements;
mod table_options;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use oxbow_storage::{Database, DatabaseConfig, LakeRoot};
use tokio::net::TcpListener;
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

use crate::config::ServeConfig;
use crate::frontend::Frontend;

/// Used when `RUST_LOG` is not set. deltalake's kernel logs every snapshot and scan at info.
const DEFAULT_LOG_FILTER: &str = "info,buoyant_kernel=warn,delta_kernel=warn,deltalake_core=warn";

#[derive(Debug, Parser)]
#[command(
    name = "oxbow",
    version,
    about = "Real-time analytics database speaking the PostgreSQL protocol"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// `oxbow` with no subcommand is `oxbow serve`.
    #[command(flatten)]
    serve: ServeConfig,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (the default).
    Serve(ServeConfig),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match cli.command {
        Some(Command::Serve(config)) => config,
        None => cli.serve,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            eprintln!("oxbow: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: ServeConfig) -> Result<(), String> {
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
    })
    .await
    .map_err(|e| {
        format!(
            "cannot open the database in {}: {e}",
            config.data_dir.display()
        )
    })?;
    let users = pg_catalog_overlay::LoginUsers::default();
    let base = session::base_context(Arc::clone(&db), Arc::clone(&users))
        .await
        .map_err(|e| format!("cannot set up the SQL session: {e}"))?;
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
    let frontend = Arc::new(Frontend::new(Arc::clone(&db), base, users));
    server::run(listener, frontend, server::shutdown_signal()).await;
    db.shutdown().await;
    info!("stopped");
    Ok(())
}

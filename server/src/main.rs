//! `oxbow`: a real-time analytics database that speaks the PostgreSQL wire protocol.
//!
//! # Layout
//! - [`config`]: the `serve` settings (flags and `OXBOW_*` environment variables).
//! - [`auth`]: who may log in: the authentication method, the first superuser, SCRAM keys.
//! - [`app`]: start (open the database, build the session, listen) and stop;
//!   [`shutdown`]: the signals that stop it.
//! - [`wire`]: the PostgreSQL protocol: connections, query flows, describing and encoding
//!   results, SQLSTATE mapping. No SQL meaning.
//! - [`sql`]: the session template, names and types, rewrites before planning, analyzer rules.
//! - [`statements`]: the statements Oxbow runs itself (DDL, DML fast paths, COPY, transactions,
//!   settings, `FLUSH TABLE`); `CREATE SOURCE`/`SINK` will go here too.
//! - [`pg_compat`]: `pg_catalog`, `information_schema` and PostgreSQL functions.
//! - [`error`]: [`error::ServerError`], the errors of the server's own statement handling.
//!
//! Data formats (COPY's text, CSV and binary) are the `oxbow_ingest` crate's; tables, the WAL
//! and the lake are `oxbow_storage`'s. [`http`] is the HTTP API beside `wire/`: pushes, SQL
//! queries, the Obsrv endpoint and `/metrics`, with the same roles.

mod app;
mod auth;
mod config;
mod error;
mod http;
mod pg_compat;
mod shutdown;
mod sql;
mod statements;
mod wire;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing::error;
use tracing_subscriber::EnvFilter;

use crate::config::ServeConfig;

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

/// Twice the cores, at least 4. DataFusion runs a query's partitions as tasks on this runtime
/// (one per core), and its joins do not yield: with only one worker per core a single heavy
/// query held every worker, and the connections' sockets, cancel requests and
/// `statement_timeout` timers waited for it (a 1 s timeout fired after 2.2 s). The spare
/// workers keep them answering. `TOKIO_WORKER_THREADS` still overrides this.
fn worker_threads() -> usize {
    if let Some(n) = std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return n;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 2).max(4)
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
        .worker_threads(worker_threads())
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            error!("{message}");
            eprintln!("oxbow: {message}");
            ExitCode::FAILURE
        }
    }
}

//! `oxbow`: a real-time analytics database that speaks the PostgreSQL wire protocol.
//!
//! # Layout
//! - [`config`]: the `serve` settings (flags, `OXBOW_*` environment variables and the
//!   `--config` TOML file) and `oxbow config show`; [`logging`]: text or JSON log lines.
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
mod logging;
mod pg_compat;
mod shutdown;
mod sql;
mod statements;
mod wire;

use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing::error;

use crate::config::ServeConfig;
use crate::config::file::ParseError;

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
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigAction {
    /// Print every setting with its value and origin (flag, env, file, default), as TOML.
    Show(ServeConfig),
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
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let settings = ServeConfig::augment_args(clap::Command::new("oxbow"));
    let (matches, file) = match config::file::parse_args(Cli::command(), &settings, &args) {
        Ok(parsed) => parsed,
        Err(ParseError::Clap(e)) => e.exit(),
        Err(ParseError::File(e)) => {
            eprintln!("oxbow: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let config = match cli.command {
        Some(Command::Serve(config)) => config,
        Some(Command::Config {
            action: ConfigAction::Show(_),
        }) => {
            let shown = matches
                .subcommand_matches("config")
                .and_then(|m| m.subcommand_matches("show"))
                .expect("config show was parsed from these matches");
            print!("{}", config::show::render(&settings, shown, file.as_ref()));
            return ExitCode::SUCCESS;
        }
        None => cli.serve,
    };
    logging::init(config.log_format);
    if let (Some(path), Some(file)) = (&config.config, &file) {
        tracing::info!(config = %path.display(), settings = file.values.len(), "read the config file");
    }
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

//! The `oxbow serve` configuration: one struct, [`ServeConfig`], whose every field is a flag,
//! an `OXBOW_*` environment variable and a key of the `--config` TOML file, documented once
//! (its doc comment is the `--help` text and the comment `oxbow config show` prints).
//!
//! Precedence: a flag wins over the environment, the environment over the file, the file over
//! the built-in default. clap does the first two; [`file`] makes the file's values the
//! arguments' defaults before the real parse, so the file fills the very same struct through
//! the very same value parsers (an invalid value in the file fails as a flag would).
//!
//! # Layout
//! - this file: the settings.
//! - [`file`]: reading `--config` and turning its keys into clap defaults.
//! - [`show`]: `oxbow config show`, every setting with its value and origin.

pub mod file;
pub mod show;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use crate::auth::AuthMethod;

/// How log lines are written to stderr (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`, `spans`.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// A TOML file of settings: each key is a setting's name with `_` (pg_listen =
    /// "127.0.0.1:5432", allow_file_root = ["/data"]). Flags and OXBOW_* variables win over
    /// it. Relative paths in it are relative to the working directory.
    #[arg(long, env = "OXBOW_CONFIG")]
    pub config: Option<PathBuf>,

    /// How log lines are written to stderr: text, or json (one object per line). The filter
    /// is RUST_LOG's.
    #[arg(long, env = "OXBOW_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Address the PostgreSQL protocol listens on. Bound to loopback by default; use
    /// 0.0.0.0:PORT to accept remote clients (authentication is then scram-sha-256).
    #[arg(long, env = "OXBOW_PG_LISTEN", default_value = "127.0.0.1:5432")]
    pub pg_listen: SocketAddr,

    /// Directory for the catalog and, unless --lake says otherwise, the Delta tables.
    #[arg(long, env = "OXBOW_DATA_DIR", default_value = "./oxbow-data")]
    pub data_dir: PathBuf,

    /// Where the lakehouse tier keeps its Delta tables: a local directory or an object-store
    /// URL such as s3://bucket/prefix (credentials and endpoint from the AWS_* environment
    /// variables). Defaults to the data directory.
    #[arg(long, env = "OXBOW_LAKE")]
    pub lake: Option<String>,

    /// Memory the hot tier of all tables may hold, in MiB. Past it the largest tables are
    /// flushed first and writers wait (backpressure) rather than fail.
    #[arg(long, env = "OXBOW_HOT_MEMORY_MB", default_value_t = 1024)]
    pub hot_memory_mb: usize,

    /// Bytes after which a WAL segment is closed and a new one started. For tests, which
    /// reach segment rollover with little data; the default suits every real use.
    #[arg(long, env = "OXBOW_WAL_SEGMENT_BYTES", default_value_t = oxbow_storage::wal::SEGMENT_BYTES, hide = true)]
    pub wal_segment_bytes: u64,

    /// The largest WAL record, in bytes; a larger statement is split into several records that
    /// commit together. For tests, like --wal-segment-bytes.
    #[arg(long, env = "OXBOW_WAL_RECORD_BYTES", default_value_t = oxbow_storage::wal::MAX_RECORD_BYTES, hide = true)]
    pub wal_record_bytes: usize,

    /// WAL size on disk, in MiB, past which the tables pinning the oldest segment are flushed
    /// (whatever their flush_interval) so that the segment can be deleted; PostgreSQL's
    /// max_wal_size. A soft limit: the segment being written and the records of a table that
    /// could not be opened are always kept.
    #[arg(long, env = "OXBOW_MAX_WAL_SIZE_MB", default_value_t = 1024)]
    pub max_wal_size_mb: u64,

    /// Address the HTTP API (source pushes, `/v1/sql`, `/data/v1/sql-query`, `/metrics`,
    /// `/health`) listens on, or `off`. Its callers log in as roles (HTTP Basic).
    #[arg(long, env = "OXBOW_HTTP_LISTEN", default_value = "127.0.0.1:8080")]
    pub http_listen: String,

    /// A file written once every listener is bound, one `pg=ADDRESS:PORT` and (with the HTTP
    /// API on) one `http=ADDRESS:PORT` line: how a supervisor, or a test that asked for port 0,
    /// learns which ports the server got without racing another process for them. Written to
    /// a temporary name and renamed, so a reader never sees half of it.
    #[arg(long, env = "OXBOW_READY_FILE")]
    pub ready_file: Option<PathBuf>,

    /// The largest HTTP request body, in MiB; a larger push gets 413.
    #[arg(long, env = "OXBOW_HTTP_BODY_LIMIT_MB", default_value_t = 64)]
    pub http_body_limit_mb: usize,

    /// A local directory FILES sources may read from (and below). Repeat the flag, or give a
    /// comma-separated list in the environment variable; none by default, so a SQL user
    /// cannot read the server's files unless the operator says so.
    #[arg(long, env = "OXBOW_ALLOW_FILE_ROOT", value_delimiter = ',')]
    pub allow_file_root: Vec<PathBuf>,

    /// The same limit in bytes, overriding --max-wal-size-mb. For tests, which reach it with
    /// little data.
    #[arg(long, env = "OXBOW_MAX_WAL_SIZE_BYTES", hide = true)]
    pub max_wal_size_bytes: Option<u64>,

    /// How clients prove who they are: `scram-sha-256` (a password) or `trust` (anyone who
    /// reaches the port). Defaults to scram-sha-256 when a listener is not on loopback or a
    /// password is configured, else trust; trust with a non-loopback listener refuses to start.
    #[arg(long, env = "OXBOW_AUTH", value_enum)]
    pub auth: Option<AuthMethod>,

    /// The superuser created on the first start of a data directory.
    #[arg(long, env = "OXBOW_USER", default_value = "oxbow")]
    pub user: String,

    /// The first start's superuser password. Only as an environment variable: a flag would
    /// show it in `ps`. Without it or --password-file one is generated and printed once.
    #[arg(
        long = "password",
        env = "OXBOW_PASSWORD",
        hide = true,
        hide_env_values = true
    )]
    pub password: Option<String>,

    /// A file holding the first start's superuser password (one line; a trailing newline is
    /// dropped).
    #[arg(long, env = "OXBOW_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,

    /// PEM certificate chain for TLS (with --tls-key). Without it the server speaks plaintext
    /// only and answers SSLRequest with 'N'.
    #[arg(long, env = "OXBOW_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, env = "OXBOW_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Refuse connections that did not negotiate TLS (28000 after their startup message).
    /// Needs --tls-cert.
    #[arg(long, env = "OXBOW_REQUIRE_TLS")]
    pub require_tls: bool,

    /// Connections that may be logged in (or logging in) at once; one more gets 53300
    /// "sorry, too many clients already". PostgreSQL's max_connections.
    #[arg(long, env = "OXBOW_MAX_CONNECTIONS", default_value_t = 100)]
    pub max_connections: usize,

    /// The largest message a client may send, in bytes (its length field included); a
    /// larger one closes the connection with 54000 before its body is read.
    #[arg(long, env = "OXBOW_MAX_MESSAGE_BYTES", default_value_t = crate::wire::connection::DEFAULT_MAX_MESSAGE_BYTES)]
    pub max_message_bytes: usize,

    /// Milliseconds a session may stay idle inside a transaction block before it is ended
    /// with FATAL 25P03 (its uncommitted writes are dropped). PostgreSQL's
    /// idle_in_transaction_session_timeout, server-wide. 0: no limit.
    #[arg(
        long,
        env = "OXBOW_IDLE_IN_TRANSACTION_TIMEOUT_MS",
        default_value_t = 0
    )]
    pub idle_in_transaction_timeout_ms: u64,

    /// Memory one query may reserve for its operators (hash tables, sorts), in MiB; past it
    /// DataFusion spills where it can, else the query fails with 53200. 0: no limit.
    #[arg(long, env = "OXBOW_QUERY_MEMORY_MB", default_value_t = 0)]
    pub query_memory_mb: usize,

    /// Memory all queries together may reserve, in MiB (0: no limit); see --query-memory-mb.
    #[arg(long, env = "OXBOW_MEMORY_POOL_MB", default_value_t = 0)]
    pub memory_pool_mb: usize,

    /// The server's memory budget, in MiB: when its resident memory passes it, the running
    /// query holding the most memory fails with 53200 (others go on). 0: 90% of the memory
    /// the process may use (its cgroup's limit, else the machine's).
    #[arg(long, env = "OXBOW_MEMORY_LIMIT_MB", default_value_t = 0)]
    pub memory_limit_mb: u64,
}

impl ServeConfig {
    /// The HTTP listen address, or `None` for `off`.
    pub fn http_addr(&self) -> Result<Option<SocketAddr>, String> {
        if matches!(
            self.http_listen.to_ascii_lowercase().as_str(),
            "off" | "none" | ""
        ) {
            return Ok(None);
        }
        self.http_listen.parse().map(Some).map_err(|e| {
            format!(
                "invalid --http-listen \"{}\": {e} (expected ADDRESS:PORT or off)",
                self.http_listen
            )
        })
    }

    /// The configured superuser password: OXBOW_PASSWORD, else --password-file's first line.
    pub fn configured_password(&self) -> Result<Option<String>, String> {
        if let Some(password) = &self.password {
            return Ok(Some(password.clone()));
        }
        let Some(path) = &self.password_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read --password-file {}: {e}", path.display()))?;
        let password = text.strip_suffix('\n').unwrap_or(&text);
        let password = password.strip_suffix('\r').unwrap_or(password);
        if password.is_empty() {
            return Err(format!("--password-file {} is empty", path.display()));
        }
        Ok(Some(password.to_string()))
    }

    /// The WAL size limit in bytes.
    pub fn max_wal_bytes(&self) -> u64 {
        self.max_wal_size_bytes
            .unwrap_or(self.max_wal_size_mb.saturating_mul(1024 * 1024))
    }
}

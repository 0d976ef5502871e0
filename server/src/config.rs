//! The `oxbow serve` configuration: every setting is a flag with an environment variable and
//! a documented default.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address the PostgreSQL protocol listens on. Bound to loopback by default; use
    /// 0.0.0.0:PORT to accept remote clients (there is no authentication yet).
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

    /// Address the HTTP API (source pushes, `POST /v1/sources/<name>`) listens on, or `off`.
    #[arg(long, env = "OXBOW_HTTP_LISTEN", default_value = "127.0.0.1:8080")]
    pub http_listen: String,

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

    /// The WAL size limit in bytes.
    pub fn max_wal_bytes(&self) -> u64 {
        self.max_wal_size_bytes
            .unwrap_or(self.max_wal_size_mb.saturating_mul(1024 * 1024))
    }
}

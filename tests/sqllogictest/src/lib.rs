//! Test harness for Oxbow: starts the real `oxbow` binary on a free port with a fresh data
//! directory ([`TestServer`]) and speaks to it over pgwire with tokio-postgres, including the
//! [`sqllogictest`] engine ([`PgSimple`]) the `.slt` files run on.
//!
//! The binary is `$OXBOW_BIN`, or `oxbow` next to the test executable's `deps/` directory
//! (where `cargo build` puts it in the same target directory).

pub mod sources;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// How long a server may take to start listening (a cold debug binary opening many tables).
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub fn oxbow_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("OXBOW_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    dir.join("oxbow")
}

/// A free loopback port (bound, read, released: the server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The PostgreSQL and HTTP ports from a `--ready-file`, once the server has written it.
fn read_ready_file(path: &Path) -> Option<(u16, Option<u16>)> {
    let text = std::fs::read_to_string(path).ok()?;
    let port = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|addr| addr.parse::<std::net::SocketAddr>().ok())
            .map(|addr| addr.port())
    };
    Some((port("pg=")?, port("http=")))
}

/// A running `oxbow` process that is killed when dropped.
pub struct TestServer {
    child: Option<Child>,
    port: u16,
    /// The HTTP API's port (a free one, unless the test's flags choose `--http-listen`).
    http_port: u16,
    data_dir: PathBuf,
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
    /// Keeps the temporary directory alive for the server's lifetime.
    _tmp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a server on a fresh data directory.
    pub fn start() -> Self {
        Self::start_with(Vec::new(), Vec::new())
    }

    /// Starts a server on a fresh data directory with extra flags and environment.
    pub fn start_with(extra_args: Vec<String>, env: Vec<(String, String)>) -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("oxbow-test-")
            .tempdir()
            .expect("temp dir");
        let mut server = Self {
            child: None,
            port: 0,
            http_port: 0,
            data_dir: tmp.path().join("data"),
            extra_args,
            env,
            _tmp: Some(tmp),
        };
        server.spawn();
        server
    }

    /// Starts a server on `data_dir`, which the caller owns (a directory on a filesystem of
    /// its choosing, such as a small tmpfs); the log goes beside it.
    pub fn start_in(data_dir: &Path, extra_args: Vec<String>, env: Vec<(String, String)>) -> Self {
        let mut server = Self {
            child: None,
            port: 0,
            http_port: 0,
            data_dir: data_dir.to_path_buf(),
            extra_args,
            env,
            _tmp: None,
        };
        server.spawn();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The HTTP API's port (0 when the test turned it off).
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// `http://127.0.0.1:<http port>`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn log_path(&self) -> PathBuf {
        self.data_dir.with_file_name("oxbow.log")
    }

    /// The server log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn ready_path(&self) -> PathBuf {
        self.data_dir.with_file_name("oxbow.ready")
    }

    /// Starts the binary with its PostgreSQL port (and, the first time, its HTTP port) chosen
    /// by the kernel (`:0`) and learns them from `--ready-file`: choosing a free port here and
    /// binding it there raced other tests' servers, and a test could reach someone else's
    /// listener.
    fn spawn(&mut self) {
        let own_http = self.extra_args.iter().any(|a| a == "--http-listen");
        for _attempt in 0..3 {
            let ready = self.ready_path();
            std::fs::remove_file(&ready).ok();
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path())
                .expect("log file");
            let mut command = Command::new(oxbow_bin());
            command
                .arg("serve")
                .arg("--pg-listen")
                .arg("127.0.0.1:0")
                .arg("--data-dir")
                .arg(&self.data_dir)
                .arg("--ready-file")
                .arg(&ready)
                .args(if own_http {
                    Vec::new()
                } else {
                    // Kept across restarts, so a test's URLs stay valid (the PostgreSQL port
                    // is not: tests connect again through `connect`).
                    vec![
                        "--http-listen".to_string(),
                        format!("127.0.0.1:{}", self.http_port),
                    ]
                })
                .args(&self.extra_args)
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log);
            if let Ok(filter) = std::env::var("OXBOW_TEST_LOG") {
                command.env("RUST_LOG", filter);
            }
            for (k, v) in &self.env {
                command.env(k, v);
            }
            let mut child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", oxbow_bin().display()));
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                if let Some(status) = child.try_wait().expect("child status") {
                    // Most likely the kept HTTP port was taken while the server was down.
                    eprintln!("oxbow exited during startup ({status}); retrying");
                    if !own_http {
                        self.http_port = 0;
                    }
                    break;
                }
                if let Some((pg, http)) = read_ready_file(&ready) {
                    self.port = pg;
                    if !own_http {
                        self.http_port = http.unwrap_or(0);
                    }
                    self.child = Some(child);
                    return;
                }
                if Instant::now() > deadline {
                    child.kill().ok();
                    panic!(
                        "oxbow did not start within {START_TIMEOUT:?}:\n{}",
                        self.log()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("oxbow failed to start:\n{}", self.log());
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status()
                .ok();
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    child.kill().ok();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            child.wait().ok();
        }
    }

    /// Kills the server with SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// Stops the server gracefully and starts it again on the same data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Starts the server again on the same data directory after [`kill9`](Self::kill9), so
    /// that recovery has to work from whatever the killed process left on disk (unlike
    /// [`restart`](Self::restart), which shuts down cleanly first). The port may change.
    pub fn start_again(&mut self) {
        assert!(
            self.child.is_none(),
            "start_again: the server is still running"
        );
        self.spawn();
    }

    pub fn conn_str(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=oxbow_test dbname=oxbow",
            self.port
        )
    }

    /// Logs in as `user` with `password` (for servers that ask for one).
    pub async fn login(&self, user: &str, password: &str) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user={user} password='{password}' dbname=oxbow",
                self.port
            ),
            NoTls,
        )
        .await?;
        tokio::spawn(async move {
            connection.await.ok();
        });
        Ok(client)
    }

    pub async fn connect(&self) -> Client {
        let (client, connection) = tokio_postgres::connect(&self.conn_str(), NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to oxbow: {e}\n{}", self.log()));
        tokio::spawn(async move {
            connection.await.ok();
        });
        client
    }
}

/// The local directory of a table's Delta table, as `oxbow.tables` reports it (locations come
/// from table ids, not names: `<data-dir>/tables/<id>/`).
pub async fn table_dir(client: &Client, table: &str) -> PathBuf {
    let location: String = client
        .query_one(
            "SELECT location FROM oxbow.tables WHERE table_name = $1",
            &[&table],
        )
        .await
        .unwrap_or_else(|e| panic!("the location of {table}: {e}"))
        .get(0);
    let path = location
        .strip_prefix("file://")
        .unwrap_or_else(|| panic!("{table} is not in a local lake: {location}"));
    PathBuf::from(path)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// An error as `.slt` files see it: `<SQLSTATE>: <message>`, so that files can assert
/// either (`statement error (42P01)` or a message regex).
#[derive(Debug)]
pub struct SltError {
    pub sqlstate: Option<String>,
    pub message: String,
}

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sqlstate {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for SltError {}

impl From<tokio_postgres::Error> for SltError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => SltError {
                sqlstate: Some(db.code().code().to_string()),
                // On one line, so that a `statement error` regex can match the DETAIL too.
                message: match db.detail() {
                    Some(detail) => format!("{} DETAIL: {detail}", db.message()),
                    None => db.message().to_string(),
                },
            },
            None => SltError {
                sqlstate: None,
                message: e.to_string(),
            },
        }
    }
}

/// The sqllogictest engine over the simple query protocol: every value arrives as text,
/// exactly as psql would print it.
pub struct PgSimple {
    pub client: Client,
}

#[async_trait]
impl AsyncDB for PgSimple {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let messages = self.client.simple_query(sql).await?;
        let mut rows = Vec::new();
        let mut columns = None;
        let mut affected = 0;
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(desc) => columns = Some(desc.len()),
                SimpleQueryMessage::Row(row) => {
                    columns.get_or_insert(row.len());
                    rows.push(
                        (0..row.len())
                            .map(|i| match row.get(i) {
                                None => "NULL".to_string(),
                                Some("") => "(empty)".to_string(),
                                Some(v) => v.to_string(),
                            })
                            .collect(),
                    );
                }
                SimpleQueryMessage::CommandComplete(n) => affected = n,
                _ => {}
            }
        }
        Ok(match columns {
            Some(n) => DBOutput::Rows {
                types: vec![DefaultColumnType::Any; n],
                rows,
            },
            None => DBOutput::StatementComplete(affected),
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "oxbow-simple"
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }

    fn error_sql_state(err: &SltError) -> Option<String> {
        err.sqlstate.clone()
    }
}

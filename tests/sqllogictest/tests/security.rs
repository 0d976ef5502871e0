//! Logins and limits against the real binary: SCRAM-SHA-256 with a configured password, the
//! same 28P01 for a wrong password and an unknown user, the trust/loopback rule, the
//! connection limit, and `statement_timeout` and `CancelRequest` stopping a query while it
//! computes and while it streams. (TLS is tested with psql and psycopg in
//! `tests/clients/test_security.py`.)

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oxbow_sqllogictest::{TestServer, free_port, oxbow_bin};
use tokio_postgres::{Client, NoTls};

const PASSWORD: &str = "correct horse battery staple";

fn with_password() -> TestServer {
    TestServer::start_with(Vec::new(), vec![("OXBOW_PASSWORD".into(), PASSWORD.into())])
}

async fn login(port: u16, user: &str, password: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user={user} password='{password}' dbname=oxbow"),
        NoTls,
    )
    .await?;
    tokio::spawn(connection);
    Ok(client)
}

fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|db| db.code().code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE: {e}"))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::test]
async fn scram_logs_in_with_the_password_and_refuses_others_with_one_answer() {
    let server = with_password();
    let client = server.login("oxbow", PASSWORD).await.unwrap();
    let one: i64 = client
        .query_one("SELECT 1::bigint", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(one, 1);

    // A wrong password and a user that does not exist: the same SQLSTATE, the same message
    // shape, and about the same time (the unknown user goes through a mock SCRAM exchange).
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let e = server
            .login("oxbow", "not it")
            .await
            .err()
            .expect("refused");
        wrong.push(started.elapsed());
        assert_eq!(sqlstate(&e), "28P01", "{e}");
        assert_eq!(
            e.as_db_error().unwrap().message(),
            "password authentication failed for user \"oxbow\""
        );
        let started = Instant::now();
        let e = server
            .login("nobody", "not it")
            .await
            .err()
            .expect("refused");
        unknown.push(started.elapsed());
        assert_eq!(sqlstate(&e), "28P01", "{e}");
        assert_eq!(
            e.as_db_error().unwrap().message(),
            "password authentication failed for user \"nobody\""
        );
    }
    let (wrong, unknown) = (median(wrong), median(unknown));
    let gap = wrong.abs_diff(unknown);
    assert!(
        gap < Duration::from_millis(25).max(wrong.max(unknown) / 2),
        "wrong password took {wrong:?}, unknown user {unknown:?}"
    );
    assert!(
        !server.log().contains(PASSWORD),
        "the password must never reach the log"
    );
}

#[tokio::test]
async fn without_a_password_the_first_start_generates_one_and_prints_it_once() {
    let mut server = TestServer::start_with(vec!["--auth".into(), "scram-sha-256".into()], vec![]);
    let log = server.log();
    let password = log
        .lines()
        .skip_while(|l| !l.contains("with the generated password"))
        .nth(2)
        .map(str::trim)
        .expect("the generated password is printed")
        .to_string();
    assert_eq!(password.len(), 24, "{log}");
    server.login("oxbow", &password).await.unwrap();
    server.restart();
    assert_eq!(
        server.log().matches(&password).count(),
        1,
        "printed on the first start only"
    );
    server
        .login("oxbow", &password)
        .await
        .expect("the same password after a restart");
}

#[tokio::test]
async fn the_default_loopback_start_still_trusts_any_user() {
    let server = TestServer::start();
    let client = server.connect().await;
    client.simple_query("SELECT 1").await.unwrap();
}

/// Starts the binary on `listen` with `args` and waits at most 60 s for it to exit.
fn run_to_exit(listen: &str, args: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(oxbow_bin())
        .args(["serve", "--pg-listen", listen, "--data-dir"])
        .arg(dir.path().join("data"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).ok();
            return (status.success(), stderr);
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("oxbow kept running with {args:?} on {listen}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn trust_on_a_listener_off_loopback_refuses_to_start() {
    let listen = format!("0.0.0.0:{}", free_port());
    let (ok, stderr) = run_to_exit(&listen, &["--auth", "trust"]);
    assert!(!ok);
    assert!(stderr.contains("refusing to start"), "{stderr}");
    assert!(stderr.contains(&listen), "{stderr}");
    let (ok, stderr) = run_to_exit("127.0.0.1:0", &["--require-tls"]);
    assert!(!ok);
    assert!(
        stderr.contains("--require-tls needs --tls-cert"),
        "{stderr}"
    );
}

#[tokio::test]
async fn off_loopback_the_default_is_scram() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(oxbow_bin())
        .args([
            "serve",
            "--pg-listen",
            &format!("0.0.0.0:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .env("OXBOW_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "oxbow did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = login(port, "anyone", "")
        .await
        .err()
        .expect("a password is asked");
    assert_eq!(sqlstate(&refused), "28P01", "{refused}");
    login(port, "oxbow", PASSWORD).await.unwrap();
    child.kill().ok();
    child.wait().ok();
}

#[tokio::test]
async fn one_connection_past_max_connections_gets_53300() {
    let server = TestServer::start_with(vec!["--max-connections".into(), "3".into()], vec![]);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(server.connect().await);
    }
    let e = tokio_postgres::connect(&server.conn_str(), NoTls)
        .await
        .err()
        .expect("the fourth is refused");
    assert_eq!(sqlstate(&e), "53300", "{e}");
    assert_eq!(
        e.as_db_error().unwrap().message(),
        "sorry, too many clients already"
    );
    for client in &held {
        client.simple_query("SELECT 1").await.unwrap();
    }
    drop(held.pop());
    // The slot comes back when the server sees the connection close.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio_postgres::connect(&server.conn_str(), NoTls).await {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline && sqlstate(&e) == "53300" => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("the freed slot was not given back: {e}"),
        }
    }
}

/// A cross join of 10^10 rows: minutes of work, none of it streamed until the end.
const SLOW_COUNT: &str =
    "SELECT count(*) FROM generate_series(1, 100000) a CROSS JOIN generate_series(1, 100000) b";
/// Two billion rows, streamed as fast as they are made.
const ENDLESS_ROWS: &str = "SELECT * FROM generate_series(1, 2000000000) AS g(n)";

fn assert_canceled(e: &tokio_postgres::Error, why: &str, elapsed: Duration) {
    assert_eq!(sqlstate(e), "57014", "{e}");
    assert_eq!(
        e.as_db_error().unwrap().message(),
        format!("canceling statement due to {why}")
    );
    assert!(
        elapsed < Duration::from_secs(2),
        "stopped after {elapsed:?}"
    );
}

/// CPU time the process has used, from /proc (Linux).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// The server is close to idle after a query was stopped: a running cross join keeps a
/// core or two busy, an idle server uses a few milliseconds a second. (A grace period lets
/// the stopped partitions reach their next yield point on a loaded machine.)
async fn assert_idle(server: &TestServer, what: &str) {
    let pid = server.pid().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cpu_time(pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_time(pid) - before;
    assert!(
        used < Duration::from_millis(700),
        "{what}: the server used {used:?} of CPU in the 2 s after the query was stopped"
    );
}

/// Reads every row of `sql` (without keeping them) in the extended protocol.
async fn drain(client: &Client, sql: &str) -> Result<u64, tokio_postgres::Error> {
    use futures::StreamExt;
    let rows = client.query_raw(sql, Vec::<i64>::new()).await?;
    futures::pin_mut!(rows);
    let mut n = 0;
    while let Some(row) = rows.next().await {
        row?;
        n += 1;
    }
    Ok(n)
}

#[tokio::test]
async fn statement_timeout_stops_a_query_that_computes_or_streams() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute("SET statement_timeout = '1s'")
        .await
        .unwrap();
    for (sql, extended) in [
        (SLOW_COUNT, false),
        (SLOW_COUNT, true),
        (ENDLESS_ROWS, false),
        (ENDLESS_ROWS, true),
    ] {
        let started = Instant::now();
        let e = if extended {
            drain(&client, sql).await.err()
        } else {
            client.simple_query(sql).await.err()
        }
        .unwrap_or_else(|| panic!("{sql} finished"));
        assert_canceled(&e, "statement timeout", started.elapsed());
        assert_idle(&server, sql).await;
        // The session goes on.
        client.simple_query("SELECT 1").await.unwrap();
    }
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();
    let rows = client
        .query("SELECT count(*) FROM generate_series(1, 1000)", &[])
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 1000);
}

#[tokio::test]
async fn a_cancel_request_stops_the_running_query() {
    let server = TestServer::start();
    let client = std::sync::Arc::new(server.connect().await);
    for (sql, extended) in [
        (SLOW_COUNT, false),
        (SLOW_COUNT, true),
        (ENDLESS_ROWS, false),
        (ENDLESS_ROWS, true),
    ] {
        let running = std::sync::Arc::clone(&client);
        let query = tokio::spawn(async move {
            let started = Instant::now();
            let result = if extended {
                drain(&running, sql).await.err()
            } else {
                running.simple_query(sql).await.err()
            };
            (result, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(700)).await;
        let canceled = Instant::now();
        client.cancel_token().cancel_query(NoTls).await.unwrap();
        let (e, _) = query.await.unwrap();
        let e = e.unwrap_or_else(|| panic!("{sql} finished"));
        assert_canceled(&e, "user request", canceled.elapsed());
        assert_idle(&server, sql).await;
        client.simple_query("SELECT 1").await.unwrap();
    }
    // A cancel while idle is a no-op: the next statement is not canceled by it.
    client.cancel_token().cancel_query(NoTls).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.simple_query("SELECT 1").await.unwrap();
}

/// 200 rows at once, then a count over a trillion rows before the next one: a portal over it
/// answers its first fetches at once and its next one only after a long computation (which
/// goes on in the background while the portal is suspended, so it must outlast the test). The
/// small side is the cross join's build side: each batch of the other side makes 800 million
/// rows without yielding, so a dropped plan stops within about a second, as `SLOW_COUNT`'s.
const FAST_THEN_SLOW: &str = "SELECT n FROM generate_series(1, 200) AS g(n) UNION ALL \
     SELECT count(*) FROM generate_series(1, 100000) a CROSS JOIN generate_series(1, 10000000) b";

/// A suspended portal (an `Execute` with a row limit, JDBC's fetch size): each later `Execute`
/// has its own `statement_timeout` (the time the portal sat idle does not count) and can be
/// canceled like any statement.
#[tokio::test]
async fn a_suspended_portal_fetch_has_its_own_timeout_and_can_be_canceled() {
    let server = TestServer::start();
    let mut client = server.connect().await;
    client
        .batch_execute("SET statement_timeout = '1s'")
        .await
        .unwrap();
    let cancel = client.cancel_token();
    let txn = client.transaction().await.unwrap();
    let statement = txn.prepare(FAST_THEN_SLOW).await.unwrap();
    let portal = txn.bind(&statement, &[]).await.unwrap();
    assert_eq!(txn.query_portal(&portal, 100).await.unwrap().len(), 100);
    // Idle longer than the timeout between fetches: the next fetch is a statement of its own.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rows = txn.query_portal(&portal, 100).await.unwrap();
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[0].get::<_, i64>(0), 101);
    // The next row takes the long scan: this fetch runs into its own timeout.
    let started = Instant::now();
    let e = txn.query_portal(&portal, 10).await.unwrap_err();
    assert_canceled(&e, "statement timeout", started.elapsed());
    txn.rollback().await.unwrap();
    assert_idle(&server, "a timed-out portal fetch").await;

    // And a cancel reaches a later fetch.
    client
        .batch_execute("SET statement_timeout = 0")
        .await
        .unwrap();
    let txn = client.transaction().await.unwrap();
    let statement = txn.prepare(FAST_THEN_SLOW).await.unwrap();
    let portal = txn.bind(&statement, &[]).await.unwrap();
    assert_eq!(txn.query_portal(&portal, 200).await.unwrap().len(), 200);
    let canceler = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let at = Instant::now();
        cancel.cancel_query(NoTls).await.unwrap();
        at
    });
    let e = txn.query_portal(&portal, 10).await.unwrap_err();
    let canceled_at = canceler.await.unwrap();
    assert_canceled(&e, "user request", canceled_at.elapsed());
    txn.rollback().await.unwrap();
    assert_idle(&server, "a canceled portal fetch").await;
    client.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn a_message_over_max_message_bytes_closes_the_connection_with_54000() {
    let server =
        TestServer::start_with(vec!["--max-message-bytes".into(), "1048576".into()], vec![]);
    let client = server.connect().await;
    let fits = format!("SELECT length('{}')", "x".repeat(512 * 1024));
    let rows = client.simple_query(&fits).await.unwrap();
    let length = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(length.as_deref(), Some("524288"));
    let too_large = format!("SELECT length('{}')", "x".repeat(2 * 1024 * 1024));
    let e = client.simple_query(&too_large).await.unwrap_err();
    assert_eq!(sqlstate(&e), "54000", "{e}");
    assert!(
        e.as_db_error()
            .unwrap()
            .message()
            .contains("--max-message-bytes"),
        "{e}"
    );
    assert!(client.is_closed() || client.simple_query("SELECT 1").await.is_err());

    // A header announcing 1 GiB is refused at once, before any of the body is sent.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .unwrap();
    let mut startup = Vec::new();
    let params = b"user\0raw\0database\0oxbow\0\0";
    startup.extend_from_slice(&((8 + params.len()) as i32).to_be_bytes());
    startup.extend_from_slice(&196608i32.to_be_bytes());
    startup.extend_from_slice(params);
    raw.write_all(&startup).await.unwrap();
    let mut header = vec![b'Q'];
    header.extend_from_slice(&(1i32 << 30).to_be_bytes());
    raw.write_all(&header).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .ok();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.contains("54000"), "{text}");

    // The server goes on.
    server
        .connect()
        .await
        .simple_query("SELECT 1")
        .await
        .unwrap();
}

async fn show(client: &tokio_postgres::Client) -> String {
    client
        .query_one("SHOW idle_in_transaction_session_timeout", &[])
        .await
        .unwrap()
        .get(0)
}

/// The session's own `idle_in_transaction_session_timeout` replaces the server's: one session
/// turns it off and survives, another sets a short one and is ended; `SHOW` reports each.
#[tokio::test]
async fn a_session_sets_its_own_idle_in_transaction_timeout() {
    let server = TestServer::start_with(
        vec!["--idle-in-transaction-timeout-ms".into(), "60000".into()],
        vec![],
    );
    let (short, connection) = tokio_postgres::connect(&server.conn_str(), NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    assert_eq!(show(&short).await, "1min");
    short
        .batch_execute("SET idle_in_transaction_session_timeout = '300ms'")
        .await
        .unwrap();
    assert_eq!(show(&short).await, "300ms");
    let patient = server.connect().await;
    patient
        .batch_execute("SET idle_in_transaction_session_timeout = 0")
        .await
        .unwrap();
    assert_eq!(show(&patient).await, "0");
    let e = patient
        .simple_query("SET idle_in_transaction_session_timeout = 'soon'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{e}");
    short.batch_execute("BEGIN").await.unwrap();
    patient.batch_execute("BEGIN").await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), connection)
        .await
        .expect("the server ends the short session")
        .unwrap()
        .expect_err("with an error");
    assert_eq!(sqlstate(&ended), "25P03", "{ended}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    patient.batch_execute("COMMIT").await.unwrap();
    patient
        .batch_execute("RESET idle_in_transaction_session_timeout")
        .await
        .unwrap();
    assert_eq!(show(&patient).await, "1min");
}

#[tokio::test]
async fn a_session_idle_in_a_transaction_block_is_ended_with_25p03() {
    let server = TestServer::start_with(
        vec!["--idle-in-transaction-timeout-ms".into(), "500".into()],
        vec![],
    );
    let idle_outside = server.connect().await;
    let (client, connection) = tokio_postgres::connect(&server.conn_str(), NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    client
        .batch_execute("CREATE TABLE held (id bigint)")
        .await
        .unwrap();
    client
        .batch_execute("BEGIN; INSERT INTO held VALUES (1)")
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), connection)
        .await
        .expect("the server ends the session")
        .unwrap()
        .expect_err("with an error");
    assert_eq!(sqlstate(&ended), "25P03", "{ended}");
    // Its block's insert is gone; a session idle outside a block is not ended.
    let rows = idle_outside
        .query_one("SELECT count(*) FROM held", &[])
        .await
        .unwrap();
    assert_eq!(rows.get::<_, i64>(0), 0);
}

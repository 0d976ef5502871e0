//! A thousand clients at once: the server holds 1,000 connections (`--max-connections 1000`),
//! each runs a query while all are open, every one succeeds, and the 1,001st connection gets
//! 53300. Prints the server's memory per idle connection. Needs about 2,100 file descriptors
//! (the server's and this test's sockets).

use std::time::{Duration, Instant};

use futures::StreamExt;
use oxbow_sqllogictest::TestServer;
use tokio_postgres::NoTls;

const CONNECTIONS: usize = 1000;

/// The server's resident memory, from /proc (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_each_query_and_one_more_gets_53300() {
    let server = TestServer::start_with(
        vec!["--max-connections".into(), CONNECTIONS.to_string()],
        vec![],
    );
    let pid = server.pid().unwrap();
    let conn_str = server.conn_str();
    {
        let first = server.connect().await;
        first.simple_query("SELECT 1").await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid);

    let started = Instant::now();
    let clients: Vec<_> = futures::stream::iter(0..CONNECTIONS)
        .map(|i| {
            let conn_str = conn_str.clone();
            async move {
                let (client, connection) = tokio_postgres::connect(&conn_str, NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("connection {i}: {e}"));
                tokio::spawn(connection);
                client
            }
        })
        .buffer_unordered(50)
        .collect()
        .await;
    assert_eq!(clients.len(), CONNECTIONS);
    let connected = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(pid);

    // The 1,001st is refused while the thousand are open.
    let e = tokio_postgres::connect(&conn_str, NoTls)
        .await
        .err()
        .expect("connection 1,001 is refused");
    assert_eq!(
        e.as_db_error().map(|d| d.code().code()),
        Some("53300"),
        "{e}"
    );

    // Every connection queries at once, and every query succeeds.
    let answers =
        futures::future::join_all(clients.iter().enumerate().map(|(i, client)| async move {
            let row = client
                .query_one("SELECT $1::bigint * 2", &[&(i as i64)])
                .await
                .unwrap_or_else(|e| panic!("query on connection {i}: {e}"));
            row.get::<_, i64>(0)
        }))
        .await;
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(*answer, 2 * i as i64);
    }
    println!(
        "connections: {CONNECTIONS} connected in {connected:?}, all queried; \
         server memory {before} KiB with one connection, {idle} KiB with {CONNECTIONS} idle: \
         {} KiB per idle connection",
        idle.saturating_sub(before) / CONNECTIONS as u64
    );
    assert!(
        idle.saturating_sub(before) / (CONNECTIONS as u64) < 1024,
        "more than 1 MiB per idle connection: {before} KiB -> {idle} KiB"
    );
}

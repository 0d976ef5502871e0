//! A materialized view stays equal to its query over the raw rows across `kill -9`: writers
//! insert into a table with three views (one of them sketches) while the server is killed at a random moment, again
//! and again on the same data directory. After every restart each view must equal the same
//! GROUP BY over the table (no row missed, none counted twice), and the table must hold every
//! acknowledged row. The table flushes every 200 ms, so kills land before, during and after
//! flushes of the table and of the views' state tables, which flush on their own.
//!
//! Then a flush of a state table is shown to merge its partial rows per group.
//!
//! `OXBOW_ROLLUP_CRASH_CYCLES` sets the number of kills (default 6).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use oxbow_sqllogictest::TestServer;
use tokio_postgres::{Client, SimpleQueryMessage};

const WRITERS: i64 = 2;
const ROWS_PER_INSERT: i64 = 50;

async fn scalar(client: &Client, sql: &str) -> String {
    let messages = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").to_string()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{sql}: no row"))
}

/// Rows of `view` not in `raw` plus rows of `raw` not in `view`, as multisets.
async fn difference(client: &Client, view: &str, raw: &str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM ((SELECT * FROM {view} EXCEPT ALL {raw}) UNION ALL ({raw} EXCEPT ALL SELECT * FROM {view})) AS d"
    );
    scalar(client, &sql).await.parse().unwrap()
}

/// Inserts until the server dies; returns how many rows were acknowledged.
async fn write_until_killed(server_conn: String, writer: i64, next: Arc<AtomicI64>) -> i64 {
    let Ok((client, connection)) =
        tokio_postgres::connect(&server_conn, tokio_postgres::NoTls).await
    else {
        return 0;
    };
    tokio::spawn(async move {
        connection.await.ok();
    });
    let mut acknowledged = 0;
    loop {
        let first = next.fetch_add(ROWS_PER_INSERT, Ordering::Relaxed);
        let values: Vec<String> = (first..first + ROWS_PER_INSERT)
            .map(|id| format!("({id}, {}, {})", (id * 7 + writer) % 13, id % 100))
            .collect();
        let sql = format!("INSERT INTO t VALUES {}", values.join(", "));
        match client.simple_query(&sql).await {
            Ok(_) => acknowledged += ROWS_PER_INSERT,
            Err(e) if e.is_closed() || e.as_db_error().is_none() => return acknowledged,
            Err(e) => panic!("writer {writer}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_equal_their_query_over_the_rows_after_kill_9() {
    let cycles: u64 = std::env::var("OXBOW_ROLLUP_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let mut server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE t (id bigint NOT NULL, k bigint, v bigint) WITH (flush_interval = '200ms');
             INSERT INTO t VALUES (-1, 0, 1), (-2, 1, 2);
             CREATE MATERIALIZED VIEW by_k AS SELECT k, count(*) AS n, sum(v) AS s, min(id) AS lo, max(id) AS hi FROM t GROUP BY k;
             CREATE MATERIALIZED VIEW big AS SELECT count(*) AS n, sum(v) AS s FROM t WHERE v >= 50;
             CREATE MATERIALIZED VIEW spread AS SELECT k, approx_count_distinct(v) AS dv, approx_count_distinct(id) AS di FROM t GROUP BY k",
        )
        .await
        .unwrap();
    drop(client);
    let by_k_raw = "SELECT k, count(*), sum(v), min(id), max(id) FROM t GROUP BY k";
    let big_raw = "SELECT count(*), sum(v) FROM t WHERE v >= 50";
    let next = Arc::new(AtomicI64::new(0));
    let mut acknowledged = 2;
    for cycle in 0..cycles {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| tokio::spawn(write_until_killed(server.conn_str(), w, Arc::clone(&next))))
            .collect();
        let wait = 150 + (cycle * 397) % 900;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        server.kill9();
        for writer in writers {
            acknowledged += tokio::time::timeout(Duration::from_secs(30), writer)
                .await
                .expect("a writer did not notice the kill")
                .unwrap();
        }
        server.start_again();
        let client = server.connect().await;
        let rows: i64 = scalar(&client, "SELECT count(*) FROM t")
            .await
            .parse()
            .unwrap();
        assert!(
            rows >= acknowledged,
            "cycle {cycle}: {rows} rows, {acknowledged} acknowledged"
        );
        let by_k = difference(&client, "by_k", by_k_raw).await;
        let big = difference(&client, "big", big_raw).await;
        assert_eq!(
            (by_k, big),
            (0, 0),
            "cycle {cycle} (killed after {wait} ms, {rows} rows): the views differ from their queries\n{}",
            server.log()
        );
        // Sketches: at most 100 values of v per group are counted exactly; the ids, all
        // distinct, within the sketch's error (1.6% standard error; 5% allowed).
        let sketched = scalar(
            &client,
            "SELECT count(*) FILTER (WHERE s.dv <> r.dv) FROM spread AS s \
             JOIN (SELECT k, count(DISTINCT v) AS dv FROM t GROUP BY k) AS r USING (k)",
        )
        .await;
        assert_eq!(sketched, "0", "cycle {cycle}: distinct counts of v differ");
        let worst: f64 = scalar(
            &client,
            "SELECT max(abs(s.di - r.n) / CAST(r.n AS DOUBLE)) FROM spread AS s JOIN (SELECT k, count(*) AS n FROM t GROUP BY k) AS r USING (k)",
        )
        .await
        .parse()
        .unwrap();
        assert!(
            worst < 0.05,
            "cycle {cycle}: a distinct count of ids is {worst:.3} off"
        );
        let counted: i64 = scalar(&client, "SELECT sum(n) FROM by_k")
            .await
            .parse()
            .unwrap();
        assert_eq!(counted, rows, "cycle {cycle}");
        eprintln!(
            "cycle {cycle}: killed after {wait} ms; {rows} rows, {acknowledged} acknowledged; views equal"
        );
    }
    assert!(acknowledged > 2, "no write was acknowledged in any cycle");

    // A flush of a state table merges its partial rows per group: 100 writes touching the same
    // 13 groups add 1,300 partial rows to the hot tier and at most 13 rows to Delta.
    let client = server.connect().await;
    client.batch_execute("FLUSH TABLES").await.unwrap();
    let state = scalar(
        &client,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'oxbow_rollups' AND tablename LIKE 'public_by_k_%'",
    )
    .await;
    let count_state = format!("SELECT count(*) FROM oxbow_rollups.\"{state}\"");
    let before: i64 = scalar(&client, &count_state).await.parse().unwrap();
    for statement in 0..100 {
        let values: Vec<String> = (0..13)
            .map(|k| format!("({}, {k}, {statement})", 10_000_000 + statement * 13 + k))
            .collect();
        client
            .batch_execute(&format!("INSERT INTO t VALUES {}", values.join(", ")))
            .await
            .unwrap();
    }
    let hot: i64 = scalar(&client, &count_state).await.parse().unwrap();
    assert_eq!(hot - before, 1300, "one partial row per group per write");
    client.batch_execute("FLUSH TABLES").await.unwrap();
    let flushed: i64 = scalar(&client, &count_state).await.parse().unwrap();
    assert!(
        (1..=13).contains(&(flushed - before)),
        "the flush wrote {} state rows for 13 groups",
        flushed - before
    );
    assert_eq!(difference(&client, "by_k", by_k_raw).await, 0);
    assert_eq!(difference(&client, "big", big_raw).await, 0);
}

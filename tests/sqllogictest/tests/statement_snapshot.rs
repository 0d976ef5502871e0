//! One snapshot per statement (DESIGN rule 3) under concurrent writes and flushes: every scan
//! of a table within one statement reads the same state, and across statements a reader never
//! sees a row twice, loses one, or misses an acknowledged one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use oxbow_sqllogictest::TestServer;
use tokio::task::JoinHandle;

/// How long, at most, each reader loop runs; it also stops after `ITERATIONS` rounds.
const DEADLINE: Duration = Duration::from_secs(10);
const ITERATIONS: usize = 300;
/// Rows per `INSERT` of the writer.
const BATCH: i64 = 20;

/// Inserts batches of fresh ids into `table` until `stop`, adding each batch to `acked` once
/// its `INSERT` has returned (the rows are durable and visible from then on).
fn spawn_writer(
    client: tokio_postgres::Client,
    table: &'static str,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicI64>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut next = 0i64;
        while !stop.load(Ordering::Relaxed) {
            let values = (next..next + BATCH)
                .map(|id| format!("({id}, 'v{id}')"))
                .collect::<Vec<_>>()
                .join(", ");
            client
                .batch_execute(&format!("INSERT INTO {table} VALUES {values}"))
                .await
                .expect("writer insert");
            next += BATCH;
            acked.fetch_add(BATCH, Ordering::SeqCst);
        }
    })
}

/// Forces a flush of `table` every `every` until `stop`, so scans race the hot-to-Delta handoff.
fn spawn_flusher(
    client: tokio_postgres::Client,
    table: &'static str,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            client
                .batch_execute(&format!("FLUSH TABLE {table}"))
                .await
                .expect("flush");
            tokio::time::sleep(every).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scan_of_a_table_in_one_statement_reads_the_same_snapshot() {
    let server = TestServer::start();
    let reader = server.connect().await;
    reader
        .batch_execute("CREATE TABLE same (id bigint, v text) WITH (flush_interval = '50ms')")
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicI64::new(0));
    let writer = spawn_writer(
        server.connect().await,
        "same",
        Arc::clone(&stop),
        Arc::clone(&acked),
    );
    let flusher = spawn_flusher(
        server.connect().await,
        "same",
        Duration::from_millis(20),
        Arc::clone(&stop),
    );

    let started = Instant::now();
    let mut rounds = 0;
    let mut failures = Vec::new();
    while rounds < ITERATIONS && started.elapsed() < DEADLINE {
        rounds += 1;
        let difference: i64 = reader
            .query_one(
                "SELECT (SELECT count(*) FROM same) - (SELECT count(*) FROM same)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if difference != 0 {
            failures.push(format!(
                "round {rounds}: two count(*) of one statement differ by {difference}"
            ));
        }
        let row = reader
            .query_one(
                "SELECT (SELECT count(*) FROM same a JOIN same b ON a.id = b.id), \
                 (SELECT count(*) FROM same)",
                &[],
            )
            .await
            .unwrap();
        let (joined, counted): (i64, i64) = (row.get(0), row.get(1));
        if joined != counted {
            failures.push(format!(
                "round {rounds}: self-join on the unique id found {joined} rows, count(*) {counted}"
            ));
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    flusher.await.unwrap();
    assert!(
        acked.load(Ordering::SeqCst) > 0,
        "the writer wrote nothing: the test raced nothing"
    );
    assert!(
        failures.is_empty(),
        "{} of {rounds} rounds saw two states in one statement:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn insert_select_from_the_same_table_reads_the_table_as_it_was_before_the_statement() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE grow (id bigint, v text) WITH (flush_interval = '1h');
             INSERT INTO grow VALUES (1, 'a'), (2, 'b'), (3, 'c');",
        )
        .await
        .unwrap();
    // FLUSH is recognised only as a query of its own.
    client.batch_execute("FLUSH TABLE grow").await.unwrap();
    client
        .batch_execute("INSERT INTO grow VALUES (4, 'd')")
        .await
        .unwrap();
    // Delta and hot rows both feed the SELECT; its own rows must not feed it again.
    for expected in [8i64, 16, 32] {
        client
            .batch_execute("INSERT INTO grow SELECT id + (SELECT max(id) FROM grow), v FROM grow")
            .await
            .unwrap();
        let row = client
            .query_one("SELECT count(*), count(DISTINCT id) FROM grow", &[])
            .await
            .unwrap();
        let (rows, ids): (i64, i64) = (row.get(0), row.get(1));
        assert_eq!(rows, expected, "each INSERT ... SELECT doubles the table");
        assert_eq!(ids, expected, "and every id it writes is new");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_writes_and_flushes_a_reader_never_loses_doubles_or_misses_acknowledged_rows() {
    let server = TestServer::start();
    let reader = server.connect().await;
    reader
        .batch_execute("CREATE TABLE tiers (id bigint, v text) WITH (flush_interval = '1h')")
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicI64::new(0));
    let writer = spawn_writer(
        server.connect().await,
        "tiers",
        Arc::clone(&stop),
        Arc::clone(&acked),
    );
    let flusher = spawn_flusher(
        server.connect().await,
        "tiers",
        Duration::from_millis(50),
        Arc::clone(&stop),
    );

    let started = Instant::now();
    let mut rounds = 0;
    let mut last = 0i64;
    while rounds < ITERATIONS && started.elapsed() < DEADLINE {
        rounds += 1;
        let acked_before = acked.load(Ordering::SeqCst);
        let count: i64 = reader
            .query_one("SELECT count(*) FROM tiers", &[])
            .await
            .unwrap()
            .get(0);
        assert!(
            count >= last,
            "round {rounds}: count(*) went down from {last} to {count}"
        );
        assert!(
            count >= acked_before,
            "round {rounds}: count(*) {count} misses rows acknowledged before it ({acked_before})"
        );
        last = count;
        let doubled = reader
            .query("SELECT id FROM tiers GROUP BY id HAVING count(*) > 1", &[])
            .await
            .unwrap();
        assert!(
            doubled.is_empty(),
            "round {rounds}: {} ids are in both tiers (first: {})",
            doubled.len(),
            doubled[0].get::<_, i64>(0)
        );
    }
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    flusher.await.unwrap();
    let count: i64 = reader
        .query_one("SELECT count(*) FROM tiers", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        count,
        acked.load(Ordering::SeqCst),
        "after the writer stopped the table holds exactly the acknowledged rows"
    );
}

//! Keyed tables under concurrent upserts, deletes, flushes and a restart: a query never sees
//! two versions of a key, nor a key that is neither in its last acknowledged state nor in a
//! state being written; and after the writers stop, the table holds exactly what they left.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oxbow_sqllogictest::TestServer;

/// Keys the writers cycle over: small, so that every round touches keys in both tiers.
const KEYS: i64 = 200;
const DEADLINE: Duration = Duration::from_secs(12);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_query_sees_two_versions_of_a_key_while_upserts_and_flushes_race() {
    let mut server = TestServer::start();
    let setup = server.connect().await;
    setup
        .batch_execute(
            "CREATE TABLE kv (id bigint PRIMARY KEY, round bigint NOT NULL, v text) \
             WITH (flush_interval = '1h')",
        )
        .await
        .unwrap();
    let values = (0..KEYS)
        .map(|k| format!("({k}, 0, 'r0')"))
        .collect::<Vec<_>>()
        .join(", ");
    setup
        .batch_execute(&format!("INSERT INTO kv VALUES {values}"))
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));

    // Writer: each round upserts every key with the round number (half through ON CONFLICT,
    // half through UPDATE), then deletes and re-inserts a tenth of them.
    let writer = {
        let client = server.connect().await;
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut round = 0i64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let values = (0..KEYS / 2)
                    .map(|k| format!("({k}, {round}, 'r{round}')"))
                    .collect::<Vec<_>>()
                    .join(", ");
                client
                    .batch_execute(&format!(
                        "INSERT INTO kv VALUES {values} ON CONFLICT (id) DO UPDATE \
                         SET round = EXCLUDED.round, v = EXCLUDED.v"
                    ))
                    .await
                    .expect("upsert");
                client
                    .batch_execute(&format!(
                        "UPDATE kv SET round = {round}, v = 'r{round}' WHERE id >= {}",
                        KEYS / 2
                    ))
                    .await
                    .expect("update");
                let gone = round % 10;
                client
                    .batch_execute(&format!("DELETE FROM kv WHERE id % 10 = {gone}"))
                    .await
                    .expect("delete");
                let back = (0..KEYS)
                    .filter(|k| k % 10 == gone)
                    .map(|k| format!("({k}, {round}, 'r{round}')"))
                    .collect::<Vec<_>>()
                    .join(", ");
                client
                    .batch_execute(&format!("INSERT INTO kv VALUES {back}"))
                    .await
                    .expect("re-insert a deleted key");
            }
            round
        })
    };
    let flusher = {
        let client = server.connect().await;
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut flushes = 0u32;
            while !stop.load(Ordering::Relaxed) {
                client.batch_execute("FLUSH TABLE kv").await.expect("flush");
                flushes += 1;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            flushes
        })
    };
    let mut readers = Vec::new();
    for _ in 0..2 {
        let client = server.connect().await;
        let stop = Arc::clone(&stop);
        readers.push(tokio::spawn(async move {
            let mut checks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let row = client
                    .query_one(
                        "SELECT count(*), count(DISTINCT id), min(round), max(round), \
                         sum(CASE WHEN v = concat('r', round) THEN 0 ELSE 1 END) FROM kv",
                        &[],
                    )
                    .await
                    .expect("reader");
                let (rows, distinct): (i64, i64) = (row.get(0), row.get(1));
                let torn: i64 = row.get(4);
                assert_eq!(rows, distinct, "a key appeared twice in one query");
                assert_eq!(torn, 0, "a row mixed two versions");
                // A key is absent only between its DELETE and re-INSERT (a tenth of the keys).
                assert!(
                    rows >= KEYS - KEYS / 10 && rows <= KEYS,
                    "{rows} rows: keys lost or invented"
                );
                let (low, high): (i64, i64) = (row.get(2), row.get(3));
                assert!(high - low <= 1, "versions from rounds {low}..{high} in one query");
                let point = client
                    .query("SELECT round FROM kv WHERE id = 7", &[])
                    .await
                    .expect("point lookup");
                assert!(point.len() <= 1, "a point lookup found two versions");
                checks += 1;
            }
            checks
        }));
    }
    let started = Instant::now();
    while started.elapsed() < DEADLINE {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.await.expect("writer");
    let flushes = flusher.await.expect("flusher");
    let mut checks = 0;
    for reader in readers {
        checks += reader.await.expect("reader");
    }
    assert!(rounds >= 3, "the writer made only {rounds} rounds");
    assert!(flushes >= 3, "only {flushes} flushes raced the writers");
    assert!(checks >= 10, "only {checks} reader checks");
    eprintln!("{rounds} rounds, {flushes} flushes, {checks} checks");

    let expect_final = |rows: Vec<tokio_postgres::Row>| {
        assert_eq!(rows.len() as i64, KEYS);
        for (i, row) in rows.iter().enumerate() {
            let (id, round): (i64, i64) = (row.get(0), row.get(1));
            assert_eq!(id, i as i64);
            assert_eq!(round, rounds, "key {id} is not at the last round");
        }
    };
    let client = server.connect().await;
    expect_final(client.query("SELECT id, round FROM kv ORDER BY id", &[]).await.unwrap());

    // The same after a kill -9 (WAL replay rebuilds the key index over what Delta holds)
    // and after a final flush.
    drop(client);
    server.kill9();
    server.start_again();
    let client = server.connect().await;
    expect_final(client.query("SELECT id, round FROM kv ORDER BY id", &[]).await.unwrap());
    client.batch_execute("FLUSH TABLE kv").await.unwrap();
    expect_final(client.query("SELECT id, round FROM kv ORDER BY id", &[]).await.unwrap());
    let err = client
        .batch_execute("INSERT INTO kv VALUES (1, 0, 'dup')")
        .await
        .expect_err("the key exists after the restart");
    assert_eq!(err.code().map(|c| c.code()), Some("23505"));
}

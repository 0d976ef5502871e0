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
                assert!(
                    high - low <= 1,
                    "versions from rounds {low}..{high} in one query"
                );
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
    expect_final(
        client
            .query("SELECT id, round FROM kv ORDER BY id", &[])
            .await
            .unwrap(),
    );

    // The same after a kill -9 (WAL replay rebuilds the key index over what Delta holds)
    // and after a final flush.
    drop(client);
    server.kill9();
    server.start_again();
    let client = server.connect().await;
    expect_final(
        client
            .query("SELECT id, round FROM kv ORDER BY id", &[])
            .await
            .unwrap(),
    );
    client.batch_execute("FLUSH TABLE kv").await.unwrap();
    expect_final(
        client
            .query("SELECT id, round FROM kv ORDER BY id", &[])
            .await
            .unwrap(),
    );
    let err = client
        .batch_execute("INSERT INTO kv VALUES (1, 0, 'dup')")
        .await
        .expect_err("the key exists after the restart");
    assert_eq!(err.code().map(|c| c.code()), Some("23505"));
}

/// Several connections upsert the same keys at once (one of them through the extended
/// protocol with bound parameters) while flushes run and readers count: no query sees a key
/// twice, and every acknowledged `DO UPDATE` counted exactly once (a lost or doubled
/// read-modify-write would show in the sum).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_upserts_of_the_same_keys_keep_one_row_per_key_across_flushes() {
    const KEYS: i64 = 50;
    const WRITERS: i64 = 4;
    let server = TestServer::start();
    let setup = server.connect().await;
    setup
        .batch_execute(
            "CREATE TABLE hits (id bigint PRIMARY KEY, writer bigint, n bigint NOT NULL) \
             WITH (flush_interval = '1h')",
        )
        .await
        .unwrap();
    let values = (0..KEYS)
        .map(|k| format!("({k}, -1, 0)"))
        .collect::<Vec<_>>()
        .join(", ");
    setup
        .batch_execute(&format!("INSERT INTO hits VALUES {values}"))
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = server.connect().await;
        let stop = Arc::clone(&stop);
        writers.push(tokio::spawn(async move {
            let mut upserts = 0i64;
            let mut round = 0i64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                if w == 0 {
                    // One key per statement, bound as parameters.
                    let key = round % KEYS;
                    client
                        .execute(
                            "INSERT INTO hits VALUES ($1, $2, 1) ON CONFLICT (id) \
                             DO UPDATE SET writer = EXCLUDED.writer, n = hits.n + 1",
                            &[&key, &w],
                        )
                        .await
                        .expect("upsert with parameters");
                    upserts += 1;
                } else {
                    // Every key once in one statement, in an order of this writer's own (a
                    // multiplier prime to KEYS permutes the keys).
                    let step = [1, 3, 7][(w - 1) as usize];
                    let values = (0..KEYS)
                        .map(|k| format!("({}, {w}, 1)", (k * step + round) % KEYS))
                        .collect::<Vec<_>>()
                        .join(", ");
                    client
                        .batch_execute(&format!(
                            "INSERT INTO hits VALUES {values} ON CONFLICT (id) \
                             DO UPDATE SET writer = EXCLUDED.writer, n = hits.n + 1"
                        ))
                        .await
                        .expect("upsert");
                    upserts += KEYS;
                }
            }
            upserts
        }));
    }
    let flusher = {
        let client = server.connect().await;
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut flushes = 0u32;
            while !stop.load(Ordering::Relaxed) {
                client
                    .batch_execute("FLUSH TABLE hits")
                    .await
                    .expect("flush");
                flushes += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            flushes
        })
    };
    let reader = {
        let client = server.connect().await;
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut checks = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let row = client
                    .query_one("SELECT count(*), count(DISTINCT id) FROM hits", &[])
                    .await
                    .expect("count");
                let (rows, distinct): (i64, i64) = (row.get(0), row.get(1));
                assert_eq!(rows, distinct, "a key appeared twice in one query");
                assert_eq!(rows, KEYS, "keys lost or invented");
                let key = (checks as i64) % KEYS;
                let point = client
                    .query("SELECT n FROM hits WHERE id = $1", &[&key])
                    .await
                    .expect("point lookup");
                assert_eq!(
                    point.len(),
                    1,
                    "a point lookup found {} versions",
                    point.len()
                );
                checks += 1;
            }
            checks
        })
    };
    tokio::time::sleep(DEADLINE).await;
    stop.store(true, Ordering::Relaxed);
    let mut upserts = 0;
    for writer in writers {
        upserts += writer.await.expect("writer");
    }
    let flushes = flusher.await.expect("flusher");
    let checks = reader.await.expect("reader");
    eprintln!("{upserts} upserts, {flushes} flushes, {checks} checks");
    assert!(flushes >= 3, "only {flushes} flushes raced the writers");
    assert!(checks >= 10, "only {checks} reader checks");
    assert!(upserts > KEYS * WRITERS, "only {upserts} upserts");

    let client = server.connect().await;
    let row = client
        .query_one("SELECT count(*), count(DISTINCT id), sum(n) FROM hits", &[])
        .await
        .unwrap();
    let (rows, distinct, sum): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((rows, distinct), (KEYS, KEYS));
    assert_eq!(sum, upserts, "every acknowledged DO UPDATE counts once");
    client.batch_execute("FLUSH TABLE hits").await.unwrap();
    let sum: i64 = client
        .query_one("SELECT sum(n) FROM hits", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(sum, upserts, "the same after the last flush");
}

/// A restart after a kill -9 rebuilds the key index from the Delta keys and the replayed
/// WAL: keys only in Delta, only hot, updated hot over Delta, and deleted in either tier
/// all behave as before the crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_rebuilds_the_key_index_from_delta_and_the_wal() {
    let mut server = TestServer::start();
    let client = server.connect().await;
    for statement in [
        "CREATE TABLE kv (id bigint PRIMARY KEY, v text) WITH (flush_interval = '1h')",
        "INSERT INTO kv VALUES (1, 'lake'), (2, 'lake'), (3, 'lake')",
        "FLUSH TABLE kv",
        "INSERT INTO kv VALUES (4, 'hot'), (5, 'hot')",
        "UPDATE kv SET v = 'hot over lake' WHERE id = 1",
        "DELETE FROM kv WHERE id IN (2, 4)",
    ] {
        client.batch_execute(statement).await.unwrap();
    }
    let rows = |client: tokio_postgres::Client| async move {
        let rows = client
            .query("SELECT id, v FROM kv ORDER BY id", &[])
            .await
            .unwrap();
        let rows: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        (client, rows)
    };
    let expected = vec![
        (1, "hot over lake".to_string()),
        (3, "lake".to_string()),
        (5, "hot".to_string()),
    ];
    let (client, before) = rows(client).await;
    assert_eq!(before, expected);
    drop(client);
    server.kill9();
    server.start_again();
    let client = server.connect().await;
    let (client, after) = rows(client).await;
    assert_eq!(
        after, expected,
        "the replayed WAL shadows and deletes as before"
    );
    for id in [1i64, 3, 5] {
        let err = client
            .execute("INSERT INTO kv VALUES ($1, 'again')", &[&id])
            .await
            .expect_err("the key exists after the restart");
        assert_eq!(
            err.code().map(|c| c.code()),
            Some("23505"),
            "key {id}: {err}"
        );
    }
    // Deleted keys are free again, in both tiers.
    client
        .batch_execute("INSERT INTO kv VALUES (2, 'back'), (4, 'back')")
        .await
        .unwrap();
    client.batch_execute("FLUSH TABLE kv").await.unwrap();
    let (client, flushed) = rows(client).await;
    assert_eq!(
        flushed,
        vec![
            (1, "hot over lake".to_string()),
            (2, "back".to_string()),
            (3, "lake".to_string()),
            (4, "back".to_string()),
            (5, "hot".to_string()),
        ]
    );
    // A point lookup on a hot key is answered from the key index, not by scanning.
    client
        .batch_execute("INSERT INTO kv VALUES (6, 'hot'), (7, 'hot'), (8, 'hot')")
        .await
        .unwrap();
    let plan = client
        .query("EXPLAIN SELECT v FROM kv WHERE id = 7", &[])
        .await
        .unwrap();
    let plan: String = plan
        .iter()
        .map(|r| r.get::<_, String>(1))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plan.contains("key lookup rows=1"), "{plan}");
    let v: String = client
        .query_one("SELECT v FROM kv WHERE id = 7", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "hot");
}

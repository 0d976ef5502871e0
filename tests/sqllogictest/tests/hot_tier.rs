//! The hot tier over the wire: read-your-writes across connections before any flush, the
//! exactly-once handoff recorded in the Delta log, time pruning of hot batches, and recovery
//! of unflushed rows from the WAL.

use oxbow_sqllogictest::{TestServer, table_dir};

/// The `txn` version of the newest Delta commit of a table, read from its `_delta_log`.
async fn latest_txn_version(client: &tokio_postgres::Client, table: &str) -> Option<i64> {
    let log = table_dir(client, table).await.join("_delta_log");
    let mut commits: Vec<_> = std::fs::read_dir(&log)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    commits.sort();
    let newest = std::fs::read_to_string(commits.last()?).ok()?;
    newest.lines().find_map(|line| {
        let action: serde_json::Value = serde_json::from_str(line).ok()?;
        action.get("txn")?.get("version")?.as_i64()
    })
}

#[tokio::test]
async fn a_row_is_visible_to_the_next_query_on_another_connection_before_any_flush() {
    let server = TestServer::start();
    let writer = server.connect().await;
    let reader = server.connect().await;
    writer
        .batch_execute("CREATE TABLE fresh (id bigint, v text) WITH (flush_interval = '1h')")
        .await
        .unwrap();
    for i in 0..50i64 {
        writer
            .execute("INSERT INTO fresh VALUES ($1, 'x')", &[&i])
            .await
            .unwrap();
        let seen: i64 = reader
            .query_one("SELECT count(*) FROM fresh WHERE id = $1", &[&i])
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            seen, 1,
            "row {i} must be visible on another connection at once"
        );
    }
    let delta_files: i64 = reader
        .query_one(
            "SELECT CAST(delta_files AS bigint) FROM oxbow.tables WHERE table_name = 'fresh'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        delta_files, 0,
        "nothing was flushed: the rows were read from the hot tier"
    );
}

#[tokio::test]
async fn a_flush_empties_the_hot_tier_and_records_its_sequence_in_the_delta_log() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE h (id bigint) WITH (flush_interval = '1h');
             INSERT INTO h VALUES (1), (2), (3);
             INSERT INTO h VALUES (4);",
        )
        .await
        .unwrap();
    let before: i64 = client
        .query_one("SELECT count(*) FROM h", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(latest_txn_version(&client, "h").await, None, "no flush yet");
    client.batch_execute("FLUSH TABLE h").await.unwrap();
    let row = client
        .query_one(
            "SELECT CAST(hot_rows AS bigint), CAST(flushed_seq AS bigint) FROM oxbow.tables WHERE table_name = 'h'",
            &[],
        )
        .await
        .unwrap();
    let (hot_rows, flushed_seq): (i64, i64) = (row.get(0), row.get(1));
    let after: i64 = client
        .query_one("SELECT count(*) FROM h", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        (before, after),
        (4, 4),
        "count(*) is unchanged by the flush"
    );
    assert_eq!(hot_rows, 0);
    assert!(flushed_seq >= 2, "two statements were flushed");
    assert_eq!(latest_txn_version(&client, "h").await, Some(flushed_seq));
}

#[tokio::test]
async fn a_time_filter_skips_hot_batches_and_explain_shows_both_tiers() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE m (ts timestamptz, v int) WITH (time_column = 'ts', flush_interval = '1h')",
        )
        .await
        .unwrap();
    // One statement per day, each big enough to stay a batch of its own.
    for day in 1..=5 {
        let values: Vec<String> = (0..9000)
            .map(|i| {
                format!("('2024-01-0{day} 00:00:00+00'::timestamptz + interval '{i} second', {i})")
            })
            .collect();
        client
            .batch_execute(&format!("INSERT INTO m VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
    let plan: Vec<String> = client
        .query(
            "EXPLAIN ANALYZE SELECT count(*) FROM m WHERE ts >= '2024-01-04 00:00:00+00'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(1))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("DeltaScan"), "{plan}");
    // How many batches a statement makes depends on batch sizes; what must hold is that the
    // scan read only the two days at or after the bound, and skipped batches of the others.
    let hot = plan
        .lines()
        .find(|l| l.contains("OxbowHotScan: table=public.m"))
        .unwrap_or_else(|| panic!("no hot scan in {plan}"));
    // At least the two days, far fewer than all five: a batch that small statements merged
    // into may straddle a day boundary (under load, statements arrive in more batches).
    let scanned: usize = hot
        .split("rows=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no row count in {hot}"));
    assert!((18000..27000).contains(&scanned), "{hot}");
    let counted: i64 = client
        .query_one(
            "SELECT count(*) FROM m WHERE ts >= '2024-01-04 00:00:00+00'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(counted, 18000);
    let pruned: usize = hot
        .split("(pruned by time: ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pruning count in {hot}"));
    assert!(pruned >= 3, "the batches of three days are skipped: {hot}");
    let n: i64 = client
        .query_one(
            "SELECT count(*) FROM m WHERE ts >= '2024-01-04 00:00:00+00'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2 * 9000);
}

#[tokio::test]
async fn unflushed_rows_come_back_from_the_wal_after_kill_9() {
    let mut server = TestServer::start();
    {
        let client = server.connect().await;
        client
            .batch_execute(
                "CREATE TABLE w (id bigint, v text) WITH (flush_interval = '1h');
                 INSERT INTO w VALUES (1, 'a'), (2, 'b');",
            )
            .await
            .unwrap();
        client.batch_execute("FLUSH TABLE w").await.unwrap();
        client
            .batch_execute("INSERT INTO w VALUES (3, 'c'); INSERT INTO w VALUES (4, 'd');")
            .await
            .unwrap();
    }
    server.kill9();
    server.start_again();
    let client = server.connect().await;
    let rows = client
        .query("SELECT id FROM w ORDER BY id", &[])
        .await
        .unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(ids, vec![1, 2, 3, 4], "flushed rows once, WAL rows once");
    let hot: i64 = client
        .query_one(
            "SELECT CAST(hot_rows AS bigint) FROM oxbow.tables WHERE table_name = 'w'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(hot, 2, "rows 3 and 4 were replayed into the hot tier");
}

#[tokio::test]
async fn a_graceful_stop_flushes_everything_and_leaves_nothing_to_replay() {
    let mut server = TestServer::start();
    {
        let client = server.connect().await;
        client
            .batch_execute(
                "CREATE TABLE g (id bigint) WITH (flush_interval = '1h');
                 INSERT INTO g VALUES (1), (2);",
            )
            .await
            .unwrap();
    }
    server.restart();
    let client = server.connect().await;
    let row = client
        .query_one(
            "SELECT CAST(hot_rows AS bigint), CAST(delta_files AS bigint) FROM oxbow.tables WHERE table_name = 'g'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (0, 1));
    let n: i64 = client
        .query_one("SELECT count(*) FROM g", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}

#[tokio::test]
async fn writers_wait_for_flushes_when_the_hot_tier_is_over_its_memory_budget() {
    let server = TestServer::start_with(vec!["--hot-memory-mb".into(), "1".into()], vec![]);
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE big (id bigint, payload text) WITH (flush_interval = '1h')")
        .await
        .unwrap();
    let payload = "x".repeat(200);
    for chunk in 0..10i64 {
        let values: Vec<String> = (0..5000)
            .map(|i| format!("({}, '{payload}')", chunk * 5000 + i))
            .collect();
        client
            .batch_execute(&format!("INSERT INTO big VALUES {}", values.join(",")))
            .await
            .unwrap();
    }
    let row = client
        .query_one(
            "SELECT CAST(delta_files AS bigint), CAST(hot_bytes AS bigint) FROM oxbow.tables WHERE table_name = 'big'",
            &[],
        )
        .await
        .unwrap();
    let (files, hot_bytes): (i64, i64) = (row.get(0), row.get(1));
    assert!(
        files >= 2,
        "the budget forced flushes although flush_interval is an hour ({files} files)"
    );
    assert!(
        hot_bytes < 4 * 1024 * 1024,
        "hot tier stays near its budget ({hot_bytes} bytes)"
    );
    let n: i64 = client
        .query_one("SELECT count(DISTINCT id) FROM big", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 50_000, "no row lost or doubled by the forced flushes");
}

//! Sinks through the real binary: FILES and DELTA sinks of a table being written, across a
//! `kill -9` in the middle of the stream, a restart and WAL truncation by flushes, hold every
//! row exactly once; a keyed table's sink emits `op` = upsert | delete; `start = 'earliest'`
//! emits the rows already in Delta first. The outputs are read back from disk, not through
//! Oxbow: the NDJSON files directly, the Delta table through its log and Parquet files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oxbow_sqllogictest::TestServer;
use tokio_postgres::Client;

/// Every JSON row in the sink's NDJSON files (complete files only; temp names start with '.').
fn json_rows(dir: &Path) -> Vec<serde_json::Value> {
    let mut rows = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return rows;
    };
    let mut names: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "json")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
        })
        .collect();
    names.sort();
    for path in names {
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            rows.push(serde_json::from_str(line).unwrap());
        }
    }
    rows
}

/// The Parquet files the Delta log at `dir` adds and does not remove, in commit order.
fn delta_files(dir: &Path) -> Vec<PathBuf> {
    let log = dir.join("_delta_log");
    let Ok(entries) = std::fs::read_dir(&log) else {
        return Vec::new();
    };
    let mut commits: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    commits.sort();
    let mut files: Vec<String> = Vec::new();
    for commit in commits {
        for line in std::fs::read_to_string(&commit).unwrap().lines() {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(path) = action["add"]["path"].as_str() {
                files.push(path.to_string());
            }
            if let Some(path) = action["remove"]["path"].as_str() {
                files.retain(|f| f != path);
            }
        }
    }
    files.into_iter().map(|f| dir.join(f)).collect()
}

/// The `id` column of every row of the Delta table at `dir`.
fn delta_ids(dir: &Path) -> Vec<i64> {
    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut ids = Vec::new();
    for file in delta_files(dir) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let column = batch.column_by_name("id").expect("an id column");
            let column = column.as_any().downcast_ref::<Int64Array>().unwrap();
            ids.extend((0..column.len()).map(|i| column.value(i)));
        }
    }
    ids
}

fn json_ids(dir: &Path) -> Vec<i64> {
    json_rows(dir)
        .iter()
        .map(|r| r["id"].as_i64().expect("an id"))
        .collect()
}

/// Each id of `0..n` exactly once (a missing or doubled id is named).
fn assert_exactly_once(what: &str, ids: &[i64], n: i64) {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for id in ids {
        *counts.entry(*id).or_default() += 1;
    }
    let doubled: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).take(10).collect();
    let missing: Vec<i64> = (0..n)
        .filter(|i| !counts.contains_key(i))
        .take(10)
        .collect();
    assert!(
        doubled.is_empty() && missing.is_empty() && ids.len() as i64 == n,
        "{what}: {} rows for {n} ids; doubled (id, times): {doubled:?}; missing: {missing:?}",
        ids.len()
    );
}

async fn insert_range(client: &Client, ids: std::ops::Range<i64>, per_statement: i64) {
    let mut start = ids.start;
    while start < ids.end {
        let end = (start + per_statement).min(ids.end);
        client
            .batch_execute(&format!(
                "INSERT INTO events SELECT value AS id, 'row ' || CAST(value AS text) AS payload FROM generate_series({start}, {})",
                end - 1
            ))
            .await
            .unwrap();
        start = end;
    }
}

/// Waits until `done` holds, or panics with the server log.
async fn wait_until(server: &TestServer, what: &str, timeout: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            panic!(
                "timed out waiting for {what}\n--- server log ---\n{}",
                server.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn files_and_delta_sinks_hold_every_row_exactly_once_across_kill9() {
    let root = tempfile::tempdir().unwrap();
    let files = root.path().join("files");
    let delta = root.path().join("delta");
    let mut server = TestServer::start_with(
        vec![
            "--allow-file-root".into(),
            root.path().display().to_string(),
            // Small segments: flushes delete many of them while the sinks lag behind.
            "--wal-segment-bytes".into(),
            "65536".into(),
        ],
        Vec::new(),
    );
    let client = server.connect().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE events (id bigint NOT NULL, payload text);
             CREATE SINK f FROM events INTO FILES (path = '{}') FORMAT JSON
               WITH (batch_interval = '20ms', max_batch_rows = '70');
             CREATE SINK d FROM events INTO DELTA (location = '{}')
               WITH (batch_interval = '20ms', max_batch_rows = '300');",
            files.display(),
            delta.display()
        ))
        .await
        .unwrap();
    // Acknowledged rows, then a kill -9 while the sinks are still writing them out.
    insert_range(&client, 0..3000, 25).await;
    client.batch_execute("FLUSH TABLE events").await.unwrap();
    insert_range(&client, 3000..6000, 25).await;
    let before = json_ids(&files).len();
    server.kill9();
    assert!(
        before < 6000,
        "the FILES sink had already written all {before} rows: the kill was not mid-stream"
    );
    server.start_again();
    let client = server.connect().await;
    insert_range(&client, 6000..8000, 50).await;
    client.batch_execute("FLUSH TABLE events").await.unwrap();
    wait_until(
        &server,
        "the FILES sink to catch up",
        Duration::from_secs(120),
        || json_ids(&files).len() >= 8000,
    )
    .await;
    wait_until(
        &server,
        "the DELTA sink to catch up",
        Duration::from_secs(120),
        || delta_ids(&delta).len() >= 8000,
    )
    .await;
    // Once more, with no new rows: a second restart must not emit anything again.
    server.kill9();
    server.start_again();
    let client = server.connect().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_exactly_once("FILES sink", &json_ids(&files), 8000);
    assert_exactly_once("DELTA sink", &delta_ids(&delta), 8000);
    let row = client
        .query_one(
            "SELECT status, position, last_error FROM oxbow.sinks WHERE sink_name = 'd'",
            &[],
        )
        .await
        .unwrap();
    let status: String = row.get(0);
    assert_eq!(
        status,
        "running",
        "last error: {:?}",
        row.get::<_, Option<String>>(2)
    );
    // The Delta table carries the sink's position as its txn.
    let txn = std::fs::read_dir(delta.join("_delta_log"))
        .unwrap()
        .flatten()
        .any(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .contains("\"txn\"")
        });
    assert!(txn, "no txn action in the Delta sink's log");
}

#[tokio::test]
async fn a_keyed_tables_sink_emits_upserts_and_deletes_and_earliest_starts_from_the_lake() {
    let root = tempfile::tempdir().unwrap();
    let changes = root.path().join("changes");
    let all = root.path().join("all");
    let server = TestServer::start_with(
        vec![
            "--allow-file-root".into(),
            root.path().display().to_string(),
        ],
        Vec::new(),
    );
    let client = server.connect().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE kv (id bigint PRIMARY KEY, v text) WITH (flush_interval = '1h');
             INSERT INTO kv VALUES (1, 'one'), (2, 'two');
             FLUSH TABLE kv;
             INSERT INTO kv VALUES (3, 'three');
             CREATE SINK changes FROM kv INTO FILES (path = '{}') WITH (batch_interval = '20ms');
             CREATE SINK all_rows FROM kv INTO FILES (path = '{}') FORMAT JSON
               WITH (batch_interval = '20ms', start = 'earliest');
             UPDATE kv SET v = 'TWO' WHERE id = 2;
             DELETE FROM kv WHERE id = 1;",
            changes.display(),
            all.display()
        ))
        .await
        .unwrap();
    wait_until(&server, "the changes", Duration::from_secs(30), || {
        json_rows(&changes).len() >= 2
    })
    .await;
    let rows = json_rows(&changes);
    assert_eq!(
        rows,
        vec![
            serde_json::json!({"id": 2, "v": "TWO", "op": "upsert"}),
            serde_json::json!({"id": 1, "op": "delete"}),
        ],
        "a 'latest' sink emits the changes after its creation, in commit order"
    );
    wait_until(
        &server,
        "the earliest sink",
        Duration::from_secs(30),
        || json_rows(&all).len() >= 5,
    )
    .await;
    let mut rows = json_rows(&all);
    // The lake snapshot (ids 1 and 2, in any order) first, then the WAL in commit order.
    rows[..2].sort_by_key(|r| r["id"].as_i64());
    assert_eq!(
        rows,
        vec![
            serde_json::json!({"id": 1, "v": "one", "op": "upsert"}),
            serde_json::json!({"id": 2, "v": "two", "op": "upsert"}),
            serde_json::json!({"id": 3, "v": "three", "op": "upsert"}),
            serde_json::json!({"id": 2, "v": "TWO", "op": "upsert"}),
            serde_json::json!({"id": 1, "op": "delete"}),
        ]
    );
}

async fn sink_status(client: &Client, name: &str) -> (String, Option<String>) {
    let row = client
        .query_one(
            "SELECT status, last_error FROM oxbow.sinks WHERE sink_name = $1",
            &[&name],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_sink_holding_the_wal_past_max_wal_size_fails_visibly_and_stays_failed() {
    let root = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_with(
        vec![
            "--allow-file-root".into(),
            root.path().display().to_string(),
            "--wal-segment-bytes".into(),
            "16384".into(),
            "--max-wal-size-bytes".into(),
            "65536".into(),
        ],
        Vec::new(),
    );
    let client = server.connect().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE events (id bigint NOT NULL, payload text);
             CREATE SINK slow FROM events INTO FILES (path = '{}') WITH (batch_interval = '50ms');
             ALTER SINK slow PAUSE;",
            root.path().join("slow").display()
        ))
        .await
        .unwrap();
    insert_range(&client, 0..4000, 25).await;
    client.batch_execute("FLUSH TABLE events").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, error) = sink_status(&client, "slow").await;
        if status == "failed" {
            let error = error.unwrap_or_default();
            assert!(error.contains("max_wal_size"), "{error}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the sink is {status}, not failed\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Persisted: still failed after a restart, and it writes nothing.
    server.restart();
    let client = server.connect().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, error) = sink_status(&client, "slow").await;
    assert_eq!(status, "failed", "{error:?}");
    assert!(json_rows(&root.path().join("slow")).is_empty());
    // Once the failed sink let go of it, the WAL is truncated again.
    let segments = || {
        std::fs::read_dir(server.data_dir().join("wal"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "wal"))
            .count()
    };
    client.batch_execute("FLUSH TABLE events").await.unwrap();
    assert!(segments() <= 3, "{} WAL segments kept", segments());
}

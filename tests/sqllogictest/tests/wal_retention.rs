//! `max_wal_size` (review D11): one table flushed once a day must not keep every WAL segment.
//! Past the limit the flusher flushes the tables pinning the oldest segment and deletes it.

use std::path::Path;
use std::time::{Duration, Instant};

use oxbow_sqllogictest::TestServer;
use tokio_postgres::Client;

const SEGMENT_BYTES: u64 = 64 * 1024;
const MAX_WAL_BYTES: u64 = 256 * 1024;
/// Segments the limit allows, plus the one being written and a few for the flusher's lag.
const SEGMENTS_BOUND: usize = (MAX_WAL_BYTES / SEGMENT_BYTES) as usize + 4;

const BUSY_STATEMENTS: i64 = 300;
const BUSY_ROWS_PER_STATEMENT: i64 = 50;
const TRICKLE_EVERY: i64 = 5;

fn wal_segments(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("wal"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".wal"))
                .count()
        })
        .unwrap_or(0)
}

async fn count(client: &Client, table: &str) -> (i64, i64) {
    let row = client
        .query_one(
            &format!("SELECT count(*), count(DISTINCT id) FROM {table}"),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("count {table}: {e}"));
    (row.get(0), row.get(1))
}

#[tokio::test]
async fn a_trickle_table_is_flushed_when_the_wal_passes_max_wal_size() {
    let mut server = TestServer::start_with(
        vec![
            "--wal-segment-bytes".into(),
            SEGMENT_BYTES.to_string(),
            "--max-wal-size-bytes".into(),
            MAX_WAL_BYTES.to_string(),
        ],
        Vec::new(),
    );
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE trickle (id bigint, v text) WITH (flush_interval = '24h');
             CREATE TABLE busy (id bigint, v text) WITH (flush_rows = 1000, flush_interval = '24h');",
        )
        .await
        .unwrap();
    let padding = "x".repeat(200);
    let mut trickle_rows = 0i64;
    let mut peak = 0usize;
    for i in 0..BUSY_STATEMENTS {
        let values: Vec<String> = (0..BUSY_ROWS_PER_STATEMENT)
            .map(|j| format!("({}, '{padding}')", i * BUSY_ROWS_PER_STATEMENT + j))
            .collect();
        client
            .execute(
                &format!("INSERT INTO busy VALUES {}", values.join(", ")),
                &[],
            )
            .await
            .unwrap();
        if i % TRICKLE_EVERY == 0 {
            client
                .execute(&format!("INSERT INTO trickle VALUES ({i}, 't')"), &[])
                .await
                .unwrap();
            trickle_rows += 1;
        }
        peak = peak.max(wal_segments(server.data_dir()));
    }
    let written = BUSY_STATEMENTS * BUSY_ROWS_PER_STATEMENT * (padding.len() as i64);
    assert!(
        written as u64 > 8 * MAX_WAL_BYTES,
        "the test writes well past the limit"
    );

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut segments = wal_segments(server.data_dir());
    while segments > SEGMENTS_BOUND && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        segments = wal_segments(server.data_dir());
    }
    assert!(
        segments <= SEGMENTS_BOUND,
        "{segments} WAL segments on disk, expected at most {SEGMENTS_BOUND}\n{}",
        server.log()
    );
    assert!(
        peak <= 3 * SEGMENTS_BOUND,
        "the WAL reached {peak} segments while writing"
    );
    let flushed_seq: i64 = client
        .query_one(
            "SELECT CAST(flushed_seq AS bigint) FROM oxbow.tables WHERE table_name = 'trickle'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        flushed_seq > 0,
        "the trickle table was flushed early, despite its 24h flush_interval"
    );
    drop(client);

    server.kill9();
    server.start_again();
    let client = server.connect().await;
    let busy_rows = BUSY_STATEMENTS * BUSY_ROWS_PER_STATEMENT;
    assert_eq!(
        count(&client, "busy").await,
        (busy_rows, busy_rows),
        "every acknowledged busy row, once"
    );
    assert_eq!(
        count(&client, "trickle").await,
        (trickle_rows, trickle_rows),
        "every acknowledged trickle row, once"
    );
}

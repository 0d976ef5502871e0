//! `OPTIMIZE` and `VACUUM`: compaction leaves one file with the same rows, and VACUUM really
//! deletes what it reports (the directory is listed afterwards), keeping what the retention
//! protects.

use std::path::Path;
use std::process::Command;

use oxbow_sqllogictest::sources::count;
use oxbow_sqllogictest::{TestServer, table_dir};
use tokio_postgres::SimpleQueryMessage;

fn parquet_files(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    files.sort();
    files
}

async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn optimize_compacts_and_vacuum_really_deletes() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id bigint) WITH (flush_interval = '1h')")
        .await
        .unwrap();
    for i in 0..3 {
        client
            .batch_execute(&format!("INSERT INTO t VALUES ({i}), ({})", i + 10))
            .await
            .unwrap();
        client.batch_execute("FLUSH TABLE t").await.unwrap();
    }
    let dir = table_dir(&client, "t").await;
    assert_eq!(parquet_files(&dir).len(), 3);
    let sum = "SELECT sum(id)::bigint FROM t";
    assert_eq!(count(&client, sum).await, 36);

    let done = rows(&client, "OPTIMIZE t").await;
    assert_eq!(done, [["3", "1", "1"]], "3 files removed, 1 added");
    assert_eq!(count(&client, sum).await, 36, "the same rows");
    let files = count(
        &client,
        "SELECT delta_files::bigint FROM oxbow.tables WHERE table_name = 't'",
    )
    .await;
    assert_eq!(files, 1);
    // Compacted away but still referenced by time travel within the retention: kept.
    assert_eq!(parquet_files(&dir).len(), 4);

    // An orphan, as a flush that crashed before its commit leaves: older than the retention.
    let orphan = dir.join("part-orphan-of-a-crashed-flush.parquet");
    std::fs::write(&orphan, b"not referenced").unwrap();
    let old = Command::new("touch")
        .args(["-d", "10 days ago"])
        .arg(&orphan)
        .status()
        .unwrap();
    assert!(old.success());
    let listed = rows(&client, "VACUUM t DRY RUN").await;
    assert_eq!(listed, [["part-orphan-of-a-crashed-flush.parquet"]]);
    assert!(orphan.exists(), "a dry run deletes nothing");
    let deleted = rows(&client, "VACUUM t").await;
    assert_eq!(deleted, listed);
    assert!(!orphan.exists(), "VACUUM really deleted the file");
    assert_eq!(
        parquet_files(&dir).len(),
        4,
        "the retention kept the compacted files"
    );
    assert_eq!(count(&client, sum).await, 36);

    // A retention shorter than the table's (7 days) is refused, and so are clauses not built.
    assert!(
        client
            .batch_execute("VACUUM t RETAIN 0 HOURS")
            .await
            .is_err()
    );
    let code = |e: tokio_postgres::Error| e.code().map(|c| c.code().to_string());
    let e = client
        .batch_execute("OPTIMIZE t ZORDER BY (id)")
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("0A000"));
    let e = client
        .batch_execute("OPTIMIZE nothing_here")
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("42P01"));
    let e = client
        .batch_execute("VACUUM t RETAIN soon")
        .await
        .unwrap_err();
    assert_eq!(code(e).as_deref(), Some("42601"));
    assert!(
        parquet_files(&dir).len() == 4,
        "a refused VACUUM deletes nothing"
    );
}

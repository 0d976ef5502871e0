//! Partition pruning is real: a query whose time filter rules a day out never opens that
//! day's files. Proven by deleting them: the query that should skip them still answers, and
//! one that needs them fails. The statistics Delta keeps per file would skip them too, so the
//! test first strips the statistics from the log (as a writer that keeps none leaves it): only
//! the `ts_day` partition filter Oxbow derives from the `ts` filter can skip the files then.

use std::path::Path;

use oxbow_sqllogictest::sources::count;
use oxbow_sqllogictest::{TestServer, table_dir};

/// Removes the `stats` of every `add` action in the table's commit files.
fn strip_statistics(dir: &Path) {
    for entry in std::fs::read_dir(dir.join("_delta_log")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<String> = text
            .lines()
            .map(|line| {
                let mut action: serde_json::Value = serde_json::from_str(line).unwrap();
                if let Some(add) = action.get_mut("add").and_then(|a| a.as_object_mut()) {
                    add.remove("stats");
                }
                action.to_string()
            })
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    }
}

#[tokio::test]
async fn a_time_filter_skips_the_files_of_other_days() {
    let mut server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE ev (id bigint, ts timestamptz) WITH (flush_interval = '1h') \
             PARTITION BY (day(ts));
             INSERT INTO ev VALUES (1, '2026-01-01 10:00:00+00'), (2, '2026-01-01 20:00:00+00'),
               (3, '2026-01-02 10:00:00+00'), (4, '2026-01-03 10:00:00+00')",
        )
        .await
        .unwrap();
    client.batch_execute("FLUSH TABLE ev").await.unwrap();
    // A later commit, so that the one holding the deleted file is not the newest (a start
    // fsyncs the newest commit's files again and would find it missing).
    client
        .batch_execute("INSERT INTO ev VALUES (5, '2026-01-04 10:00:00+00')")
        .await
        .unwrap();
    client.batch_execute("FLUSH TABLE ev").await.unwrap();
    let dir = table_dir(&client, "ev").await;
    let day = dir.join("ts_day=2026-01-01");
    let files: Vec<_> = std::fs::read_dir(&day)
        .unwrap_or_else(|e| panic!("{}: {e}", day.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert_eq!(files.len(), 1, "one file for the day: {files:?}");
    server.stop();
    strip_statistics(&dir);
    std::fs::remove_file(&files[0]).unwrap();
    server.start_again();
    let client = server.connect().await;
    let sql = "SELECT count(*) FROM ev WHERE ts >= '2026-01-02 00:00:00+00'";
    assert_eq!(count(&client, sql).await, 3, "{}", server.log());
    let plan = client
        .simple_query(&format!("EXPLAIN {sql}"))
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(r.get(1).unwrap_or("").to_string()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plan.contains("DeltaScan"), "{plan}");
    // The same filter in a form the bucket filter is not derived from (a function of `ts`)
    // needs the deleted file: the skip above was the partition filter, nothing else.
    let opaque = client
        .query_one(
            "SELECT count(*) FROM ev WHERE ts + interval '0 seconds' >= '2026-01-02 00:00:00+00'",
            &[],
        )
        .await;
    assert!(
        opaque.is_err(),
        "without the derived filter the deleted file is read"
    );
    let whole = client.query_one("SELECT count(*) FROM ev", &[]).await;
    assert!(whole.is_err(), "a scan of every day reads the deleted file");
}

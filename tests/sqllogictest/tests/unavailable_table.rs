//! One table whose Delta log is torn must not stop the database: the other tables serve, the
//! broken one is reported in `oxbow.tables` and fails its queries with a clear error, and its
//! rows still in the WAL are kept for when it is repaired (review D5).

use std::path::{Path, PathBuf};

use oxbow_sqllogictest::TestServer;
use tokio_postgres::error::SqlState;

/// The `_delta_log` directory of the Delta table named `name` under `data_dir`, found by the
/// table name its first commit records (so the test does not depend on how locations are
/// derived).
fn delta_log_of(data_dir: &Path, name: &str) -> PathBuf {
    let mut pending = vec![data_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "_delta_log") {
                let first = std::fs::read_to_string(path.join(format!("{:020}.json", 0)))
                    .unwrap_or_default();
                if first.contains(&format!("\"name\":\"{name}\"")) {
                    return path;
                }
                continue;
            }
            pending.push(path);
        }
    }
    panic!("no Delta table named {name} under {}", data_dir.display());
}

/// The newest commit file in a `_delta_log` directory.
fn newest_commit(log_dir: &Path) -> PathBuf {
    let mut commits: Vec<PathBuf> = std::fs::read_dir(log_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    commits.sort();
    commits.pop().expect("a commit file")
}

#[tokio::test]
async fn a_table_with_a_torn_delta_log_is_unavailable_and_the_others_serve() {
    let mut server = TestServer::start();
    {
        let client = server.connect().await;
        client
            .batch_execute(
                "CREATE TABLE good (id bigint NOT NULL);
                 CREATE TABLE bad (id bigint NOT NULL) WITH (flush_interval = '1h');
                 INSERT INTO good VALUES (1), (2), (3);
                 INSERT INTO bad VALUES (10), (11);",
            )
            .await
            .unwrap();
        // Our own statements go one per query.
        for sql in [
            "FLUSH TABLE good",
            "FLUSH TABLE bad",
            "INSERT INTO bad VALUES (12)",
        ] {
            client.batch_execute(sql).await.unwrap();
        }
    }
    // Row 12 is only in the WAL: no shutdown flush.
    server.kill9();

    let log_dir = delta_log_of(server.data_dir(), "bad");
    let commit = newest_commit(&log_dir);
    let intact = std::fs::read(&commit).unwrap();
    std::fs::write(&commit, &intact[..intact.len() / 2]).unwrap();

    server.start_again();
    {
        let client = server.connect().await;
        let ids: Vec<i64> = client
            .query("SELECT id FROM good ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(ids, vec![1, 2, 3], "the intact table serves all its rows");

        let status: Vec<(String, String)> = client
            .query(
                "SELECT table_name, status FROM oxbow.tables WHERE schema_name = 'public' ORDER BY table_name",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(status.len(), 2, "{status:?}");
        assert_eq!(status[0].0, "bad");
        assert!(
            status[0].1.starts_with("unavailable: ") && status[0].1.len() > "unavailable: ".len(),
            "the broken table is reported with a reason: {status:?}"
        );
        assert_eq!(status[1], ("good".to_string(), "ok".to_string()));

        let err = client
            .query("SELECT id FROM bad", &[])
            .await
            .expect_err("a query of the broken table fails");
        assert_eq!(err.code(), Some(&SqlState::DATA_CORRUPTED), "{err:?}");
        assert!(
            err.to_string().contains("unavailable") || format!("{err:?}").contains("unavailable")
        );
        let err = client
            .execute("INSERT INTO bad VALUES (13)", &[])
            .await
            .expect_err("a write to the broken table fails");
        assert_eq!(err.code(), Some(&SqlState::DATA_CORRUPTED), "{err:?}");

        // The server keeps serving, and flushing the other table (which deletes flushed WAL
        // segments) keeps the broken table's records.
        for sql in ["INSERT INTO good VALUES (4)", "FLUSH TABLE good"] {
            client.batch_execute(sql).await.unwrap();
        }
        let n: i64 = client
            .query_one("SELECT count(*) FROM good", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 4);
    }
    server.stop();

    // Repaired, the table has its Delta rows and the row that was only in the WAL.
    std::fs::write(&commit, &intact).unwrap();
    server.start_again();
    let client = server.connect().await;
    let ids: Vec<i64> = client
        .query("SELECT id FROM bad ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ids,
        vec![10, 11, 12],
        "nothing of the broken table was lost"
    );
    let n: i64 = client
        .query_one("SELECT count(*) FROM good", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
}

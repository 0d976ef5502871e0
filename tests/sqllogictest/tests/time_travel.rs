//! `DESCRIBE HISTORY`, `TIMESTAMP AS OF` and `RESTORE` through the real binary: versions are
//! named by the commit times Oxbow records, and a restore survives a `kill -9`.

use oxbow_sqllogictest::TestServer;

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn history_names_each_commit_and_restore_brings_a_version_back() {
    let mut server = TestServer::start();
    let client = server.connect().await;
    // One statement per query: FLUSH, DESCRIBE HISTORY and RESTORE are whole simple queries.
    for sql in [
        "CREATE TABLE h (id int)",
        "INSERT INTO h VALUES (1), (2)",
        "FLUSH TABLE h",
    ] {
        client.batch_execute(sql).await.unwrap();
    }
    // A pause, so that the two flushes have distinct commit times in milliseconds.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    for sql in [
        "INSERT INTO h VALUES (3)",
        "FLUSH TABLE h",
        "INSERT INTO h VALUES (4)",
    ] {
        client.batch_execute(sql).await.unwrap();
    }

    // Newest first: the two flushes (WRITE), then the CREATE TABLE.
    let history = client
        .simple_query("DESCRIBE HISTORY h")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some((
                row.get(0).unwrap().to_string(),
                row.get(1).map(str::to_string),
                row.get(2).map(str::to_string),
            )),
            _ => None,
        })
        .collect::<Vec<_>>();
    let versions: Vec<&str> = history.iter().map(|(v, _, _)| v.as_str()).collect();
    assert_eq!(versions, vec!["2", "1", "0"], "{history:?}");
    assert_eq!(history[0].2.as_deref(), Some("WRITE"), "{history:?}");
    assert!(history.iter().all(|(_, t, _)| t.is_some()), "{history:?}");

    // TIMESTAMP AS OF the first flush's commit time reads version 1 (2 rows).
    let first_flush = history[1].1.clone().unwrap();
    let n = count(
        &client,
        &format!("SELECT count(*) FROM h TIMESTAMP AS OF '{first_flush}'"),
    )
    .await;
    assert_eq!(n, 2, "TIMESTAMP AS OF {first_flush}");

    // RESTORE to version 1: rows 3 (flushed in version 2) and 4 (hot, flushed by the restore)
    // are gone; a row written after the restore stays.
    for sql in [
        "RESTORE TABLE h TO VERSION AS OF 1",
        "INSERT INTO h VALUES (5)",
    ] {
        client.batch_execute(sql).await.unwrap();
    }
    let ids = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get(0)).collect::<Vec<i32>>();
    let got = ids(client
        .query("SELECT id FROM h ORDER BY id", &[])
        .await
        .unwrap());
    assert_eq!(got, vec![1, 2, 5]);
    // Older versions are still there to read.
    assert_eq!(
        count(&client, "SELECT count(*) FROM h VERSION AS OF 2").await,
        3
    );

    // Across a kill -9: the restored state and the row after it, once each.
    server.kill9();
    server.start_again();
    let client = server.connect().await;
    let got = ids(client
        .query("SELECT id FROM h ORDER BY id", &[])
        .await
        .unwrap());
    assert_eq!(got, vec![1, 2, 5]);
    let restore = client
        .simple_query("DESCRIBE HISTORY h LIMIT 2")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(2).map(str::to_string),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert!(restore.iter().any(|op| op == "RESTORE"), "{restore:?}");

    // A keyed table refuses RESTORE (its key index is not rebuilt).
    for sql in [
        "CREATE TABLE k (id int PRIMARY KEY)",
        "INSERT INTO k VALUES (1)",
        "FLUSH TABLE k",
    ] {
        client.batch_execute(sql).await.unwrap();
    }
    let err = client
        .batch_execute("RESTORE TABLE k TO VERSION AS OF 0")
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "0A000");
}

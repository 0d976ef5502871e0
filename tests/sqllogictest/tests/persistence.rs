//! Data and definitions survive a restart of the server.

use oxbow_sqllogictest::{TestServer, table_dir};

#[tokio::test]
async fn tables_views_and_rows_survive_a_restart() {
    let mut server = TestServer::start();
    {
        let client = server.connect().await;
        client
            .batch_execute(
                "CREATE SCHEMA s;
                 CREATE TABLE s.t (id bigint NOT NULL, name text, ts timestamptz);
                 INSERT INTO s.t VALUES (1, 'a', now()), (2, 'b', now());
                 CREATE VIEW s.v AS SELECT count(*) AS n FROM s.t;
                 DELETE FROM s.t WHERE id = 2;
                 INSERT INTO s.t VALUES (3, 'c', NULL);",
            )
            .await
            .unwrap();
    }
    server.restart();
    let client = server.connect().await;
    let rows = client
        .query("SELECT id, name FROM s.t ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, vec![(1, "a".to_string()), (3, "c".to_string())]);
    let n: i64 = client
        .query_one("SELECT n FROM s.v", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "the view is planned again after a restart");
    // The restarted server keeps accepting writes to the reopened table.
    client
        .execute("INSERT INTO s.t VALUES (4, 'd', NULL)", &[])
        .await
        .unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM s.t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
}

#[tokio::test]
async fn a_dropped_table_stays_dropped_and_its_name_is_reusable() {
    let mut server = TestServer::start();
    let old_dir = {
        let client = server.connect().await;
        client
            .batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        client.batch_execute("FLUSH TABLE t").await.unwrap();
        let old_dir = table_dir(&client, "t").await;
        assert!(old_dir.join("_delta_log").is_dir());
        client
            .batch_execute(
                "DROP TABLE t;
                 CREATE TABLE t (other text); INSERT INTO t VALUES ('x');",
            )
            .await
            .unwrap();
        old_dir
    };
    server.restart();
    let client = server.connect().await;
    let v: String = client
        .query_one("SELECT other FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, "x");
    let new_dir = table_dir(&client, "t").await;
    assert_ne!(new_dir, old_dir, "a new table gets a directory of its own");
    assert!(
        !old_dir.exists(),
        "DROP TABLE deleted the old table's files"
    );
    assert!(
        new_dir
            .join("_delta_log")
            .read_dir()
            .unwrap()
            .next()
            .is_some()
    );
}

/// A committed transaction block is durable when `COMMIT` returns; one that never committed
/// leaves nothing behind, even when the server is killed with its rows held.
#[tokio::test]
async fn committed_blocks_survive_kill_9_and_open_blocks_leave_nothing() {
    let mut server = TestServer::start();
    {
        let client = server.connect().await;
        client
            .batch_execute(
                "CREATE TABLE blocks (id bigint, what text);
                 BEGIN;
                 INSERT INTO blocks VALUES (1, 'committed'), (2, 'committed');
                 COMMIT;",
            )
            .await
            .unwrap();
        let open = server.connect().await;
        open.batch_execute("BEGIN; INSERT INTO blocks VALUES (3, 'never committed');")
            .await
            .unwrap();
        let held: i64 = open
            .query_one("SELECT count(*) FROM blocks", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(held, 3, "a block sees its own rows");
        server.kill9();
    }
    server.start_again();
    let client = server.connect().await;
    let rows = client
        .query("SELECT id, what FROM blocks ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        vec![(1, "committed".to_string()), (2, "committed".to_string())]
    );
}

/// A renamed table keeps its id, so its hot rows (replayed from the WAL, which names tables by
/// id) and its Delta rows come back under the new name after a `kill -9`; the old name is free.
#[tokio::test]
async fn a_renamed_table_keeps_its_rows_across_kill_9() {
    let mut server = TestServer::start();
    {
        let client = server.connect().await;
        // One statement per query: FLUSH TABLE is recognised only as a whole query.
        for sql in [
            "CREATE TABLE before_name (id int, k text)",
            "INSERT INTO before_name VALUES (1, 'lake'), (2, 'lake')",
            "FLUSH TABLE before_name",
            "INSERT INTO before_name VALUES (3, 'hot')",
            "ALTER TABLE before_name RENAME TO after_name",
            "INSERT INTO after_name VALUES (4, 'hot')",
        ] {
            client.batch_execute(sql).await.unwrap();
        }
    }
    server.kill9();
    server.start_again();
    let client = server.connect().await;
    let rows = client
        .query("SELECT id, k FROM after_name ORDER BY id", &[])
        .await
        .unwrap();
    let got: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        vec![
            (1, "lake".to_string()),
            (2, "lake".to_string()),
            (3, "hot".to_string()),
            (4, "hot".to_string())
        ]
    );
    let err = client
        .query("SELECT * FROM before_name", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42P01");
    client
        .batch_execute("CREATE TABLE before_name (x int)")
        .await
        .unwrap();
    client
        .batch_execute("FLUSH TABLE after_name")
        .await
        .unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM after_name", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 4, "the flush after the rename hands every row over once");
}

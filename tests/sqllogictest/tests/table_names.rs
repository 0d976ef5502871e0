//! Any name PostgreSQL accepts is only a name: a table called `..`, `../../wal` or `a#x`
//! is an ordinary table, or is refused, and never touches another table's files or the WAL
//! (review D2). And DROP TABLE waits for a running flush of the table, so a table created
//! again under the same name starts empty (review D10).

use std::path::Path;

use oxbow_sqllogictest::TestServer;
use tokio_postgres::Client;

/// Names that once resolved to other places in the data directory, and a name of exactly
/// 63 bytes (PostgreSQL's NAMEDATALEN - 1).
fn hostile_names() -> Vec<String> {
    vec![
        "..".into(),
        "../../wal".into(),
        "a#x".into(),
        "a/b".into(),
        "a?b".into(),
        "%2e%2e".into(),
        "/abs".into(),
        "s3://elsewhere/x".into(),
        "with space.and dot".into(),
        "ünïcødé ✓".into(),
        "n".repeat(63),
    ]
}

/// The name as a quoted SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn count(client: &Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap_or_else(|e| panic!("SELECT count(*) FROM {table}: {e}"))
        .get(0)
}

fn wal_segments(data_dir: &Path) -> usize {
    std::fs::read_dir(data_dir.join("wal"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "wal"))
                .count()
        })
        .unwrap_or(0)
}

/// `keep` holds 3 flushed rows (in Delta) and 2 unflushed ones (only in the WAL and the hot
/// tier); `a` is the table that `"a#x"` used to resolve to.
async fn make_bystanders(client: &Client) {
    client
        .batch_execute(
            "CREATE TABLE keep (id int) WITH (flush_interval = '1h');
             INSERT INTO keep VALUES (1), (2), (3);",
        )
        .await
        .unwrap();
    client.simple_query("FLUSH TABLE keep").await.unwrap();
    client
        .batch_execute(
            "INSERT INTO keep VALUES (4), (5);
             CREATE TABLE a (id int) WITH (flush_interval = '1h');
             INSERT INTO a VALUES (1);",
        )
        .await
        .unwrap();
    client.simple_query("FLUSH TABLE a").await.unwrap();
}

async fn assert_bystanders_intact(server: &TestServer, client: &Client, when: &str) {
    assert_eq!(count(client, "keep").await, 5, "keep after {when}");
    assert_eq!(count(client, "a").await, 1, "a after {when}");
    assert!(
        wal_segments(server.data_dir()) > 0,
        "the WAL lost its segments after {when}"
    );
}

#[tokio::test]
async fn quoted_names_are_only_names_and_touch_no_other_table_or_the_wal() {
    let mut server = TestServer::start();
    let client = server.connect().await;
    make_bystanders(&client).await;
    assert_bystanders_intact(&server, &client, "setup").await;

    let mut created = Vec::new();
    for name in hostile_names() {
        let table = quoted(&name);
        match client
            .batch_execute(&format!(
                "CREATE TABLE {table} (v int) WITH (flush_interval = '1h')"
            ))
            .await
        {
            Ok(()) => created.push(name.clone()),
            Err(e) => {
                let code = e.code().map(|c| c.code().to_string());
                assert_eq!(
                    code.as_deref(),
                    Some("42602"),
                    "CREATE TABLE {table} may only fail as invalid_name: {e}"
                );
                assert_bystanders_intact(&server, &client, &format!("refused {table}")).await;
                continue;
            }
        }
        client
            .batch_execute(&format!("INSERT INTO {table} VALUES (10), (20)"))
            .await
            .unwrap_or_else(|e| panic!("INSERT INTO {table}: {e}"));
        assert_eq!(count(&client, &table).await, 2, "{table} before its flush");
        client
            .simple_query(&format!("FLUSH TABLE {table}"))
            .await
            .unwrap_or_else(|e| panic!("FLUSH TABLE {table}: {e}"));
        client
            .batch_execute(&format!("INSERT INTO {table} VALUES (30)"))
            .await
            .unwrap();
        assert_eq!(count(&client, &table).await, 3, "{table} after its flush");
        assert_bystanders_intact(&server, &client, &format!("CREATE TABLE {table}")).await;
    }
    assert!(
        created.contains(&"n".repeat(63)),
        "a 63-byte name is a valid PostgreSQL identifier"
    );

    drop(client);
    server.restart();
    let client = server.connect().await;
    assert_bystanders_intact(&server, &client, "a restart").await;
    for name in &created {
        assert_eq!(
            count(&client, &quoted(name)).await,
            3,
            "{name} after a restart"
        );
    }

    // Dropping them deletes their own files only.
    for name in &created {
        client
            .batch_execute(&format!("DROP TABLE {}", quoted(name)))
            .await
            .unwrap();
        assert_bystanders_intact(&server, &client, &format!("DROP TABLE {}", quoted(name))).await;
    }
    drop(client);
    server.restart();
    let client = server.connect().await;
    assert_bystanders_intact(&server, &client, "the drops and a restart").await;
}

#[tokio::test]
async fn names_longer_than_63_bytes_are_refused_as_too_long() {
    let server = TestServer::start();
    let client = server.connect().await;
    let long = quoted(&"n".repeat(64));
    let e = client
        .batch_execute(&format!("CREATE TABLE {long} (v int)"))
        .await
        .expect_err("a 64-byte name is longer than NAMEDATALEN - 1");
    assert_eq!(e.code().map(|c| c.code()), Some("42622"), "{e}");
    // Three 2-byte characters past 60 bytes: 66 bytes in 33 characters.
    let wide = quoted(&format!("{}ééé", "n".repeat(60)));
    let e = client
        .batch_execute(&format!("CREATE TABLE {wide} (v int)"))
        .await
        .expect_err("the limit counts bytes, not characters");
    assert_eq!(e.code().map(|c| c.code()), Some("42622"), "{e}");
}

/// DROP TABLE while a large flush of the table runs, then CREATE TABLE of the same name: the
/// new table is empty and healthy, and stays so after a restart (the old flush can neither
/// land in the new table nor write into the deleted directory).
#[tokio::test]
async fn drop_during_a_flush_then_create_again_gives_an_empty_healthy_table() {
    let mut server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE big (id bigint, pad text) WITH (flush_interval = '1h');
             INSERT INTO big SELECT v, repeat('x', 100) FROM generate_series(1, 300000) AS t(v);",
        )
        .await
        .unwrap();
    let flusher = server.connect().await;
    let flush = tokio::spawn(async move { flusher.simple_query("FLUSH TABLE big").await });
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    client.batch_execute("DROP TABLE big").await.unwrap();
    client
        .batch_execute("CREATE TABLE big (id bigint, pad text) WITH (flush_interval = '1h')")
        .await
        .unwrap();
    // The flush either finished before the drop or found its table gone.
    let _ = flush.await.unwrap();
    assert_eq!(count(&client, "big").await, 0, "the re-created table");
    client
        .batch_execute("INSERT INTO big VALUES (1, 'new')")
        .await
        .unwrap();
    client.simple_query("FLUSH TABLE big").await.unwrap();
    assert_eq!(count(&client, "big").await, 1);
    drop(client);
    server.restart();
    let client = server.connect().await;
    let rows = client.query("SELECT id, pad FROM big", &[]).await.unwrap();
    let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, vec![(1, "new".to_string())]);
}

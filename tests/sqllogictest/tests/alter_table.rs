//! `ALTER TABLE ... ADD COLUMN` and `schema_mode = 'evolve'` across restarts: WAL records
//! written before the change are replayed into the wider table (NULL in the new columns), and
//! the Delta log keeps the new schema. The SQL behaviour is in `slt/alter_table.slt`.

use std::time::Duration;

use oxbow_sqllogictest::TestServer;
use oxbow_sqllogictest::sources::{count, post, wait_for};
use tokio_postgres::Client;

async fn rows(client: &Client, sql: &str) -> Vec<String> {
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect()
}

/// Rows in all three places (Delta, hot, and only in the WAL after a kill -9) under the old
/// schema, then the ALTER through the extended protocol, then rows with the new column: after
/// a kill -9 and a restart every row is there once, old ones NULL in the new column, and a
/// flush of the replayed rows writes them under the new schema.
#[tokio::test]
async fn wal_records_written_before_add_column_replay_into_the_wider_table() {
    let mut server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE t (id bigint, kind text) WITH (flush_interval = '1h');
             INSERT INTO t VALUES (1, 'lake')",
        )
        .await
        .unwrap();
    client.batch_execute("FLUSH TABLE t").await.unwrap();
    client
        .batch_execute("INSERT INTO t VALUES (2, 'wal')")
        .await
        .unwrap();
    // The extended protocol (tokio-postgres' `execute` prepares the statement first).
    client
        .execute("ALTER TABLE t ADD COLUMN score integer", &[])
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO t VALUES ($1, $2, $3)",
            &[&3i64, &"after", &7i32],
        )
        .await
        .unwrap();
    let before = rows(&client, "SELECT id, kind, score FROM t ORDER BY id").await;
    assert_eq!(before, ["1|lake|NULL", "2|wal|NULL", "3|after|7"]);

    server.kill9();
    server.start_again();
    let client = server.connect().await;
    let after = rows(&client, "SELECT id, kind, score FROM t ORDER BY id").await;
    assert_eq!(after, before, "after kill -9\n{}", server.log());
    let hot: i64 = count(
        &client,
        "SELECT hot_rows::bigint FROM oxbow.tables WHERE table_name = 't'",
    )
    .await;
    assert_eq!(hot, 2, "rows 2 and 3 came back from the WAL");
    client.batch_execute("FLUSH TABLE t").await.unwrap();
    assert_eq!(
        rows(&client, "SELECT id, kind, score FROM t ORDER BY id").await,
        before
    );
    // The column survives a clean restart too, and the catalog has it.
    server.restart();
    let client = server.connect().await;
    assert_eq!(
        rows(&client, "SELECT id, kind, score FROM t ORDER BY id").await,
        before
    );
    let columns = rows(
        &client,
        "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_name = 't' ORDER BY ordinal_position",
    )
    .await;
    assert_eq!(columns, ["id|bigint", "kind|text", "score|integer"]);
}

/// `schema_mode = 'evolve'`: a pushed row with a field the table lacks adds a nullable column
/// of the inferred type instead of going to dead letters; both tiers then show it, and so
/// does the table after a restart.
#[tokio::test]
async fn an_evolving_source_adds_new_fields_as_columns() {
    let mut server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE clicks (id bigint, url text) WITH (flush_interval = '1h');
             CREATE SOURCE web FROM HTTP () FORMAT JSON INTO clicks WITH (schema_mode = 'evolve')",
        )
        .await
        .unwrap();
    let url = format!("{}/v1/sources/web", server.http_url());
    let (status, answer) = post(&url, br#"[{"id": 1, "url": "/a"}]"#, &[]);
    assert_eq!(status, 200, "{answer}");
    client.batch_execute("FLUSH TABLE clicks").await.unwrap();
    let (status, answer) = post(
        &url,
        br#"[{"id": 2, "url": "/b", "country": "NL", "ms": 15.5},
             {"id": 3, "url": "/c", "ms": 2.5, "mobile": true}]"#,
        &[],
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(answer["rejected"], 0, "{answer}");
    let letters = count(&client, "SELECT count(*) FROM oxbow.dead_letters").await;
    assert_eq!(letters, 0, "no row went to dead letters");
    let columns = rows(
        &client,
        "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_name = 'clicks' ORDER BY ordinal_position",
    )
    .await;
    // Field order is the rows' order.
    assert_eq!(columns.len(), 5, "{columns:?}");
    assert_eq!(&columns[..2], ["id|bigint", "url|text"]);
    let mut added = columns[2..].to_vec();
    added.sort();
    assert_eq!(
        added,
        ["country|text", "mobile|boolean", "ms|double precision"]
    );
    let expect = [
        "1|/a|NULL|NULL|NULL",
        "2|/b|NL|15.5|NULL",
        "3|/c|NULL|2.5|t",
    ];
    let sql = "SELECT id, url, country, ms, mobile FROM clicks ORDER BY id";
    assert_eq!(rows(&client, sql).await, expect);
    // Strict sources into the same table now accept the field too.
    let (status, _) = post(&url, br#"{"id": 4, "url": "/d", "country": "DE"}"#, &[]);
    assert_eq!(status, 200);
    wait_for(
        &client,
        "SELECT count(*) FROM clicks",
        4,
        Duration::from_secs(5),
    )
    .await;
    server.kill9();
    server.start_again();
    let client = server.connect().await;
    let sql = "SELECT id, url, country, ms, mobile FROM clicks WHERE id < 4 ORDER BY id";
    assert_eq!(rows(&client, sql).await, expect, "{}", server.log());
    assert_eq!(count(&client, "SELECT count(*) FROM clicks").await, 4);
}

//! The memory caps of review D8, with a 1 MiB hot tier: a transaction block may hold a
//! quarter of the hot memory limit, and a COPY may buffer at most the limit. Past them the
//! statement fails with 54000, nothing of it is written, the connection keeps working and
//! other sessions do not notice.

use futures::SinkExt;
use oxbow_sqllogictest::TestServer;
use tokio_postgres::error::SqlState;

fn small_server() -> TestServer {
    TestServer::start_with(vec!["--hot-memory-mb".into(), "1".into()], vec![])
}

async fn count(client: &tokio_postgres::Client, table: &str) -> i64 {
    client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_block_past_its_cap_is_refused_and_the_connection_goes_on() {
    let server = small_server();
    let client = server.connect().await;
    let other = server.connect().await;
    client
        .batch_execute("CREATE TABLE b (id bigint, s text)")
        .await
        .unwrap();

    // A block within its cap commits (its held rows become the write's reservation).
    client
        .batch_execute("BEGIN; INSERT INTO b VALUES (1, 'small'); COMMIT")
        .await
        .unwrap();
    assert_eq!(count(&client, "b").await, 1);

    client.batch_execute("BEGIN").await.unwrap();
    let mut refused = None;
    for i in 0..40 {
        let result = client
            .batch_execute(&format!("INSERT INTO b VALUES ({i}, repeat('x', 50000))"))
            .await;
        if let Err(e) = result {
            refused = Some(e);
            break;
        }
        // Another session writes meanwhile, unaffected by this block.
        other
            .batch_execute(&format!("INSERT INTO b VALUES ({}, 'other')", 1000 + i))
            .await
            .unwrap();
    }
    let err = refused.expect("the block was never refused");
    assert_eq!(
        err.code(),
        Some(&SqlState::PROGRAM_LIMIT_EXCEEDED),
        "{err:?}"
    );
    let message = err.as_db_error().unwrap().message().to_string();
    assert!(message.contains("commit in smaller blocks"), "{message}");
    client.batch_execute("ROLLBACK").await.unwrap();

    let others = count(&other, "b").await;
    assert!(others > 1, "the other session's rows are there");
    assert_eq!(
        count(&client, "b").await,
        others,
        "nothing of the refused block was written"
    );
    let big: i64 = client
        .query_one("SELECT count(*) FROM b WHERE length(s) = 50000", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(big, 0);

    // The connection and its next block work; the rolled-back block's bytes were released.
    client
        .batch_execute("BEGIN; INSERT INTO b VALUES (7, repeat('y', 50000)); COMMIT")
        .await
        .unwrap();
    assert_eq!(count(&client, "b").await, others + 1);
}

#[tokio::test]
async fn a_copy_past_the_cap_is_refused_and_writes_nothing() {
    let server = small_server();
    let client = server.connect().await;
    let other = server.connect().await;
    client
        .batch_execute("CREATE TABLE c (id bigint NOT NULL, name text)")
        .await
        .unwrap();

    let sink = client
        .copy_in("COPY c FROM STDIN WITH (FORMAT csv)")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    // 3 MiB in 64 KiB chunks: past the 1 MiB cap after 16 of them.
    let chunk: String = (0..2_000)
        .map(|i| format!("{i},name{i:025}\n"))
        .collect::<String>();
    let chunk = bytes::Bytes::from(chunk);
    let mut sent = 0;
    while sent < 3 << 20 {
        sink.send(chunk.clone()).await.unwrap();
        sent += chunk.len();
    }
    let err = sink.finish().await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&SqlState::PROGRAM_LIMIT_EXCEEDED),
        "{err:?}"
    );
    let message = err.as_db_error().unwrap().message().to_string();
    assert!(message.contains("COPY input exceeds"), "{message}");

    assert_eq!(
        count(&client, "c").await,
        0,
        "nothing of the COPY was written"
    );
    other
        .batch_execute("INSERT INTO c VALUES (1, 'other')")
        .await
        .unwrap();

    // A COPY under the cap on the same connection works.
    let sink = client
        .copy_in("COPY c FROM STDIN WITH (FORMAT csv)")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    sink.send(chunk.clone()).await.unwrap();
    assert_eq!(sink.finish().await.unwrap(), 2_000);
    assert_eq!(count(&client, "c").await, 2_001);
    assert_eq!(count(&other, "c").await, 2_001);
}

//! The extended query protocol (Parse/Bind/Execute with parameters), errors with SQLSTATE,
//! and COPY, as tokio-postgres speaks them.

use futures::SinkExt;
use oxbow_sqllogictest::TestServer;
use tokio_postgres::error::SqlState;

#[tokio::test]
async fn parameters_bind_through_the_extended_protocol() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE p (id bigint, name text, score double precision)")
        .await
        .unwrap();
    let insert = client
        .prepare("INSERT INTO p VALUES ($1, $2, $3)")
        .await
        .unwrap();
    for i in 0..5i64 {
        let n = client
            .execute(&insert, &[&i, &format!("n{i}"), &(i as f64 / 2.0)])
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    let rows = client
        .query(
            "SELECT name, score FROM p WHERE id >= $1 ORDER BY id",
            &[&3i64],
        )
        .await
        .unwrap();
    let got: Vec<(String, f64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, vec![("n3".into(), 1.5), ("n4".into(), 2.0)]);
    let deleted = client
        .execute("DELETE FROM p WHERE id < $1", &[&2i64])
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let updated = client
        .execute("UPDATE p SET name = $1 WHERE id = $2", &[&"renamed", &4i64])
        .await
        .unwrap();
    assert_eq!(updated, 1);
}

#[tokio::test]
async fn errors_carry_their_sqlstate_and_the_connection_survives() {
    let server = TestServer::start();
    let client = server.connect().await;
    let err = client.query("SELEC 1", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR));
    let err = client.query("SELECT * FROM nope", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
    let err = client
        .batch_execute("SELECT * FROM nope")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
    let one: i64 = client
        .query_one("SELECT 1::bigint", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(one, 1);
}

#[tokio::test]
async fn copy_in_commits_all_rows_or_none() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE c (id bigint NOT NULL, name text)")
        .await
        .unwrap();

    let sink = client
        .copy_in("COPY c FROM STDIN WITH (FORMAT csv)")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    let data: String = (0..10_000).map(|i| format!("{i},name{i}\n")).collect();
    sink.send(bytes::Bytes::from(data)).await.unwrap();
    let rows = sink.finish().await.unwrap();
    assert_eq!(rows, 10_000);

    let sink = client
        .copy_in("COPY c FROM STDIN WITH (FORMAT csv)")
        .await
        .unwrap();
    futures::pin_mut!(sink);
    let mut data: String = (0..100).map(|i| format!("{i},x\n")).collect();
    data.push_str("oops,bad\n");
    sink.send(bytes::Bytes::from(data)).await.unwrap();
    let err = sink.finish().await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INVALID_TEXT_REPRESENTATION));
    let message = err.as_db_error().unwrap().message().to_string();
    assert!(message.contains("line 101"), "{message}");

    let n: i64 = client
        .query_one("SELECT count(*) FROM c", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 10_000, "the failed COPY wrote nothing");
}

#[tokio::test]
async fn copy_out_streams_rows_in_text_and_csv() {
    use futures::TryStreamExt;
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE o (id int, name text, ok boolean); INSERT INTO o VALUES (1, 'a b', true), (2, NULL, false)")
        .await
        .unwrap();
    let text: Vec<bytes::Bytes> = client
        .copy_out("COPY (SELECT * FROM o ORDER BY id) TO STDOUT")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(text.concat(), b"1\ta b\tt\n2\t\\N\tf\n");
    let csv: Vec<bytes::Bytes> = client
        .copy_out("COPY o TO STDOUT WITH (FORMAT csv, HEADER)")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let csv = String::from_utf8(csv.concat()).unwrap();
    assert!(csv.starts_with("id,name,ok\n"), "{csv}");
    assert_eq!(csv.lines().count(), 3);
}

/// PostgreSQL reads an empty line of text-format COPY input as a row whose one field is the
/// empty string; only the newline that ends the last row starts no row.
#[tokio::test]
async fn text_copy_keeps_empty_lines_as_empty_strings() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE e (s text)")
        .await
        .unwrap();
    let sink = client.copy_in("COPY e FROM STDIN").await.unwrap();
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(b"a\n\nb\n\n"))
        .await
        .unwrap();
    assert_eq!(sink.finish().await.unwrap(), 4);
    let rows = client
        .query("SELECT s, s IS NULL FROM e ORDER BY s", &[])
        .await
        .unwrap();
    let values: Vec<(String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        values,
        vec![
            (String::new(), false),
            (String::new(), false),
            ("a".to_string(), false),
            ("b".to_string(), false)
        ]
    );
}

//! `CREATE SOURCE`: the data generator, HTTP push and transforms, each through the real binary
//! with real clients (tokio-postgres, curl), including bad rows, retries with an
//! `Idempotency-Key`, deduplication and `kill -9` restarts. FILES sources: `sources_files.rs`.

use std::time::Duration;

use oxbow_sqllogictest::TestServer;
use oxbow_sqllogictest::sources::{count, post, wait_for};
use tokio_postgres::error::SqlState;

#[tokio::test]
async fn a_generator_creates_its_table_and_its_rows_reach_delta() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE SOURCE gen FROM DATAGEN (rows_per_second = '1000') FORMAT JSON INTO gen_events",
        )
        .await
        .unwrap();
    let n = wait_for(
        &client,
        "SELECT count(*) FROM gen_events",
        300,
        Duration::from_secs(10),
    )
    .await;
    assert!(
        n >= 300,
        "only {n} rows after 10 s at 1000 rows/s\n{}",
        server.log()
    );
    let later = wait_for(
        &client,
        "SELECT count(*) FROM gen_events",
        n + 200,
        Duration::from_secs(10),
    )
    .await;
    assert!(later > n, "the count does not grow");
    let status: String = client
        .query_one(
            "SELECT status FROM oxbow.sources WHERE source_name = 'gen'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "running");
    let distinct = count(
        &client,
        "SELECT count(DISTINCT event_id) - count(*) FROM gen_events",
    )
    .await;
    assert_eq!(distinct, 0, "event ids are unique");
    client
        .batch_execute("FLUSH TABLE gen_events")
        .await
        .unwrap();
    let files: i64 = client
        .query_one(
            "SELECT CAST(delta_files AS bigint) FROM oxbow.tables WHERE table_name = 'gen_events'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(files >= 1, "the flush wrote no Delta file");
    // A bounded generator stops at max_rows, counted across restarts.
    client
        .batch_execute(
            "CREATE SOURCE few FROM DATAGEN (rows_per_second = '2000', max_rows = '500', seed = '7') FORMAT JSON INTO few_events",
        )
        .await
        .unwrap();
    let n = wait_for(
        &client,
        "SELECT count(*) FROM few_events",
        500,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(n, 500);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&client, "SELECT count(*) FROM few_events").await, 500);
    let rows = client
        .simple_query("SHOW SOURCES")
        .await
        .unwrap()
        .into_iter()
        .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        .count();
    assert_eq!(rows, 2);
}

fn clicks_body(from: usize, n: usize, bad_every: Option<usize>) -> (String, usize) {
    let mut body = String::new();
    let mut bad = 0;
    for i in from..from + n {
        let line = match bad_every {
            Some(k) if i % k == 7 => {
                bad += 1;
                match (i / k) % 5 {
                    0 => format!("{{\"id\":\"x{i}\",\"email\":\"a@b.c\"}}"),
                    1 => format!("{{\"id\":{i},\"color\":\"red\"}}"),
                    2 => format!("{{\"id\":{i},\"email\":"),
                    3 => "{\"email\":\"no-id@b.c\"}".to_string(),
                    _ => format!("{{\"id\":{i},\"ts\":\"not a time\"}}"),
                }
            }
            _ => format!(
                "{{\"id\":{i},\"email\":\"user{i}@example.com\",\"ts\":{}}}",
                1_767_225_600 + i
            ),
        };
        body.push_str(&line);
        body.push('\n');
    }
    (body, bad)
}

#[tokio::test]
async fn http_pushes_land_good_rows_and_dead_letter_bad_ones_exactly_once() {
    let mut server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE clicks (id bigint NOT NULL, email text, ts timestamptz);
             CREATE SOURCE web FROM HTTP () FORMAT JSON INTO clicks
               WITH (schema_mode = 'strict', time_column = 'ts', dedup_key = 'id', dedup_window = '1 hour')",
        )
        .await
        .unwrap();
    let url = format!("{}/v1/sources/web", server.http_url());
    let (body, bad) = clicks_body(0, 1000, Some(100));
    assert_eq!(bad, 10);
    let key = [
        ("Idempotency-Key", "push-1"),
        ("Content-Type", "application/x-ndjson"),
    ];
    let (status, answer) = post(&url, body.as_bytes(), &key);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 990, "{answer}");
    assert_eq!(answer["rejected"], 10);
    assert_eq!(count(&client, "SELECT count(*) FROM clicks").await, 990);
    let letters = client
        .query(
            "SELECT stage, field, error, payload FROM oxbow.dead_letters WHERE source = 'public.web' ORDER BY payload",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(letters.len(), 10);
    let fields: std::collections::BTreeSet<Option<String>> =
        letters.iter().map(|r| r.get(1)).collect();
    for field in ["id", "color", "ts"] {
        assert!(
            fields.contains(&Some(field.to_string())),
            "no dead letter names {field}: {fields:?}"
        );
    }
    for row in &letters {
        let error: String = row.get(2);
        let payload: Option<String> = row.get(3);
        assert!(!error.is_empty());
        assert!(
            payload.is_some_and(|p| p.starts_with('{')),
            "the raw row is kept"
        );
    }
    // A retry with the same key adds nothing and gets the first answer.
    let (status, again) = post(&url, body.as_bytes(), &key);
    assert_eq!(status, 200);
    assert_eq!(again["replayed"], true);
    assert_eq!(again["accepted"], 990);
    assert_eq!(count(&client, "SELECT count(*) FROM clicks").await, 990);
    // Duplicates on the key within the window are dropped and counted.
    // (Ids 10..60: all landed; id 7 was a bad row.)
    let (dups, _) = clicks_body(10, 50, None);
    let (status, answer) = post(&url, dups.as_bytes(), &[]);
    assert_eq!(status, 200);
    assert_eq!(answer["deduplicated"], 50, "{answer}");
    // Also after a crash: the keys come back from the table, the receipt from the offsets.
    drop(client);
    server.kill9();
    server.start_again();
    let client = server.connect().await;
    let (status, answer) = post(&url, dups.as_bytes(), &[]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["deduplicated"], 50,
        "dedup state after a restart: {answer}"
    );
    let (status, again) = post(&url, body.as_bytes(), &key);
    assert_eq!(
        (status, again["replayed"].clone()),
        (200, serde_json::Value::Bool(true))
    );
    assert_eq!(count(&client, "SELECT count(*) FROM clicks").await, 990);
    assert_eq!(
        count(&client, "SELECT count(*) FROM oxbow.dead_letters").await,
        10
    );
    let (rows_in, rejected): (i64, i64) = {
        let row = client
            .query_one(
                "SELECT CAST(rows_in AS bigint), CAST(rows_rejected AS bigint) FROM oxbow.sources WHERE source_name = 'web'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((rows_in, rejected), (50, 0), "counters since the restart");
    // A JSON array and CSV body, by content type.
    let (status, answer) = post(
        &url,
        br#"[{"id": 5001, "email": "a@x.io"}, {"id": 5002}]"#,
        &[("Content-Type", "application/json")],
    );
    assert_eq!(
        (status, answer["accepted"].clone()),
        (200, serde_json::json!(2))
    );
    let (status, answer) = post(
        &url,
        b"id,email\n6001,c@x.io\nnope,d@x.io\n",
        &[("Content-Type", "text/csv")],
    );
    assert_eq!(status, 200);
    assert_eq!(
        (answer["accepted"].clone(), answer["rejected"].clone()),
        (serde_json::json!(1), serde_json::json!(1))
    );
    // Unknown sources are 404; a garbage body is a dead letter, not a 500.
    let (status, _) = post(
        &format!("{}/v1/sources/nope", server.http_url()),
        b"{}",
        &[],
    );
    assert_eq!(status, 404);
    let (status, answer) = post(
        &url,
        b"[{\"id\": 1,",
        &[("Content-Type", "application/json")],
    );
    assert_eq!(
        (status, answer["rejected"].clone()),
        (200, serde_json::json!(1))
    );
}

#[tokio::test]
async fn an_oversized_push_gets_413_and_a_paused_source_409() {
    let server =
        TestServer::start_with(vec!["--http-body-limit-mb".into(), "1".into()], Vec::new());
    let client = server.connect().await;
    client
        .batch_execute("CREATE SOURCE web FROM HTTP () FORMAT JSON INTO t")
        .await
        .unwrap();
    let url = format!("{}/v1/sources/web", server.http_url());
    let big = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(post(&url, &big, &[]).0, 413);
    // The first push creates the table from its rows.
    let (status, answer) = post(&url, br#"{"a": 1, "b": "x"}"#, &[]);
    assert_eq!(
        (status, answer["accepted"].clone()),
        (200, serde_json::json!(1)),
        "{answer}"
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM t WHERE a = 1 AND b = 'x'").await,
        1
    );
    client
        .batch_execute("ALTER SOURCE web PAUSE")
        .await
        .unwrap();
    assert_eq!(post(&url, br#"{"a": 2}"#, &[]).0, 409);
    client
        .batch_execute("ALTER SOURCE web RESUME")
        .await
        .unwrap();
    assert_eq!(post(&url, br#"{"a": 2}"#, &[]).0, 200);
}

#[tokio::test]
async fn bad_source_statements_are_refused_and_leave_nothing() {
    let root = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(
        vec![
            "--allow-file-root".into(),
            root.path().display().to_string(),
        ],
        Vec::new(),
    );
    let client = server.connect().await;
    let code = |e: tokio_postgres::Error| e.code().cloned();
    let cases: &[(&str, SqlState)] = &[
        (
            "CREATE SOURCE s FROM DATAGEN (rows_per_secnd = '5') FORMAT JSON INTO t",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
        (
            "CREATE SOURCE s FROM HTTP () FORMAT JSON INTO t WITH (schema_mode = 'grow')",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
        (
            "CREATE SOURCE s FROM FILES (path = '/etc') FORMAT JSON INTO t",
            SqlState::INSUFFICIENT_PRIVILEGE,
        ),
        (
            "CREATE SOURCE s FROM KAFKA (topic = 'x') FORMAT JSON INTO t",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
        (
            "CREATE SOURCE s FROM KAFKA (brokers = '127.0.0.1:1', topic = 'x') FORMAT CSV INTO t",
            SqlState::FEATURE_NOT_SUPPORTED,
        ),
        (
            r#"CREATE SOURCE s FROM HTTP () FORMAT AVRO (schema = '{"type":"record","name":"r","fields":[{"name":"id","type":"long"}]}') INTO t"#,
            SqlState::FEATURE_NOT_SUPPORTED,
        ),
        (
            "CREATE SOURCE s FROM KAFKA (brokers = '127.0.0.1:1', topic = 'x') FORMAT AVRO INTO t",
            SqlState::INVALID_PARAMETER_VALUE,
        ),
        (
            "CREATE SOURCE s FROM HTTP () FORMAT JSON INTO t AS SELEC 1",
            SqlState::SYNTAX_ERROR,
        ),
        ("DROP SOURCE missing", SqlState::UNDEFINED_OBJECT),
        ("ALTER SOURCE missing PAUSE", SqlState::UNDEFINED_OBJECT),
    ];
    for (sql, want) in cases {
        let e = client.batch_execute(sql).await.expect_err(sql);
        assert_eq!(code(e).as_ref(), Some(want), "{sql}");
    }
    client
        .batch_execute("DROP SOURCE IF EXISTS missing")
        .await
        .unwrap();
    let n = count(&client, "SELECT count(*) FROM oxbow.sources").await;
    assert_eq!(n, 0, "a failed CREATE SOURCE registers nothing");
    let tables = count(
        &client,
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 't'",
    )
    .await;
    assert_eq!(tables, 0, "nor creates its table");
    client
        .batch_execute("CREATE SOURCE s FROM HTTP () FORMAT JSON INTO t")
        .await
        .unwrap();
    let e = client
        .batch_execute("CREATE SOURCE s FROM HTTP () FORMAT JSON INTO t")
        .await
        .unwrap_err();
    assert_eq!(code(e), Some(SqlState::DUPLICATE_OBJECT));
    client
        .batch_execute("CREATE SOURCE IF NOT EXISTS s FROM HTTP () FORMAT JSON INTO t")
        .await
        .unwrap();
    client.batch_execute("SELECT 1").await.unwrap();
    // The extended protocol (Parse/Bind/Execute, as JDBC sends them) runs them too.
    client
        .execute("ALTER SOURCE s PAUSE", &[])
        .await
        .expect("ALTER SOURCE over the extended protocol");
    let status: String = client
        .query_one(
            "SELECT status FROM oxbow.sources WHERE source_name = 's'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "paused");
    let e = client.execute("DROP SOURCE nope", &[]).await.unwrap_err();
    assert_eq!(code(e), Some(SqlState::UNDEFINED_OBJECT));
    client.execute("DROP SOURCE s", &[]).await.unwrap();
    assert_eq!(
        count(&client, "SELECT count(*) FROM oxbow.sources").await,
        0
    );
}

#[tokio::test]
async fn a_transform_enriches_from_a_lookup_table_and_masks_emails() {
    let server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE users (id bigint, country text);
             INSERT INTO users VALUES (1, 'DE'), (2, 'IN');
             CREATE TABLE enriched (event_id text, email text, country text, ts timestamptz);
             CREATE SOURCE enrich FROM HTTP () FORMAT JSON INTO enriched
               WITH (time_column = 'ts')
               AS SELECT e.event_id, mask_email(e.email) AS email, u.country, e.ts
                  FROM input e LEFT JOIN users u ON u.id = CAST(e.user_id AS bigint)",
        )
        .await
        .unwrap();
    let url = format!("{}/v1/sources/enrich", server.http_url());
    let body = "{\"event_id\":\"a\",\"user_id\":1,\"email\":\"jane.doe@example.com\",\"ts\":\"2026-05-01T10:00:00Z\"}\n\
                {\"event_id\":\"b\",\"user_id\":2,\"email\":\"raj@example.in\",\"ts\":1777629600000}\n\
                {\"event_id\":\"c\",\"user_id\":3,\"email\":\"x@y.z\"}\n";
    let (status, answer) = post(&url, body.as_bytes(), &[]);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 3, "{answer}");
    let rows = client
        .query(
            "SELECT event_id, email, country FROM enriched ORDER BY event_id",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, String, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a".into(), "j*******@example.com".into(), Some("DE".into())),
            ("b".into(), "r**@example.in".into(), Some("IN".into())),
            ("c".into(), "x@y.z".into(), None),
        ]
    );
    // The lookup sees the table's current contents.
    client
        .batch_execute("INSERT INTO users VALUES (3, 'US')")
        .await
        .unwrap();
    let (status, _) = post(
        &url,
        b"{\"event_id\":\"d\",\"user_id\":3,\"email\":\"q@r.s\"}",
        &[],
    );
    assert_eq!(status, 200);
    let country: Option<String> = client
        .query_one("SELECT country FROM enriched WHERE event_id = 'd'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(country.as_deref(), Some("US"));
    let ts_from_millis: i64 = client
        .query_one(
            "SELECT CAST(extract(epoch FROM ts) AS bigint) FROM enriched WHERE event_id = 'b'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ts_from_millis, 1_777_629_600);
}

/// A client pushes numbered batches with idempotency keys while the server is killed: every
/// acknowledged batch is there exactly once afterwards, and retrying the unacknowledged ones
/// with their keys lands each exactly once too (the client's retry loop after a crash).
#[tokio::test]
async fn pushes_acknowledged_before_a_kill9_are_there_exactly_once() {
    let mut server = TestServer::start();
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE pushed (id bigint NOT NULL, batch bigint NOT NULL);
             CREATE SOURCE feed FROM HTTP () FORMAT JSON INTO pushed",
        )
        .await
        .unwrap();
    drop(client);
    let url = format!("{}/v1/sources/feed", server.http_url());
    const BATCHES: i64 = 60;
    const ROWS: i64 = 200;
    let body = |b: i64| {
        (0..ROWS)
            .map(|r| format!("{{\"id\":{},\"batch\":{b}}}\n", b * ROWS + r))
            .collect::<String>()
    };
    let pusher = {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            for b in 0..BATCHES {
                let key = format!("batch-{b}");
                let (status, answer) = post(&url, body(b).as_bytes(), &[("Idempotency-Key", &key)]);
                if status == 200 && answer["accepted"] == ROWS {
                    acked.push(b);
                } else {
                    break;
                }
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.kill9();
    let acked = pusher.join().unwrap();
    assert!(
        !acked.is_empty(),
        "no push was acknowledged before the kill"
    );
    server.start_again();
    let client = server.connect().await;
    for &b in &acked {
        let n = count(
            &client,
            &format!("SELECT count(*) FROM pushed WHERE batch = {b}"),
        )
        .await;
        assert_eq!(n, ROWS, "acknowledged batch {b} has {n} rows");
    }
    // The client retries everything it did not see acknowledged, and replays a few it did.
    for b in 0..BATCHES {
        let key = format!("batch-{b}");
        let (status, answer) = post(&url, body(b).as_bytes(), &[("Idempotency-Key", &key)]);
        assert_eq!(status, 200, "{answer}");
        if acked.contains(&b) {
            assert_eq!(answer["replayed"], true, "batch {b} was applied before");
        }
    }
    assert_eq!(
        count(&client, "SELECT count(*) FROM pushed").await,
        BATCHES * ROWS
    );
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM (SELECT id FROM pushed GROUP BY id HAVING count(*) > 1)"
        )
        .await,
        0
    );
}

//! Who may create, alter and drop sources and sinks, against the real binary over SCRAM
//! logins: a role with INSERT on a table may point an HTTP source at it; reading the server's
//! files takes membership of the predefined role `pg_read_server_files`, writing them
//! `pg_write_server_files`; Kafka needs a superuser; only the creator (or a superuser) drops
//! or pauses what it created; the predefined roles cannot be made, changed or dropped.

use std::time::Duration;

use oxbow_sqllogictest::TestServer;

const PASSWORD: &str = "superuser-password";

fn refused(result: Result<impl std::fmt::Debug, tokio_postgres::Error>, code: &str, message: &str) {
    let e = result.expect_err("must be refused");
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("no SQLSTATE: {e}"));
    assert_eq!(db.code().code(), code, "{e}");
    assert!(db.message().contains(message), "{}", db.message());
}

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn server_files_need_the_predefined_roles_and_only_owners_drop_sources() {
    let root = tempfile::tempdir().unwrap();
    let inbox = root.path().join("inbox");
    let outbox = root.path().join("outbox");
    std::fs::create_dir(&inbox).unwrap();
    std::fs::write(
        inbox.join("a.ndjson"),
        (0..50)
            .map(|i| format!("{{\"id\":{i},\"name\":\"n{i}\"}}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let server = TestServer::start_with(
        vec![
            "--allow-file-root".into(),
            root.path().display().to_string(),
        ],
        vec![("OXBOW_PASSWORD".into(), PASSWORD.into())],
    );
    let admin = server.login("oxbow", PASSWORD).await.unwrap();
    admin
        .batch_execute(
            "CREATE TABLE landed (id bigint, name text);
             CREATE TABLE other (id bigint, name text);
             CREATE ROLE bob LOGIN PASSWORD 'bob-pw';
             CREATE ROLE carol LOGIN PASSWORD 'carol-pw';
             GRANT SELECT, INSERT ON landed TO bob",
        )
        .await
        .unwrap();
    let bob = server.login("bob", "bob-pw").await.unwrap();
    let carol = server.login("carol", "carol-pw").await.unwrap();
    let files_source = format!(
        "CREATE SOURCE inbox FROM FILES (path = '{}', pattern = '*.ndjson', settle = '100ms', \
         poll_interval = '100ms') FORMAT JSON INTO landed",
        inbox.display()
    );
    let files_sink = format!(
        "CREATE SINK out FROM landed INTO FILES (path = '{}') FORMAT JSON",
        outbox.display()
    );

    // INSERT on the target is what an HTTP source needs; without it, 42501 on the table.
    bob.simple_query("CREATE SOURCE web FROM HTTP () FORMAT JSON INTO landed")
        .await
        .unwrap();
    refused(
        bob.simple_query("CREATE SOURCE web2 FROM HTTP () FORMAT JSON INTO other")
            .await,
        "42501",
        "permission denied for table other",
    );
    // The server's files and Kafka need more, in both protocols.
    refused(
        bob.simple_query(&files_source).await,
        "42501",
        "pg_read_server_files",
    );
    refused(
        bob.execute(files_source.as_str(), &[]).await,
        "42501",
        "pg_read_server_files",
    );
    refused(
        bob.simple_query(
            "CREATE SOURCE k FROM KAFKA (brokers = '127.0.0.1:1', topic = 't') FORMAT JSON INTO landed",
        )
        .await,
        "42501",
        "needs a superuser",
    );
    refused(
        bob.simple_query(&files_sink).await,
        "42501",
        "pg_write_server_files",
    );

    // Membership of the predefined roles opens the files, and the source reads them.
    admin
        .batch_execute("GRANT pg_read_server_files, pg_write_server_files TO bob")
        .await
        .unwrap();
    bob.simple_query(&files_source).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while count(&bob, "SELECT count(*) FROM landed").await < 50 {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bob.simple_query(&files_sink).await.unwrap();

    // Only the creator (or a superuser) pauses and drops them.
    for statement in [
        "ALTER SOURCE inbox PAUSE",
        "DROP SOURCE web",
        "DROP SINK out",
        "ALTER SINK out PAUSE",
    ] {
        refused(
            carol.simple_query(statement).await,
            "42501",
            "must be owner",
        );
    }
    bob.simple_query("ALTER SOURCE inbox PAUSE").await.unwrap();
    bob.simple_query("DROP SOURCE web").await.unwrap();
    bob.simple_query("DROP SINK out").await.unwrap();
    admin.simple_query("DROP SOURCE inbox").await.unwrap();

    // REVOKE takes effect on the next statement.
    admin
        .batch_execute("REVOKE pg_read_server_files FROM bob")
        .await
        .unwrap();
    refused(
        bob.simple_query(&files_source).await,
        "42501",
        "pg_read_server_files",
    );

    // The predefined roles are listed, cannot log in, and their names are reserved.
    let listed = admin
        .query(
            "SELECT rolname, rolcanlogin, rolsuper FROM pg_roles WHERE rolname LIKE 'pg\\_%' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let listed: Vec<(String, bool, bool)> = listed
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("pg_read_server_files".to_string(), false, false),
            ("pg_write_server_files".to_string(), false, false),
        ]
    );
    refused(
        admin.simple_query("CREATE ROLE pg_mine").await,
        "42939",
        "reserved",
    );
    refused(
        admin.simple_query("DROP ROLE pg_read_server_files").await,
        "42939",
        "predefined",
    );
    refused(
        admin
            .simple_query("ALTER ROLE pg_write_server_files LOGIN")
            .await,
        "42939",
        "predefined",
    );
    assert!(server.login("pg_read_server_files", "").await.is_err());
}

//! Roles and table privileges against the real binary, over SCRAM logins: a role with
//! `SELECT` on one table reads it and gets 42501 on every other table, on writes and on DDL,
//! in both protocols; `REVOKE` takes effect on the role's next statement; `GRANT ... ON ALL
//! TABLES IN SCHEMA`; `ALTER ROLE ... PASSWORD`, `DROP ROLE`, `CREATE USER` and `pg_roles`.
//! (Role membership and schema privileges: `role_membership.rs`; sources and sinks:
//! `source_privileges.rs`.)

use oxbow_sqllogictest::TestServer;
use tokio_postgres::NoTls;

const PASSWORD: &str = "superuser-password";

fn denied(result: Result<impl std::fmt::Debug, tokio_postgres::Error>, message: &str) {
    let e = result.expect_err("must be refused");
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("no SQLSTATE: {e}"));
    assert_eq!(db.code().code(), "42501", "{e}");
    assert!(db.message().contains(message), "{}", db.message());
}

#[tokio::test]
async fn a_role_with_select_on_one_table_reads_only_that_table_until_revoked() {
    let server =
        TestServer::start_with(Vec::new(), vec![("OXBOW_PASSWORD".into(), PASSWORD.into())]);
    let admin = server.login("oxbow", PASSWORD).await.unwrap();
    admin
        .batch_execute(
            "CREATE TABLE granted (id bigint, name text);
             CREATE TABLE secret (id bigint, name text);
             INSERT INTO granted VALUES (1, 'visible');
             INSERT INTO secret VALUES (2, 'hidden');
             CREATE VIEW secret_view AS SELECT * FROM secret;
             CREATE ROLE alice LOGIN PASSWORD 'alice-pw';
             GRANT SELECT ON TABLE granted TO alice",
        )
        .await
        .unwrap();
    let alice = server.login("alice", "alice-pw").await.unwrap();

    let rows = alice.query("SELECT name FROM granted", &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "visible");
    alice
        .simple_query("SELECT count(*) FROM granted")
        .await
        .unwrap();
    alice
        .simple_query("SELECT count(*) FROM pg_catalog.pg_class")
        .await
        .unwrap();

    denied(
        alice.simple_query("SELECT * FROM secret").await,
        "permission denied for table secret",
    );
    denied(
        alice.query("SELECT * FROM secret", &[]).await,
        "permission denied for table secret",
    );
    denied(
        alice.prepare("SELECT * FROM secret").await,
        "permission denied for table secret",
    );
    denied(
        alice.simple_query("EXPLAIN SELECT * FROM secret").await,
        "secret",
    );
    denied(
        alice
            .simple_query("PREPARE p AS SELECT * FROM secret")
            .await,
        "secret",
    );
    denied(
        alice
            .simple_query("DECLARE c CURSOR WITH HOLD FOR SELECT * FROM secret")
            .await,
        "secret",
    );
    denied(
        alice
            .simple_query("SELECT * FROM granted JOIN secret USING (id)")
            .await,
        "permission denied for table secret",
    );
    denied(
        alice
            .simple_query("SELECT * FROM granted WHERE id IN (SELECT id FROM secret)")
            .await,
        "secret",
    );
    denied(
        alice.simple_query("SELECT * FROM secret_view").await,
        "permission denied for view secret_view",
    );
    denied(
        alice
            .simple_query("INSERT INTO granted VALUES (3, 'x')")
            .await,
        "permission denied for table granted",
    );
    denied(
        alice
            .execute("INSERT INTO granted VALUES ($1, 'x')", &[&3i64])
            .await,
        "granted",
    );
    denied(
        alice
            .simple_query("INSERT INTO secret SELECT * FROM granted")
            .await,
        "secret",
    );
    denied(
        alice.simple_query("UPDATE granted SET name = 'y'").await,
        "granted",
    );
    denied(alice.simple_query("DELETE FROM granted").await, "granted");
    // No CREATE on public for a role that is not a superuser (PostgreSQL 15's default).
    denied(
        alice.simple_query("CREATE TABLE mine (id bigint)").await,
        "permission denied for schema public",
    );
    denied(alice.simple_query("DROP TABLE granted").await, "superuser");
    denied(
        alice
            .simple_query("CREATE SOURCE web FROM HTTP () FORMAT JSON INTO granted")
            .await,
        "permission denied for table granted",
    );
    denied(
        alice
            .execute(
                "CREATE SOURCE web FROM HTTP () FORMAT JSON INTO granted",
                &[],
            )
            .await,
        "permission denied for table granted",
    );
    denied(
        alice.simple_query("GRANT SELECT ON secret TO alice").await,
        "superuser",
    );
    denied(
        alice.simple_query("CREATE ROLE mallory SUPERUSER").await,
        "superuser",
    );
    denied(
        alice
            .copy_in::<_, bytes::Bytes>("COPY granted FROM STDIN")
            .await
            .map(|_| ()),
        "granted",
    );
    denied(
        alice.copy_out("COPY secret TO STDOUT").await.map(|_| ()),
        "secret",
    );
    let out = alice.copy_out("COPY granted TO STDOUT").await;
    assert!(out.is_ok(), "COPY TO of a granted table");
    drop(out);

    // REVOKE takes effect on alice's next statement, in her open session.
    admin
        .batch_execute("REVOKE SELECT ON granted FROM alice")
        .await
        .unwrap();
    denied(alice.simple_query("SELECT * FROM granted").await, "granted");

    // ALL TABLES IN SCHEMA: every table and view there now, all four privileges.
    admin
        .batch_execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO alice")
        .await
        .unwrap();
    alice
        .batch_execute(
            "INSERT INTO secret VALUES (3, 'mine'); UPDATE granted SET name = 'z' WHERE id = 1",
        )
        .await
        .unwrap();
    let n: i64 = alice
        .query_one("SELECT count(*) FROM secret_view", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    admin
        .batch_execute("REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public FROM alice")
        .await
        .unwrap();
    denied(alice.simple_query("DELETE FROM secret").await, "secret");
    alice.simple_query("SELECT * FROM secret").await.unwrap();
}

#[tokio::test]
async fn roles_are_created_altered_dropped_and_listed_truthfully() {
    let server =
        TestServer::start_with(Vec::new(), vec![("OXBOW_PASSWORD".into(), PASSWORD.into())]);
    let admin = server.login("oxbow", PASSWORD).await.unwrap();
    admin
        .batch_execute(
            "CREATE USER bob WITH PASSWORD 'bob-pw';
             CREATE ROLE carol PASSWORD 'carol-pw';
             CREATE ROLE dave LOGIN SUPERUSER PASSWORD 'dave-pw'",
        )
        .await
        .unwrap();
    // CREATE USER logs in; CREATE ROLE without LOGIN does not (the same 28P01 as a bad password).
    let bob = server.login("bob", "bob-pw").await.unwrap();
    let carol = server.login("carol", "carol-pw").await.unwrap_err();
    assert_eq!(carol.as_db_error().unwrap().code().code(), "28P01");
    let dave = server.login("dave", "dave-pw").await.unwrap();
    dave.batch_execute("CREATE TABLE by_dave (id bigint)")
        .await
        .unwrap();

    let roles = admin
        .query(
            "SELECT rolname, rolsuper, rolcanlogin FROM pg_catalog.pg_roles ORDER BY rolname",
            &[],
        )
        .await
        .unwrap();
    let roles: Vec<(String, bool, bool)> = roles
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("bob".into(), false, true),
            ("carol".into(), false, false),
            ("dave".into(), true, true),
            ("oxbow".into(), true, true),
            // The predefined roles, which cannot log in.
            ("pg_read_server_files".into(), false, false),
            ("pg_write_server_files".into(), false, false),
        ]
    );

    // A role changes its own password; the old one stops working.
    bob.batch_execute("ALTER ROLE bob WITH PASSWORD 'bob-new'")
        .await
        .unwrap();
    assert!(server.login("bob", "bob-pw").await.is_err());
    server.login("bob", "bob-new").await.unwrap();
    // ...but not someone else's, and not its own attributes.
    denied(
        bob.simple_query("ALTER ROLE carol PASSWORD 'x'").await,
        "superuser",
    );
    denied(
        bob.simple_query("ALTER ROLE bob SUPERUSER").await,
        "superuser",
    );

    admin.batch_execute("ALTER ROLE carol LOGIN").await.unwrap();
    server.login("carol", "carol-pw").await.unwrap();

    let e = admin.simple_query("DROP ROLE oxbow").await.unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "55006", "{e}");
    admin.batch_execute("DROP ROLE bob").await.unwrap();
    let gone = server.login("bob", "bob-new").await.unwrap_err();
    assert_eq!(gone.as_db_error().unwrap().code().code(), "28P01");
    let e = admin.simple_query("DROP ROLE bob").await.unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "42704", "{e}");
    admin
        .batch_execute("DROP ROLE IF EXISTS bob")
        .await
        .unwrap();
    let e = admin.simple_query("CREATE ROLE dave").await.unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "42710", "{e}");
    let e = admin
        .simple_query("GRANT TRUNCATE ON by_dave TO dave")
        .await
        .unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "0A000", "{e}");

    // Roles outlive a restart.
    let mut server = server;
    drop((admin, dave));
    server.restart();
    server.login("carol", "carol-pw").await.unwrap();
}

#[tokio::test]
async fn under_trust_a_role_name_gets_that_roles_rights() {
    let server = TestServer::start();
    let admin = server.connect().await;
    admin
        .batch_execute(
            "CREATE TABLE t (id bigint);
             CREATE ROLE reader LOGIN;
             GRANT SELECT ON t TO reader",
        )
        .await
        .unwrap();
    let (reader, connection) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=reader dbname=oxbow",
            server.port()
        ),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    reader.simple_query("SELECT * FROM t").await.unwrap();
    admin.batch_execute("CREATE ROLE group_only").await.unwrap();
    let e = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=group_only dbname=oxbow",
            server.port()
        ),
        NoTls,
    )
    .await
    .err()
    .expect("a role without LOGIN is refused, also under trust");
    assert_eq!(e.as_db_error().unwrap().code().code(), "28000", "{e}");
    denied(
        reader.simple_query("INSERT INTO t VALUES (1)").await,
        "permission denied for table t",
    );
}

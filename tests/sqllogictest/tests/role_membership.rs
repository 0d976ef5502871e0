//! Role membership and schema privileges against the real binary, over SCRAM logins: a member
//! holds what its roles hold through any chain, `WITH ADMIN OPTION` lets it grant the role on,
//! cycles are refused, `USAGE` is needed outside `public` and `CREATE` to create there, and
//! `pg_auth_members`, `has_*_privilege`, `pg_has_role` and `information_schema.table_privileges`
//! tell the truth. (Table privileges: `privileges.rs`.)

use oxbow_sqllogictest::TestServer;

const PASSWORD: &str = "superuser-password";

fn denied(result: Result<impl std::fmt::Debug, tokio_postgres::Error>, message: &str) {
    let e = result.expect_err("must be refused");
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("no SQLSTATE: {e}"));
    assert_eq!(db.code().code(), "42501", "{e}");
    assert!(db.message().contains(message), "{}", db.message());
}

/// `(code, message)` of a refused statement.
fn refused(result: Result<impl std::fmt::Debug, tokio_postgres::Error>) -> (String, String) {
    let e = result.expect_err("must be refused");
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("no SQLSTATE: {e}"));
    (db.code().code().to_string(), db.message().to_string())
}

/// `(role, member, admin option)` of every membership, from `pg_auth_members`.
async fn members(client: &tokio_postgres::Client) -> Vec<(String, String, bool)> {
    client
        .query(
            "SELECT r.rolname, m.rolname, a.admin_option FROM pg_catalog.pg_auth_members a \
             JOIN pg_catalog.pg_roles r ON r.oid = a.roleid \
             JOIN pg_catalog.pg_roles m ON m.oid = a.member ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

async fn one_bool(client: &tokio_postgres::Client, sql: &str) -> bool {
    client
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

#[tokio::test]
async fn members_inherit_privileges_schemas_need_usage_and_the_catalog_tells_the_truth() {
    let server =
        TestServer::start_with(Vec::new(), vec![("OXBOW_PASSWORD".into(), PASSWORD.into())]);
    let admin = server.login("oxbow", PASSWORD).await.unwrap();
    admin
        .batch_execute(
            "CREATE SCHEMA shop;
             CREATE TABLE shop.orders (id bigint, amount double precision);
             INSERT INTO shop.orders VALUES (1, 9.5), (2, 20.0);
             CREATE TABLE notes (id bigint);
             CREATE ROLE readers;
             CREATE ROLE alice LOGIN PASSWORD 'alice-pw';
             CREATE ROLE bob LOGIN PASSWORD 'bob-pw';
             GRANT SELECT ON shop.orders TO readers",
        )
        .await
        .unwrap();
    let alice = server.login("alice", "alice-pw").await.unwrap();
    let bob = server.login("bob", "bob-pw").await.unwrap();
    for (client, expected) in [(&admin, "on"), (&alice, "off")] {
        let shown: String = client
            .query_one("SHOW is_superuser", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(shown, expected);
    }

    // Neither the membership nor the schema's USAGE yet: the schema is what is refused.
    denied(
        alice.simple_query("SELECT * FROM shop.orders").await,
        "permission denied for schema shop",
    );
    admin
        .batch_execute("GRANT USAGE ON SCHEMA shop TO readers")
        .await
        .unwrap();
    denied(
        alice.simple_query("SELECT * FROM shop.orders").await,
        "permission denied for schema shop",
    );
    // A member holds what its role holds, from its next statement.
    admin.batch_execute("GRANT readers TO alice").await.unwrap();
    let n: i64 = alice
        .query_one("SELECT count(*) FROM shop.orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    denied(
        alice
            .simple_query("INSERT INTO shop.orders VALUES (3, 1.0)")
            .await,
        "permission denied for table orders",
    );
    denied(alice.simple_query("SELECT * FROM notes").await, "notes");

    // The functions answer for the current user (two arguments) and for a named one.
    for (sql, expected) in [
        ("SELECT has_table_privilege('shop.orders', 'SELECT')", true),
        ("SELECT has_table_privilege('shop.orders', 'INSERT')", false),
        (
            "SELECT has_table_privilege('shop.orders', 'insert, select')",
            true,
        ),
        (
            "SELECT has_table_privilege('shop.orders', 'SELECT WITH GRANT OPTION')",
            false,
        ),
        ("SELECT has_table_privilege('notes', 'SELECT')", false),
        (
            "SELECT has_table_privilege('oxbow', 'notes', 'DELETE')",
            true,
        ),
        (
            "SELECT has_table_privilege('bob', 'shop.orders', 'SELECT')",
            false,
        ),
        ("SELECT has_schema_privilege('shop', 'USAGE')", true),
        ("SELECT has_schema_privilege('shop', 'CREATE')", false),
        ("SELECT has_schema_privilege('bob', 'shop', 'USAGE')", false),
        ("SELECT pg_has_role('readers', 'MEMBER')", true),
        (
            "SELECT pg_has_role('readers', 'MEMBER WITH ADMIN OPTION')",
            false,
        ),
        ("SELECT pg_has_role('bob', 'readers', 'USAGE')", false),
        (
            "SELECT has_database_privilege(current_database(), 'CONNECT')",
            true,
        ),
        (
            "SELECT has_database_privilege(current_database(), 'CREATE')",
            false,
        ),
    ] {
        assert_eq!(one_bool(&alice, sql).await, expected, "{sql}");
    }
    // By OID, as tools ask while listing pg_class.
    let visible: Vec<String> = alice
        .query(
            "SELECT c.relname FROM pg_catalog.pg_class c \
             WHERE c.relname IN ('orders', 'notes') AND has_table_privilege(c.oid, 'SELECT') \
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(visible, ["orders"]);
    for (sql, code) in [
        ("SELECT has_table_privilege('missing', 'SELECT')", "42P01"),
        ("SELECT has_table_privilege('notes', 'SELEKT')", "22023"),
        ("SELECT has_schema_privilege('nope', 'USAGE')", "3F000"),
        ("SELECT pg_has_role('nobody', 'MEMBER')", "42704"),
    ] {
        assert_eq!(refused(alice.simple_query(sql).await).0, code, "{sql}");
    }
    // The connection stays usable after those errors.
    alice.simple_query("SELECT 1").await.unwrap();

    let grants: Vec<(String, String, String, String)> = admin
        .query(
            "SELECT grantee, table_schema, table_name, privilege_type \
             FROM information_schema.table_privileges ORDER BY 1, 2, 3, 4",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        grants,
        [(
            "readers".to_string(),
            "shop".to_string(),
            "orders".to_string(),
            "SELECT".to_string()
        )]
    );
    assert_eq!(
        members(&admin).await,
        [("readers".to_string(), "alice".to_string(), false)]
    );

    // Granting a role on needs the admin option; cycles are refused.
    let (code, _) = refused(alice.simple_query("GRANT readers TO bob").await);
    assert_eq!(code, "42501");
    let (code, message) = refused(admin.simple_query("GRANT alice TO readers").await);
    assert_eq!(code, "0LP01", "{message}");
    admin
        .batch_execute("GRANT readers TO alice WITH ADMIN OPTION")
        .await
        .unwrap();
    assert!(
        one_bool(
            &alice,
            "SELECT pg_has_role('readers', 'USAGE WITH ADMIN OPTION')"
        )
        .await
    );
    alice.batch_execute("GRANT readers TO bob").await.unwrap();
    bob.simple_query("SELECT * FROM shop.orders").await.unwrap();
    admin
        .batch_execute("REVOKE ADMIN OPTION FOR readers FROM alice")
        .await
        .unwrap();
    let (code, _) = refused(alice.simple_query("REVOKE readers FROM bob").await);
    assert_eq!(code, "42501");
    assert_eq!(
        members(&admin).await,
        [
            ("readers".to_string(), "alice".to_string(), false),
            ("readers".to_string(), "bob".to_string(), false)
        ]
    );

    // CREATE on a schema: the creator may create there, and holds every privilege on what it
    // made; dropping it still needs a superuser (there are no owners).
    denied(
        alice
            .simple_query("CREATE TABLE shop.mine (id bigint)")
            .await,
        "permission denied for schema shop",
    );
    admin
        .batch_execute("GRANT CREATE ON SCHEMA shop TO alice")
        .await
        .unwrap();
    alice
        .batch_execute(
            "CREATE TABLE shop.mine (id bigint);
             INSERT INTO shop.mine VALUES (7);
             UPDATE shop.mine SET id = 8;
             CREATE VIEW shop.mine_view AS SELECT id FROM shop.mine",
        )
        .await
        .unwrap();
    let n: i64 = alice
        .query_one("SELECT id FROM shop.mine_view", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 8);
    // IF NOT EXISTS over a table someone else made grants nothing.
    alice
        .batch_execute("CREATE TABLE IF NOT EXISTS shop.orders (id bigint)")
        .await
        .unwrap();
    denied(
        alice.simple_query("DELETE FROM shop.orders").await,
        "permission denied for table orders",
    );
    denied(
        alice.simple_query("DROP TABLE shop.mine").await,
        "superuser",
    );
    denied(
        alice
            .simple_query("CREATE VIEW shop.leak AS SELECT * FROM notes")
            .await,
        "permission denied for table notes",
    );
    // Temporary tables need no privilege.
    alice
        .batch_execute("CREATE TEMP TABLE scratch (id bigint); INSERT INTO scratch VALUES (1)")
        .await
        .unwrap();

    // REVOKE of the membership holds from the next statement; bob keeps his own.
    admin
        .batch_execute("REVOKE readers FROM alice")
        .await
        .unwrap();
    denied(
        alice.simple_query("SELECT * FROM shop.orders").await,
        "permission denied for schema shop",
    );
    admin
        .batch_execute("GRANT USAGE ON SCHEMA shop TO alice")
        .await
        .unwrap();
    denied(
        alice.simple_query("SELECT * FROM shop.orders").await,
        "permission denied for table orders",
    );
    alice.simple_query("SELECT * FROM shop.mine").await.unwrap();
    bob.simple_query("SELECT * FROM shop.orders").await.unwrap();
    admin
        .batch_execute("REVOKE USAGE ON SCHEMA shop FROM readers")
        .await
        .unwrap();
    denied(
        bob.simple_query("SELECT * FROM shop.orders").await,
        "permission denied for schema shop",
    );

    // Memberships and schema grants outlive a restart; dropping a role drops its memberships.
    drop((alice, bob));
    let mut server = server;
    drop(admin);
    server.restart();
    let admin = server.login("oxbow", PASSWORD).await.unwrap();
    assert_eq!(
        members(&admin).await,
        [("readers".to_string(), "bob".to_string(), false)]
    );
    admin.batch_execute("DROP ROLE readers").await.unwrap();
    assert!(members(&admin).await.is_empty());
}

//! Query memory limits: a query whose hash join needs more than `--query-memory-mb` fails with
//! 53200 while another session's queries go on, and its own session stays usable; the pool
//! of all queries (`--memory-pool-mb`) refuses the same way; `SET statement_mem` sets a
//! session's own limit, up to the server's; past the server's memory budget
//! (`--memory-limit-mb`) the query holding the most memory gets 53200 and the rest go on.

use oxbow_sqllogictest::TestServer;

/// A hash join whose build side (3 million rows) needs tens of MiB and cannot spill.
const BIG_JOIN: &str = "SELECT count(*) FROM generate_series(1, 3000000) a \
                        JOIN generate_series(1, 3000000) b ON a.value = b.value";

fn assert_out_of_memory(e: tokio_postgres::Error, flag: &str) {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("no SQLSTATE: {e}"));
    assert_eq!(db.code().code(), "53200", "{e}");
    assert!(
        db.message().contains(flag) || flag.is_empty(),
        "{}",
        db.message()
    );
}

#[tokio::test]
async fn a_query_over_its_memory_limit_gets_53200_while_others_go_on() {
    let server = TestServer::start_with(vec!["--query-memory-mb".into(), "8".into()], vec![]);
    let big = server.connect().await;
    let small = server.connect().await;
    let (failed, answers) = tokio::join!(big.simple_query(BIG_JOIN), async {
        let mut answers = Vec::new();
        for i in 1..=20i64 {
            let rows = small
                .simple_query(&format!(
                    "SELECT count(*) FROM generate_series(1, {})",
                    i * 1000
                ))
                .await
                .expect("a small query beside the big one");
            let count = rows.iter().find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            });
            answers.push(count.expect("a row").parse::<i64>().unwrap());
        }
        answers
    });
    assert_out_of_memory(
        failed.expect_err("the join is over 8 MiB"),
        "--query-memory-mb",
    );
    assert_eq!(answers, (1..=20).map(|i| i * 1000).collect::<Vec<i64>>());
    // The session that failed goes on, within its limit.
    let n: i64 = big
        .query_one("SELECT count(*) FROM generate_series(1, 100000)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 100_000);
}

#[tokio::test]
async fn the_pool_of_all_queries_refuses_a_query_that_does_not_fit() {
    let server = TestServer::start_with(vec!["--memory-pool-mb".into(), "8".into()], vec![]);
    let client = server.connect().await;
    assert_out_of_memory(client.simple_query(BIG_JOIN).await.unwrap_err(), "");
    client.simple_query("SELECT 1").await.unwrap();
}

async fn shown_statement_mem(client: &tokio_postgres::Client) -> String {
    client
        .query_one("SHOW statement_mem", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_session_sets_its_own_limit_with_statement_mem() {
    // No server limit: the join runs, until the session sets one.
    let server = TestServer::start();
    let client = server.connect().await;
    let other = server.connect().await;
    assert_eq!(shown_statement_mem(&client).await, "0");
    client.simple_query(BIG_JOIN).await.unwrap();
    client
        .batch_execute("SET statement_mem = '8MB'")
        .await
        .unwrap();
    assert_eq!(shown_statement_mem(&client).await, "8MB");
    assert_out_of_memory(
        client.simple_query(BIG_JOIN).await.unwrap_err(),
        "statement_mem",
    );
    // Another session's limit is its own.
    other.simple_query(BIG_JOIN).await.unwrap();
    for (bad, code) in [("'lots'", "22023"), ("'1kB'", "22023")] {
        let e = client
            .simple_query(&format!("SET statement_mem = {bad}"))
            .await
            .unwrap_err();
        assert_eq!(e.as_db_error().unwrap().code().code(), code, "{bad}: {e}");
    }
    assert_eq!(shown_statement_mem(&client).await, "8MB");
    client.batch_execute("RESET statement_mem").await.unwrap();
    assert_eq!(shown_statement_mem(&client).await, "0");
    client.simple_query(BIG_JOIN).await.unwrap();

    // Under --query-memory-mb a session may lower its limit, never raise it past the server's.
    let server = TestServer::start_with(vec!["--query-memory-mb".into(), "64".into()], vec![]);
    let client = server.connect().await;
    assert_eq!(shown_statement_mem(&client).await, "64MB");
    let e = client
        .simple_query("SET statement_mem = '1GB'")
        .await
        .unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "22023", "{e}");
    client
        .batch_execute("SET statement_mem = 8192")
        .await
        .unwrap();
    assert_eq!(shown_statement_mem(&client).await, "8MB");
    assert_out_of_memory(
        client.simple_query(BIG_JOIN).await.unwrap_err(),
        "statement_mem",
    );
    client
        .batch_execute("SET statement_mem TO DEFAULT")
        .await
        .unwrap();
    assert_eq!(shown_statement_mem(&client).await, "64MB");
}

/// The server's resident size, from /proc.
fn resident_mib(server: &TestServer) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.pid().unwrap())).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024
}

#[tokio::test]
async fn past_the_servers_memory_budget_the_largest_query_gets_53200_and_the_rest_go_on() {
    // The budget: this build's resident size after a first query, and 300 MiB more.
    let idle = {
        let server = TestServer::start();
        let client = server.connect().await;
        client.simple_query(BIG_JOIN).await.unwrap();
        resident_mib(&server)
    };
    let budget = idle + 300;
    let server =
        TestServer::start_with(vec!["--memory-limit-mb".into(), budget.to_string()], vec![]);
    let big = server.connect().await;
    let small = server.connect().await;
    // A hash aggregation of 40 million groups needs gigabytes (about 1.9 GiB in a debug
    // build), with no pool limit set: only the budget stops it. The keys are scrambled, or
    // DataFusion would aggregate generate_series' sorted output as a stream in no memory.
    let huge = "SELECT max(c) FROM (SELECT (value * 7919) % 40000003 AS k, count(*) AS c \
                FROM generate_series(1, 40000000) GROUP BY 1) groups";
    let (failed, answers) = tokio::join!(big.simple_query(huge), async {
        let mut answers = Vec::new();
        for i in 1..=20i64 {
            let row = small
                .query_one(
                    &format!("SELECT count(*) FROM generate_series(1, {})", i * 100),
                    &[],
                )
                .await
                .expect("a small query beside the big one");
            answers.push(row.get::<_, i64>(0));
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        answers
    });
    assert_out_of_memory(
        failed.expect_err("the aggregation passes the budget"),
        "--memory-limit-mb",
    );
    assert_eq!(answers, (1..=20).map(|i| i * 100).collect::<Vec<i64>>());
    assert!(
        server.log().contains("memory budget passed"),
        "{}",
        server.log()
    );
    // The stopped session goes on, and the server keeps within reach of its budget.
    let n: i64 = big
        .query_one("SELECT count(*) FROM generate_series(1, 100000)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 100_000);
    let after = resident_mib(&server);
    assert!(
        after < budget + 300,
        "resident {after} MiB after the stop, budget {budget} MiB"
    );
}

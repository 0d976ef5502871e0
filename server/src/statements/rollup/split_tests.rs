//! The rollup splitter's tests: what each query splits into, and what it refuses.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::*;

fn split_sql(sql: &str) -> Result<Split, ServerError> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
    let Statement::Query(query) = &statements[0] else {
        panic!("not a query: {sql}");
    };
    split(query)
}

fn refused(sql: &str) -> String {
    match split_sql(sql) {
        Err(ServerError::Unsupported(what)) => what,
        other => panic!("{sql} was not refused: {other:?}"),
    }
}

#[test]
fn keys_and_aggregates_split_into_states_and_merges() {
    let split = split_sql(
        "SELECT region, time_bucket('1 minute', ts) AS minute, count(*), sum(amount) AS total, \
         avg(amount) FILTER (WHERE amount > 0) FROM events WHERE kind = 'buy' GROUP BY 1, minute",
    )
    .unwrap();
    let source = ObjectName::new("public", "events");
    assert_eq!(
        split.partial_sql(&source),
        "SELECT region AS \"g0\", time_bucket('1 minute', ts) AS \"g1\", count(*) AS \"s0\", \
         sum(amount) AS \"s1\", sum(amount) FILTER (WHERE amount > 0) AS \"s2\", \
         count(amount) FILTER (WHERE amount > 0) AS \"s3\" FROM \"public\".\"events\" AS events \
         WHERE kind = 'buy' GROUP BY region, time_bucket('1 minute', ts)"
    );
    let read = split.read_sql(&ObjectName::new("oxbow_rollups", "v_1"));
    assert_eq!(
        split.compact_sql(&ObjectName::new("oxbow_rollups", "v_1")),
        "SELECT \"g0\", \"g1\", sum(\"s0\") AS \"s0\", sum(\"s1\") AS \"s1\", sum(\"s2\") AS \"s2\", \
         sum(\"s3\") AS \"s3\" FROM \"oxbow_rollups\".\"v_1\" GROUP BY \"g0\", \"g1\""
    );
    assert_eq!(
        read,
        "SELECT \"g0\" AS \"c0\", \"g1\" AS \"c1\", coalesce(CAST(sum(\"s0\") AS BIGINT), 0) AS \"c2\", \
         sum(\"s1\") AS \"c3\", CAST(sum(\"s2\") AS DOUBLE) / CAST(nullif(sum(\"s3\"), 0) AS DOUBLE) AS \"c4\" \
         FROM \"oxbow_rollups\".\"v_1\" GROUP BY \"g0\", \"g1\""
    );
}

#[test]
fn an_approximate_distinct_count_keeps_a_sketch_that_unions() {
    let split =
        split_sql("SELECT k, approx_count_distinct(u) FILTER (WHERE u > 0) FROM t GROUP BY k")
            .unwrap();
    let state = ObjectName::new("oxbow_rollups", "v_1");
    assert_eq!(
        split.partial_sql(&ObjectName::new("public", "t")),
        "SELECT k AS \"g0\", hll_sketch(u) FILTER (WHERE u > 0) AS \"s0\" FROM \"public\".\"t\" AS t GROUP BY k"
    );
    assert_eq!(
        split.compact_sql(&state),
        "SELECT \"g0\", hll_union(\"s0\") AS \"s0\" FROM \"oxbow_rollups\".\"v_1\" GROUP BY \"g0\""
    );
    assert!(
        split
            .read_sql(&state)
            .contains("CAST(round(hll_estimate(hll_union(\"s0\"))) AS BIGINT) AS \"c1\"")
    );
}

#[test]
fn a_global_aggregate_has_no_keys() {
    let split = split_sql("SELECT count(*), max(x) FROM s.t").unwrap();
    let source = ObjectName::new("s", "t");
    assert_eq!(
        split.partial_sql(&source),
        "SELECT count(*) AS \"s0\", max(x) AS \"s1\" FROM \"s\".\"t\""
    );
    assert!(!split.read_sql(&source).contains("GROUP BY"));
}

#[test]
fn what_cannot_be_merged_exactly_is_refused() {
    for (sql, names) in [
        (
            "SELECT count(DISTINCT u) FROM t",
            "exact DISTINCT aggregate",
        ),
        (
            "SELECT k, count(*) FROM t GROUP BY k HAVING count(*) > 1",
            "HAVING",
        ),
        ("SELECT DISTINCT k FROM t", "SELECT DISTINCT"),
        (
            "SELECT k, count(*) FROM t JOIN u ON t.k = u.k GROUP BY k",
            "join",
        ),
        ("SELECT k, stddev(x) FROM t GROUP BY k", "stddev"),
        (
            "SELECT k, sum(x) / count(*) FROM t GROUP BY k",
            "compute other expressions",
        ),
        ("SELECT approx_percentile_cont(u, 0.5) FROM t", "sketch"),
        ("SELECT count(*) OVER () FROM t", "window"),
        ("SELECT * FROM t", "SELECT *"),
        (
            "SELECT k, count(*) FROM t GROUP BY k ORDER BY k",
            "ORDER BY",
        ),
        ("SELECT k, count(*) FROM t GROUP BY ROLLUP (k)", "ROLLUP"),
        ("SELECT k FROM t UNION SELECT k FROM u", "not one SELECT"),
        ("SELECT count(*) FROM (SELECT 1) AS q", "over a table only"),
        ("SELECT k, count(*) FROM t, u GROUP BY k", "several tables"),
        ("SELECT x, count(*) FROM t GROUP BY k", "the output x"),
    ] {
        let what = refused(sql);
        assert!(what.contains(names), "{sql}: {what}");
    }
}

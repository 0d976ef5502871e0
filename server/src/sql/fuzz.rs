//! Fuzz target for the SQL entry points: whatever text a client sends as a query goes through
//! the recognisers of Oxbow's own statements (sources, sinks, lakehouse maintenance, `FLUSH`,
//! `REFRESH`, `MOVE`), the text rewrites, the parser and the AST rewrites, and is planned in a
//! session with Oxbow's catalog, functions and rewrites, exactly as `SELECT` and DML are before
//! they run. Each may refuse; none may panic. Inputs are a statement of a small corpus with
//! bytes spliced in, so that most reach the planner rather than die in the tokenizer.
//!
//! Runs as an ordinary `cargo test` (bolero draws a bounded number of inputs) and as real
//! fuzzing with `cargo bolero test --rustc-bootstrap sql::fuzz::...`.

use std::sync::Arc;
use std::time::Duration;

use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use oxbow_storage::{Database, DatabaseConfig, LakeRoot};

const CORPUS: &[&str] = &[
    "SELECT id, name FROM t WHERE id > 1 ORDER BY name LIMIT 10",
    "SELECT date_trunc('hour', ts), count(*), approx_count_distinct(name) FROM t GROUP BY 1",
    "INSERT INTO t VALUES (1, 'a', now()) ON CONFLICT DO NOTHING",
    "UPDATE t SET name = upper(name) WHERE id IN (SELECT id FROM t)",
    "DELETE FROM t WHERE ts < now() - interval '1 day'",
    "SELECT '2024-01-02'::date + interval '1 month 2 days', make_interval(days => 3)",
    "SELECT to_char(ts, 'YYYY-MM-DD HH24:MI:SS'), ts AT TIME ZONE 'Europe/Paris' FROM t",
    "SELECT has_table_privilege('t', 'SELECT'), current_user, pg_typeof(1)",
    "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
    "SELECT * FROM information_schema.columns WHERE table_name = 't'",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
    "SELECT g FROM generate_series(1, 3) g",
    "SELECT * FROM t VERSION AS OF 1",
    "GRANT readers TO alice WITH ADMIN OPTION",
    "CREATE TABLE u (id bigint PRIMARY KEY, v text) WITH (flush_interval = '10s')",
    "CREATE SOURCE s FROM DATAGEN (rows_per_second = '10') FORMAT JSON INTO t",
    "CREATE SINK k FROM t INTO FILES (path = '/tmp/x') FORMAT JSON",
    "OPTIMIZE t WHERE ts > '2024-01-01'",
    "CREATE MATERIALIZED VIEW m AS SELECT time_bucket('1 minute', ts) AS b, count(*) FROM t GROUP BY 1",
    "COPY t FROM STDIN (FORMAT csv, HEADER true)",
    "MOVE FORWARD 5 IN c",
];

#[test]
fn sql_text_is_recognised_rewritten_parsed_and_planned_without_panicking() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let ctx = runtime.block_on(async {
        let db = Database::open(DatabaseConfig {
            data_dir: dir.path().to_path_buf(),
            lake: LakeRoot::local(dir.path()).expect("a local lake"),
            hot_memory_limit: 64 << 20,
            wal_limits: Default::default(),
            max_wal_bytes: 1 << 30,
        })
        .await
        .expect("a database");
        let ctx = super::session::base_context(Arc::clone(&db), Default::default())
            .await
            .expect("the session");
        let column = |name: &str, sql_type| oxbow_catalog::ColumnDef {
            name: name.into(),
            sql_type,
            nullable: true,
        };
        db.create_table(
            oxbow_catalog::ObjectName::new(oxbow_catalog::DEFAULT_SCHEMA, "t"),
            vec![
                column("id", oxbow_catalog::SqlType::BigInt),
                column("name", oxbow_catalog::SqlType::Text),
                column("ts", oxbow_catalog::SqlType::TimestampTz),
            ],
            Default::default(),
            Vec::new(),
            false,
        )
        .await
        .expect("a table");
        ctx
    });
    // The session is only read, and a panic fails the test anyway.
    let shared = std::panic::AssertUnwindSafe((runtime, ctx));
    let inputs = std::sync::atomic::AtomicUsize::new(0);
    let planned = std::sync::atomic::AtomicUsize::new(0);
    bolero::check!()
        .with_type::<(u8, u16, String)>()
        .for_each(|(base, at, noise)| {
            let (runtime, ctx) = &*shared;
            inputs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let base = CORPUS[*base as usize % CORPUS.len()];
            let mut at = *at as usize % (base.len() + 1);
            while !base.is_char_boundary(at) {
                at -= 1;
            }
            let sql = format!("{}{noise}{}", &base[..at], &base[at..]);
            let _ = crate::statements::sources::parse::parse(&sql);
            let _ = crate::statements::sinks::parse::parse(&sql);
            let _ = crate::statements::lakehouse::parse(&sql);
            let _ = crate::statements::flush::parse(&sql);
            let _ = crate::statements::rollup::parse_refresh(&sql);
            let _ = crate::wire::portals::parse(&sql);
            let text = super::rewrite::text::rewrite(&sql);
            let Ok(statements) = DFParser::parse_sql_with_dialect(&text, &PostgreSqlDialect {})
            else {
                return;
            };
            for statement in statements {
                let DfStatement::Statement(statement) = statement else {
                    continue;
                };
                runtime.block_on(async {
                    let planning =
                        crate::statements::select::plan_statement(ctx, &statement, "fuzz");
                    if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(5), planning).await
                    {
                        planned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                });
            }
        });
    // The corpus is what makes the target reach the planner: some inputs must get through.
    let (inputs, planned) = (inputs.into_inner(), planned.into_inner());
    eprintln!("sql fuzz: {inputs} inputs, {planned} statements planned");
    assert!(inputs < 100 || planned > 0, "{inputs} inputs, none planned");
}

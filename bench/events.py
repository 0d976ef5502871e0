#!/usr/bin/env python3
"""Dashboard queries on a web-analytics events table: Oxbow in three tier layouts, over pgwire,
beside DuckDB and plain DataFusion on the same rows.

TPC-H (bench/tpch.py) asks warehouse questions of a static, fully flushed data set. A real-time
analytics database is mostly asked dashboard questions of an append-only event stream whose
newest rows are still in the hot tier, so this benchmark asks those questions of the same rows
laid out three ways, to show what each tier costs and what reading both as one table costs:

  lake   every row flushed to Delta (FLUSH TABLE every FLUSH_EVERY_ROWS rows and at the end),
         as after a quiet period
  hot    every row in the hot tier (memory), nothing flushed: the table is created with
         flush_rows and flush_interval far above the run, and the server needs a hot-memory
         limit above the data (bench/run passes --hot-memory-mb)
  split  all but the newest RECENT_PERCENT % flushed as in `lake`, then the newest slice loaded
         and left hot: the steady state of a live table

1. Generates the `hits` table with DuckDB, deterministically from hash(row number), as one
   Parquet file (read by DuckDB and DataFusion) and as two CSV files (the older rows and the
   newest slice, loaded into Oxbow), cached under ${OXBOW_CACHE:-~/.cache/oxbow}/events/.
   The rows are in event-time order over 3 days, as an event stream arrives.
2. Loads each layout into its own Oxbow table (hits_lake, hits_hot, hits_split) with
   COPY ... FROM STDIN WITH (FORMAT csv) through psycopg, and checks in oxbow.tables that each
   layout is what it claims, after the load and again after the queries.
3. Runs each dashboard query on each engine, 1 cold run and HOT_RUNS hot runs (the figure is
   their median), and checks every Oxbow and DataFusion result against DuckDB's.
4. Writes bench/RESULTS-events.md and bench/results/events.json (drawn by bench/charts.py), then
   exits 1 if any query failed, any result differed or a layout was not as intended, so that
   bench/run reports it.

    bench/events.py --oxbow "host=127.0.0.1 port=5432 user=bench dbname=oxbow" [--quick] [--rows N]

Rows: --rows, else $OXBOW_EVENTS_ROWS, else 20,000,000 (200,000 with --quick). Needs psycopg,
duckdb, datafusion and pyarrow (bench/requirements.txt).
"""

import argparse
import datetime
import itertools
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

import datafusion
import duckdb
import psycopg
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from tpch import arrow_rows, chdb_session, chdb_version, check, error_text, fmt_ms  # noqa: E402

ROWS, ROWS_QUICK = 20_000_000, 200_000
HOT_RUNS = 3
# The newest slice that the split layout leaves hot: 5% of 3 days is the last 3.6 hours, which
# holds the whole of the "last hour" and "last 5 minutes" windows below.
RECENT_PERCENT = 5
FLUSH_EVERY_ROWS = 1_000_000  # the default flush_rows of a table, so Delta files are the usual size
# Rows per COPY statement: about 200 statements whatever the size, so that the hot layout holds
# about 200 hot batches (one per statement) and time filters have batches to skip.
COPY_STATEMENTS = 200
COPY_MIN_ROWS = 10_000
LAYOUTS = ("lake", "hot", "split")
PEERS = ("DuckDB", "DataFusion", "chDB", "chDB MergeTree")
# The generator's version: bump it when the data changes, so that cached files are not reused.
DATA_VERSION = 1

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
SPAN = datetime.timedelta(days=3)
END = START + SPAN

COLUMNS = (
    "event_time timestamptz NOT NULL, user_id text NOT NULL, url text NOT NULL, country text NOT NULL, "
    "device text NOT NULL, event_type text NOT NULL, duration_ms integer NOT NULL, revenue double precision"
)
# Every layout gets the same options; they differ only in which rows FLUSH TABLE moved to Delta.
# flush_rows and flush_interval are far above the run, so the background flusher never moves a row.
TABLE_OPTIONS = "time_column = 'event_time', flush_rows = 1000000000, flush_interval = '24h'"

# Deterministic pseudo-random columns: u<k> is uniform in [0, 1) from DuckDB's hash of the row
# number, and powers of it skew the distribution (a few users, pages and countries are most of
# the traffic, as in real logs). Revenue is set on purchases only, NULL elsewhere.
GENERATOR = """
SELECT
  TIMESTAMPTZ '{start}' + to_microseconds(CAST(i * {step_us} AS BIGINT)) AS event_time,
  'u' || CAST(floor(pow(u1, 2) * {users}) AS BIGINT) AS user_id,
  '/p/' || CAST(floor(pow(u2, 3) * {urls}) AS BIGINT) AS url,
  ['US','DE','GB','FR','IN','BR','JP','CA','ES','IT','NL','PL','SE','MX','AU','KR','TR','CH','AR','ZA']
    [1 + CAST(floor(pow(u3, 2) * 20) AS INTEGER)] AS country,
  CASE WHEN u4 < 0.55 THEN 'mobile' WHEN u4 < 0.93 THEN 'desktop' WHEN u4 < 0.99 THEN 'tablet' ELSE 'tv' END AS device,
  CASE WHEN u5 < 0.70 THEN 'view' WHEN u5 < 0.90 THEN 'click' WHEN u5 < 0.96 THEN 'add_to_cart'
       WHEN u5 < 0.99 THEN 'purchase' ELSE 'signup' END AS event_type,
  CAST(floor(-ln(1 - u6) * 800) AS INTEGER) AS duration_ms,
  CASE WHEN u5 >= 0.96 AND u5 < 0.99 THEN round(5 + u6 * 195, 2) END AS revenue
FROM (
  SELECT i,
    (hash(i, 1) % 1000000) / 1e6 AS u1, (hash(i, 2) % 1000000) / 1e6 AS u2,
    (hash(i, 3) % 1000000) / 1e6 AS u3, (hash(i, 4) % 1000000) / 1e6 AS u4,
    (hash(i, 5) % 1000000) / 1e6 AS u5, (hash(i, 6) % 1000000) / 1e6 AS u6
  FROM range({first}, {last}) t(i)
)
"""


def ts(moment):
    return f"TIMESTAMPTZ '{moment:%Y-%m-%d %H:%M:%S}+00'"


LAST_HOUR, LAST_5_MIN, LAST_DAY = END - datetime.timedelta(hours=1), END - datetime.timedelta(minutes=5), END - datetime.timedelta(days=1)

# The dashboard: (name, what a dashboard shows with it, SQL with {t} for the table). The same
# text runs on all three engines. "Recent" means relative to the end of the data, not now(), so
# that every engine and every run sees the same rows. Every ORDER BY is total, so results
# compare in order.
QUERIES = [
    ("events_per_minute", "events and users per minute over the last hour",
     f"SELECT date_trunc('minute', event_time) AS minute, count(*) AS events, count(DISTINCT user_id) AS users "
     f"FROM {{t}} WHERE event_time >= {ts(LAST_HOUR)} AND event_time < {ts(END)} GROUP BY 1 ORDER BY 1"),
    ("last_5_minutes", "live tile: the last 5 minutes by event type",
     f"SELECT event_type, count(*) AS events, count(DISTINCT user_id) AS users, sum(revenue) AS revenue "
     f"FROM {{t}} WHERE event_time >= {ts(LAST_5_MIN)} GROUP BY event_type ORDER BY event_type"),
    ("top_countries", "top 10 countries by events, all time",
     "SELECT country, count(*) AS events, count(DISTINCT user_id) AS users FROM {t} "
     "GROUP BY country ORDER BY events DESC, country LIMIT 10"),
    ("daily_active_users", "distinct users per day",
     "SELECT date_trunc('day', event_time) AS day, count(DISTINCT user_id) AS users FROM {t} GROUP BY 1 ORDER BY 1"),
    ("p95_duration_by_device", "p95 and mean duration per device over the last day",
     f"SELECT device, count(*) AS events, percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms, "
     f"avg(duration_ms) AS avg_ms FROM {{t}} WHERE event_time >= {ts(LAST_DAY)} GROUP BY device ORDER BY device"),
    ("revenue_by_country_day", "purchase revenue per country and day",
     "SELECT date_trunc('day', event_time) AS day, country, sum(revenue) AS revenue, count(*) AS purchases "
     "FROM {t} WHERE event_type = 'purchase' GROUP BY 1, 2 ORDER BY 1, 2"),
    ("top_pages", "top 20 pages by views (group by a high-cardinality string)",
     "SELECT url, count(*) AS views FROM {t} WHERE event_type = 'view' GROUP BY url ORDER BY views DESC, url LIMIT 20"),
    ("user_drilldown", "one user's latest 50 events (a selective filter on a high-cardinality string)",
     "SELECT event_time, event_type, url, duration_ms, revenue FROM {t} WHERE user_id = 'u42' "
     "ORDER BY event_time DESC LIMIT 50"),
]

REFERENCE = "DuckDB"


def log(msg):
    print(f"[events {datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# data


def dataset(rows):
    """The shape of the data for `rows` rows: cardinalities grow with the size."""
    return {
        "rows": rows,
        "recent_rows": rows * RECENT_PERCENT // 100,
        "users": max(1_000, rows // 20),
        "urls": max(1_000, rows // 10),
        "step_us": SPAN // datetime.timedelta(microseconds=1) // rows,
    }


def generate(rows, cache_root):
    """Parquet file and CSV files (older rows, newest slice) for `rows` rows, generated once with
    DuckDB and then reused. DuckDB keeps the insertion order of range(), so the files are in
    event-time order."""
    shape = dataset(rows)
    final = os.path.join(cache_root, "events", f"v{DATA_VERSION}-{rows}-duckdb{duckdb.__version__}")
    paths = {
        "parquet": os.path.join(final, "hits.parquet"),
        "csv_old": os.path.join(final, "hits-old.csv"),
        "csv_recent": os.path.join(final, "hits-recent.csv"),
    }
    if os.path.exists(os.path.join(final, ".complete")):
        log(f"data ({rows:,} rows) cached in {final}")
        return paths, shape
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    log(f"generating {rows:,} rows with DuckDB into {final}")
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    split = rows - shape["recent_rows"]

    def query(first, last):
        return GENERATOR.format(start=START.strftime("%Y-%m-%d %H:%M:%S+00"), first=first, last=last, **shape)

    con.execute(f"COPY ({query(0, rows)}) TO '{tmp}/hits.parquet' (FORMAT parquet)")
    con.execute(f"COPY ({query(0, split)}) TO '{tmp}/hits-old.csv' (FORMAT csv, HEADER false)")
    con.execute(f"COPY ({query(split, rows)}) TO '{tmp}/hits-recent.csv' (FORMAT csv, HEADER false)")
    con.close()
    shutil.rmtree(final, ignore_errors=True)
    os.rename(tmp, final)
    open(os.path.join(final, ".complete"), "w").close()
    log(f"  {time.perf_counter() - started:.1f} s")
    return paths, shape


# ---------------------------------------------------------------------------------------------
# Oxbow load


def connect(dsn):
    # prepare_threshold=None: statements without parameters go through the simple query protocol
    # (psycopg would otherwise prepare a statement on its 5th execution), as in bench/tpch.py.
    return psycopg.connect(dsn, autocommit=True, prepare_threshold=None)


def csv_statements(path, rows_per_statement):
    """Yield the CSV text of each COPY statement: `rows_per_statement` lines (no field of the
    generated data holds a newline)."""
    with open(path, "rb") as f:
        while True:
            lines = list(itertools.islice(f, rows_per_statement))
            if not lines:
                return
            yield len(lines), b"".join(lines)


def table_state(conn, table):
    cur = conn.execute(
        "SELECT CAST(hot_rows AS bigint), CAST(hot_batches AS bigint), CAST(delta_files AS bigint), "
        f"CAST(delta_version AS bigint) FROM oxbow.tables WHERE schema_name = 'public' AND table_name = '{table}'"
    )
    row = cur.fetchone()
    return dict(zip(("hot_rows", "hot_batches", "delta_files", "delta_version"), row)) if row else None


def load_layout(dsn, layout, paths, shape, rows_per_statement):
    """Create hits_<layout> and COPY the rows in; FLUSH TABLE as the layout says. Returns timings
    and the table's state in oxbow.tables, and the reason if that state is not the layout's."""
    table = f"hits_{layout}"
    copy_s = flush_s = 0.0
    statements = flushes = loaded = 0
    with connect(dsn) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({COLUMNS}) WITH ({TABLE_OPTIONS})")
        # (files, whether their rows are flushed)
        both = [paths["csv_old"], paths["csv_recent"]]
        parts = {"lake": [(both, True)], "hot": [(both, False)],
                 "split": [([paths["csv_old"]], True), ([paths["csv_recent"]], False)]}[layout]
        with conn.cursor() as cur:
            for files, flushed in parts:
                unflushed = 0
                for n, data in itertools.chain.from_iterable(csv_statements(p, rows_per_statement) for p in files):
                    started = time.perf_counter()
                    with cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv)") as copy:
                        copy.write(data)
                    copy_s += time.perf_counter() - started
                    statements += 1
                    loaded += n
                    unflushed += n
                    if flushed and unflushed >= FLUSH_EVERY_ROWS:
                        flush_s += flush(conn, table)
                        flushes += 1
                        unflushed = 0
                if flushed and unflushed:
                    flush_s += flush(conn, table)
                    flushes += 1
        counted = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        state = table_state(conn, table)
    expected_hot = {"lake": 0, "hot": shape["rows"], "split": shape["recent_rows"]}[layout]
    problem = layout_problem(state, expected_hot, counted, shape["rows"])
    return {
        "table": table, "rows": loaded, "counted": counted, "copy_statements": statements, "copy_s": copy_s,
        "flushes": flushes, "flush_s": flush_s, "expected_hot_rows": expected_hot, "state": state,
        "problem": problem,
    }


def flush(conn, table):
    started = time.perf_counter()
    conn.execute(f"FLUSH TABLE {table}")
    return time.perf_counter() - started


def layout_problem(state, expected_hot, counted, rows):
    if counted != rows:
        return f"count(*) = {counted:,}, loaded {rows:,}"
    if state is None:
        return "not in oxbow.tables"
    if state["hot_rows"] != expected_hot:
        return (f"{state['hot_rows']:,} hot rows, the layout needs {expected_hot:,} (a flush the layout did not "
                "ask for: memory pressure? raise --hot-memory-mb)")
    return None


def resident_mb(pid):
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# engines


class Oxbow:
    def __init__(self, dsn, layout):
        self.dsn, self.layout = dsn, layout
        self.name = f"Oxbow {layout}"
        self.table = f"hits_{layout}"
        self.conn = connect(dsn)

    def run(self, sql):
        if self.conn.closed:  # the server dropped the connection on an earlier query
            self.conn = connect(self.dsn)
        started = time.perf_counter()
        rows = self.conn.execute(sql.format(t=self.table)).fetchall()
        return time.perf_counter() - started, rows

    def close(self):
        self.conn.close()


class DuckDB:
    name = "DuckDB"

    def __init__(self, parquet):
        self.conn = duckdb.connect()
        # date_trunc of a timestamptz truncates in the session time zone: UTC, as Oxbow stores it.
        self.conn.execute("SET TimeZone = 'UTC'")
        self.conn.execute(f"CREATE VIEW hits AS SELECT * FROM read_parquet('{parquet}')")

    def run(self, sql):
        started = time.perf_counter()
        table = self.conn.sql(sql.format(t="hits")).to_arrow_table()
        return time.perf_counter() - started, arrow_rows(table.to_batches())

    def close(self):
        self.conn.close()


class DataFusion:
    name = "DataFusion"

    def __init__(self, parquet):
        self.ctx = datafusion.SessionContext()
        self.ctx.register_parquet("hits", parquet)

    def run(self, sql):
        started = time.perf_counter()
        batches = self.ctx.sql(sql.format(t="hits")).collect()
        return time.perf_counter() - started, arrow_rows(batches)

    def close(self):
        pass


def clickhouse_dialect(sql):
    """The dashboard's SQL in ClickHouse's spelling: the only two constructs it does not share.
    A `TIMESTAMPTZ '... +00'` literal becomes toDateTime64(..., 6, 'UTC'), and percentile_cont
    (linear interpolation, PostgreSQL's definition) becomes quantileExactInclusive, the same
    definition."""
    sql = re.sub(r"TIMESTAMPTZ '([^']*)\+00'", r"toDateTime64('\1', 6, 'UTC')", sql)
    return re.sub(r"percentile_cont\(([0-9.]+)\) WITHIN GROUP \(ORDER BY (\w+)\)",
                  r"quantileExactInclusive(\1)(\2)", sql)


class ChDB:
    """ClickHouse in process (chDB), over the Parquet file through a `file()` view, or on its own
    MergeTree table (ORDER BY event_time) loaded from it before the queries (not timed). Session
    time zone UTC, as the other engines; `join_use_nulls` does not matter here (no joins)."""

    def __init__(self, parquet, merge_tree):
        self.name = "chDB MergeTree" if merge_tree else "chDB"
        self.db = "events_mergetree" if merge_tree else "events_parquet"
        self.session = chdb_session()
        self.session.query(f"CREATE DATABASE IF NOT EXISTS {self.db}")
        self.session.query(f"DROP TABLE IF EXISTS {self.db}.hits")
        source = f"file('{parquet}', Parquet)"
        if merge_tree:
            self.session.query(f"CREATE TABLE {self.db}.hits ENGINE = MergeTree ORDER BY event_time "
                               "SETTINGS allow_nullable_key = 1 AS "
                               f"SELECT * FROM {source} SETTINGS session_timezone = 'UTC'")
        else:
            self.session.query(f"CREATE VIEW {self.db}.hits AS SELECT * FROM {source}")

    def run(self, sql):
        sql = clickhouse_dialect(sql.format(t="hits")) + " SETTINGS session_timezone = 'UTC', aggregate_functions_null_for_empty = 1"
        self.session.query(f"USE {self.db}")  # both engines share the process's one chDB server
        started = time.perf_counter()
        table = self.session.query(sql, "ArrowTable")
        return time.perf_counter() - started, arrow_rows(table.to_batches())

    def close(self):
        self.session.query(f"DROP DATABASE IF EXISTS {self.db}")


def utc_rows(rows):
    """Timestamps in UTC, so that a zone's name (Etc/UTC, UTC) does not count as a difference."""
    return [
        tuple(v.astimezone(datetime.timezone.utc) if isinstance(v, datetime.datetime) and v.tzinfo else v for v in row)
        for row in rows
    ]


def run_queries(engines, queries=QUERIES, hot_runs=HOT_RUNS):
    """Each query on each engine (`engine.run(sql)`), checked against the reference engine's rows."""
    results = {}
    for name, _, sql in queries:
        results[name] = {}
        for engine in engines:
            entry = {"cold_s": None, "hot_s": [], "rows": None, "error": None}
            try:
                entry["cold_s"], entry["rows"] = engine.run(sql)
                for _ in range(hot_runs):
                    entry["hot_s"].append(engine.run(sql)[0])
            except Exception as e:  # noqa: BLE001 - every failure is reported, none is fatal
                entry["error"] = error_text(e)
            entry["median_s"] = statistics.median(entry["hot_s"]) if entry["hot_s"] else None
            results[name][engine.name] = entry
        reference = results[name][REFERENCE]
        for engine_name, entry in results[name].items():
            if engine_name == REFERENCE or entry["error"]:
                entry["check"] = None
            elif reference["error"]:
                entry["check"] = f"not checked: {REFERENCE} failed"
            else:
                entry["check"] = check(utc_rows(entry["rows"]), utc_rows(reference["rows"]), ordered=True)
        log(f"{name}: " + "  ".join(
            f"{n} {fmt_ms(e['median_s'])} ms" + (" ERROR" if e["error"] else " MISMATCH" if e["check"] else "")
            for n, e in results[name].items()))
    return results


# ---------------------------------------------------------------------------------------------
# report


def ms(seconds):
    return None if seconds is None else round(seconds * 1000, 3)


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


def oxbow_setting(dsn, sql):
    try:
        with connect(dsn) as conn:
            return conn.execute(sql).fetchone()[0]
    except psycopg.Error as e:
        return f"unknown ({error_text(e)})"


def header(args, info, shape, paths, duck):
    version = oxbow_setting(args.oxbow, "SELECT version()")
    partitions = oxbow_setting(
        args.oxbow,
        "SELECT value FROM information_schema.df_settings WHERE name = 'datafusion.execution.target_partitions'")
    duck_threads = duck.conn.execute("SELECT current_setting('threads')").fetchone()[0]
    df_partitions = datafusion.SessionContext().sql("SHOW datafusion.execution.target_partitions").to_pylist()
    df_partitions = df_partitions[0].get("value") if df_partitions else "unknown"
    row_groups = pq.ParquetFile(paths["parquet"]).metadata.num_row_groups
    csv_mb = (os.path.getsize(paths["csv_old"]) + os.path.getsize(paths["csv_recent"])) / 1e6
    mode = "quick (`bench/run --quick`)" if args.quick else "full (`bench/run`)"
    hot_limit = f"{args.hot_memory_mb:,} MB" if args.hot_memory_mb else "not given"
    return [
        "# Events: dashboard queries over pgwire, Oxbow in three tier layouts, DuckDB, plain DataFusion and chDB",
        "",
        f"- date: {info['date']}; {shape['rows']:,} rows; run: {mode}",
        f"- machine: {info['cpus']} CPUs, {info['memory_gib']} GiB memory, {info['cpu']}; 1-minute load average "
        f"{info['load_before']:.2f} before the queries, {info['load_after']:.2f} after them",
        f"- Oxbow: git {info['commit']}, build profile {args.profile}; `version()` = {version}; target_partitions "
        f"{partitions}; hot-memory limit (`--hot-memory-mb`) {hot_limit}",
        f"- DuckDB {duckdb.__version__} ({duck_threads} threads, TimeZone UTC), a view over `read_parquet` of the "
        "Parquet file",
        f"- DataFusion: Python `datafusion` {datafusion.__version__} (`SessionContext` defaults, target_partitions "
        f"{df_partitions}), `register_parquet` of the same file",
        f"- data: `hits` generated by DuckDB from `hash(row number)` (bench/events.py), in event-time order over "
        f"{SPAN.days} days from {START:%Y-%m-%d} UTC, one event every {shape['step_us']:,} µs; "
        f"{shape['users']:,} possible users and {shape['urls']:,} possible pages, both skewed; 20 countries, "
        f"4 devices, 5 event types; `revenue` on purchases only (NULL otherwise). Parquet (DuckDB's writer: Snappy, "
        f"{row_groups} row groups) {os.path.getsize(paths['parquet']) / 1e6:,.1f} MB; CSV {csv_mb:,.1f} MB",
        f"- client: Python {info['python']}, psycopg {psycopg.__version__}, on the same machine, TCP to 127.0.0.1",
        f"- method: per query and engine 1 cold run, then {HOT_RUNS} hot runs; hot = their median, in ms. Oxbow: "
        "`execute` + `fetchall` through psycopg (simple query protocol, text results), so it includes the wire "
        "and the client's parsing of rows; DuckDB: `con.sql(q).to_arrow_table()`; DataFusion: "
        "`ctx.sql(q).collect()`. Oxbow's cold run is the first query on that table after its load (the files are "
        "in the OS page cache either way); the peers' is the first run of the query in their process",
        f"- chDB {chdb_version()}: ClickHouse in process (Python `chdb`), session time zone UTC, `session.query(q, 'ArrowTable')`; "
        "\"chDB\" is a view over `file()` of the Parquet file, \"chDB MergeTree\" its own MergeTree table "
        "(`ORDER BY event_time`) loaded from it before the queries; the SQL is the same but for two spellings "
        "(`clickhouse_dialect`: timestamp literals, percentile_cont as quantileExactInclusive)",
        f"- result check: every other engine's result against DuckDB's (row count, then values in order: "
        "numbers within a relative 1e-6, timestamps in UTC)",
        "",
        common.chart_link("events", "events: hot-run medians per query, engine and layout"),
    ]


def load_lines(loads, shape, rows_per_statement):
    lines = [
        "",
        "## Layouts and their load",
        "",
        f"Each layout is its own table, `CREATE TABLE hits_<layout> (...) WITH ({TABLE_OPTIONS})`, loaded with "
        f"`COPY ... FROM STDIN WITH (FORMAT csv)`, {rows_per_statement:,} rows per statement (one hot batch each). "
        f"`lake` and the older {100 - RECENT_PERCENT}% of `split` get a `FLUSH TABLE` every "
        f"{FLUSH_EVERY_ROWS:,} rows and at the end; the newest {RECENT_PERCENT}% of `split` "
        f"({shape['recent_rows']:,} rows, from {START + SPAN * (100 - RECENT_PERCENT) / 100:%Y-%m-%d %H:%M} UTC) "
        "and all of `hot` are never flushed. The state columns are `oxbow.tables` after the load, then after "
        "all the queries (the same unless something flushed during the run). RSS = Oxbow's resident set size "
        "after the load (all tables).",
        "",
        "| layout | rows (count(*)) | COPY statements | COPY s | rows/s | FLUSH TABLE | FLUSH s | hot rows | hot batches "
        "| Delta files | hot rows after queries | RSS MB | as intended |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for layout, load in loads.items():
        s, after = load["state"] or {}, load.get("state_after") or {}
        rss = f"{load['rss_mb']:,.0f}" if load.get("rss_mb") else "-"
        ok = "yes" if not load["problem"] else f"**no: {load['problem']}**"
        lines.append(
            f"| {layout} | {load['counted']:,} | {load['copy_statements']} | {load['copy_s']:.2f} | "
            f"{load['rows'] / load['copy_s']:,.0f} | {load['flushes']} | {load['flush_s']:.2f} | "
            f"{num(s.get('hot_rows'))} | {num(s.get('hot_batches'))} | {num(s.get('delta_files'))} | "
            f"{num(after.get('hot_rows'))} | {rss} | {ok} |"
        )
    return lines


def num(value):
    return "-" if value is None else f"{value:,}"


def cell(entry, key):
    if entry["error"]:
        return "error"
    return fmt_ms(entry[key])


def query_lines(results, engines):
    oxbows = [e for e in engines if e.startswith("Oxbow")]
    lines = [
        "",
        "## Queries",
        "",
        "| query | what it shows |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {what}: `{sql.format(t='hits')}` |" for name, what, sql in QUERIES]
    lines += [
        "",
        "## Results (ms; hot = median of the hot runs)",
        "",
        "The peers read the Parquet file (chDB MergeTree: its own table loaded from it), so their figures repeat "
        "on each layout's line; the ratios are Oxbow's hot median over theirs (below 1: Oxbow faster); best peer "
        "= the fastest of the four.",
        "",
        "| query | layout | Oxbow cold | Oxbow hot | DuckDB hot | DataFusion hot | chDB hot | chDB MergeTree hot "
        "| Oxbow/DuckDB | Oxbow/DataFusion | Oxbow/best peer | rows | match |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    totals = {e: 0.0 for e in engines}
    complete = 0
    for name, per_engine in results.items():
        duck, df = per_engine["DuckDB"], per_engine["DataFusion"]
        ch, chm = per_engine["chDB"], per_engine["chDB MergeTree"]
        peers = [per_engine[p]["median_s"] for p in PEERS if per_engine[p]["median_s"] is not None
                 and not per_engine[p]["check"]]
        best = min(peers) if peers else None
        if all(per_engine[e]["median_s"] is not None for e in engines):
            complete += 1
            for e in engines:
                totals[e] += per_engine[e]["median_s"]
        for e in oxbows:
            o = per_engine[e]
            rows = len(duck["rows"]) if duck["rows"] is not None else "-"
            match = "**error**" if o["error"] else f"**MISMATCH**: {o['check']}" if o["check"] else "ok"
            lines.append(
                f"| {name} | {e.split()[1]} | {cell(o, 'cold_s')} | {cell(o, 'median_s')} | {cell(duck, 'median_s')} "
                f"| {cell(df, 'median_s')} | {cell(ch, 'median_s')} | {cell(chm, 'median_s')} | "
                f"{ratio(o['median_s'], duck['median_s'])} | {ratio(o['median_s'], df['median_s'])} | "
                f"{ratio(o['median_s'], best)} | {rows} | {match} |"
            )
    scope = "" if complete == len(results) else f" ({complete} of {len(results)} queries that all engines ran)"
    lines += [
        "",
        f"### Totals of the hot medians{scope}",
        "",
        "| engine | total ms | / DuckDB | / DataFusion |",
        "| --- | ---: | ---: | ---: |",
    ]
    for e in engines:
        lines.append(f"| {e} | {fmt_ms(totals[e])} | {ratio(totals[e], totals['DuckDB'])} | "
                     f"{ratio(totals[e], totals['DataFusion'])} |")
    lines += [
        "",
        "### Cold runs (ms)",
        "",
        "| query | " + " | ".join(engines) + " |",
        "| --- |" + " ---: |" * len(engines),
    ]
    for name, per_engine in results.items():
        lines.append(f"| {name} | " + " | ".join(cell(per_engine[e], "cold_s") for e in engines) + " |")
    return lines


def problems_of(results, loads):
    problems = []
    for layout, load in loads.items():
        if load["problem"]:
            problems.append(f"layout {layout} not as intended: {load['problem']}")
        after = load.get("state_after")
        if after and load["state"] and after["hot_rows"] != load["state"]["hot_rows"]:
            problems.append(f"layout {layout}: {load['state']['hot_rows']:,} hot rows after the load, "
                            f"{after['hot_rows']:,} after the queries")
    sql = {name: text for name, _, text in QUERIES}
    for name, per_engine in results.items():
        for engine, e in per_engine.items():
            table = f"hits_{engine.split()[1]}" if engine.startswith("Oxbow") else "hits"
            if e["error"]:
                problems.append(f"{name} on {engine} failed: `{e['error']}`; query: `{sql[name].format(t=table)}`")
            elif e["check"]:
                problems.append(f"{name} on {engine} differs from {REFERENCE}: {e['check']}; query: "
                                f"`{sql[name].format(t=table)}`")
    return problems


def to_json(args, info, shape, loads, results, problems):
    return {
        "meta": {**info, "quick": args.quick, "profile": args.profile, "hot_runs": HOT_RUNS,
                 "hot_memory_mb": args.hot_memory_mb},
        "data": shape,
        "queries": [{"name": n, "what": w, "sql": s} for n, w, s in QUERIES],
        "loads": loads,
        "results": {
            q: {e: {"cold_ms": ms(r["cold_s"]), "hot_ms": [ms(h) for h in r["hot_s"]], "median_ms": ms(r["median_s"]),
                    "rows": None if r["rows"] is None else len(r["rows"]), "error": r["error"], "check": r["check"]}
                for e, r in per_engine.items()}
            for q, per_engine in results.items()
        },
        "problems": problems,
    }


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oxbow", required=True, help="libpq connection string of a running Oxbow server")
    parser.add_argument("--quick", action="store_true", help=f"{ROWS_QUICK:,} rows unless --rows says otherwise")
    parser.add_argument("--rows", type=int, help=f"rows (default $OXBOW_EVENTS_ROWS, else {ROWS:,})")
    parser.add_argument("--oxbow-pid", type=int, help="Oxbow's process id, for its resident memory after the loads")
    parser.add_argument("--hot-memory-mb", type=int, help="the --hot-memory-mb Oxbow was started with, for the header")
    parser.add_argument("--keep-tables", action="store_true", help="leave the hits_* tables in Oxbow (default: drop them)")
    parser.add_argument("--profile", default="unknown", help="build profile of the Oxbow binary, for the header")
    parser.add_argument("--out", default=os.path.join(common.BENCH_DIR, "RESULTS-events.md"))
    parser.add_argument("--json", default=os.path.join(common.RESULTS_DIR, "events.json"))
    args = parser.parse_args()

    rows = args.rows or (ROWS_QUICK if args.quick else int(os.environ.get("OXBOW_EVENTS_ROWS") or ROWS))
    cache = os.environ.get("OXBOW_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "oxbow")
    info = common.machine()
    paths, shape = generate(rows, cache)

    rows_per_statement = max(COPY_MIN_ROWS, -(-rows // COPY_STATEMENTS))
    loads = {}
    for layout in LAYOUTS:
        log(f"loading layout {layout} into Oxbow (hits_{layout})")
        loads[layout] = load_layout(args.oxbow, layout, paths, shape, rows_per_statement)
        load = loads[layout]
        log(f"  {load['counted']:,} rows, COPY {load['copy_s']:.2f} s ({load['copy_statements']} statements), "
            f"{load['flushes']} FLUSH TABLE {load['flush_s']:.2f} s; oxbow.tables: {load['state']}"
            + (f"; NOT AS INTENDED: {load['problem']}" if load["problem"] else ""))
    rss = resident_mb(args.oxbow_pid)
    for load in loads.values():
        load["rss_mb"] = rss

    engines = [Oxbow(args.oxbow, layout) for layout in LAYOUTS] + [
        DuckDB(paths["parquet"]), DataFusion(paths["parquet"]),
        ChDB(paths["parquet"], merge_tree=False), ChDB(paths["parquet"], merge_tree=True)]
    log(f"running {len(QUERIES)} queries: 1 cold + {HOT_RUNS} hot runs per engine")
    info["load_before"] = os.getloadavg()[0]
    results = run_queries(engines)
    info["load_after"] = os.getloadavg()[0]
    with connect(args.oxbow) as conn:
        for layout, load in loads.items():
            load["state_after"] = table_state(conn, f"hits_{layout}")

    names = [e.name for e in engines]
    problems = problems_of(results, loads)
    lines = header(args, info, shape, paths, engines[3])
    lines += load_lines(loads, shape, rows_per_statement)
    lines += query_lines(results, names)
    lines += ["", "## Failures and mismatches", ""]
    lines += [f"- {p}" for p in problems] or ["None: every query ran on every engine and every result equals DuckDB's; "
                                              "every layout was as intended."]
    for engine in engines:
        engine.close()
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    common.write_json(args.json, to_json(args, info, shape, loads, results, problems))
    log(f"wrote {args.out} and {args.json}")

    if not args.keep_tables:
        with connect(args.oxbow) as conn:
            for layout in LAYOUTS:
                conn.execute(f"DROP TABLE IF EXISTS hits_{layout}")
    if problems:
        print(f"\nEVENTS: {len(problems)} FAILURE(S) OR MISMATCH(ES):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

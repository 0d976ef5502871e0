#!/usr/bin/env python3
"""TPC-H over pgwire: Oxbow side by side with plain DataFusion, DuckDB and chDB on the same data.

1. Generates TPC-H data with `tpchgen-cli` at scale factor SF as Parquet (read by DataFusion and
   DuckDB) and as CSV with a header row (loaded into Oxbow), cached under
   ${OXBOW_CACHE:-~/.cache/oxbow}/tpch/sf<SF>/ so that a rerun does not regenerate it.
2. Loads the 8 tables into a running Oxbow with CREATE TABLE (TPC-H types) and
   COPY ... FROM STDIN WITH (FORMAT csv, HEADER) through psycopg, then FLUSH TABLE each one so
   that every row is in the lakehouse (Delta) tier; times the load and checks count(*).
3. Runs the 22 queries on each engine, 1 cold and 3 hot runs, and takes the median of the hot
   runs; checks every Oxbow and DataFusion result against DuckDB's.
4. Writes a Markdown report (default bench/RESULTS-tpch.md) and the figures as JSON (default
   bench/results/tpch.json), which bench/charts.py draws as bench/charts/tpch.png.

    bench/tpch.py --oxbow "host=127.0.0.1 port=5432 user=bench dbname=oxbow" [--quick] [--sf 1]

The scale factor is --sf, else $OXBOW_TPCH_SF, else 1 (0.01 with --quick). Needs psycopg[binary],
duckdb, datafusion==55.* and tpchgen-cli (bench/requirements.txt) in the running Python.
"""

import argparse
import datetime
import glob
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import urllib.parse
import sys
import time
from decimal import Decimal

import datafusion
import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from tpch_queries import QUERIES, SF1_ROW_COUNTS  # noqa: E402

HOT_RUNS = 3
TARGET_RATIO = 1.3
COPY_STATEMENT_ROWS = 1_000_000  # rows per COPY statement (the default flush_rows of a table)
COPY_CHUNK_BYTES = 4 << 20  # bytes per psycopg copy.write

# Standard TPC-H column types. Keys are bigint, and integer columns integer, as in the Parquet
# files tpchgen-cli writes (int64 / int32), so that all engines compute on the same Arrow types;
# char(n)/varchar(n) are text (Oxbow stores char(n) as text anyway).
TABLES = {
    "region": "r_regionkey bigint NOT NULL, r_name text NOT NULL, r_comment text NOT NULL",
    "nation": "n_nationkey bigint NOT NULL, n_name text NOT NULL, n_regionkey bigint NOT NULL, n_comment text NOT NULL",
    "supplier": "s_suppkey bigint NOT NULL, s_name text NOT NULL, s_address text NOT NULL, s_nationkey bigint NOT NULL, "
    "s_phone text NOT NULL, s_acctbal decimal(15,2) NOT NULL, s_comment text NOT NULL",
    "customer": "c_custkey bigint NOT NULL, c_name text NOT NULL, c_address text NOT NULL, c_nationkey bigint NOT NULL, "
    "c_phone text NOT NULL, c_acctbal decimal(15,2) NOT NULL, c_mktsegment text NOT NULL, c_comment text NOT NULL",
    "part": "p_partkey bigint NOT NULL, p_name text NOT NULL, p_mfgr text NOT NULL, p_brand text NOT NULL, "
    "p_type text NOT NULL, p_size integer NOT NULL, p_container text NOT NULL, p_retailprice decimal(15,2) NOT NULL, "
    "p_comment text NOT NULL",
    "partsupp": "ps_partkey bigint NOT NULL, ps_suppkey bigint NOT NULL, ps_availqty integer NOT NULL, "
    "ps_supplycost decimal(15,2) NOT NULL, ps_comment text NOT NULL",
    "orders": "o_orderkey bigint NOT NULL, o_custkey bigint NOT NULL, o_orderstatus text NOT NULL, "
    "o_totalprice decimal(15,2) NOT NULL, o_orderdate date NOT NULL, o_orderpriority text NOT NULL, "
    "o_clerk text NOT NULL, o_shippriority integer NOT NULL, o_comment text NOT NULL",
    "lineitem": "l_orderkey bigint NOT NULL, l_partkey bigint NOT NULL, l_suppkey bigint NOT NULL, "
    "l_linenumber integer NOT NULL, l_quantity decimal(15,2) NOT NULL, l_extendedprice decimal(15,2) NOT NULL, "
    "l_discount decimal(15,2) NOT NULL, l_tax decimal(15,2) NOT NULL, l_returnflag text NOT NULL, "
    "l_linestatus text NOT NULL, l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL, "
    "l_shipinstruct text NOT NULL, l_shipmode text NOT NULL, l_comment text NOT NULL",
}

ENGINES = ("Oxbow", "DataFusion", "DuckDB", "chDB", "chDB MergeTree")
PEERS = ENGINES[1:]
REFERENCE = "DuckDB"
# With --oxbow-data-dir: plain DataFusion over the Parquet files of Oxbow's own Delta tables, which
# tells how much of Oxbow's time is the layout of its files and how much the server's path.
OXBOW_FILES = "DataFusion on Oxbow's files"


def log(msg):
    print(f"[tpch {datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# data


def tpchgen_binary():
    beside = os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
    found = beside if os.access(beside, os.X_OK) else shutil.which("tpchgen-cli")
    if not found:
        sys.exit("tpchgen-cli not found: pip install tpchgen-cli (bench/requirements.txt)")
    return found


def generate(sf, cache_root):
    """Parquet and CSV directories for scale factor sf, generated once and then reused."""
    base = os.path.join(cache_root, "tpch", f"sf{sf:g}")
    binary = tpchgen_binary()
    dirs = {}
    for fmt in ("parquet", "csv"):
        final = os.path.join(base, fmt)
        dirs[fmt] = final
        if os.path.exists(os.path.join(final, ".complete")):
            log(f"{fmt} at SF {sf:g} cached in {final}")
            continue
        tmp = final + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        log(f"generating {fmt} at SF {sf:g} into {final}")
        started = time.perf_counter()
        subprocess.run([binary, fmt, "-s", f"{sf:g}", "-o", tmp, "--quiet"], check=True)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
        open(os.path.join(final, ".complete"), "w").close()
        log(f"  {time.perf_counter() - started:.1f} s")
    return dirs


# ---------------------------------------------------------------------------------------------
# Oxbow load


def connect(dsn):
    # prepare_threshold=None: statements without parameters always go through the simple query
    # protocol (psycopg would otherwise prepare a statement on its 5th execution).
    return psycopg.connect(dsn, autocommit=True, prepare_threshold=None)


def copy_statements(path):
    """Yield, per COPY statement, an iterator of byte chunks: the header line, then about
    COPY_STATEMENT_ROWS data lines cut at line ends (TPC-H text has no newline inside a field)."""
    with open(path, "rb") as f:
        header = f.readline()
        while True:
            first = f.read(COPY_CHUNK_BYTES)
            if not first:
                return

            def chunks(first=first):
                chunk, rows = first + f.readline(), 0
                while chunk:
                    yield chunk
                    rows += chunk.count(b"\n")
                    if rows >= COPY_STATEMENT_ROWS:
                        return
                    chunk = f.read(COPY_CHUNK_BYTES)
                    if chunk:
                        chunk += f.readline()

            yield header, chunks()


def load_oxbow(dsn, csv_dir, expected_rows):
    results = {}
    with connect(dsn) as conn:
        for table in TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        for table, columns in TABLES.items():
            conn.execute(f"CREATE TABLE {table} ({columns})")
        for table in TABLES:
            path = os.path.join(csv_dir, f"{table}.csv")
            size = os.path.getsize(path)
            started = time.perf_counter()
            statements = 0
            with conn.cursor() as cur:
                for header, chunks in copy_statements(path):
                    with cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER)") as copy:
                        copy.write(header)
                        for chunk in chunks:
                            copy.write(chunk)
                    statements += 1
            copied = time.perf_counter()
            conn.execute(f"FLUSH TABLE {table}")
            flushed = time.perf_counter()
            counted = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            results[table] = {
                "rows": expected_rows[table],
                "counted": counted,
                "bytes": size,
                "statements": statements,
                "copy_s": copied - started,
                "flush_s": flushed - copied,
            }
            log(f"  {table}: {counted:,} rows, COPY {copied - started:.2f} s ({statements} statement{'s' if statements > 1 else ''}), "
                f"FLUSH {flushed - copied:.2f} s")
        try:
            cur = conn.execute("SELECT * FROM oxbow.tables")
            names = [d.name for d in cur.description]
            tiers = [dict(zip(names, row)) for row in cur.fetchall()]
            tiers = [t for t in tiers if t.get("schema_name") == "public" and t.get("table_name") in TABLES]
        except psycopg.Error as e:
            tiers = [{"error": str(e).strip()}]
    return results, tiers


# ---------------------------------------------------------------------------------------------
# engines


class Oxbow:
    name = "Oxbow"

    def __init__(self, dsn):
        self.dsn = dsn
        self.conn = connect(dsn)

    def run(self, sql):
        if self.conn.closed:  # the server dropped the connection on an earlier query
            self.conn = connect(self.dsn)
        started = time.perf_counter()
        cur = self.conn.execute(sql)
        rows = cur.fetchall()
        return time.perf_counter() - started, rows

    def close(self):
        self.conn.close()


class DataFusion:
    def __init__(self, paths, name="DataFusion"):
        self.name = name
        self.ctx = datafusion.SessionContext()
        for table, path in paths.items():
            self.ctx.register_parquet(table, path, file_extension=".parquet")

    def run(self, sql):
        started = time.perf_counter()
        batches = self.ctx.sql(sql).collect()
        elapsed = time.perf_counter() - started
        return elapsed, arrow_rows(batches)

    def close(self):
        pass


class DuckDB:
    name = "DuckDB"

    def __init__(self, parquet_dir):
        self.conn = duckdb.connect()
        for table in TABLES:
            path = os.path.join(parquet_dir, f"{table}.parquet").replace("'", "''")
            self.conn.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")

    def run(self, sql):
        started = time.perf_counter()
        table = self.conn.sql(sql).to_arrow_table()
        elapsed = time.perf_counter() - started
        return elapsed, arrow_rows(table.to_batches())

    def close(self):
        self.conn.close()


def chdb_version():
    import chdb
    return f"{chdb.__version__} (ClickHouse {chdb_session().query('SELECT version()', 'CSV').data().strip().strip(chr(34))})"


class ChDB:
    """ClickHouse in process (chDB), either over the same Parquet files through `file()` views or on
    its own MergeTree tables loaded from them (the load is not timed). `join_use_nulls = 1` gives
    outer joins SQL's NULLs (ClickHouse fills in type defaults otherwise, which changes Q13)."""

    def __init__(self, parquet_dir, merge_tree):
        self.name = "chDB MergeTree" if merge_tree else "chDB"
        self.db = "tpch_mergetree" if merge_tree else "tpch_parquet"
        self.session = chdb_session()
        self.session.query(f"CREATE DATABASE IF NOT EXISTS {self.db}")
        for table in TABLES:
            path = os.path.join(parquet_dir, f"{table}.parquet").replace("'", "\\'")
            self.session.query(f"DROP TABLE IF EXISTS {self.db}.{table}")
            if merge_tree:
                self.session.query(f"CREATE TABLE {self.db}.{table} ENGINE = MergeTree ORDER BY tuple() AS "
                                   f"SELECT * FROM file('{path}', Parquet)")
            else:
                self.session.query(f"CREATE VIEW {self.db}.{table} AS SELECT * FROM file('{path}', Parquet)")

    def run(self, sql):
        sql = sql.strip().rstrip(";") + "\nSETTINGS join_use_nulls = 1, aggregate_functions_null_for_empty = 1"
        self.session.query(f"USE {self.db}")  # both engines share the process's one chDB server
        started = time.perf_counter()
        table = self.session.query(sql, "ArrowTable")
        elapsed = time.perf_counter() - started
        return elapsed, arrow_rows(table.to_batches())

    def close(self):
        self.session.query(f"DROP DATABASE IF EXISTS {self.db}")


_CHDB = None


def chdb_session():
    """The process's chDB session: chDB embeds one ClickHouse server per process, bound to one data
    directory, so every chDB engine of a run shares it (each in its own database)."""
    global _CHDB
    if _CHDB is None:
        import chdb.session
        _CHDB = chdb.session.Session(tempfile.mkdtemp(prefix="oxbow-bench-chdb."))
    return _CHDB


def oxbow_table_dir(dsn, table):
    """The local directory of a table's Delta table, from oxbow.tables (directories are named
    by table id, not by name)."""
    with connect(dsn) as conn:
        row = conn.execute("SELECT location FROM oxbow.tables WHERE schema_name = 'public' AND table_name = %s",
                           (table,)).fetchone()
    if row is None or not row[0].startswith("file://"):
        return None
    return urllib.parse.unquote(row[0][len("file://"):])


def oxbow_delta_dirs(dsn):
    """Each table's Delta directory (in Oxbow's local lake), if every Parquet file in it is live
    (added and not removed by the commits in _delta_log), so that the directory can be read as
    plain Parquet; else None and the reason."""
    paths = {}
    for table in TABLES:
        directory = oxbow_table_dir(dsn, table)
        if directory is None:
            return None, f"{table} is not in a local lake"
        log_dir = os.path.join(directory, "_delta_log")
        if os.path.exists(os.path.join(log_dir, "_last_checkpoint")):
            return None, f"{table} has a Delta checkpoint"
        live = set()
        for commit in sorted(glob.glob(os.path.join(log_dir, "*.json"))):
            for line in open(commit):
                action = json.loads(line)
                if "add" in action:
                    live.add(action["add"]["path"])
                elif "remove" in action:
                    live.discard(action["remove"]["path"])
        on_disk = {os.path.relpath(f, directory) for f in glob.glob(os.path.join(directory, "**", "*.parquet"), recursive=True)}
        if not live or live != on_disk:
            return None, f"{table}: the Parquet files on disk are not exactly the live ones of its Delta log"
        paths[table] = directory + os.sep
    return paths, None


def arrow_rows(batches):
    rows = []
    for batch in batches:
        columns = [column.to_pylist() for column in batch.columns]
        rows.extend(zip(*columns))
    return rows


# ---------------------------------------------------------------------------------------------
# result checks


def normalize(value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def same_value(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    return a == b


def sort_key(row):
    return tuple((0, round(v, 4)) if isinstance(v, float) else (1, "") if v is None else (2, str(v)) for v in row)


def first_difference(rows, reference):
    for i, (row, ref) in enumerate(zip(rows, reference)):
        if len(row) != len(ref):
            return f"row {i + 1} has {len(row)} columns, {REFERENCE} {len(ref)}"
        for j, (a, b) in enumerate(zip(row, ref)):
            if not same_value(a, b):
                return f"row {i + 1} column {j + 1}: {a!r} vs {REFERENCE} {b!r}"
    return None


def check(raw_rows, raw_reference, ordered):
    """None when the rows equal the reference's, else a description of the first difference."""
    rows = [tuple(normalize(v) for v in row) for row in raw_rows]
    reference = [tuple(normalize(v) for v in row) for row in raw_reference]
    if len(rows) != len(reference):
        return f"{len(rows)} rows vs {REFERENCE} {len(reference)}"
    if ordered:
        diff = first_difference(rows, reference)
        if diff is None:
            return None
        if first_difference(sorted(rows, key=sort_key), sorted(reference, key=sort_key)) is None:
            return f"same rows in another order ({diff})"
        return diff
    return first_difference(sorted(rows, key=sort_key), sorted(reference, key=sort_key))


# ---------------------------------------------------------------------------------------------
# benchmark


def error_text(exc):
    if isinstance(exc, psycopg.Error):
        diag = exc.diag
        text = (diag.message_primary or str(exc)).strip()
        text = f"SQLSTATE {exc.sqlstate}: {text}" if exc.sqlstate else text
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def run_queries(engines, queries):
    results = {}
    for q in queries:
        sql = QUERIES[q]
        results[q] = {}
        for engine in engines:
            entry = {"cold": None, "hot": [], "rows": None, "error": None}
            try:
                entry["cold"], entry["rows"] = engine.run(sql)
                for _ in range(HOT_RUNS):
                    elapsed, _rows = engine.run(sql)
                    entry["hot"].append(elapsed)
            except Exception as e:  # noqa: BLE001 - every failure is reported, none is fatal
                entry["error"] = error_text(e)
            entry["median"] = statistics.median(entry["hot"]) if entry["hot"] else None
            results[q][engine.name] = entry
        ordered = "order by" in sql.lower()
        reference = results[q][REFERENCE]
        for name in results[q]:
            entry = results[q][name]
            if name == REFERENCE or entry["error"] or reference["error"]:
                entry["check"] = None
            else:
                entry["check"] = check(entry["rows"], reference["rows"], ordered)
        summary = "  ".join(
            f"{name} {fmt_ms(results[q][name]['median'])} ms"
            + (" ERROR" if results[q][name]["error"] else " MISMATCH" if results[q][name]["check"] else "")
            for name in results[q]
        )
        log(f"Q{q}: {summary}")
    return results


def fmt_ms(seconds):
    if seconds is None:
        return "-"
    ms = seconds * 1000
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.1f}"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"


# ---------------------------------------------------------------------------------------------
# report


def git(repo, *args):
    result = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def oxbow_setting(dsn, sql):
    try:
        with connect(dsn) as conn:
            return conn.execute(sql).fetchone()[0]
    except psycopg.Error as e:
        return f"unknown ({error_text(e)})"


def load_average():
    return os.getloadavg()[0]


def header(args, sf, duck, loads):
    meminfo = dict(line.split(":", 1) for line in open("/proc/meminfo"))
    mem_gib = int(meminfo["MemTotal"].split()[0]) / 2**20
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    nproc = os.cpu_count()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = git(repo, "rev-parse", "--short", "HEAD")
    if git(repo, "status", "--porcelain", "--untracked-files=no"):
        commit += " plus uncommitted changes"
    version = oxbow_setting(args.oxbow, "SELECT version()")
    partitions = oxbow_setting(
        args.oxbow,
        "SELECT value FROM information_schema.df_settings WHERE name = 'datafusion.execution.target_partitions'",
    )
    tpchgen = subprocess.run([tpchgen_binary(), "--version"], capture_output=True, text=True).stdout.strip()
    duck_threads = duck.conn.execute("SELECT current_setting('threads')").fetchone()[0]
    df_partitions = datafusion.SessionContext().sql("SHOW datafusion.execution.target_partitions").to_pylist()
    df_partitions = df_partitions[0].get("value") if df_partitions else "unknown"
    mode = "quick (`bench/run --quick`)" if args.quick else "full"
    return [
        f"# TPC-H SF{sf:g}: Oxbow over pgwire, plain DataFusion, DuckDB and ClickHouse (chDB)",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; scale factor {sf:g}; run: {mode}",
        f"- machine: {nproc} CPUs, {mem_gib:.1f} GiB memory, {cpu}; 1-minute load average {loads[0]:.2f} before "
        f"the run (well above 0 means something else was busy), {loads[1]:.2f} before the queries, {loads[2]:.2f} "
        "after them (the run itself keeps it near 2-3)",
        f"- Oxbow: git {commit}, build profile {args.profile}; `version()` = {version}; "
        f"target_partitions {partitions}; tables loaded by COPY and flushed to Delta (no hot rows)",
        f"- DataFusion: Python `datafusion` {datafusion.__version__} (`SessionContext` defaults, target_partitions "
        f"{df_partitions}), `register_parquet` of one file per table",
        f"- DuckDB {duckdb.__version__} ({duck_threads} threads), views over `read_parquet` of the same files",
        f"- chDB {chdb_version()} (ClickHouse in process, default settings plus `join_use_nulls = 1, aggregate_functions_null_for_empty = 1`, SQL's NULLs for outer joins and empty aggregates): \"chDB\" "
        "reads the same Parquet files through `file()` views; \"chDB MergeTree\" reads its own MergeTree tables "
        "(`ORDER BY tuple()`) loaded from them before the queries (not timed); `session.query(q, 'ArrowTable')`",
        f"- data: {tpchgen} (Parquet: Snappy, its default row groups; CSV with a header row for Oxbow)",
        f"- client: Python {platform.python_version()}, psycopg {psycopg.__version__}, on the same machine, "
        "TCP to 127.0.0.1",
        f"- method: per query and engine 1 cold run, then {HOT_RUNS} hot runs; the figure is the median of the hot "
        "runs in milliseconds. Oxbow: `execute` + `fetchall` through psycopg (simple query protocol, text "
        "results), so it includes the wire and the client's parsing of rows; DataFusion: `ctx.sql(q).collect()`; "
        "DuckDB: `con.sql(q).to_arrow_table()`",
        f"- result check: every other engine's result against DuckDB's (row count, then values: numbers "
        "within a relative 1e-6, in order where the query has ORDER BY)",
        f"- **acceptance target: total Oxbow time within {TARGET_RATIO}x of plain DataFusion on the same "
        "Parquet files**",
        "",
        common.chart_link("tpch", "TPC-H hot-run medians per query and engine"),
    ]


def load_lines(load, tiers):
    lines = [
        "",
        "## Load into Oxbow",
        "",
        f"`CREATE TABLE` with TPC-H types, then `COPY t FROM STDIN WITH (FORMAT csv, HEADER)` through psycopg's "
        f"`cursor.copy`, the file streamed in {COPY_CHUNK_BYTES >> 20} MiB chunks, one COPY statement per "
        f"{COPY_STATEMENT_ROWS:,} rows; then `FLUSH TABLE t`. MB = 10^6 bytes of CSV.",
        "",
        "| table | rows | count(*) after load | CSV MB | COPY statements | COPY s | FLUSH s | rows/s (COPY + FLUSH) | MB/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total = {"rows": 0, "bytes": 0, "copy_s": 0.0, "flush_s": 0.0, "statements": 0}
    for table, r in load.items():
        for key in total:
            total[key] += r[key]
        elapsed = r["copy_s"] + r["flush_s"]
        counted = f"{r['counted']:,}" + ("" if r["counted"] == r["rows"] else " **(wrong)**")
        lines.append(
            f"| {table} | {r['rows']:,} | {counted} | {r['bytes'] / 1e6:,.1f} | {r['statements']} | "
            f"{r['copy_s']:.2f} | {r['flush_s']:.2f} | {r['rows'] / elapsed:,.0f} | {r['bytes'] / 1e6 / elapsed:,.1f} |"
        )
    elapsed = total["copy_s"] + total["flush_s"]
    all_counted = all(r["counted"] == r["rows"] for r in load.values())
    lines.append(
        f"| **total** | {total['rows']:,} | {'all equal' if all_counted else '**not all equal**'} | "
        f"{total['bytes'] / 1e6:,.1f} | {total['statements']} | {total['copy_s']:.2f} | {total['flush_s']:.2f} | "
        f"{total['rows'] / elapsed:,.0f} | {total['bytes'] / 1e6 / elapsed:,.1f} |"
    )
    if tiers:
        keys = [k for k in tiers[0]]
        lines += ["", "`SELECT * FROM oxbow.tables` after the load:", "", "| " + " | ".join(keys) + " |",
                  "| " + " | ".join("---" for _ in keys) + " |"]
        for row in tiers:
            lines.append("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")
    return lines


def query_lines(results, sf):
    lines = [
        "",
        "## Queries (median of hot runs, ms)",
        "",
        "| query | " + " | ".join(f"{name} ms" for name in ENGINES) + " | Oxbow/DataFusion | Oxbow/best peer | result check |",
        "| --- |" + " ---: |" * (len(ENGINES) + 2) + " --- |",
    ]
    totals = {name: 0.0 for name in ENGINES}
    counted = 0
    problems = []
    for q, per_engine in results.items():
        cells = []
        for name in ENGINES:
            e = per_engine[name]
            cells.append("error" if e["error"] else fmt_ms(e["median"]))
        checks = []
        for name in ENGINES:
            e = per_engine[name]
            if e["error"]:
                checks.append(f"{name} error")
                problems.append((q, name, "error", e["error"]))
            elif e["check"]:
                checks.append(f"{name} MISMATCH")
                problems.append((q, name, "mismatch", e["check"]))
        ref = per_engine[REFERENCE]
        if not ref["error"] and sf == 1 and len(ref["rows"]) != SF1_ROW_COUNTS[q]:
            checks.append(f"{REFERENCE} {len(ref['rows'])} rows, spec {SF1_ROW_COUNTS[q]}")
            problems.append((q, REFERENCE, "mismatch", f"{len(ref['rows'])} rows; the specification's answer has "
                             f"{SF1_ROW_COUNTS[q]}"))
        if not ref["error"] and not checks:
            check_text = f"ok ({len(ref['rows'])} row{'' if len(ref['rows']) == 1 else 's'})"
        else:
            check_text = "; ".join(checks) if checks else "ok"
        medians = {name: per_engine[name]["median"] for name in ENGINES}
        if all(m is not None for m in medians.values()):
            counted += 1
            for name in ENGINES:
                totals[name] += medians[name]
        peers = [medians[name] for name in PEERS if medians[name] is not None and not per_engine[name]["check"]]
        best = min(peers) if peers else None
        lines.append(f"| Q{q} | {' | '.join(cells)} | {ratio(medians['Oxbow'], medians['DataFusion'])} | "
                     f"{ratio(medians['Oxbow'], best)} | {check_text} |")
    n = len(results)
    scope = "" if counted == n else f" ({counted} of {n} queries that all engines ran)"
    lines.append(
        f"| **total**{scope} | " + " | ".join(f"**{fmt_ms(totals[name])}**" for name in ENGINES) + " | "
        f"**{ratio(totals['Oxbow'], totals['DataFusion'])}** | "
        f"**{ratio(totals['Oxbow'], min((totals[name] for name in PEERS if totals[name]), default=None))}** | "
        f"{'all ok' if not problems else f'{len(problems)} problem(s), below'} |"
    )

    total_ratio = totals["Oxbow"] / totals["DataFusion"] if totals["DataFusion"] else None
    if n < len(QUERIES):
        verdict = f"not assessed: only {n} of {len(QUERIES)} queries were run"
    elif problems:
        verdict = f"not assessed: {len(problems)} failure(s) or mismatch(es) (below); ratio over the queries all engines ran: {ratio(totals['Oxbow'], totals['DataFusion'])}"
    elif total_ratio <= TARGET_RATIO:
        verdict = f"**met**: Oxbow total / DataFusion total = {total_ratio:.2f} (target ≤ {TARGET_RATIO})"
    else:
        verdict = f"**not met**: Oxbow total / DataFusion total = {total_ratio:.2f} (target ≤ {TARGET_RATIO})"
    lines += ["", f"Acceptance target (total Oxbow time within {TARGET_RATIO}x of plain DataFusion): {verdict}."]

    lines += [
        "",
        "### Cold runs (first run of each query on each engine, ms)",
        "",
        "| query | " + " | ".join(ENGINES) + " |",
        "| --- |" + " ---: |" * len(ENGINES),
    ]
    cold_totals = {name: 0.0 for name in ENGINES}
    for q, per_engine in results.items():
        cells = []
        for name in ENGINES:
            cold = per_engine[name]["cold"]
            cells.append(fmt_ms(cold) if cold is not None else "error")
            cold_totals[name] += cold or 0.0
        lines.append(f"| Q{q} | {' | '.join(cells)} |")
    lines.append("| **total** | " + " | ".join(f"**{fmt_ms(cold_totals[name])}**" for name in ENGINES) + " |")

    if any(OXBOW_FILES in per_engine for per_engine in results.values()):
        lines += [
            "",
            "### Where Oxbow's time goes",
            "",
            f"\"{OXBOW_FILES}\" is plain DataFusion (Python, same settings) reading the Parquet files of Oxbow's "
            "own Delta tables after the load, as a directory per table: the same engine on Oxbow's file layout, "
            "without the server (pgwire, Delta snapshot, hot tier union). Layout = that / DataFusion on tpchgen's "
            "files; server = Oxbow / that.",
            "",
            f"| query | Oxbow ms | {OXBOW_FILES} ms | DataFusion ms | layout | server | result check |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        sums = [0.0, 0.0, 0.0]
        for q, per_engine in results.items():
            e = per_engine.get(OXBOW_FILES)
            if e is None:
                continue
            o, f, d = per_engine["Oxbow"]["median"], e["median"], per_engine["DataFusion"]["median"]
            if None not in (o, f, d):
                sums = [sums[0] + o, sums[1] + f, sums[2] + d]
            check_text = f"error: `{e['error']}`" if e["error"] else f"MISMATCH: `{e['check']}`" if e["check"] else "ok"
            lines.append(f"| Q{q} | {fmt_ms(o)} | {fmt_ms(f)} | {fmt_ms(d)} | {ratio(f, d)} | {ratio(o, f)} | {check_text} |")
        lines.append(f"| **total** | **{fmt_ms(sums[0])}** | **{fmt_ms(sums[1])}** | **{fmt_ms(sums[2])}** | "
                     f"**{ratio(sums[1], sums[2])}** | **{ratio(sums[0], sums[1])}** | |")

    lines += ["", "## Failures and mismatches", ""]
    if not problems:
        lines.append("None: every query ran on every engine and every result equals DuckDB's.")
    for q, name, kind, text in problems:
        lines.append(f"- Q{q}, {name}, {kind}: `{text}`")
    return lines


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oxbow", required=True, help="libpq connection string of a running Oxbow server")
    parser.add_argument("--quick", action="store_true", help="scale factor 0.01 unless --sf says otherwise")
    parser.add_argument("--sf", type=float, help="scale factor (default $OXBOW_TPCH_SF, else 1; 0.01 with --quick)")
    parser.add_argument("--queries", help="comma-separated query numbers (default all 22)")
    parser.add_argument("--skip-load", action="store_true", help="the tables are already loaded in Oxbow")
    parser.add_argument("--oxbow-data-dir", help="Oxbow's --data-dir (local lake): also run plain DataFusion "
                        "over the Parquet files of its Delta tables, to split Oxbow's overhead")
    parser.add_argument("--profile", default="unknown", help="build profile of the Oxbow binary, for the header")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS-tpch.md"))
    parser.add_argument("--json", default=os.path.join(common.RESULTS_DIR, "tpch.json"),
                        help="where to write the figures for bench/charts.py")
    args = parser.parse_args()

    sf = args.sf or (0.01 if args.quick else float(os.environ.get("OXBOW_TPCH_SF") or 1))
    queries = [int(q) for q in args.queries.split(",")] if args.queries else sorted(QUERIES)
    cache = os.environ.get("OXBOW_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "oxbow")

    loads = [load_average()]
    dirs = generate(sf, cache)
    expected_rows = {t: pq.ParquetFile(os.path.join(dirs["parquet"], f"{t}.parquet")).metadata.num_rows for t in TABLES}

    load, tiers = None, None
    if not args.skip_load:
        log(f"loading SF {sf:g} into Oxbow")
        load, tiers = load_oxbow(args.oxbow, dirs["csv"], expected_rows)

    tpchgen_files = {t: os.path.join(dirs["parquet"], f"{t}.parquet") for t in TABLES}
    engines = [Oxbow(args.oxbow), DataFusion(tpchgen_files), DuckDB(dirs["parquet"]),
               ChDB(dirs["parquet"], merge_tree=False), ChDB(dirs["parquet"], merge_tree=True)]
    if args.oxbow_data_dir:
        paths, why_not = oxbow_delta_dirs(args.oxbow)
        if paths:
            engines.append(DataFusion(paths, name=OXBOW_FILES))
        else:
            log(f"not reading Oxbow's files directly: {why_not}")
    log(f"running queries {','.join(map(str, queries))}: 1 cold + {HOT_RUNS} hot runs per engine")
    loads.append(load_average())
    results = run_queries(engines, queries)
    loads.append(load_average())

    lines = header(args, sf, engines[2], loads)
    if load:
        lines += load_lines(load, tiers)
    lines += query_lines(results, sf)
    for engine in engines:
        engine.close()
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    common.write_json(args.json, {
        "meta": {**common.machine(), "quick": args.quick, "profile": args.profile, "sf": sf, "hot_runs": HOT_RUNS},
        "load": load,
        "results": {
            q: {name: {"cold_ms": None if e["cold"] is None else e["cold"] * 1000,
                       "hot_ms": [h * 1000 for h in e["hot"]],
                       "median_ms": None if e["median"] is None else e["median"] * 1000,
                       "rows": None if e["rows"] is None else len(e["rows"]), "error": e["error"], "check": e["check"]}
                for name, e in per_engine.items()}
            for q, per_engine in results.items()
        },
    })
    log(f"wrote {args.out} and {args.json}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Result streaming: how fast Oxbow hands a large result to a client, beside PostgreSQL.

Dashboards read small aggregates, but exports, notebooks and sync jobs read whole tables, and
there a server's result path (encoding rows, the wire, memory held while the client reads) is
the whole cost. This benchmark loads the same rows into both servers and reads all of them back
five ways, from the same client process:

  select_simple    SELECT * FROM t over the simple query protocol, in libpq's chunked-rows mode
                   (RAW_CHUNK_ROWS per chunk), rows counted but not decoded: the server and the
                   wire, without Python's per-value cost
  select_extended  the same over the extended protocol (Parse/Bind/Describe/Execute, as
                   prepared statements, pgJDBC, asyncpg and psycopg's stream() send queries)
  select_decoded   SELECT * FROM t, every row decoded into Python values by psycopg
                   (`cursor.stream(size=STREAM_CHUNK_ROWS)`, extended protocol): what an
                   application sees
  copy_table       COPY t TO STDOUT (text format), the bytes read and dropped
  copy_query       COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv), likewise

Per method and server: 1 cold and HOT_RUNS hot runs, the median of the hot runs; rows/s and MB/s
(MB = 10^6 bytes of the rows as CSV, the loaded file's size, the same for both servers and all
methods, as in bench/ingest.py), the time to the first row, and how much the serving process's
anonymous resident memory (RssAnon: heap, not the shared buffer pool or the page cache) grew
while it streamed (Oxbow's process with --oxbow-pid; PostgreSQL's backend for the connection),
which tells a server that streams from one that gathers the whole result first.

The rows are bench/events.py's `hits` data (same generator and cache), loaded by COPY FROM STDIN
in CSV; on Oxbow flushed to Delta (the lakehouse tier, where a table's rows rest), on
PostgreSQL followed by VACUUM (FREEZE, ANALYZE) so that the first read does not set hint bits.

    bench/streaming.py --oxbow DSN --postgres DSN [--oxbow-pid PID] [--quick] [--rows N]

Rows: --rows, else $OXBOW_STREAMING_ROWS, else 10,000,000 (200,000 with --quick).
Writes bench/RESULTS-streaming.md and bench/results/streaming.json; exits 1 if a method failed or
returned the wrong number of rows.
"""

import argparse
import datetime
import os
import statistics
import sys
import threading
import time

import psycopg
from psycopg import pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import events  # noqa: E402
from tpch import error_text  # noqa: E402

ROWS, ROWS_QUICK = 10_000_000, 200_000
HOT_RUNS = 3
STREAM_CHUNK_ROWS = 1_000
RAW_CHUNK_ROWS = 10_000
LOAD_STATEMENT_ROWS = 100_000
TABLE = "stream_hits"
MEMORY_SAMPLE_S = 0.02

METHODS = {
    "select_simple": ("SELECT * FROM {t}", "`SELECT *`, simple query protocol, libpq chunked rows, not decoded"),
    "select_extended": ("SELECT * FROM {t}", "`SELECT *`, extended protocol, libpq chunked rows, not decoded"),
    "select_decoded": ("SELECT * FROM {t}", "`SELECT *`, extended protocol, rows decoded by psycopg `cursor.stream`"),
    "copy_table": ("COPY {t} TO STDOUT", "`COPY t TO STDOUT` (text)"),
    "copy_query": ("COPY (SELECT * FROM {t}) TO STDOUT WITH (FORMAT csv)",
                   "`COPY (SELECT * FROM t) TO STDOUT WITH (FORMAT csv)`"),
}
SYSTEMS = ("Oxbow", "PostgreSQL")


def log(msg):
    print(f"[streaming {datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def connect(dsn):
    return psycopg.connect(dsn, autocommit=True, prepare_threshold=None)


# ---------------------------------------------------------------------------------------------
# load


def load(system, dsn, paths, rows):
    """Create and fill the table on one server; returns timings and what the table holds."""
    started = time.perf_counter()
    with connect(dsn) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        options = " WITH (time_column = 'event_time')" if system == "Oxbow" else ""
        conn.execute(f"CREATE TABLE {TABLE} ({events.COLUMNS}){options}")
        with conn.cursor() as cur:
            for path in (paths["csv_old"], paths["csv_recent"]):
                for _, data in events.csv_statements(path, LOAD_STATEMENT_ROWS):
                    with cur.copy(f"COPY {TABLE} FROM STDIN WITH (FORMAT csv)") as copy:
                        copy.write(data)
        copied = time.perf_counter()
        if system == "Oxbow":
            conn.execute(f"FLUSH TABLE {TABLE}")
            state = events.table_state(conn, TABLE)
        else:
            conn.execute(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
            size = conn.execute(f"SELECT pg_total_relation_size('{TABLE}')").fetchone()[0]
            state = {"table_mb": round(size / 1e6, 1)}
        finished = time.perf_counter()
        counted = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    problem = None if counted == rows else f"count(*) = {counted:,}, loaded {rows:,}"
    if system == "Oxbow" and state and state["hot_rows"]:
        problem = f"{state['hot_rows']:,} rows still hot after FLUSH TABLE"
    return {"copy_s": copied - started, "after_s": finished - copied, "counted": counted, "state": state,
            "problem": problem}


# ---------------------------------------------------------------------------------------------
# readers: each returns (rows, bytes received or None, seconds to the first row)


def read_decoded(conn, sql, count_lines):
    started, first, n = time.perf_counter(), None, 0
    with conn.cursor() as cur:
        for _ in cur.stream(sql, size=STREAM_CHUNK_ROWS):
            if first is None:
                first = time.perf_counter() - started
            n += 1
    return n, None, first


def read_simple(conn, sql, count_lines):
    return read_raw(conn, sql, extended=False)


def read_extended(conn, sql, count_lines):
    return read_raw(conn, sql, extended=True)


def read_raw(conn, sql, extended):
    """libpq directly: send the query (PQsendQuery, or PQsendQueryParams without parameters for
    the extended protocol), switch to chunked rows, count the rows of each chunk."""
    pgconn = conn.pgconn
    started, first, n = time.perf_counter(), None, 0
    if extended:
        pgconn.send_query_params(sql.encode(), None)
    else:
        pgconn.send_query(sql.encode())
    pgconn.set_chunked_rows_mode(RAW_CHUNK_ROWS)  # raises if libpq (before 17) cannot
    error = None
    while (result := pgconn.get_result()) is not None:
        if result.status in (pq.ExecStatus.TUPLES_CHUNK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE):
            if first is None and result.ntuples:
                first = time.perf_counter() - started
            n += result.ntuples
        elif error is None:
            error = (result.error_message or b"").decode(errors="replace").strip() or str(result.status)
    if error:
        raise RuntimeError(error)
    return n, None, first


def read_copy(conn, sql, count_lines):
    """COPY TO STDOUT: the bytes are read and dropped; lines are counted only when asked (the cold
    run), since counting them costs the client time the server does not spend."""
    started, first, size, lines = time.perf_counter(), None, 0, 0
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for block in copy:
            if first is None:
                first = time.perf_counter() - started
            size += len(block)
            if count_lines:
                lines += bytes(block).count(b"\n")
    return (lines if count_lines else None), size, first


READERS = {"select_simple": read_simple, "select_extended": read_extended, "select_decoded": read_decoded,
           "copy_table": read_copy, "copy_query": read_copy}


class MemoryPeak:
    """Samples a process's RssAnon while a run goes; `growth_mb` is the peak above the start."""

    def __init__(self, pid):
        self.pid, self.peak, self.start = pid, None, None
        self._stop = threading.Event()

    def _read(self):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("RssAnon:")) * 1024
        except (OSError, StopIteration):
            return None

    def _sample(self):
        while not self._stop.wait(MEMORY_SAMPLE_S):
            value = self._read()
            if value is not None:
                self.peak = max(self.peak or 0, value)

    def __enter__(self):
        if self.pid:
            self.start = self.peak = self._read()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.pid:
            self._stop.set()
            self._thread.join()

    @property
    def growth_mb(self):
        return None if self.start is None else (self.peak - self.start) / 1e6


def measure(system, dsn, pid, method, rows):
    sql = METHODS[method][0].format(t=TABLE)
    reader = READERS[method]
    entry = {"cold_s": None, "hot_s": [], "first_row_s": [], "rows": None, "bytes": None, "memory_growth_mb": None,
             "error": None, "problem": None}
    conn = connect(dsn)
    try:
        if system == "PostgreSQL":
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        for run in range(1 + HOT_RUNS):
            with MemoryPeak(pid) as memory:
                started = time.perf_counter()
                n, size, first = reader(conn, sql, count_lines=run == 0)
                elapsed = time.perf_counter() - started
            if memory.growth_mb is not None:
                entry["memory_growth_mb"] = max(entry["memory_growth_mb"] or 0.0, memory.growth_mb)
            if run == 0:
                entry["cold_s"], entry["rows"], entry["bytes"] = elapsed, n, size
                if n != rows:
                    entry["problem"] = f"{n:,} rows read, the table has {rows:,}"
            else:
                entry["hot_s"].append(elapsed)
                entry["first_row_s"].append(first)
                if size is not None and size != entry["bytes"]:
                    entry["problem"] = f"hot run read {size:,} bytes, the cold run {entry['bytes']:,}"
                if n is not None and n != rows:
                    entry["problem"] = f"{n:,} rows read, the table has {rows:,}"
    except Exception as e:  # noqa: BLE001 - every failure is reported, none is fatal
        entry["error"] = error_text(e)
    finally:
        conn.close()
    entry["median_s"] = statistics.median(entry["hot_s"]) if entry["hot_s"] else None
    entry["first_row_median_s"] = (statistics.median(f for f in entry["first_row_s"] if f is not None)
                                   if any(f is not None for f in entry["first_row_s"]) else None)
    return entry


# ---------------------------------------------------------------------------------------------
# report


def fmt(value, digits=2):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def figures(entry, rows, csv_bytes):
    """The derived figures of one method on one server, for the report and the JSON."""
    median = entry["median_s"]
    return {
        "rows/s": rows / median if median else None,
        "MB/s (rows as CSV)": csv_bytes / 1e6 / median if median else None,
        "hot median s": median,
        "cold s": entry["cold_s"],
        "first row ms": entry["first_row_median_s"] * 1000 if entry["first_row_median_s"] is not None else None,
        "first row, % of the run": (100 * entry["first_row_median_s"] / median
                                    if median and entry["first_row_median_s"] is not None else None),
        "bytes per row received": entry["bytes"] / rows if entry["bytes"] else None,
        "server memory growth MB": entry["memory_growth_mb"],
    }


def report(args, info, shape, paths, loads, results, problems):
    csv_bytes = os.path.getsize(paths["csv_old"]) + os.path.getsize(paths["csv_recent"])
    rows = shape["rows"]
    with connect(args.oxbow) as conn:
        oxbow_version = conn.execute("SELECT version()").fetchone()[0]
    with connect(args.postgres) as conn:
        pg = {s: conn.execute(f"SHOW {s}").fetchone()[0] for s in ("server_version", "shared_buffers", "work_mem")}
    mode = "quick (`bench/run --quick`)" if args.quick else "full (`bench/run`)"
    lines = [
        "# Result streaming: Oxbow and PostgreSQL",
        "",
        f"- date: {info['date']}; {rows:,} rows; run: {mode}",
        f"- machine: {info['cpus']} CPUs, {info['memory_gib']} GiB memory, {info['cpu']}; 1-minute load average "
        f"{info['load_before']:.2f} before the reads, {info['load_after']:.2f} after them",
        f"- Oxbow: git {info['commit']}, build profile {args.profile}; `version()` = {oxbow_version}; the table "
        "flushed to Delta (lakehouse tier)",
        f"- PostgreSQL {pg['server_version']}: shared_buffers={pg['shared_buffers']}, work_mem={pg['work_mem']}, "
        "otherwise bench/run's settings; the table after `VACUUM (FREEZE, ANALYZE)`, no indexes",
        f"- client: Python {info['python']}, psycopg {psycopg.__version__} (libpq {pq.version()}), on the same "
        "machine, TCP to 127.0.0.1; client and servers share the CPUs",
        f"- data: bench/events.py's `hits` rows ({len(events.COLUMNS.split(','))} columns: timestamptz, 5 text, "
        f"integer, double precision), {csv_bytes / rows:.0f} bytes per row as CSV ({csv_bytes / 1e6:,.1f} MB in all)",
        f"- method: per method and server 1 cold run (the first read after the load) and {HOT_RUNS} hot runs; "
        f"libpq chunked rows mode with {RAW_CHUNK_ROWS:,} rows per chunk, `cursor.stream(size={STREAM_CHUNK_ROWS:,})`; "
        "figures from the median of the hot runs. MB = 10^6 bytes of the rows as CSV (the loaded file), so MB/s "
        "is rows/s times a constant and compares across methods and servers; \"bytes per row received\" is what "
        "COPY actually sent. First row = from sending the statement to the first row (or COPY block) in the "
        "client. Server memory growth = the peak of the serving process's RssAnon during a run over its value at "
        "the run's start (sampled every 20 ms; Oxbow's whole process, PostgreSQL's backend), the largest over the "
        "runs; a lower bound, since memory the allocator kept from earlier work is reused without growing. A first "
        "row late in the run (a high %) and a growth near the result's size mean the server gathered the whole "
        "result before sending it",
        "",
        common.chart_link("streaming", "streaming: rows/s per method, Oxbow and PostgreSQL"),
        "",
        "## Load",
        "",
        f"`COPY {TABLE} FROM STDIN WITH (FORMAT csv)`, {LOAD_STATEMENT_ROWS:,} rows per statement; then on Oxbow "
        "`FLUSH TABLE`, on PostgreSQL `VACUUM (FREEZE, ANALYZE)` (the \"after\" column).",
        "",
        "| server | rows (count(*)) | COPY s | after s | state |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for system, l in loads.items():
        state = ", ".join(f"{k} {v}" for k, v in (l["state"] or {}).items())
        lines.append(f"| {system} | {l['counted']:,} | {l['copy_s']:.2f} | {l['after_s']:.2f} | {state}"
                     + (f" **{l['problem']}**" if l["problem"] else "") + " |")
    lines += [
        "",
        "## Summary (rows/s from the hot median)",
        "",
        "| method | Oxbow rows/s | PostgreSQL rows/s | ratio (Oxbow/PostgreSQL) | Oxbow MB/s | PostgreSQL MB/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    derived = {m: {s: figures(results[m][s], rows, csv_bytes) for s in SYSTEMS} for m in METHODS}
    for method, (_, title) in METHODS.items():
        o, p = derived[method]["Oxbow"], derived[method]["PostgreSQL"]
        ratio = f"{o['rows/s'] / p['rows/s']:.2f}" if o["rows/s"] and p["rows/s"] else "-"
        cells = [fmt(o["rows/s"]) if o["rows/s"] else "error", fmt(p["rows/s"]) if p["rows/s"] else "error", ratio,
                 fmt(o["MB/s (rows as CSV)"]), fmt(p["MB/s (rows as CSV)"])]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    for method, (sql, title) in METHODS.items():
        lines += ["", f"## {method}: {title}", "", f"`{sql.format(t=TABLE)}`", "",
                  "| figure | Oxbow | PostgreSQL | ratio (Oxbow/PostgreSQL) |", "| --- | ---: | ---: | ---: |"]
        o, p = derived[method]["Oxbow"], derived[method]["PostgreSQL"]
        for figure in o:
            a, b = o[figure], p[figure]
            lines.append(f"| {figure} | {fmt(a)} | {fmt(b)} | {f'{a / b:.2f}' if a is not None and b else '-'} |")
        for system in SYSTEMS:
            e = results[method][system]
            if e["error"]:
                lines.append(f"\n{system} failed: `{e['error']}`")
            elif e["problem"]:
                lines.append(f"\n{system}: **{e['problem']}**")
    lines += ["", "## Failures", ""]
    lines += [f"- {p}" for p in problems] or [f"None: every method read all {rows:,} rows from both servers."]
    return lines, derived


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oxbow", required=True, help="libpq connection string of the Oxbow server")
    parser.add_argument("--postgres", required=True, help="libpq connection string of the PostgreSQL server")
    parser.add_argument("--oxbow-pid", type=int, help="Oxbow's process id, for its memory while it streams")
    parser.add_argument("--quick", action="store_true", help=f"{ROWS_QUICK:,} rows unless --rows says otherwise")
    parser.add_argument("--rows", type=int, help=f"rows (default $OXBOW_STREAMING_ROWS, else {ROWS:,})")
    parser.add_argument("--keep-tables", action="store_true", help=f"leave {TABLE} on both servers (default: drop it)")
    parser.add_argument("--profile", default="unknown", help="build profile of the Oxbow binary, for the header")
    parser.add_argument("--out", default=os.path.join(common.BENCH_DIR, "RESULTS-streaming.md"))
    parser.add_argument("--json", default=os.path.join(common.RESULTS_DIR, "streaming.json"))
    args = parser.parse_args()

    rows = args.rows or (ROWS_QUICK if args.quick else int(os.environ.get("OXBOW_STREAMING_ROWS") or ROWS))
    cache = os.environ.get("OXBOW_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "oxbow")
    info = common.machine()
    paths, shape = events.generate(rows, cache)
    dsns = {"Oxbow": args.oxbow, "PostgreSQL": args.postgres}

    loads = {}
    for system in SYSTEMS:
        log(f"loading {rows:,} rows into {system}")
        loads[system] = load(system, dsns[system], paths, rows)
        log(f"  COPY {loads[system]['copy_s']:.2f} s, then {loads[system]['after_s']:.2f} s; {loads[system]['state']}")

    info["load_before"] = os.getloadavg()[0]
    results = {}
    for method in METHODS:
        results[method] = {}
        for system in SYSTEMS:
            e = measure(system, dsns[system], args.oxbow_pid if system == "Oxbow" else None, method, rows)
            results[method][system] = e
            rate = f"{rows / e['median_s']:,.0f} rows/s" if e["median_s"] else "-"
            log(f"{method} {system}: {rate}, hot median {e['median_s'] or 0:.3f} s, cold {e['cold_s'] or 0:.3f} s"
                + (f", memory +{e['memory_growth_mb']:.0f} MB" if e["memory_growth_mb"] is not None else "")
                + (f" ERROR {e['error']}" if e["error"] else "") + (f" PROBLEM {e['problem']}" if e["problem"] else ""))
    info["load_after"] = os.getloadavg()[0]

    problems = [f"{s} load: {l['problem']}" for s, l in loads.items() if l["problem"]]
    for method, per_system in results.items():
        sql = METHODS[method][0].format(t=TABLE)
        for system, e in per_system.items():
            if e["error"]:
                problems.append(f"{method} on {system} failed: `{e['error']}`; statement: `{sql}`")
            elif e["problem"]:
                problems.append(f"{method} on {system}: {e['problem']}; statement: `{sql}`")

    lines, derived = report(args, info, shape, paths, loads, results, problems)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    common.write_json(args.json, {
        "meta": {**info, "quick": args.quick, "profile": args.profile, "hot_runs": HOT_RUNS},
        "data": shape,
        "methods": {m: {"sql": sql.format(t=TABLE), "title": title} for m, (sql, title) in METHODS.items()},
        "loads": loads,
        "results": {m: {s: {**{k: v for k, v in e.items()}, "figures": derived[m][s]} for s, e in per.items()}
                    for m, per in results.items()},
        "problems": problems,
    })
    log(f"wrote {args.out} and {args.json}")

    if not args.keep_tables:
        for dsn in dsns.values():
            with connect(dsn) as conn:
                conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    if problems:
        print(f"\nSTREAMING: {len(problems)} FAILURE(S):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

"""CREATE SOURCE benchmarks: file ingest, HTTP push and freshness, beside DuckDB and PostgreSQL.

Started by bench/run, which brings up Oxbow (with --allow-file-root and --http-listen) and
PostgreSQL. Everything is measured in the same run, from one client process on the same
machine, over loopback, so the ratios are the point; absolute figures depend on the machine
(and the client shares its CPUs with the servers).

  File ingest    the same N clickstream rows as NDJSON, CSV and Parquet files (FILES_PER_FORMAT
                 files each) in a directory under the allowed root; Oxbow is timed from
                 CREATE SOURCE ... FROM FILES until `SELECT count(*)` on another connection
                 equals N (polled). Peers on the same files: DuckDB `CREATE TABLE t AS SELECT *
                 FROM read_json/read_csv/read_parquet(...)` into a database file on disk, and
                 `COPY ... FROM STDIN (FORMAT csv)` of the CSV rows into PostgreSQL and, as a
                 reference for the source pipeline's overhead, into Oxbow itself.
  HTTP push      NDJSON bodies of HTTP_BATCH rows POSTed to /v1/sources/<name> by HTTP_CLIENTS
                 threads, each on one keep-alive http.client connection; rows/s acknowledged
                 (200, counted from "accepted"). Peer: PostgreSQL COPY of the same batches as
                 CSV from as many connections.
  Freshness      a steady push load (FRESHNESS_RATE batches/s of HTTP_BATCH rows); ms from a
                 push's 200 until one of its rows (a unique event_id) is visible to
                 `SELECT count(*) ... WHERE event_id = $1` on another connection. Peer:
                 PostgreSQL COPY of the same batches at the same rate, same probe.

Writes the report (default bench/RESULTS-sources.md) and the figures as JSON (default
bench/results/sources.json).
"""

import argparse
import glob
import http.client
import json
import os
import platform
import queue
import random
import shutil
import threading
import time
from datetime import datetime, timedelta, timezone

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

import common

FILE_ROWS, FILE_ROWS_QUICK = 10_000_000, 200_000
FILES_PER_FORMAT = 4
HTTP_ROWS, HTTP_ROWS_QUICK = 2_000_000, 200_000
HTTP_BATCH = 1_000
HTTP_CLIENTS = 4
FRESHNESS_SAMPLES, FRESHNESS_SAMPLES_QUICK = 600, 100
FRESHNESS_RATE = 10  # batches per second
COPY_CHUNK_ROWS = 100_000  # rows per COPY statement for the file peers (as bench/ingest.py)
COUNT_POLL_S = 0.05
VISIBILITY_TIMEOUT_S = 30.0
SETTLE = "200ms"
POLL_INTERVAL = "100ms"

TARGETS = {
    "file NDJSON rows/s": 1_000_000,
    "file Parquet rows/s": 3_000_000,
    "HTTP push rows/s (batches of 1,000)": 500_000,
    "freshness p99 ms": 10,
}

COLUMNS = "event_id text, user_id bigint, url text, country text, duration_ms int, ts timestamptz"
DUCKDB_COLUMNS = {"event_id": "VARCHAR", "user_id": "BIGINT", "url": "VARCHAR", "country": "VARCHAR",
                  "duration_ms": "INTEGER", "ts": "TIMESTAMPTZ"}
PATHS = ("/", "/pricing", "/docs/getting-started", "/blog/real-time-analytics", "/product/42", "/cart",
         "/checkout", "/search", "/account/settings", "/signup")
COUNTRIES = ("US", "DE", "FR", "GB", "IN", "BR", "JP", "CA", "NL", "ES", "SE", "AU")
BASE_TS = datetime(2026, 1, 1, tzinfo=timezone.utc)
FORMATS = ("NDJSON", "CSV", "Parquet")
EXT = {"NDJSON": "ndjson", "CSV": "csv", "Parquet": "parquet"}
OXBOW_FORMAT = {"NDJSON": "JSON", "CSV": "CSV", "Parquet": "PARQUET"}


# ---------------------------------------------------------------------------------------------
# Rows

def generate_columns(start, count, prefix="e"):
    """`count` clickstream rows numbered from `start`, as columns; seeded by `start` and `prefix`,
    so every system gets exactly the same rows. event_id is unique: prefix + row number."""
    rng = random.Random(f"{prefix}{start}")
    event_id, user_id, url, country, duration, ts = [], [], [], [], [], []
    for i in range(start, start + count):
        event_id.append(f"{prefix}{i:012d}-{rng.getrandbits(32):08x}")
        user_id.append(rng.randrange(1, 5_000_000))
        url.append(f"https://shop.example.com{PATHS[rng.randrange(len(PATHS))]}?ref=r{rng.randrange(100)}&s={rng.randrange(10_000)}")
        country.append(COUNTRIES[rng.randrange(len(COUNTRIES))])
        duration.append(rng.randrange(0, 120_000))
        ts.append(BASE_TS + timedelta(milliseconds=3 * i))
    return {"event_id": event_id, "user_id": user_id, "url": url, "country": country,
            "duration_ms": duration, "ts": ts}


def iso(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def ndjson_text(cols):
    return "".join(
        f'{{"event_id":"{e}","user_id":{u},"url":"{url}","country":"{c}","duration_ms":{d},"ts":"{iso(t)}"}}\n'
        for e, u, url, c, d, t in zip(*cols.values()))


def csv_text(cols, header=True):
    """CSV; no value contains a comma, quote or newline, so none needs quoting."""
    body = "".join(f"{e},{u},{url},{c},{d},{iso(t)}\n" for e, u, url, c, d, t in zip(*cols.values()))
    return ("event_id,user_id,url,country,duration_ms,ts\n" + body) if header else body


def arrow_table(cols):
    return pa.table({
        "event_id": pa.array(cols["event_id"], pa.string()),
        "user_id": pa.array(cols["user_id"], pa.int64()),
        "url": pa.array(cols["url"], pa.string()),
        "country": pa.array(cols["country"], pa.string()),
        "duration_ms": pa.array(cols["duration_ms"], pa.int32()),
        "ts": pa.array(cols["ts"], pa.timestamp("us", tz="UTC")),
    })


def write_files(root, rows):
    """FILES_PER_FORMAT files per format under root/<format>/, the same rows in each format.
    Each file is written under a .tmp name and renamed, as the README asks of a FILES source."""
    dirs = {f: os.path.join(root, EXT[f]) for f in FORMATS}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    per_file = -(-rows // FILES_PER_FORMAT)
    for k, start in enumerate(range(0, rows, per_file)):
        cols = generate_columns(start, min(per_file, rows - start))
        for fmt in FORMATS:
            path = os.path.join(dirs[fmt], f"clicks-{k:03d}.{EXT[fmt]}")
            if fmt == "NDJSON":
                with open(path + ".tmp", "w") as f:
                    f.write(ndjson_text(cols))
            elif fmt == "CSV":
                with open(path + ".tmp", "w") as f:
                    f.write(csv_text(cols))
            else:
                pq.write_table(arrow_table(cols), path + ".tmp")
            os.replace(path + ".tmp", path)
    os.sync()
    return dirs


def dir_bytes(d):
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(d, "*")))


# ---------------------------------------------------------------------------------------------
# Helpers

def connect(dsn, **kwargs):
    return psycopg.connect(dsn, autocommit=True, connect_timeout=30, **kwargs)


def percentile(sorted_values, p):
    """Nearest-rank percentile: a value that was actually observed."""
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def cpu_seconds(pid):
    """utime + stime of a process, from /proc (None if it cannot be read)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def loadavg():
    return open("/proc/loadavg").read().split()[0]


class Oxbow:
    def __init__(self, dsn, http_port, pid):
        self.dsn, self.http_port, self.pid = dsn, http_port, pid

    def fresh_table(self, conn, table, **options):
        conn.execute(f"DROP SOURCE IF EXISTS {table}_src")
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        opts = {"time_column": "ts", **options}
        conn.execute(f"CREATE TABLE {table} ({COLUMNS}) WITH ("
                     + ", ".join(f"{k} = '{v}'" for k, v in opts.items()) + ")")

    def source_row(self, conn, name):
        cur = conn.execute(
            "SELECT status, CAST(rows_in AS bigint), CAST(rows_rejected AS bigint), last_error, "
            f"CAST(bytes_in AS bigint), lag FROM oxbow.sources WHERE source_name = '{name}'")
        row = cur.fetchone()
        return dict(zip(("status", "rows_in", "rows_rejected", "last_error", "bytes_in", "lag"), row)) if row else None

    def cleanup(self, table):
        with connect(self.dsn) as conn:
            conn.execute(f"DROP SOURCE IF EXISTS {table}_src")
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def rate(rows, nbytes, elapsed):
    return {"rows/s": rows / elapsed, "MB/s": nbytes / 1e6 / elapsed, "elapsed s": elapsed}


# ---------------------------------------------------------------------------------------------
# 1. File ingest

def oxbow_files(oxbow, fmt, directory, rows, nbytes):
    table = f"src_{EXT[fmt]}"
    source = f"{table}_src"
    with connect(oxbow.dsn) as conn, connect(oxbow.dsn) as poll:
        oxbow.fresh_table(conn, table)
        timeout = max(120.0, rows / 5_000)
        cpu0 = cpu_seconds(oxbow.pid)
        t0 = time.perf_counter()
        conn.execute(
            f"CREATE SOURCE {source} FROM FILES (path = '{directory}/', pattern = '*.{EXT[fmt]}', "
            f"settle = '{SETTLE}', poll_interval = '{POLL_INTERVAL}') FORMAT {OXBOW_FORMAT[fmt]} INTO {table}")
        polls = 0
        while True:
            counted = poll.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            polls += 1
            if counted >= rows:
                elapsed = time.perf_counter() - t0
                break
            if time.perf_counter() - t0 > timeout:
                raise RuntimeError(f"{fmt}: {counted} of {rows} rows after {timeout:.0f}s: "
                                   f"{oxbow.source_row(conn, source)}")
            if polls % 20 == 0:
                st = oxbow.source_row(conn, source)
                if st and st["status"] == "failed":
                    raise RuntimeError(f"{fmt}: source failed: {st}")
            time.sleep(COUNT_POLL_S)
        cpu1 = cpu_seconds(oxbow.pid)
        st = oxbow.source_row(conn, source)
    if counted != rows or st["rows_rejected"]:
        raise RuntimeError(f"{fmt}: count(*) {counted} of {rows}, source {st}")
    oxbow.cleanup(table)
    out = rate(rows, nbytes, elapsed)
    if cpu0 is not None and cpu1 is not None:
        out["server CPU s per million rows"] = (cpu1 - cpu0) / rows * 1e6
    out["oxbow.sources lag when done"] = st["lag"]
    return out


def duckdb_files(fmt, directory, rows, nbytes, db_dir):
    path = os.path.join(db_dir, f"{EXT[fmt]}.duckdb")
    for p in (path, path + ".wal"):
        if os.path.exists(p):
            os.remove(p)
    glob_ = os.path.join(directory, f"*.{EXT[fmt]}")
    if fmt == "NDJSON":
        reader = f"read_json('{glob_}', format = 'newline_delimited', columns = {DUCKDB_COLUMNS})"
    elif fmt == "CSV":
        reader = f"read_csv('{glob_}', header = true, columns = {DUCKDB_COLUMNS})"
    else:
        reader = f"read_parquet('{glob_}')"
    con = duckdb.connect(path)
    try:
        t0 = time.perf_counter()
        con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}")  # autocommit: committed = durable
        elapsed = time.perf_counter() - t0
        counted = con.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        con.close()
    if counted != rows:
        raise RuntimeError(f"DuckDB {fmt}: count(*) {counted} of {rows}")
    return rate(rows, nbytes, elapsed)


def copy_chunks_of_csv(directory):
    """The CSV files' rows without their header line, in COPY statements of COPY_CHUNK_ROWS rows."""
    chunks = []
    for path in sorted(glob.glob(os.path.join(directory, "*.csv"))):
        lines = open(path, "rb").read().split(b"\n", 1)[1].splitlines(keepends=True)
        chunks += [b"".join(lines[i:i + COPY_CHUNK_ROWS]) for i in range(0, len(lines), COPY_CHUNK_ROWS)]
    return chunks


def copy_in(dsn, table, ddl, chunks, rows, nbytes, pid=None):
    with connect(dsn) as conn, conn.cursor() as cur:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(ddl)
        cpu0 = cpu_seconds(pid) if pid else None
        t0 = time.perf_counter()
        for chunk in chunks:
            with cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(chunk)
        elapsed = time.perf_counter() - t0
        cpu1 = cpu_seconds(pid) if pid else None
        counted = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        conn.execute(f"DROP TABLE {table}")
    if counted != rows:
        raise RuntimeError(f"COPY into {table}: count(*) {counted} of {rows}")
    out = rate(rows, nbytes, elapsed)
    if cpu0 is not None and cpu1 is not None:
        out["server CPU s per million rows"] = (cpu1 - cpu0) / rows * 1e6
    return out


# ---------------------------------------------------------------------------------------------
# 2. HTTP push

def http_batches(rows, prefix):
    cols_batches = []
    for start in range(0, rows, HTTP_BATCH):
        cols_batches.append(generate_columns(start, min(HTTP_BATCH, rows - start), prefix))
    return cols_batches


def push(conn, source, body):
    conn.request("POST", f"/v1/sources/{source}", body=body,
                 headers={"Content-Type": "application/x-ndjson", "Content-Length": str(len(body))})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"push to {source}: HTTP {resp.status} {data[:300]!r}")
    return json.loads(data)


def run_clients(n_items, send):
    """send(worker, k) for k in range(n_items), from HTTP_CLIENTS threads off one shared queue;
    returns elapsed s and per-call latencies in ms."""
    work = queue.SimpleQueue()
    for k in range(n_items):
        work.put(k)
    start = threading.Barrier(HTTP_CLIENTS + 1)
    errors, latencies = [], []

    def worker(w):
        start.wait()
        try:
            while True:
                try:
                    k = work.get_nowait()
                except queue.Empty:
                    return
                t = time.perf_counter()
                send(w, k)
                latencies.append((time.perf_counter() - t) * 1000)
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(HTTP_CLIENTS)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return elapsed, sorted(latencies)


def oxbow_http(oxbow, bodies, rows):
    table = "src_http"
    source = f"{table}_src"
    with connect(oxbow.dsn) as conn:
        oxbow.fresh_table(conn, table)
        conn.execute(f"CREATE SOURCE {source} FROM HTTP () FORMAT JSON INTO {table}")
    conns = [http.client.HTTPConnection("127.0.0.1", oxbow.http_port, timeout=120) for _ in range(HTTP_CLIENTS)]
    accepted = [0] * HTTP_CLIENTS

    def send(w, k):
        accepted[w] += push(conns[w], source, bodies[k])["accepted"]

    cpu0 = cpu_seconds(oxbow.pid)
    elapsed, lat = run_clients(len(bodies), send)
    cpu1 = cpu_seconds(oxbow.pid)
    for c in conns:
        c.close()
    with connect(oxbow.dsn) as conn:
        counted = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    if sum(accepted) != rows or counted != rows:
        raise RuntimeError(f"HTTP: accepted {sum(accepted)}, count(*) {counted}, of {rows}")
    oxbow.cleanup(table)
    nbytes = sum(len(b) for b in bodies)
    out = rate(rows, nbytes, elapsed)
    out |= {"request p50 ms": percentile(lat, 50), "request p99 ms": percentile(lat, 99)}
    if cpu0 is not None and cpu1 is not None:
        out["server CPU s per million rows"] = (cpu1 - cpu0) / rows * 1e6
    return out


def pg_batches_copy(dsn, csv_bodies, rows, nbytes):
    table = "src_http"
    with connect(dsn) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({COLUMNS})")
    conns = [connect(dsn) for _ in range(HTTP_CLIENTS)]

    def send(w, k):
        with conns[w].cursor() as cur, cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(csv_bodies[k])

    elapsed, lat = run_clients(len(csv_bodies), send)
    for c in conns:
        c.close()
    with connect(dsn) as conn:
        counted = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        conn.execute(f"DROP TABLE {table}")
    if counted != rows:
        raise RuntimeError(f"PostgreSQL batches: count(*) {counted} of {rows}")
    out = rate(rows, nbytes, elapsed)
    out |= {"request p50 ms": percentile(lat, 50), "request p99 ms": percentile(lat, 99)}
    return out


# ---------------------------------------------------------------------------------------------
# 3. Freshness

def measure_freshness(read_dsn, table, send_batch, samples, prefix):
    """A writer sends one batch of HTTP_BATCH rows every 1/FRESHNESS_RATE s (send_batch returns on
    the acknowledgement). When the reader is idle it asks for a sample: the writer's next batch
    is tagged, and right after its acknowledgement the reader polls count(*) for that batch's
    last event_id (a bound parameter) until it is 1. Only an idle reader takes a sample, so no
    latency includes a queue of older ones; each includes the round trip of the poll that saw it."""
    want_sample, stop = threading.Event(), threading.Event()
    probes = queue.SimpleQueue()
    ack_ms, errors, written = [], [], []
    period = 1.0 / FRESHNESS_RATE

    def writer():
        try:
            t_start = next_at = time.perf_counter()
            n = 0
            while not stop.is_set():
                sampled = want_sample.is_set()
                if sampled:
                    want_sample.clear()
                cols = generate_columns(n * HTTP_BATCH, HTTP_BATCH, prefix)
                t_sent = time.perf_counter()
                send_batch(cols)
                t_ack = time.perf_counter()
                ack_ms.append((t_ack - t_sent) * 1000)
                if sampled:
                    probes.put((t_ack, cols["event_id"][-1]))
                n += 1
                next_at += period
                time.sleep(max(0.0, next_at - time.perf_counter()))
                next_at = max(next_at, time.perf_counter())
            written.append((n * HTTP_BATCH, time.perf_counter() - t_start))
        except Exception as e:
            errors.append(e)

    def next_probe():
        while True:
            try:
                return probes.get(timeout=1.0)
            except queue.Empty:
                if errors or not thread.is_alive():
                    raise errors[0] if errors else RuntimeError("freshness writer stopped")

    thread = threading.Thread(target=writer)
    thread.start()
    latencies, missed_first = [], 0
    try:
        with connect(read_dsn) as conn:
            query = f"SELECT count(*) FROM {table} WHERE event_id = %s"
            while len(latencies) < samples:
                want_sample.set()
                t_ack, probe = next_probe()
                polls = 0
                while conn.execute(query, (probe,)).fetchone()[0] == 0:
                    polls += 1
                    if time.perf_counter() - t_ack > VISIBILITY_TIMEOUT_S:
                        raise RuntimeError(f"{probe} not visible {VISIBILITY_TIMEOUT_S}s after its ack")
                latencies.append((time.perf_counter() - t_ack) * 1000)
                missed_first += polls > 0
    finally:
        stop.set()
        thread.join()
    if errors:
        raise errors[0]
    latencies.sort()
    ack_ms.sort()
    return {
        "visible after ack, p50 ms": percentile(latencies, 50),
        "visible after ack, p99 ms": percentile(latencies, 99),
        "visible after ack, max ms": latencies[-1],
        "samples": len(latencies),
        "samples not visible at the first poll": missed_first,
        "push ack, p50 ms": percentile(ack_ms, 50),
        "push ack, p99 ms": percentile(ack_ms, 99),
        "rows/s achieved by the writer": written[0][0] / written[0][1],
    }


def oxbow_freshness(oxbow, samples):
    table = "src_fresh"
    source = f"{table}_src"
    with connect(oxbow.dsn) as conn:
        # A long flush_interval keeps the run in the hot tier, as bench/ingest.py's freshness.
        oxbow.fresh_table(conn, table, flush_interval="10min")
        conn.execute(f"CREATE SOURCE {source} FROM HTTP () FORMAT JSON INTO {table}")
    hc = http.client.HTTPConnection("127.0.0.1", oxbow.http_port, timeout=60)
    try:
        out = measure_freshness(oxbow.dsn, table,
                                lambda cols: push(hc, source, ndjson_text(cols).encode()), samples, "f")
    finally:
        hc.close()
    oxbow.cleanup(table)
    return out


def pg_freshness(dsn, samples):
    table = "src_fresh"
    with connect(dsn) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({COLUMNS})")
    wconn = connect(dsn)

    def send(cols):
        with wconn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(csv_text(cols, header=False).encode())

    try:
        out = measure_freshness(dsn, table, send, samples, "f")
    finally:
        wconn.close()
    with connect(dsn) as conn:
        conn.execute(f"DROP TABLE {table}")
    return out


# ---------------------------------------------------------------------------------------------
# Report

def fmt(value):
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def table_lines(title, note, results, figures):
    """results: {system label: {figure: value}}; one column per figure."""
    lines = ["", f"## {title}", "", note, "", "| | " + " | ".join(figures) + " |",
             "| --- |" + " ---: |" * len(figures)]
    for label, r in results.items():
        lines.append(f"| {label} | " + " | ".join(fmt(r.get(f)) for f in figures) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oxbow", required=True, help="libpq connection string of the Oxbow server")
    parser.add_argument("--oxbow-http-port", required=True, type=int, help="the port of Oxbow's --http-listen")
    parser.add_argument("--oxbow-pid", required=True, type=int, help="Oxbow's process id, for its CPU time")
    parser.add_argument("--file-root", required=True, help="a directory under one of Oxbow's --allow-file-root")
    parser.add_argument("--postgres", required=True, help="libpq connection string of the PostgreSQL server")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--profile", default="unknown", help="build profile of the Oxbow binary, for the header")
    parser.add_argument("--oxbow-bin", default="unknown", help="path of the Oxbow binary, for the header")
    parser.add_argument("--out", default=os.path.join(common.BENCH_DIR, "RESULTS-sources.md"))
    parser.add_argument("--json", default=os.path.join(common.RESULTS_DIR, "sources.json"))
    args = parser.parse_args()
    oxbow = Oxbow(args.oxbow, args.oxbow_http_port, args.oxbow_pid)
    file_rows = FILE_ROWS_QUICK if args.quick else FILE_ROWS
    http_rows = HTTP_ROWS_QUICK if args.quick else HTTP_ROWS
    samples = FRESHNESS_SAMPLES_QUICK if args.quick else FRESHNESS_SAMPLES
    load_start = loadavg()
    with connect(args.oxbow) as conn:
        oxbow_version = conn.execute("SELECT version()").fetchone()[0]
    with connect(args.postgres) as conn:
        pg = {s: conn.execute(f"SHOW {s}").fetchone()[0] for s in ("server_version", "fsync", "synchronous_commit")}

    print(f"writing {file_rows:,} rows as {FILES_PER_FORMAT} files each of NDJSON, CSV, Parquet ...", flush=True)
    dirs = write_files(args.file_root, file_rows)
    sizes = {f: dir_bytes(d) for f, d in dirs.items()}
    time.sleep(0.5)  # every file is older than the source's settle time before the clock starts
    db_dir = os.path.join(args.file_root, "duckdb")
    os.makedirs(db_dir, exist_ok=True)

    files = {}
    for f in FORMATS:
        print(f"file ingest {f}: Oxbow source ...", flush=True)
        files[f"Oxbow FILES source, {f}"] = oxbow_files(oxbow, f, dirs[f], file_rows, sizes[f])
        print("  " + ", ".join(f"{k} {fmt(v)}" for k, v in files[f"Oxbow FILES source, {f}"].items()), flush=True)
        print(f"file ingest {f}: DuckDB ...", flush=True)
        files[f"DuckDB read_{'json' if f == 'NDJSON' else f.lower()}, {f}"] = duckdb_files(
            f, dirs[f], file_rows, sizes[f], db_dir)
    chunks = copy_chunks_of_csv(dirs["CSV"])
    copy_bytes = sum(len(c) for c in chunks)
    print("file ingest: PostgreSQL COPY ...", flush=True)
    files["PostgreSQL COPY FROM STDIN, CSV"] = copy_in(
        args.postgres, "src_copy", f"CREATE TABLE src_copy ({COLUMNS})", chunks, file_rows, copy_bytes)
    print("file ingest: Oxbow COPY (reference) ...", flush=True)
    files["Oxbow COPY FROM STDIN, CSV (reference)"] = copy_in(
        args.oxbow, "src_copy", f"CREATE TABLE src_copy ({COLUMNS}) WITH (time_column = 'ts')",
        chunks, file_rows, copy_bytes, pid=oxbow.pid)
    del chunks
    shutil.rmtree(db_dir, ignore_errors=True)
    for label, r in files.items():
        print(f"  {label}: " + ", ".join(f"{k} {fmt(v)}" for k, v in r.items()), flush=True)

    print(f"HTTP push: building {http_rows:,} rows in batches of {HTTP_BATCH} ...", flush=True)
    cols_batches = http_batches(http_rows, "h")
    bodies = [ndjson_text(c).encode() for c in cols_batches]
    csv_bodies = [csv_text(c, header=False).encode() for c in cols_batches]
    del cols_batches
    pushes = {}
    print("HTTP push: Oxbow ...", flush=True)
    pushes["Oxbow HTTP push, NDJSON"] = oxbow_http(oxbow, bodies, http_rows)
    print("HTTP push: PostgreSQL COPY batches ...", flush=True)
    pushes["PostgreSQL COPY of the same batches, CSV"] = pg_batches_copy(
        args.postgres, csv_bodies, http_rows, sum(len(b) for b in csv_bodies))
    del bodies, csv_bodies
    for label, r in pushes.items():
        print(f"  {label}: " + ", ".join(f"{k} {fmt(v)}" for k, v in r.items()), flush=True)

    fresh = {}
    print(f"Freshness: Oxbow ({samples} samples) ...", flush=True)
    fresh["Oxbow HTTP push"] = oxbow_freshness(oxbow, samples)
    print(f"Freshness: PostgreSQL ({samples} samples) ...", flush=True)
    fresh["PostgreSQL COPY"] = pg_freshness(args.postgres, samples)
    for label, r in fresh.items():
        print(f"  {label}: " + ", ".join(f"{k} {fmt(v)}" for k, v in r.items()), flush=True)
    load_end = loadavg()

    measured = {
        "file NDJSON rows/s": files["Oxbow FILES source, NDJSON"]["rows/s"],
        "file Parquet rows/s": files["Oxbow FILES source, Parquet"]["rows/s"],
        "HTTP push rows/s (batches of 1,000)": pushes["Oxbow HTTP push, NDJSON"]["rows/s"],
        "freshness p99 ms": fresh["Oxbow HTTP push"]["visible after ack, p99 ms"],
    }
    targets = {}
    for name, target in TARGETS.items():
        value = measured[name]
        met = value <= target if name.endswith("ms") else value >= target
        targets[name] = {"target": target, "measured": value, "met": met, "measured / target": value / target}
        if met:
            targets[name]["verdict"] = "met"
        elif name.endswith("ms"):
            targets[name]["verdict"] = f"short: {value / target:.1f}x the limit"
        else:
            targets[name]["verdict"] = f"short: {value / target * 100:.1f}% of the target"

    m = common.machine()
    debug = "debug" in args.profile.lower()
    lines = [
        "# Oxbow CREATE SOURCE: file ingest, HTTP push and freshness",
        "",
    ]
    if debug:
        lines += [
            f"> **DEBUG BUILD.** The Oxbow binary measured here is a debug build (`{args.profile}`). "
            "Its figures are NOT representative of a release build (a debug Rust build is typically "
            "many times slower); they show that the benchmark runs end to end, not what Oxbow can do. "
            "Rerun `bench/run` without `OXBOW_BIN` (a release build) for figures to compare with the targets.",
            "",
        ]
    lines += [
        f"> **Shared machine.** This run shared its {m['cpus']} CPUs with other work (load average "
        f"{load_start} at the start, {load_end} at the end; `/proc/loadavg`, 1 min), and the client, "
        "Oxbow, PostgreSQL and DuckDB all run on the same CPUs: figures move with that load.",
        "",
        f"- date: {m['date']}; sizes: {'quick (`bench/run --quick`)' if args.quick else 'full (`bench/run`)'}",
        f"- machine: {m['cpus']} CPUs, {m['memory_gib']} GiB memory, {m['cpu']}",
        f"- Oxbow: git {m['commit']}, binary `{args.oxbow_bin}`, build profile **{args.profile}**; `version()` = {oxbow_version}",
        f"- PostgreSQL {pg['server_version']}: fsync={pg['fsync']}, synchronous_commit={pg['synchronous_commit']}, no indexes",
        f"- DuckDB {duckdb.__version__} (Python, in the client process, default threads), pyarrow {pa.__version__}, "
        f"psycopg {psycopg.__version__}, Python {platform.python_version()}",
        f"- rows: web clickstream (`{COLUMNS}`), the same rows for every system; "
        f"files: {file_rows:,} rows per format in {FILES_PER_FORMAT} files "
        f"(NDJSON {sizes['NDJSON'] / 1e6:.1f} MB, CSV {sizes['CSV'] / 1e6:.1f} MB, Parquet {sizes['Parquet'] / 1e6:.1f} MB); "
        f"HTTP: {http_rows:,} rows; freshness: {samples} samples",
        "",
        "## Targets (issue 12)",
        "",
        "| target | goal | measured | verdict |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, t in targets.items():
        goal = f"≤ {t['target']:,}" if name.endswith("ms") else f"≥ {t['target']:,}"
        lines.append(f"| {name} | {goal} | {fmt(t['measured'])} | {t['verdict']} |")
    file_figs = ["rows/s", "MB/s", "elapsed s", "server CPU s per million rows", "oxbow.sources lag when done"]
    quick_note = (f" At these quick sizes a source's fixed start (its first listing, up to one `poll_interval`, and "
                  f"the last count(*) poll) is a large part of the elapsed time." if args.quick else "")
    lines += table_lines(
        "File ingest (durable)",
        f"Oxbow: `CREATE SOURCE ... FROM FILES (path = '<dir>/', pattern = '*.<ext>', settle = '{SETTLE}', "
        f"poll_interval = '{POLL_INTERVAL}') FORMAT JSON|CSV|PARQUET INTO t` over files written (and renamed from "
        f"`.tmp`) before the clock starts; timed from sending CREATE SOURCE until `SELECT count(*) FROM t` on a second "
        f"connection, polled every {COUNT_POLL_S * 1000:.0f} ms, equals the row count (a source lands rows durably, "
        f"in the WAL, before they are visible). The table is created first with `time_column = 'ts'`. "
        f"DuckDB: `CREATE TABLE t AS SELECT * FROM read_json|read_csv|read_parquet('<dir>/*.<ext>')` (explicit "
        f"column types for JSON and CSV) in a fresh database file on disk, autocommit. PostgreSQL and Oxbow COPY: the "
        f"CSV files' rows without the header, `COPY t FROM STDIN WITH (FORMAT csv)` of {COPY_CHUNK_ROWS:,} rows per "
        f"statement on one connection. MB = 10^6 bytes of the input files (COPY: of the CSV sent). Server CPU = "
        f"Oxbow's utime+stime from `/proc/<pid>/stat` over the timed span (n/a for the peers). Every load is checked "
        f"with count(*); `oxbow.sources.lag` (files waiting) is read once count(*) is complete." + quick_note,
        files, file_figs)
    lines += table_lines(
        "HTTP push (durable)",
        f"{http_rows:,} rows as NDJSON bodies of {HTTP_BATCH:,} rows, POSTed to `/v1/sources/<name>` "
        f"(`CREATE SOURCE ... FROM HTTP () FORMAT JSON INTO t`) by {HTTP_CLIENTS} threads, each with its own "
        f"keep-alive `http.client` connection, from one shared queue; each answered 200 once durable, and the "
        f"`accepted` counts and count(*) are checked. PostgreSQL: the same batches as CSV, one `COPY FROM STDIN` per "
        f"batch, from {HTTP_CLIENTS} connections. MB = 10^6 bytes of request bodies.",
        pushes, ["rows/s", "MB/s", "elapsed s", "request p50 ms", "request p99 ms", "server CPU s per million rows"])
    lines += table_lines(
        "Freshness",
        f"A writer sends a batch of {HTTP_BATCH:,} rows {FRESHNESS_RATE} times a second (Oxbow: one HTTP push on a "
        f"keep-alive connection; PostgreSQL: one COPY); for {samples} sampled batches a second connection (psycopg) "
        f"polls `SELECT count(*) FROM t WHERE event_id = $1` for the batch's last row in a tight loop from the "
        f"writer's 200 / COPY acknowledgement until it is seen. Sampled only while the reader is idle; each figure "
        f"includes the round trip of the poll that saw the row; a sample whose first poll, sent right after the acknowledgement, found nothing is counted as not visible at the first poll. Oxbow's table has `flush_interval = '10min'`, so the "
        f"run is served by its hot tier.",
        fresh, ["visible after ack, p50 ms", "visible after ack, p99 ms", "visible after ack, max ms", "samples",
                "samples not visible at the first poll",
                "push ack, p50 ms", "push ack, p99 ms", "rows/s achieved by the writer"])
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    common.write_json(args.json, {
        "meta": {**m, "quick": args.quick, "profile": args.profile, "binary": args.oxbow_bin, "oxbow_version": oxbow_version,
                 "postgres": pg, "duckdb": duckdb.__version__, "loadavg_start": load_start, "loadavg_end": load_end,
                 "sizes": {"file_rows": file_rows, "files_per_format": FILES_PER_FORMAT, "file_bytes": sizes,
                           "http_rows": http_rows, "http_batch": HTTP_BATCH, "http_clients": HTTP_CLIENTS,
                           "freshness_samples": samples, "freshness_rate": FRESHNESS_RATE}},
        "targets": targets,
        "groups": {"File ingest": files, "HTTP push": pushes, "Freshness": fresh},
    })
    print(f"wrote {args.out} and {args.json}")


if __name__ == "__main__":
    main()

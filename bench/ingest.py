"""Ingest and freshness benchmarks: Oxbow and PostgreSQL on the same rows, side by side.

Started by bench/run, which brings up both servers. Every figure is measured the same way on
both systems, from the same client process, over TCP on 127.0.0.1, so the ratio is the point:
absolute numbers depend on the machine (and the client shares its CPUs with the servers).

  INSERT ingest  multi-row INSERTs of 1,000 rows from 4 connections, each statement acknowledged;
                 then, on Oxbow, FLUSH TABLE and the Delta files the load left
  COPY ingest    COPY ... FROM STDIN (FORMAT csv), 100k rows per statement, one connection;
                 then, on Oxbow, the same flush and Delta files
  Memory         Oxbow's resident set size against the hot tier's rows and Arrow bytes, read
                 after the COPY load and before its flush
  Freshness      ms from a writer's acknowledgement until a second connection sees the row

Oxbow's tables are created WITH (time_column = 'ts'); PostgreSQL's DDL is plain.

Writes the report (default bench/RESULTS.md) and the same figures as JSON (default
bench/results/ingest.json), which bench/charts.py draws as bench/charts/ingest.png and
bench/charts/freshness.png.
"""

import argparse
import glob
import os
import platform
import queue
import random
import subprocess
import urllib.parse
import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg

import common

INSERT_ROWS, INSERT_ROWS_QUICK = 10_000_000, 100_000
INSERT_BATCH = 1_000
INSERT_CONNECTIONS = 4
# Distinct INSERT texts per connection; the load cycles through them (see insert_statements).
INSERT_POOL_PER_CONNECTION = 200
COPY_ROWS, COPY_ROWS_QUICK = 5_000_000, 300_000
COPY_BATCH = 100_000
FRESHNESS_SAMPLES, FRESHNESS_SAMPLES_QUICK = 200, 50
FRESHNESS_BATCH = 100
FRESHNESS_PERIOD_S = 0.010
# A row not visible by then is reported as a failure rather than waited for.
VISIBILITY_TIMEOUT_S = 30.0

TABLE_DDL = "CREATE TABLE {} (ts timestamptz, user_id bigint, kind text, value double precision, payload text)"
OXBOW_TABLE_OPTIONS = {"time_column": "ts"}
# Far above the freshness run's length, so that all its rows stay in Oxbow's hot tier.
FRESHNESS_FLUSH_INTERVAL = "10min"
KINDS = ("view", "click", "add_to_cart", "purchase", "signup")
BASE_TS = datetime(2026, 1, 1, tzinfo=timezone.utc)


def generate_rows(start, count):
    """Yield `count` events-like rows numbered from `start`.

    Seeded by `start` so that both systems load exactly the same rows. The payload is JSON with
    quotes and commas, so that CSV quoting is exercised as it would be by real events.
    """
    rng = random.Random(start)
    for i in range(start, start + count):
        ts = (BASE_TS + timedelta(milliseconds=7 * i)).isoformat(sep=" ", timespec="milliseconds")
        payload = (
            f'{{"session":"{rng.getrandbits(64):016x}","page":"/p/{rng.randrange(10_000)}",'
            f'"ua":"Mozilla/5.0","seq":{i}}}'
        )
        yield ts, rng.randrange(1, 1_000_000), KINDS[rng.randrange(len(KINDS))], round(rng.random() * 1000, 3), payload


def csv_line(row):
    ts, user_id, kind, value, payload = row
    return f'{ts},{user_id},{kind},{value!r},"{payload.replace(chr(34), chr(34) * 2)}"\n'


def sql_tuple(row):
    ts, user_id, kind, value, payload = row
    return f"('{ts}',{user_id},'{kind}',{value!r},'{payload.replace(chr(39), chr(39) * 2)}')"


def insert_statements(table, total, batch):
    """Prebuild a pool of distinct INSERT texts; statement k of the load is pool[k % len(pool)].

    All 10M rows as SQL text would hold about 1.5 GB in the client, so the load reuses at most
    INSERT_POOL_PER_CONNECTION * INSERT_CONNECTIONS texts: rows repeat (count(*) still checks
    the total), which an INSERT benchmark without keys does not mind. Building is not timed.
    Returns the pool, the number of statements and the CSV size of all the rows sent.
    """
    if total % batch:
        raise ValueError(f"{total} rows are not a whole number of {batch}-row statements")
    n_statements = total // batch
    pool, pool_csv_bytes = [], []
    for start in range(0, min(n_statements, INSERT_POOL_PER_CONNECTION * INSERT_CONNECTIONS) * batch, batch):
        rows = list(generate_rows(start, batch))
        pool_csv_bytes.append(sum(len(csv_line(r)) for r in rows))
        pool.append(f"INSERT INTO {table} VALUES " + ",".join(sql_tuple(r) for r in rows))
    csv_bytes = sum(pool_csv_bytes[k % len(pool)] for k in range(n_statements))
    return pool, n_statements, csv_bytes


def copy_chunks(total, batch):
    """Prebuild one CSV buffer per COPY statement, so that building them is not timed."""
    return [
        "".join(csv_line(r) for r in generate_rows(start, min(batch, total - start))).encode()
        for start in range(0, total, batch)
    ]


class System:
    """A server under test: its name and connection string."""

    is_oxbow = False

    def __init__(self, name, dsn):
        self.name, self.dsn = name, dsn

    def create_table_sql(self, table, **options):
        return TABLE_DDL.format(table)


class Oxbow(System):
    """Oxbow, with what the benchmark reads beside SQL: its data dir and its process id."""

    is_oxbow = True

    def __init__(self, dsn, data_dir, pid):
        super().__init__("Oxbow", dsn)
        self.data_dir, self.pid = data_dir, pid

    def create_table_sql(self, table, **options):
        with_ = ", ".join(f"{k} = '{v}'" for k, v in {**OXBOW_TABLE_OPTIONS, **options}.items())
        return f"{TABLE_DDL.format(table)} WITH ({with_})"

    def table_dir(self, table):
        """The table's Delta directory, from oxbow.tables (named by table id, not by name)."""
        with connect(self.dsn) as conn:
            location = conn.execute(
                f"SELECT location FROM oxbow.tables WHERE schema_name = 'public' AND table_name = '{table}'"
            ).fetchone()[0]
        return urllib.parse.unquote(location.removeprefix("file://"))

    def table_stats(self, table):
        """The table's row of oxbow.tables (UInt64 columns cast for the client)."""
        with connect(self.dsn) as conn:
            return conn.execute(
                "SELECT CAST(hot_rows AS bigint), CAST(hot_bytes AS bigint), CAST(delta_files AS bigint) "
                f"FROM oxbow.tables WHERE schema_name = 'public' AND table_name = '{table}'"
            ).fetchone()

    def flush_to_delta(self, table, rows):
        """Time FLUSH TABLE, then measure the Delta files the load left, on disk and in oxbow.tables.

        The files are counted on disk (the Parquet files beside _delta_log) and cross-checked
        with oxbow.tables.delta_files, which counts the files of the current Delta snapshot:
        the two differ only if a flush left a file that no commit references.
        """
        with connect(self.dsn) as conn:
            t0 = time.perf_counter()
            conn.execute(f"FLUSH TABLE {table}")  # no parameters: psycopg sends a simple query
            flush_s = time.perf_counter() - t0
        hot_rows, _, delta_files = self.table_stats(table)
        if hot_rows:
            raise RuntimeError(f"{hot_rows} rows of {table} still hot after FLUSH TABLE")
        files = glob.glob(os.path.join(self.table_dir(table), "*.parquet"))
        sizes = [os.path.getsize(f) for f in files]
        if len(files) != delta_files:
            print(f"  warning: {len(files)} Parquet files on disk, oxbow.tables says {delta_files}", flush=True)
        return {
            "flush to Delta, s": flush_s,
            "Delta files (Parquet files on disk)": len(files),
            "Delta files (oxbow.tables.delta_files)": delta_files,
            "Delta file size, average MB": sum(sizes) / len(sizes) / 1e6 if sizes else 0.0,
            "rows per Delta file, average": rows // len(files) if files else 0,
        }

    def resident_bytes(self):
        """VmRSS of the server process, from /proc."""
        with open(f"/proc/{self.pid}/status") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return kib * 1024

    def memory(self, rss_at_start):
        """Resident memory against the hot tier of all tables, both per million hot rows."""
        rss = self.resident_bytes()
        with connect(self.dsn) as conn:
            hot_rows, hot_bytes = conn.execute(
                "SELECT CAST(sum(hot_rows) AS bigint), CAST(sum(hot_bytes) AS bigint) FROM oxbow.tables"
            ).fetchone()
        # MB per million rows is numerically bytes per row.
        per_million = (lambda b: b / hot_rows) if hot_rows else (lambda b: "n/a")
        return {
            "resident set size at start, MB": rss_at_start / 1e6,
            "resident set size, MB": rss / 1e6,
            "hot rows (all tables)": hot_rows,
            "hot tier Arrow size per million hot rows, MB": per_million(hot_bytes),
            "resident size per million hot rows, MB": per_million(rss),
            "resident growth since start per million hot rows, MB": per_million(rss - rss_at_start),
        }


def connect(dsn, **kwargs):
    return psycopg.connect(dsn, autocommit=True, connect_timeout=30, **kwargs)


def fresh_table(system, table, **options):
    with connect(system.dsn) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(system.create_table_sql(table, **options))


def count_rows(dsn, table):
    with connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def measure_insert_ingest(system, pool, n_statements, csv_bytes):
    """Rows/s of concurrent autocommit multi-row INSERTs, each counted once acknowledged.

    The connections are opened before the clock starts; the clock stops when the last
    statement is acknowledged. Statement numbers come from one shared queue, so the connections
    finish together. The load is checked with count(*) afterwards. Automatic preparation is off
    so that the reused texts go as simple queries, as distinct ones would.
    """
    table = "bench_insert"
    fresh_table(system, table)
    work = queue.SimpleQueue()
    for k in range(n_statements):
        work.put(k)
    conns = [connect(system.dsn, prepare_threshold=None) for _ in range(INSERT_CONNECTIONS)]
    start = threading.Barrier(INSERT_CONNECTIONS + 1)
    errors = []

    def insert_until_empty(conn):
        start.wait()
        try:
            while True:
                try:
                    k = work.get_nowait()
                except queue.Empty:
                    return
                conn.execute(pool[k % len(pool)])
        except Exception as e:  # reported after the join, with the others
            errors.append(e)

    threads = [threading.Thread(target=insert_until_empty, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    if errors:
        raise errors[0]
    rows = n_statements * INSERT_BATCH
    return throughput(elapsed, rows, csv_bytes, count_rows(system.dsn, table))


def measure_copy_ingest(system, chunks, rows, csv_bytes):
    """Rows/s of COPY FROM STDIN in CSV, one statement per chunk, on one connection.

    Each COPY is its own autocommit statement, so the clock includes every commit.
    """
    table = "bench_copy"
    fresh_table(system, table)
    with connect(system.dsn) as conn, conn.cursor() as cur:
        t0 = time.perf_counter()
        for chunk in chunks:
            with cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(chunk)
        elapsed = time.perf_counter() - t0
    return throughput(elapsed, rows, csv_bytes, count_rows(system.dsn, table))


def throughput(elapsed, rows, csv_bytes, counted):
    if counted != rows:
        raise RuntimeError(f"loaded {rows} rows but count(*) says {counted}")
    return {
        "rows/s": rows / elapsed,
        "MB/s (rows as CSV)": csv_bytes / 1e6 / elapsed,
        "elapsed s": elapsed,
        "rows loaded (checked by count(*))": counted,
    }


def measure_freshness(system, samples):
    """Milliseconds from a writer's acknowledgement to the row's visibility on another connection.

    A writer inserts FRESHNESS_BATCH rows with unique user_ids every FRESHNESS_PERIOD_S. When
    the reader is idle it asks for a sample: the writer's next batch is tagged, and right after
    its acknowledgement the reader polls count(*) for one of its ids until it is 1. A sample
    is taken only while the reader is idle, so latencies never include a queue of older samples.
    The figure is an upper bound: it includes the round trip of the poll that saw the row.
    Oxbow's table gets a long flush_interval so that the whole run is served by its hot tier.
    """
    table = "bench_fresh"
    dsn = system.dsn
    fresh_table(system, table, flush_interval=FRESHNESS_FLUSH_INTERVAL)
    want_sample = threading.Event()
    stop = threading.Event()
    probes = queue.SimpleQueue()
    ack_ms, errors, written = [], [], []

    def write_batches():
        try:
            with connect(dsn) as conn:
                t_start = next_at = time.perf_counter()
                batch_no = 0
                while not stop.is_set():
                    sampled = want_sample.is_set()
                    if sampled:
                        want_sample.clear()
                    first_id = 10**12 + batch_no * FRESHNESS_BATCH
                    values = ",".join(
                        f"(now(),{first_id + j},'probe',{j}.5,'batch {batch_no}')" for j in range(FRESHNESS_BATCH)
                    )
                    t_sent = time.perf_counter()
                    conn.execute(f"INSERT INTO {table} VALUES {values}")
                    t_ack = time.perf_counter()
                    ack_ms.append((t_ack - t_sent) * 1000)
                    if sampled:
                        probes.put((t_ack, first_id + FRESHNESS_BATCH - 1))
                    batch_no += 1
                    next_at += FRESHNESS_PERIOD_S
                    time.sleep(max(0.0, next_at - time.perf_counter()))
                    next_at = max(next_at, time.perf_counter())
                written.append((batch_no * FRESHNESS_BATCH, time.perf_counter() - t_start))
        except Exception as e:
            errors.append(e)

    writer = threading.Thread(target=write_batches)
    writer.start()
    latencies = []
    try:
        with connect(dsn) as conn:
            while len(latencies) < samples:
                want_sample.set()
                t_ack, probe_id = next_probe(probes, writer, errors)
                query = f"SELECT count(*) FROM {table} WHERE user_id = {probe_id}"
                while conn.execute(query).fetchone()[0] == 0:
                    if time.perf_counter() - t_ack > VISIBILITY_TIMEOUT_S:
                        raise RuntimeError(f"row {probe_id} not visible {VISIBILITY_TIMEOUT_S}s after its ack")
                latencies.append((time.perf_counter() - t_ack) * 1000)
    finally:
        stop.set()
        writer.join()
    if errors:
        raise errors[0]
    latencies.sort()
    ack_ms.sort()
    return {
        "visible after ack, p50 ms": percentile(latencies, 50),
        "visible after ack, p99 ms": percentile(latencies, 99),
        "visible after ack, max ms": latencies[-1],
        "samples": len(latencies),
        "writer INSERT ack, p50 ms": percentile(ack_ms, 50),
        "writer INSERT ack, p99 ms": percentile(ack_ms, 99),
        "writer rows/s achieved": written[0][0] / written[0][1],
        "rows written": written[0][0],
    }


def next_probe(probes, writer, errors):
    while True:
        try:
            return probes.get(timeout=1.0)
        except queue.Empty:
            if errors or not writer.is_alive():
                raise errors[0] if errors else RuntimeError("freshness writer stopped")


def percentile(sorted_values, p):
    """Nearest-rank percentile: a value that was actually observed."""
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def machine_header(args, oxbow_dsn, pg_dsn):
    """Where and what was measured, so that a reader can tell whether results compare."""
    meminfo = dict(line.split(":", 1) for line in open("/proc/meminfo"))
    mem_gib = int(meminfo["MemTotal"].split()[0]) / 2**20
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = git(repo, "rev-parse", "--short", "HEAD")
    if git(repo, "status", "--porcelain", "--untracked-files=no"):
        commit += " plus uncommitted changes"
    with connect(oxbow_dsn) as conn:
        oxbow_version = conn.execute("SELECT version()").fetchone()[0]
    with connect(pg_dsn) as conn:
        pg = {s: conn.execute(f"SHOW {s}").fetchone()[0] for s in
              ("server_version", "fsync", "synchronous_commit", "shared_buffers", "max_wal_size")}
    return [
        "# Oxbow and PostgreSQL: ingest and freshness",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; sizes: {'quick (`bench/run --quick`)' if args.quick else 'full (`bench/run`)'}",
        f"- machine: {nproc} CPUs (nproc), {mem_gib:.1f} GiB memory, {cpu}",
        f"- Oxbow: git {commit}, build profile {args.profile}; `version()` = {oxbow_version}",
        f"- PostgreSQL {pg['server_version']}: fsync={pg['fsync']}, synchronous_commit={pg['synchronous_commit']}, "
        f"shared_buffers={pg['shared_buffers']}, max_wal_size={pg['max_wal_size']}, otherwise defaults; no indexes",
        f"- client: Python {platform.python_version()}, psycopg {psycopg.__version__}, on the same machine, TCP to 127.0.0.1",
        "- ratio = Oxbow / PostgreSQL: above 1 means Oxbow's figure is higher (better for rates, worse for latencies)",
    ]


def git(repo, *args):
    result = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def table_lines(title, note, oxbow, pg):
    """A Markdown table; a figure PostgreSQL has no counterpart for shows n/a there."""
    lines = ["", f"## {title}", "", note, "", "| figure | Oxbow | PostgreSQL | ratio (Oxbow/PostgreSQL) |", "| --- | ---: | ---: | ---: |"]
    for figure in oxbow:
        a, b = oxbow[figure], pg.get(figure, "n/a")
        # Counts (ints) are there to show the runs compare, not as a figure to divide.
        if isinstance(a, (int, str)) or isinstance(b, str):
            ratio = ""
        else:
            ratio = f"{a / b:.2f}" if b else "n/a"
        lines.append(f"| {figure} | {fmt(a)} | {fmt(b)} | {ratio} |")
    return lines


def fmt(value):
    if isinstance(value, str):
        return value
    if isinstance(value, int) or value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def run_group(title, measure, systems, *args, after_oxbow=dict):
    """Run `measure` on each system; on Oxbow, `after_oxbow()` adds its figures at once, before
    the background flusher (or the next system's run) changes what it reads."""
    results = {}
    for system in systems:
        print(f"{title}: {system.name} ...", flush=True)
        results[system.name] = measure(system, *args)
        if system.is_oxbow:
            results[system.name] |= after_oxbow()
        print("  " + ", ".join(f"{k} {fmt(v)}" for k, v in results[system.name].items()), flush=True)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oxbow", required=True, help="libpq connection string of the Oxbow server")
    parser.add_argument("--oxbow-data-dir", required=True, help="the --data-dir Oxbow was started with")
    parser.add_argument("--oxbow-pid", required=True, type=int, help="Oxbow's process id, for its resident memory")
    parser.add_argument("--postgres", required=True, help="libpq connection string of the PostgreSQL server")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--profile", default="unknown", help="build profile of the Oxbow binary, for the header")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "RESULTS.md"))
    parser.add_argument("--json", default=os.path.join(common.RESULTS_DIR, "ingest.json"),
                        help="where to write the figures for bench/charts.py")
    args = parser.parse_args()
    oxbow = Oxbow(args.oxbow, args.oxbow_data_dir, args.oxbow_pid)
    systems = [oxbow, System("PostgreSQL", args.postgres)]
    insert_rows = INSERT_ROWS_QUICK if args.quick else INSERT_ROWS
    copy_rows = COPY_ROWS_QUICK if args.quick else COPY_ROWS
    samples = FRESHNESS_SAMPLES_QUICK if args.quick else FRESHNESS_SAMPLES

    lines = machine_header(args, args.oxbow, args.postgres)
    lines += ["", common.chart_link("ingest", "ingest rows/s, Oxbow and PostgreSQL") + " "
              + common.chart_link("freshness", "freshness ms, Oxbow and PostgreSQL")]
    groups = {}
    rss_at_start = oxbow.resident_bytes()
    flush_note = (
        "Then, on Oxbow only, `FLUSH TABLE` hands the rows still hot to Delta (timed on its own, not in the rows/s), "
        "and the table's Parquet files under `<data dir>/tables/<table id>/` (its `location` in `oxbow.tables`) are counted and sized, cross-checked "
        "with `oxbow.tables.delta_files`. The table has the default `flush_rows` (1,000,000) and `flush_interval` "
        "(10 s), so the background flusher writes files during a load that reaches either."
    )

    pool, n_statements, csv_bytes = insert_statements("bench_insert", insert_rows, INSERT_BATCH)
    pool_note = "" if len(pool) == n_statements else (
        f"To keep the client's memory small, the {n_statements:,} statements cycle through {len(pool):,} distinct "
        f"texts ({INSERT_POOL_PER_CONNECTION} per connection): rows repeat and ids are not unique (no table has a "
        f"key). ")
    r = run_group("INSERT ingest", measure_insert_ingest, systems, pool, n_statements, csv_bytes,
                  after_oxbow=lambda: oxbow.flush_to_delta("bench_insert", insert_rows))
    groups["INSERT ingest"] = r
    lines += table_lines(
        "INSERT ingest",
        f"{insert_rows:,} rows as autocommit `INSERT ... VALUES` statements of {INSERT_BATCH:,} rows, sent by "
        f"{INSERT_CONNECTIONS} connections (threads) from one shared queue; timed from the first statement to the "
        f"last acknowledgement. " + pool_note + f"MB = 10^6 bytes of the same rows as CSV "
        f"({csv_bytes / insert_rows:.0f} bytes/row). " + flush_note,
        r["Oxbow"], r["PostgreSQL"])
    del pool

    chunks = copy_chunks(copy_rows, COPY_BATCH)
    csv_bytes = sum(len(c) for c in chunks)
    memory = {}

    def after_copy():
        memory.update(oxbow.memory(rss_at_start))
        return oxbow.flush_to_delta("bench_copy", copy_rows)

    r = run_group("COPY ingest", measure_copy_ingest, systems, chunks, copy_rows, csv_bytes, after_oxbow=after_copy)
    groups["COPY ingest"] = r
    del chunks
    lines += table_lines(
        "COPY ingest",
        f"{copy_rows:,} rows through `COPY t FROM STDIN WITH (FORMAT csv)` on one connection, {COPY_BATCH:,} rows "
        f"per COPY statement (psycopg `cursor.copy`), each statement autocommitted; timed over all statements. "
        f"MB = 10^6 bytes of CSV sent ({csv_bytes / copy_rows:.0f} bytes/row). " + flush_note,
        r["Oxbow"], r["PostgreSQL"])
    print("Memory: " + ", ".join(f"{k} {fmt(v)}" for k, v in memory.items()), flush=True)
    lines += table_lines(
        "Memory",
        "Oxbow's resident set size (`VmRSS` in `/proc/<pid>/status`), read right after the COPY load and before its "
        "`FLUSH TABLE`, against the rows and Arrow bytes its hot tier holds then (`oxbow.tables`, all tables; the "
        "INSERT table is flushed by then). The resident size includes everything the process holds (runtime, "
        "caches, memory its allocator kept after earlier flushes), so its figures per million rows are upper bounds "
        "for the hot tier's; the growth since start leaves out the idle server. n/a when no row was hot at that moment.",
        memory, {})

    r = run_group("Freshness", measure_freshness, systems, samples,
                  after_oxbow=lambda: {"of which in Oxbow's hot tier at the end (oxbow.tables.hot_rows)":
                                       oxbow.table_stats("bench_fresh")[0]})
    groups["Memory"] = {"Oxbow": memory}
    groups["Freshness"] = r
    lines += table_lines(
        "Freshness",
        f"A writer connection inserts {FRESHNESS_BATCH} rows with unique `user_id`s every "
        f"{FRESHNESS_PERIOD_S * 1000:.0f} ms (autocommit); for {samples} sampled batches a second connection polls "
        f"`SELECT count(*) FROM t WHERE user_id = <id>` in a tight loop from the writer's acknowledgement until the "
        f"row is seen. The time includes that last poll's round trip. Writer ack = the INSERT's own latency; "
        f"a writer slower than {FRESHNESS_PERIOD_S * 1000:.0f} ms per batch sends the next one at once. "
        f"Oxbow's table has `flush_interval = '{FRESHNESS_FLUSH_INTERVAL}'`, so every row is read from its hot "
        f"tier (memory); the last line shows how many rows were still there when the run ended.",
        r["Oxbow"], r["PostgreSQL"])

    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    common.write_json(args.json, {
        "meta": {**common.machine(), "quick": args.quick, "profile": args.profile,
                 "sizes": {"insert_rows": insert_rows, "copy_rows": copy_rows, "freshness_samples": samples}},
        "groups": groups,
    })
    print(f"wrote {args.out} and {args.json}")


if __name__ == "__main__":
    main()

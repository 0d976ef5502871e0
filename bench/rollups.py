#!/usr/bin/env python3
"""Continuous rollups: dashboard queries on materialized views kept at ingest, beside the same
questions asked of the raw rows in Oxbow, DuckDB, DataFusion and chDB; what maintaining the views
costs at ingest; and how fresh a view is.

1. Generates (or reuses) the events data of bench/events.py (same generator, same cache).
2. Loads it into two Oxbow tables with COPY, the way bench/events.py does: `hits_plain` with no
   view, and `hits_r` with two materialized views created before the load, so every COPY
   maintains them in its WAL transaction:
     hits_minute       per minute and event type: events, revenue, total duration
     hits_country_day  per day, country and event type: events, revenue
   The COPY times of the two tables are the cost of the views at ingest. Both tables flush as a
   default table does (every 1M rows).
3. Runs each dashboard question as SQL over a view ("Oxbow rollup") and as SQL over the raw rows
   (Oxbow on hits_r, DuckDB and DataFusion on the Parquet file, chDB on it and on a MergeTree
   table), 1 cold and HOT_RUNS hot runs each (the figure is the median of the hot runs), and
   checks every answer against DuckDB's over the raw rows.
4. Freshness: FRESHNESS_SAMPLES single-row INSERTs into hits_r, each timed from the start of
   the INSERT to the moment a SELECT on hits_minute (polled on another connection) counts it,
   and from the INSERT's acknowledgement to that moment.
5. Writes bench/RESULTS-rollups.md and bench/results/rollups.json; exits 1 if a query failed, an
   answer differed or a view did not count every row.

    bench/rollups.py --oxbow "host=127.0.0.1 port=5432 user=bench dbname=oxbow" [--quick] [--rows N]
"""

import argparse
import datetime
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import events  # noqa: E402
from tpch import error_text, fmt_ms  # noqa: E402

HOT_RUNS = 5
FRESHNESS_SAMPLES, FRESHNESS_SAMPLES_QUICK = 300, 50

VIEWS = {
    "hits_minute": "SELECT time_bucket('1 minute', event_time) AS minute, event_type, count(*) AS events, "
                   "sum(revenue) AS revenue, sum(duration_ms) AS duration_ms FROM hits_r GROUP BY 1, 2",
    "hits_country_day": "SELECT date_trunc('day', event_time) AS day, country, event_type, count(*) AS events, "
                        "sum(revenue) AS revenue FROM hits_r GROUP BY 1, 2, 3",
}

ts = events.ts
END, LAST_HOUR, LAST_5_MIN = events.END, events.LAST_HOUR, events.LAST_5_MIN

# (name, what a dashboard shows, SQL over a view, SQL over the raw rows with {t}). Every ORDER BY
# is total, so answers compare in order.
QUERIES = [
    ("events_per_minute", "events per minute over the last hour",
     f"SELECT minute, sum(events) AS events FROM hits_minute WHERE minute >= {ts(LAST_HOUR)} "
     f"AND minute < {ts(END)} GROUP BY 1 ORDER BY 1",
     f"SELECT date_trunc('minute', event_time) AS minute, count(*) AS events FROM {{t}} "
     f"WHERE event_time >= {ts(LAST_HOUR)} AND event_time < {ts(END)} GROUP BY 1 ORDER BY 1"),
    ("last_5_minutes", "live tile: the last 5 minutes by event type",
     f"SELECT event_type, sum(events) AS events, sum(revenue) AS revenue FROM hits_minute "
     f"WHERE minute >= {ts(LAST_5_MIN)} GROUP BY 1 ORDER BY 1",
     f"SELECT event_type, count(*) AS events, sum(revenue) AS revenue FROM {{t}} "
     f"WHERE event_time >= {ts(LAST_5_MIN)} GROUP BY 1 ORDER BY 1"),
    ("top_countries", "top 10 countries by events, all time",
     "SELECT country, sum(events) AS events FROM hits_country_day GROUP BY country ORDER BY events DESC, country LIMIT 10",
     "SELECT country, count(*) AS events FROM {t} GROUP BY country ORDER BY events DESC, country LIMIT 10"),
    ("revenue_by_country_day", "purchase revenue per country and day",
     "SELECT day, country, sum(revenue) AS revenue, sum(events) AS purchases FROM hits_country_day "
     "WHERE event_type = 'purchase' GROUP BY 1, 2 ORDER BY 1, 2",
     "SELECT date_trunc('day', event_time) AS day, country, sum(revenue) AS revenue, count(*) AS purchases "
     "FROM {t} WHERE event_type = 'purchase' GROUP BY 1, 2 ORDER BY 1, 2"),
    ("duration_per_hour", "total time on site per hour, all time",
     "SELECT date_trunc('hour', minute) AS hour, sum(duration_ms) AS duration_ms FROM hits_minute GROUP BY 1 ORDER BY 1",
     "SELECT date_trunc('hour', event_time) AS hour, sum(duration_ms) AS duration_ms FROM {t} GROUP BY 1 ORDER BY 1"),
]

ROLLUP, REFERENCE = "Oxbow rollup", "DuckDB"


def log(msg):
    print(f"[rollups {datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def load(dsn, table, paths, rows_per_statement, views):
    """Create `table` (with `views` over it first) and COPY every row in; the COPY time."""
    with events.connect(dsn) as conn:
        for view in VIEWS:
            conn.execute(f"DROP MATERIALIZED VIEW IF EXISTS {view}")
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({events.COLUMNS}) WITH (time_column = 'event_time')")
        for view, sql in (VIEWS.items() if views else ()):
            conn.execute(f"CREATE MATERIALIZED VIEW {view} AS {sql}")
        copy_s, statements = 0.0, 0
        with conn.cursor() as cur:
            for path in (paths["csv_old"], paths["csv_recent"]):
                for _, data in events.csv_statements(path, rows_per_statement):
                    started = time.perf_counter()
                    with cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv)") as copy:
                        copy.write(data)
                    copy_s += time.perf_counter() - started
                    statements += 1
        counted = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return {"table": table, "copy_s": copy_s, "statements": statements, "counted": counted}


def state_rows(dsn):
    """Rows in the views' state tables (one partial row per group per write)."""
    with events.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'oxbow_rollups' ORDER BY 1").fetchall()]
        return {t: conn.execute(f'SELECT count(*) FROM oxbow_rollups."{t}"').fetchone()[0] for t in tables}


class OxbowSql:
    """Oxbow answering with the view queries (`rollup`) or the raw ones over hits_r."""

    def __init__(self, dsn, rollup):
        self.name = ROLLUP if rollup else "Oxbow raw"
        self.rollup = rollup
        self.engine = events.Oxbow(dsn, "r")

    def run(self, sqls):
        rollup_sql, raw_sql = sqls
        return self.engine.run(rollup_sql if self.rollup else raw_sql)

    def close(self):
        self.engine.close()


class Raw:
    """A peer over the raw rows: only the raw SQL."""

    def __init__(self, engine):
        self.engine, self.name = engine, engine.name

    def run(self, sqls):
        return self.engine.run(sqls[1])

    def close(self):
        self.engine.close()


def run_queries(engines):
    # Each engine gets both texts and runs the one it answers with.
    queries = [(name, what, (rollup_sql, raw_sql)) for name, what, rollup_sql, raw_sql in QUERIES]
    return events.run_queries(engines, queries, HOT_RUNS)


def freshness(dsn, samples):
    """Seconds from INSERT start and from its acknowledgement to the row counted in hits_minute."""
    writer, reader = events.connect(dsn), events.connect(dsn)
    from_start, from_ack, inserts = [], [], []
    try:
        for i in range(samples):
            minute = END + datetime.timedelta(minutes=10 + i)
            probe = f"SELECT events FROM hits_minute WHERE minute = {ts(minute)} AND event_type = 'probe'"
            started = time.perf_counter()
            writer.execute(
                f"INSERT INTO hits_r VALUES ({ts(minute)}, 'probe', '/probe', 'XX', 'tv', 'probe', 1, NULL)")
            acked = time.perf_counter()
            while True:
                row = reader.execute(probe).fetchone()
                if row and row[0] == 1:
                    break
                if time.perf_counter() - started > 10:
                    raise RuntimeError(f"probe {i} not counted after 10 s")
            seen = time.perf_counter()
            from_start.append(seen - started)
            from_ack.append(seen - acked)
            inserts.append(acked - started)
    finally:
        writer.close()
        reader.close()

    def pct(values, p):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    return {k: {"p50_ms": pct(v, 50) * 1000, "p99_ms": pct(v, 99) * 1000, "max_ms": max(v) * 1000}
            for k, v in (("insert_to_counted", from_start), ("ack_to_counted", from_ack), ("insert", inserts))}


def report(args, info, shape, loads, states, results, fresh, problems, names):
    rows = shape["rows"]
    plain, rolled = loads["plain"], loads["rollup"]
    lines = [
        "# Continuous rollups: dashboard queries on materialized views beside raw-row peers", "",
        f"{info['date']}, commit {info['commit']}, {info['cpus']} CPUs ({info['cpu']}), {info['memory_gib']} GiB; "
        f"Oxbow {args.profile} build. Data: bench/events.py's generator, {rows:,} rows over 3 days.", "",
        "Produced by `bench/rollups.py` (run by `bench/run`). The views are created before the load, so every COPY "
        "maintains them in its own WAL transaction; the view answers are checked against DuckDB's answers over the raw rows.", "",
        "```sql",
        *[f"CREATE MATERIALIZED VIEW {v} AS {sql};" for v, sql in VIEWS.items()],
        "```", "",
        "## Ingest: what the views cost", "",
        "| table | views | COPY statements | COPY s | rows/s |",
        "|---|---|---:|---:|---:|",
        f"| hits_plain | none | {plain['statements']} | {plain['copy_s']:.2f} | {rows / plain['copy_s']:,.0f} |",
        f"| hits_r | {', '.join(VIEWS)} | {rolled['statements']} | {rolled['copy_s']:.2f} | {rows / rolled['copy_s']:,.0f} |",
        "",
        f"Maintaining both views costs {100 * (rolled['copy_s'] / plain['copy_s'] - 1):.0f}% more COPY time. "
        f"State rows after the load: " + ", ".join(f"`{t}` {n:,}" for t, n in states.items())
        + f" (one partial row per group per COPY statement; {rows:,} raw rows).", "",
        "## Dashboard queries (median of hot runs, ms)", "",
        "| query | " + " | ".join(names) + " | rollup vs best raw peer |",
        "|---|" + "---:|" * len(names) + "---:|",
    ]
    for name, what, _, _ in QUERIES:
        cells, raw_peers = [], []
        for engine in names:
            e = results[name][engine]
            cells.append("error" if e["error"] else ("mismatch" if e["check"] else fmt_ms(e["median_s"])))
            if engine not in (ROLLUP, "Oxbow raw") and e["median_s"] and not e["error"]:
                raw_peers.append(e["median_s"])
        rollup = results[name][ROLLUP]["median_s"]
        speedup = f"{min(raw_peers) / rollup:.1f}x" if rollup and raw_peers else "-"
        lines.append(f"| {name} ({what}) | " + " | ".join(cells) + f" | {speedup} |")
    lines += [
        "", "## Freshness of a view", "",
        f"{fresh['samples']} single-row INSERTs into hits_r, each polled for on hits_minute from a second connection.", "",
        "| interval | p50 ms | p99 ms | max ms |", "|---|---:|---:|---:|",
    ]
    for key, label in (("insert", "INSERT round trip"), ("ack_to_counted", "acknowledged -> counted in the view"),
                       ("insert_to_counted", "INSERT sent -> counted in the view")):
        f = fresh[key]
        lines.append(f"| {label} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | {f['max_ms']:.2f} |")
    lines += ["", "A row is counted in the view by the time its INSERT is acknowledged (same WAL transaction): "
              "the acknowledged-to-counted interval is one SELECT on the view.", "",
              "## Failures and mismatches", ""]
    lines += [f"- {p}" for p in problems] or ["None: every query ran and every answer equals DuckDB's over the raw rows; "
                                              "the views counted every row."]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oxbow", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--profile", default="unknown")
    parser.add_argument("--out", default=os.path.join(common.BENCH_DIR, "RESULTS-rollups.md"))
    parser.add_argument("--json", default=os.path.join(common.RESULTS_DIR, "rollups.json"))
    args = parser.parse_args()

    rows = args.rows or (events.ROWS_QUICK if args.quick else int(os.environ.get("OXBOW_EVENTS_ROWS") or events.ROWS))
    cache = os.environ.get("OXBOW_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "oxbow")
    info = common.machine()
    paths, shape = events.generate(rows, cache)
    rows_per_statement = max(events.COPY_MIN_ROWS, -(-rows // events.COPY_STATEMENTS))

    loads = {}
    log("loading hits_plain (no view)")
    loads["plain"] = load(args.oxbow, "hits_plain", paths, rows_per_statement, views=False)
    with events.connect(args.oxbow) as conn:
        conn.execute("DROP TABLE hits_plain")
    log(f"  COPY {loads['plain']['copy_s']:.2f} s")
    log("loading hits_r (two materialized views)")
    loads["rollup"] = load(args.oxbow, "hits_r", paths, rows_per_statement, views=True)
    log(f"  COPY {loads['rollup']['copy_s']:.2f} s")
    states = state_rows(args.oxbow)
    log(f"state rows: {states}")

    problems = []
    for load_ in loads.values():
        if load_["counted"] != rows:
            problems.append(f"{load_['table']}: count(*) = {load_['counted']:,}, loaded {rows:,}")
    with events.connect(args.oxbow) as conn:
        for view, key in (("hits_minute", "events"), ("hits_country_day", "events")):
            counted = conn.execute(f"SELECT sum({key}) FROM {view}").fetchone()[0]
            if counted != rows:
                problems.append(f"{view} counts {counted:,} rows, the table has {rows:,}")

    engines = [OxbowSql(args.oxbow, True), OxbowSql(args.oxbow, False),
               Raw(events.DuckDB(paths["parquet"])), Raw(events.DataFusion(paths["parquet"])),
               Raw(events.ChDB(paths["parquet"], merge_tree=False)), Raw(events.ChDB(paths["parquet"], merge_tree=True))]
    names = [e.name for e in engines]
    log(f"running {len(QUERIES)} queries: 1 cold + {HOT_RUNS} hot runs per engine")
    results = run_queries(engines)
    for name, engines_results in results.items():
        for engine, e in engines_results.items():
            if e["error"]:
                problems.append(f"{name} on {engine}: {e['error']}")
            elif e["check"]:
                problems.append(f"{name} on {engine}: {e['check']}")
    for engine in engines:
        engine.close()

    samples = FRESHNESS_SAMPLES_QUICK if args.quick else FRESHNESS_SAMPLES
    log(f"freshness: {samples} probes")
    try:
        fresh = freshness(args.oxbow, samples)
    except Exception as e:  # noqa: BLE001
        problems.append(f"freshness: {error_text(e)}")
        fresh = {k: {"p50_ms": float("nan"), "p99_ms": float("nan"), "max_ms": float("nan")}
                 for k in ("insert", "ack_to_counted", "insert_to_counted")}
    fresh["samples"] = samples
    log(f"  ack -> counted p50 {fresh['ack_to_counted']['p50_ms']:.2f} ms, p99 {fresh['ack_to_counted']['p99_ms']:.2f} ms")

    lines = report(args, info, shape, loads, states, results, fresh, problems, names)
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    for entries in results.values():
        for e in entries.values():
            e.pop("rows", None)
    common.write_json(args.json, {"info": info, "rows": rows, "loads": loads, "state_rows": states,
                                  "results": results, "freshness": fresh, "problems": problems})
    log(f"wrote {args.out} and {args.json}")
    with events.connect(args.oxbow) as conn:
        conn.execute("DROP TABLE hits_r CASCADE")
    if problems:
        print(f"\nROLLUPS: {len(problems)} FAILURE(S) OR MISMATCH(ES):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

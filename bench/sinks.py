#!/usr/bin/env python3
"""CREATE SINK throughput per target, beside the table's ingest rate and beside a peer writing
the same rows to the same kind of target.

For each target (FILES as NDJSON, FILES as Parquet, DELTA, KAFKA as JSON) on its own table:
1. CREATE TABLE and CREATE SINK ... WITH (start = 'latest').
2. Writes ROWS rows with INSERT ... SELECT over generate_series, in STATEMENTS statements,
   timed: the ingest rate. The sink runs meanwhile (it follows the WAL).
3. Polls oxbow.sinks until rows_out reaches ROWS: rows/s from the first INSERT to the last row
   out (end to end), and the drain time after the last INSERT.
4. Reads the target back with another client and checks the row count: DuckDB for the files,
   the Python `deltalake` package for Delta, a read_committed librdkafka consumer for Kafka.

Peers, on the same rows as an Arrow table: DuckDB `COPY ... TO` NDJSON and Parquet, the
`deltalake` package's `write_deltalake`, and a bare librdkafka producer (confluent-kafka) of the
same JSON messages, on the broker bench/kafka.py starts (noida-db).

    bench/sinks.py --oxbow "host=... port=... user=bench dbname=oxbow" --dir DIR [--quick]

DIR must be under the server's --allow-file-root. Writes bench/RESULTS-sinks.md and
bench/results/sinks.json; exits 1 if a target read back a wrong count.
"""

import argparse
import datetime
import glob
import json
import os
import shutil
import sys
import time

import duckdb
import psycopg
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from tpch import error_text  # noqa: E402

ROWS, ROWS_QUICK = 2_000_000, 100_000
STATEMENTS = 20
COLUMNS = "id bigint NOT NULL, name text, ts timestamptz, amount double precision"
# The rows: the same in Oxbow (generate_series, inclusive) and for the peers (DuckDB's range).
ROW = ("{i} AS id, 'name-' || CAST({i} % 1000 AS VARCHAR) AS name, to_timestamp(1767225600 + {i}) AS ts, "
       "CAST({i} % 997 AS DOUBLE) / 7 AS amount")
SELECT = "SELECT " + ROW.format(i="value") + " FROM generate_series({first}, {last})"
PEER_SELECT = "SELECT " + ROW.format(i="i") + " FROM range(0, {rows}) AS t(i)"


def log(msg):
    print(f"[sinks {datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def connect(dsn):
    return psycopg.connect(dsn, autocommit=True, prepare_threshold=None)


def sink_status(conn, sink):
    row = conn.execute(
        f"SELECT CAST(rows_out AS bigint), CAST(bytes_out AS bigint), status, last_error FROM oxbow.sinks "
        f"WHERE sink_name = '{sink}'").fetchone()
    return row


def run_target(dsn, target, into, rows):
    table, sink = f"sink_src_{target}", f"bench_{target}"
    per = -(-rows // STATEMENTS)
    with connect(dsn) as conn:
        conn.execute(f"DROP SINK IF EXISTS {sink}")
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({COLUMNS})")
        conn.execute(f"CREATE SINK {sink} FROM {table} INTO {into} WITH (start = 'latest')")
        started = time.perf_counter()
        for first in range(0, rows, per):
            last = min(rows, first + per) - 1
            conn.execute(f"INSERT INTO {table} " + SELECT.format(first=first, last=last))
        loaded = time.perf_counter()
        deadline = loaded + 600
        while True:
            out, nbytes, status, error = sink_status(conn, sink)
            if out >= rows:
                break
            if status == "failed" or time.perf_counter() > deadline:
                raise RuntimeError(f"sink {sink}: {out:,} of {rows:,} rows out, status {status}, {error}")
            time.sleep(0.02)
        done = time.perf_counter()
        conn.execute(f"DROP SINK {sink}")
        conn.execute(f"DROP TABLE {table}")
    return {"ingest_s": loaded - started, "end_to_end_s": done - started, "drain_s": done - loaded,
            "rows_out": out, "bytes_out": nbytes}


def arrow_rows(rows):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con.sql(PEER_SELECT.format(rows=rows)).to_arrow_table()


def timed(fn):
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--oxbow", required=True)
    parser.add_argument("--dir", required=True, help="a directory under the server's --allow-file-root")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--profile", default="unknown")
    parser.add_argument("--out", default=os.path.join(common.BENCH_DIR, "RESULTS-sinks.md"))
    parser.add_argument("--json", default=os.path.join(common.RESULTS_DIR, "sinks.json"))
    args = parser.parse_args()
    rows = args.rows or (ROWS_QUICK if args.quick else ROWS)
    info = common.machine()
    problems = []

    from kafka import Broker
    broker = Broker()
    try:
        broker.create_topic("bench_sink", 1)
        root = os.path.abspath(args.dir)
        targets = {
            "files_json": (f"FILES (path = '{root}/json') FORMAT JSON", "NDJSON files"),
            "files_parquet": (f"FILES (path = '{root}/parquet') FORMAT PARQUET", "Parquet files"),
            "delta": (f"DELTA (location = '{root}/delta')", "a Delta table"),
            "kafka": (f"KAFKA (brokers = '{broker.bootstrap}', topic = 'bench_sink') FORMAT JSON", "a Kafka topic"),
        }
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root, exist_ok=True)
        results = {}
        for target, (into, _) in targets.items():
            log(f"{target}: {rows:,} rows")
            try:
                results[target] = run_target(args.oxbow, target, into, rows)
            except Exception as e:  # noqa: BLE001
                results[target] = {"error": error_text(e)}
                problems.append(f"{target}: {error_text(e)}")
                continue
            r = results[target]
            log(f"  ingest {rows / r['ingest_s']:,.0f} rows/s, end to end {rows / r['end_to_end_s']:,.0f} rows/s, "
                f"drain {r['drain_s']:.2f} s")

        # Read back with other clients.
        counts = {}
        con = duckdb.connect()
        counts["files_json"] = con.sql(f"SELECT count(*) FROM read_json_auto('{root}/json/*.json')").fetchall()[0][0] \
            if glob.glob(f"{root}/json/*.json") else 0
        counts["files_parquet"] = con.sql(f"SELECT count(*) FROM read_parquet('{root}/parquet/*.parquet')").fetchall()[0][0] \
            if glob.glob(f"{root}/parquet/*.parquet") else 0
        try:
            from deltalake import DeltaTable
            counts["delta"] = DeltaTable(f"{root}/delta").to_pyarrow_dataset().count_rows()
        except Exception as e:  # noqa: BLE001
            problems.append(f"delta read back: {error_text(e)}")
        from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "bench-sink-check",
                             "enable.auto.commit": False, "isolation.level": "read_committed",
                             "receive.message.max.bytes": 2_147_483_647})
        consumer.assign([TopicPartition("bench_sink", 0, OFFSET_BEGINNING)])
        seen, idle = 0, time.perf_counter()
        while time.perf_counter() - idle < 5 and seen < rows:
            msgs = consumer.consume(num_messages=100_000, timeout=1.0)
            good = [m for m in msgs if not m.error()]
            if good:
                idle = time.perf_counter()
            seen += len(good)
        consumer.close()
        counts["kafka"] = seen
        for target, count in counts.items():
            if "error" not in results.get(target, {"error": 1}) and count != rows:
                problems.append(f"{target}: read back {count:,} rows, wrote {rows:,}")
            if target in results:
                results[target]["read_back"] = count

        # Peers on the same rows.
        log("peers")
        table = arrow_rows(rows)
        peers = {}
        peer_dir = os.path.join(root, "peers")
        os.makedirs(peer_dir, exist_ok=True)
        con.register("src", table)
        peers["files_json"] = ("DuckDB COPY TO NDJSON", timed(lambda: con.execute(
            f"COPY src TO '{peer_dir}/out.json' (FORMAT json)")))
        peers["files_parquet"] = ("DuckDB COPY TO Parquet", timed(lambda: con.execute(
            f"COPY src TO '{peer_dir}/out.parquet' (FORMAT parquet)")))
        try:
            from deltalake import write_deltalake
            peers["delta"] = ("deltalake write_deltalake", timed(lambda: write_deltalake(f"{peer_dir}/delta", table)))
        except Exception as e:  # noqa: BLE001
            problems.append(f"delta peer: {error_text(e)}")
        messages = [json.dumps(r, default=str).encode() for r in table.to_pylist()]
        broker.create_topic("bench_peer", 1)
        producer = broker.producer()

        def produce():
            for m in messages:
                while True:
                    try:
                        producer.produce("bench_peer", m)
                        break
                    except BufferError:
                        producer.poll(0.05)
            producer.flush(120)
        peers["kafka"] = ("librdkafka producer (confluent-kafka)", timed(produce))
    finally:
        broker.stop()

    lines = [
        "# CREATE SINK: throughput per target beside ingest and beside a peer writer", "",
        f"{info['date']}, commit {info['commit']}, {info['cpus']} CPUs ({info['cpu']}), {info['memory_gib']} GiB; "
        f"Oxbow {args.profile} build; {rows:,} rows (`{COLUMNS}`) per target, written by {STATEMENTS} "
        "`INSERT ... SELECT` statements while the sink (start = 'latest') follows the WAL; read back by another "
        f"client. Broker: noida-db {broker.version}. Produced by `bench/sinks.py` (run by `bench/run`).", "",
        "| target | ingest rows/s | sink end to end rows/s | drain after the last INSERT s | read back | peer | peer rows/s | sink / peer |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for target, (_, what) in targets.items():
        r = results.get(target, {})
        if "error" in r:
            lines.append(f"| {what} | error: {r['error']} | | | | | | |")
            continue
        sink_rate = rows / r["end_to_end_s"]
        peer_name, peer_s = peers.get(target, ("-", None))
        peer_rate = rows / peer_s if peer_s else None
        lines.append(
            f"| {what} | {rows / r['ingest_s']:,.0f} | {sink_rate:,.0f} | {r['drain_s']:.2f} | {r.get('read_back', '-'):,} | "
            f"{peer_name} | {peer_rate:,.0f} | {sink_rate / peer_rate:.2f} |" if peer_rate else
            f"| {what} | {rows / r['ingest_s']:,.0f} | {sink_rate:,.0f} | {r['drain_s']:.2f} | {r.get('read_back', '-')} | - | - | - |")
    lines += ["", "The peer writes rows it already holds in memory as Arrow; the sink's figure includes the INSERTs that "
              "produce the rows, their WAL fsyncs, and reading them back from the WAL.", "",
              "## Failures", ""]
    lines += [f"- {p}" for p in problems] or ["None: every target read back every row exactly once."]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    common.write_json(args.json, {"info": info, "rows": rows, "results": results,
                                  "peers": {k: {"name": n, "s": s} for k, (n, s) in peers.items()},
                                  "problems": problems})
    log(f"wrote {args.out} and {args.json}")
    if problems:
        print("\nSINKS: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

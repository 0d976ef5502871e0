"""Kafka source benchmarks: Oxbow's `CREATE SOURCE ... FROM KAFKA` beside a bare librdkafka consumer.

Started by bench/run, which brings up Oxbow; this script starts its own Kafka-protocol broker
(noida-db, the binary inside the PyPI package, on a free 127.0.0.1 port with its data in a
temp dir) and stops it at the end. Everything runs on the same machine, so the ratios are the
point: the bare consumer is the ceiling a source built on librdkafka can reach here.

  Throughput   N clickstream messages (JSON, and plain Avro datums) produced to a topic of
               PARTITIONS partitions before the clock starts. Oxbow is timed from CREATE SOURCE
               ... FROM KAFKA (start = 'earliest') until `SELECT count(*)` on another connection
               equals N: every row decoded, typed, written durably to the WAL with its offsets,
               and visible. Peers: confluent-kafka's Consumer (librdkafka, the same client Oxbow
               links) assigned every partition from the beginning, (a) receiving the messages
               only, and (b) also decoding each batch into Arrow with pyarrow.json, the least a
               consumer must do before it can store rows (neither writes anything durably).
               Each topic is read once, untimed, before the first timed reader.
  Freshness    one message every 1/FRESHNESS_RATE s to a one-partition topic that a running
               source reads; ms from the broker's delivery acknowledgement until the row is
               visible to `SELECT count(*) ... WHERE event_id = $1` on another connection. Peer:
               the same delivery-to-receive time for a bare consumer polling the same topic.

Writes the report (default bench/RESULTS-kafka.md) and its figures as JSON (default
bench/results/kafka.json).
"""

import argparse
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pyarrow.json as pajson
from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

import common
from sources import COLUMNS, cpu_seconds, generate_columns, iso, loadavg, percentile

MESSAGES, MESSAGES_QUICK = 5_000_000, 200_000
PARTITIONS = 4
GENERATE_CHUNK = 100_000
FRESHNESS_SAMPLES, FRESHNESS_SAMPLES_QUICK = 300, 60
FRESHNESS_RATE = 20  # messages per second
COUNT_POLL_S = 0.05
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

AVRO_SCHEMA = json.dumps({
    "type": "record", "name": "click", "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "user_id", "type": "long"},
        {"name": "url", "type": "string"},
        {"name": "country", "type": "string"},
        {"name": "duration_ms", "type": "int"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    ]})


# ---------------------------------------------------------------------------------------------
# The broker

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """noida-db serving only Kafka on a free port, its data in a temp dir."""

    def __init__(self):
        import noida_db
        self.dir = tempfile.mkdtemp(prefix="oxbow-bench-noida.")
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        binary = Path(noida_db.__file__).parent / "noida-db"
        self.log = open(os.path.join(self.dir, "noida.log"), "ab")
        # The binary itself, not the console script, so that terminate() reaches the broker.
        self.proc = subprocess.Popen(
            [str(binary), "start", "--data-dir", os.path.join(self.dir, "data"), "--host", "127.0.0.1",
             "--only", "kafka", "--kafka-port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("noida-db exited: " + open(self.log.name).read()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("noida-db did not start")
        # The installed distribution's version: the module's __version__ is stale (0.1.0 in 0.2.3).
        try:
            from importlib.metadata import version
            self.version = version("noida-db")
        except Exception:  # noqa: BLE001 - only the report's header needs it
            self.version = getattr(noida_db, "__version__", "unknown")

    def create_topic(self, topic, partitions):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for f in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
            f.result(30)

    def producer(self, **config):
        return Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 20,
                         "batch.num.messages": 10_000, "queue.buffering.max.messages": 500_000,
                         "compression.type": "none", **config})

    def consumer(self):
        return Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-bare",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "fetch.max.bytes": 64 << 20, "max.partition.fetch.bytes": 16 << 20,
                         # noida-db 0.2.3 ignores the fetch limits and answers with the whole
                         # partition (953 MB responses at 5M messages): librdkafka's default
                         # 100 MB receive limit then refuses every response.
                         "receive.message.max.bytes": 2_147_483_647})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Messages

def json_values(cols):
    return [
        f'{{"event_id":"{e}","user_id":{u},"url":"{url}","country":"{c}","duration_ms":{d},"ts":"{iso(t)}"}}'.encode()
        for e, u, url, c, d, t in zip(*cols.values())]


def zigzag(n):
    """An Avro long: zig-zag, then a base-128 varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def avro_string(s):
    b = s.encode()
    return zigzag(len(b)) + b


def avro_values(cols):
    out = []
    for e, u, url, c, d, t in zip(*cols.values()):
        micros = (t - EPOCH) // timedelta(microseconds=1)
        out.append(avro_string(e) + zigzag(u) + avro_string(url) + avro_string(c) + zigzag(d) + zigzag(micros))
    return out


def produce_all(broker, topic, total, encode, prefix):
    """`total` messages round-robin over the topic's partitions; returns (bytes, seconds)."""
    producer = broker.producer()
    nbytes = 0
    t0 = time.perf_counter()
    for start in range(0, total, GENERATE_CHUNK):
        values = encode(generate_columns(start, min(GENERATE_CHUNK, total - start), prefix))
        for k, v in enumerate(values):
            nbytes += len(v)
            while True:
                try:
                    producer.produce(topic, value=v, partition=(start + k) % PARTITIONS)
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.poll(0)
    if producer.flush(300) != 0:
        raise RuntimeError(f"{topic}: messages left unsent")
    return nbytes, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# Throughput

def connect(dsn):
    return psycopg.connect(dsn, autocommit=True, connect_timeout=30)


def oxbow_throughput(dsn, pid, broker, topic, fmt, total, nbytes):
    table, source = f"kafka_{topic}", f"kafka_{topic}_src"
    fmt_sql = "JSON" if fmt == "JSON" else f"AVRO (schema = '{AVRO_SCHEMA}')"
    with connect(dsn) as conn, connect(dsn) as poll:
        conn.execute(f"DROP SOURCE IF EXISTS {source}")
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({COLUMNS}) WITH (time_column = 'ts')")
        cpu0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        conn.execute(f"CREATE SOURCE {source} FROM KAFKA (brokers = '{broker.bootstrap}', topic = '{topic}', "
                     f"start = 'earliest') FORMAT {fmt_sql} INTO {table}")
        timeout = max(180.0, total / 5_000)
        while True:
            counted = poll.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if counted >= total:
                elapsed = time.perf_counter() - t0
                break
            if time.perf_counter() - t0 > timeout:
                st = conn.execute(f"SELECT status, last_error FROM oxbow.sources WHERE source_name = '{source}'").fetchone()
                raise RuntimeError(f"{fmt}: {counted} of {total} rows after {timeout:.0f}s, source {st}")
            time.sleep(COUNT_POLL_S)
        cpu1 = cpu_seconds(pid)
        rejected = conn.execute(
            f"SELECT CAST(rows_rejected AS bigint) FROM oxbow.sources WHERE source_name = '{source}'").fetchone()[0]
        time.sleep(0.5)  # the lag is read from the broker's end offsets, refreshed by the source
        lag = conn.execute(
            f"SELECT CAST(sum(lag) AS bigint) FROM oxbow.source_partitions WHERE source_name = '{source}'").fetchone()[0]
        distinct = poll.execute(f"SELECT count(DISTINCT event_id) FROM {table}").fetchone()[0]
        conn.execute(f"DROP SOURCE {source}")
        conn.execute(f"DROP TABLE {table}")
    if counted != total or distinct != total or rejected:
        raise RuntimeError(f"{fmt}: count(*) {counted}, distinct {distinct} of {total}, rejected {rejected}")
    out = {"rows/s": total / elapsed, "MB/s": nbytes / 1e6 / elapsed, "elapsed s": elapsed,
           "lag when done": lag}
    if cpu0 is not None and cpu1 is not None:
        out["server CPU s per million rows"] = (cpu1 - cpu0) / total * 1e6
    return out


def bare_throughput(broker, topic, total, nbytes, decode):
    consumer = broker.consumer()
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    seen = decoded = 0
    t0 = time.perf_counter()
    try:
        while seen < total:
            if time.perf_counter() - t0 > 600:
                raise RuntimeError(f"bare consumer: {seen} of {total} after 600 s")
            msgs = consumer.consume(num_messages=100_000, timeout=1.0)
            values = []
            for m in msgs:
                if m.error():
                    continue
                values.append(m.value())
            seen += len(values)
            if decode and values:
                decoded += pajson.read_json(io.BytesIO(b"\n".join(values) + b"\n")).num_rows
        elapsed = time.perf_counter() - t0
    finally:
        consumer.close()
    if seen != total or (decode and decoded != total):
        raise RuntimeError(f"bare consumer: {seen} messages ({decoded} decoded) of {total}")
    return {"rows/s": total / elapsed, "MB/s": nbytes / 1e6 / elapsed, "elapsed s": elapsed}


# ---------------------------------------------------------------------------------------------
# Freshness

def freshness(dsn, broker, samples):
    topic = "fresh"
    broker.create_topic(topic, 1)
    table, source = "kafka_fresh", "kafka_fresh_src"
    with connect(dsn) as conn:
        conn.execute(f"DROP SOURCE IF EXISTS {source}")
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({COLUMNS}) WITH (time_column = 'ts', flush_interval = '10min')")
        conn.execute(f"CREATE SOURCE {source} FROM KAFKA (brokers = '{broker.bootstrap}', topic = '{topic}', "
                     f"start = 'earliest') FORMAT JSON INTO {table}")

    # A bare consumer on the same topic in a thread records when each event_id arrives.
    arrived, stop = {}, threading.Event()

    def bare():
        c = broker.consumer()
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        while not stop.is_set():
            for m in c.consume(num_messages=1000, timeout=0.05):
                if not m.error():
                    arrived[json.loads(m.value())["event_id"]] = time.perf_counter()
        c.close()

    reader = threading.Thread(target=bare, daemon=True)
    reader.start()
    producer = broker.producer(**{"linger.ms": 0})
    oxbow_ms, bare_ms = [], []
    with connect(dsn) as probe:
        # Warm-up: the source's first assignment and the consumer's first fetch are not measured.
        for i in range(samples + 5):
            cols = generate_columns(i, 1, "f")
            event_id = cols["event_id"][0]
            acked = {}
            producer.produce(topic, value=json_values(cols)[0],
                             on_delivery=lambda err, msg, eid=event_id: acked.setdefault(eid, time.perf_counter()))
            producer.flush(10)
            t_ack = acked[event_id]
            deadline = t_ack + 30
            while probe.execute(f"SELECT count(*) FROM {table} WHERE event_id = %s", (event_id,)).fetchone()[0] == 0:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"freshness: {event_id} not visible after 30 s")
            seen = time.perf_counter()
            while event_id not in arrived and time.perf_counter() < deadline:
                time.sleep(0.0005)
            if i >= 5:
                oxbow_ms.append((seen - t_ack) * 1000)
                bare_ms.append((arrived[event_id] - t_ack) * 1000)
            time.sleep(max(0.0, 1 / FRESHNESS_RATE - (time.perf_counter() - t_ack)))
    stop.set()
    reader.join(5)
    with connect(dsn) as conn:
        conn.execute(f"DROP SOURCE {source}")
        conn.execute(f"DROP TABLE {table}")

    def summary(values):
        values = sorted(values)
        return {"p50 ms": percentile(values, 50), "p99 ms": percentile(values, 99), "max ms": values[-1],
                "samples": len(values)}
    return {"Oxbow KAFKA source (visible to SELECT)": summary(oxbow_ms),
            "bare consumer (received)": summary(bare_ms)}


# ---------------------------------------------------------------------------------------------
# Report

def fmt_num(v):
    if v is None:
        return "n/a"
    if isinstance(v, int):
        return f"{v:,}"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}" if v < 10 else f"{v:.2f}" if v < 100 else f"{v:.1f}"


def table(rows, columns):
    lines = ["| | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for name, figures in rows.items():
        lines.append(f"| {name} | " + " | ".join(fmt_num(figures.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def report(args, info, results):
    lines = ["# Oxbow Kafka source beside a bare librdkafka consumer", ""]
    if not args.profile.startswith("release"):
        lines += [f"> **NOT A RELEASE BUILD** (`{args.profile}`): the figures show that the benchmark runs, "
                  "not what Oxbow can do.", ""]
    lines += [
        f"> **Shared machine.** The client, the broker and Oxbow share {info['cpus']} CPUs (load average "
        f"{results['load'][0]} at the start, {results['load'][1]} at the end).", "",
        f"- date: {info['date']}; sizes: {'quick (`bench/run --quick`)' if args.quick else 'full'}",
        f"- machine: {info['cpus']} CPUs, {info['memory_gib']} GiB memory, {info['cpu']}",
        f"- Oxbow: git {info['commit']}, build profile **{args.profile}**",
        f"- broker: noida-db {results['broker']} (Kafka protocol, one node, data on local disk); "
        f"client librdkafka {results['librdkafka']} through confluent-kafka",
        f"- messages: {results['messages']:,} clickstream rows (`{COLUMNS}`) on {PARTITIONS} partitions, "
        f"JSON {results['json_bytes'] / 1e6:.1f} MB, Avro {results['avro_bytes'] / 1e6:.1f} MB; produced before "
        f"the clock starts (JSON at {results['produce_rows_s']:,.0f} messages/s)",
        "",
        "## Throughput",
        "",
        "Oxbow: timed from `CREATE SOURCE ... FROM KAFKA (start = 'earliest') FORMAT JSON | AVRO (schema = ...) "
        "INTO t` until `SELECT count(*) FROM t` on a second connection (polled every 50 ms) equals the message "
        "count; then count(DISTINCT event_id) is checked, nothing may be rejected, and `lag` is the sum of "
        "`oxbow.source_partitions.lag`. The bare consumer is confluent-kafka's `Consumer`, assigned every "
        "partition from the beginning, `consume(100000)` in a loop, writing nothing. MB = 10^6 bytes of message "
        "values. Server CPU = Oxbow's utime+stime over the timed span.",
        "",
        table(results["throughput"], ["rows/s", "MB/s", "elapsed s", "server CPU s per million rows",
                                      "lag when done"]),
        "",
        "## Freshness",
        "",
        f"One JSON message every {1000 // FRESHNESS_RATE} ms to a one-partition topic; ms from the broker's "
        "delivery acknowledgement (the producer's delivery callback, `linger.ms = 0`) until the row is visible "
        "to `SELECT count(*) ... WHERE event_id = $1` polled in a tight loop on another connection (Oxbow; the "
        "table is served by its hot tier), or until a bare consumer polling the same topic has received it.",
        "",
        table(results["freshness"], ["p50 ms", "p99 ms", "max ms", "samples"]),
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxbow", required=True)
    ap.add_argument("--oxbow-pid", type=int)
    ap.add_argument("--profile", default="unknown")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(common.BENCH_DIR, "RESULTS-kafka.md"))
    ap.add_argument("--json", default=os.path.join(common.RESULTS_DIR, "kafka.json"))
    args = ap.parse_args()
    total = MESSAGES_QUICK if args.quick else MESSAGES
    samples = FRESHNESS_SAMPLES_QUICK if args.quick else FRESHNESS_SAMPLES
    import confluent_kafka
    results = {"load": [loadavg()], "messages": total, "librdkafka": confluent_kafka.libversion()[0]}
    broker = Broker()
    try:
        results["broker"] = broker.version
        for topic in ("clicks_json", "clicks_avro"):
            broker.create_topic(topic, PARTITIONS)
        results["json_bytes"], secs = produce_all(broker, "clicks_json", total, json_values, "j")
        results["produce_rows_s"] = total / secs
        results["avro_bytes"], _ = produce_all(broker, "clicks_avro", total, avro_values, "a")
        print(f"produced {total:,} JSON and Avro messages", flush=True)
        # One untimed read of each topic first: the broker's first read of a log is slower (about
        # 0.6x here), and every reader below should meet the same warm broker.
        for topic, nbytes in (("clicks_json", results["json_bytes"]), ("clicks_avro", results["avro_bytes"])):
            bare_throughput(broker, topic, total, nbytes, False)
        thr = {}
        thr["bare consumer, messages only"] = bare_throughput(broker, "clicks_json", total, results["json_bytes"], False)
        thr["bare consumer + pyarrow.json decode"] = bare_throughput(
            broker, "clicks_json", total, results["json_bytes"], True)
        thr["Oxbow KAFKA source, JSON"] = oxbow_throughput(
            args.oxbow, args.oxbow_pid, broker, "clicks_json", "JSON", total, results["json_bytes"])
        thr["Oxbow KAFKA source, Avro"] = oxbow_throughput(
            args.oxbow, args.oxbow_pid, broker, "clicks_avro", "AVRO", total, results["avro_bytes"])
        for name, figures in thr.items():
            print(f"{name}: {figures['rows/s']:,.0f} rows/s", flush=True)
        results["throughput"] = thr
        results["freshness"] = freshness(args.oxbow, broker, samples)
        print(json.dumps(results["freshness"]), flush=True)
    finally:
        broker.stop()
    results["load"].append(loadavg())
    info = common.machine()
    report(args, info, results)
    common.write_json(args.json, {"machine": info, "profile": args.profile, "quick": args.quick, **results})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

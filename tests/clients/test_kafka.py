"""Kafka sources end to end against a real Kafka-protocol broker: noida-db (PyPI, started here
on a free 127.0.0.1 port with its data on disk, so it can be stopped and started again), fed by
confluent-kafka producers (librdkafka), read by the real `oxbow` binary.

Covers: JSON with metadata columns and dead letters; an AS SELECT over the metadata; lag per
partition; 1,000,000 messages on 4 partitions landing exactly once across two kill -9s; a
transactional producer's aborted messages never landing; partitions added while running; the
broker stopped and started again under a running source; Avro, plain and Confluent-framed."""

import json
import os
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from conftest import free_port


class Noida:
    """noida-db serving only Kafka on `port`, its data in `data_dir`."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = free_port()
        self.proc = None
        self.log_path = data_dir.parent / "noida.log"
        self.start()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self):
        # The binary itself: the `noida-db` console script starts it as a child and a signal to
        # the script would not reach the broker.
        import noida_db
        binary = Path(noida_db.__file__).parent / "noida-db"
        self.proc = subprocess.Popen(
            [str(binary), "start", "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
             "--only", "kafka", "--kafka-port", str(self.port)],
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("noida-db exited:\n" + self.log_path.read_text(errors="replace"))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("noida-db did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def create_topic(self, topic, partitions):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for f in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
            f.result(20)

    def add_partitions(self, topic, total):
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for f in admin.create_partitions([NewPartitions(topic, total)]).values():
            f.result(20)

    def producer(self, **config):
        return Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 10, **config})


@pytest.fixture
def noida(tmp_path):
    broker = Noida(tmp_path / "noida")
    yield broker
    broker.stop()


def scalar(server, sql):
    return server.psql("-At", "-c", sql).stdout.strip()


def count(server, sql):
    return int(scalar(server, sql))


def wait_for(server, sql, want, timeout=120):
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        try:
            got = scalar(server, sql)
        except AssertionError:
            got = None
        if got == str(want):
            return got
        time.sleep(0.2)
    return got


def produce(producer, topic, ids, partition=None, key=True, headers=None):
    for i in ids:
        kwargs = {"value": json.dumps({"id": i, "url": f"/p/{i}"}).encode()}
        if key:
            kwargs["key"] = str(i).encode()
        if partition is not None:
            kwargs["partition"] = partition
        if headers:
            kwargs["headers"] = headers
        while True:
            try:
                producer.produce(topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def kafka_source(name, broker, topic, into, extra=""):
    return (f"CREATE SOURCE {name} FROM KAFKA (brokers = '{broker.bootstrap}', topic = '{topic}', "
            f"start = 'earliest', partition_discovery = '500ms'{extra}) FORMAT JSON INTO {into}")


def test_kafka_json_lands_with_metadata_columns_lag_and_dead_letters(oxbow, noida):
    noida.create_topic("clicks", 2)
    p = noida.producer()
    produce(p, "clicks", range(1000), headers=[("origin", b"web")])
    p.produce("clicks", value=b"{not json", key=b"bad", partition=0)
    p.flush(10)
    oxbow.psql("-c", "CREATE TABLE clicks (id bigint NOT NULL, url text, _kafka_partition int, "
               "_kafka_offset bigint, _kafka_timestamp timestamptz, _kafka_key text, _kafka_headers text)")
    oxbow.psql("-c", kafka_source("clicks_in", noida, "clicks", "clicks"))
    oxbow.psql("-c", kafka_source("clicks_meta", noida, "clicks", "clicks_meta")
               + " AS SELECT id, _kafka_partition AS part, _kafka_offset AS off FROM input")
    assert wait_for(oxbow, "SELECT count(*) FROM clicks", 1000) == "1000", oxbow.log()
    assert wait_for(oxbow, "SELECT count(*) FROM clicks_meta", 1000) == "1000", oxbow.log()
    # Metadata: each (partition, offset) once, keys as produced, headers as JSON, timestamps set.
    assert count(oxbow, "SELECT count(DISTINCT (_kafka_partition, _kafka_offset)) FROM clicks") == 1000
    assert count(oxbow, "SELECT count(*) FROM clicks WHERE _kafka_key <> CAST(id AS text)") == 0
    assert count(oxbow, "SELECT count(*) FROM clicks WHERE _kafka_headers = '{\"origin\":\"web\"}'") == 1000
    assert count(oxbow, "SELECT count(*) FROM clicks WHERE _kafka_timestamp > now() - INTERVAL '1 hour'") == 1000
    assert count(oxbow, "SELECT count(DISTINCT part) FROM clicks_meta") == 2
    assert scalar(oxbow, "SELECT sum(off) FROM clicks_meta") == scalar(
        oxbow, "SELECT sum(_kafka_offset) FROM clicks")
    # The bad message is a dead letter with its payload, once per source.
    assert wait_for(oxbow, "SELECT count(*) FROM oxbow.dead_letters WHERE source = 'public.clicks_in' "
                    "AND payload = '{not json'", 1) == "1", scalar(oxbow, "SELECT * FROM oxbow.dead_letters")
    # Lag: every partition caught up, and the source's total too.
    assert wait_for(oxbow, "SELECT sum(lag) FROM oxbow.source_partitions WHERE source_name = 'clicks_in'", 0) == "0"
    rows = scalar(oxbow, "SELECT partition || ':' || \"offset\" || ':' || end_offset FROM oxbow.source_partitions "
                  "WHERE source_name = 'clicks_in' ORDER BY partition")
    parts = [r.split(":") for r in rows.splitlines()]
    assert [p[0] for p in parts] == ["clicks/0", "clicks/1"], rows
    assert sum(int(p[1]) for p in parts) == 1001 and all(p[1] == p[2] for p in parts), rows
    assert scalar(oxbow, "SELECT status || ' ' || lag FROM oxbow.sources WHERE source_name = 'clicks_in'") == "running 0"


def test_kafka_lands_a_million_messages_exactly_once_across_two_kill_9(oxbow, noida):
    total, half = 1_000_000, 500_000
    noida.create_topic("events", 4)
    p = noida.producer(**{"batch.num.messages": 10_000, "queue.buffering.max.messages": 500_000})
    produce(p, "events", range(half), key=False)
    oxbow.psql("-c", "CREATE TABLE events (id bigint NOT NULL, url text)")
    oxbow.psql("-c", kafka_source("events_in", noida, "events", "events"))
    seen = []
    for threshold in (100_000, 600_000):
        deadline = time.time() + 300
        while count(oxbow, "SELECT count(*) FROM events") < threshold and time.time() < deadline:
            time.sleep(0.05)
        seen.append(count(oxbow, "SELECT count(*) FROM events"))
        oxbow.proc.kill()  # SIGKILL, mid-ingest
        oxbow.proc.wait()
        if threshold == 100_000:
            produce(p, "events", range(half, total), key=False)  # while Oxbow is down
        oxbow.start()
    assert wait_for(oxbow, "SELECT count(*) FROM events", total, timeout=600) == str(total), oxbow.log()
    time.sleep(1)
    got = scalar(oxbow, "SELECT count(*) || ' ' || count(DISTINCT id) FROM events")
    assert got == f"{total} {total}", (got, seen)
    assert wait_for(oxbow, "SELECT sum(lag) FROM oxbow.source_partitions WHERE source_name = 'events_in'", 0) == "0"
    assert count(oxbow, "SELECT count(*) FROM oxbow.source_partitions WHERE source_name = 'events_in'") == 4
    assert scalar(oxbow, "SELECT lag FROM oxbow.sources WHERE source_name = 'events_in'") == "0"
    print(f"killed at {seen} rows of {total}")


def test_kafka_aborted_transactions_never_land_and_new_partitions_are_read(oxbow, noida):
    noida.create_topic("orders", 2)
    oxbow.psql("-c", "CREATE TABLE orders (id bigint NOT NULL, url text)")
    oxbow.psql("-c", kafka_source("orders_in", noida, "orders", "orders"))
    tx = noida.producer(**{"transactional.id": "orders-tx"})
    tx.init_transactions(20)
    for ids, commit in ((range(0, 100), True), (range(1000, 1050), False), (range(100, 200), True)):
        tx.begin_transaction()
        for i in ids:
            tx.produce("orders", value=json.dumps({"id": i, "url": "/tx"}).encode(), partition=i % 2)
        tx.commit_transaction(20) if commit else tx.abort_transaction(20)
    assert wait_for(oxbow, "SELECT count(*) FROM orders", 200) == "200", oxbow.log()
    # Lag reaches 0 past the transaction markers.
    assert wait_for(oxbow, "SELECT sum(lag) FROM oxbow.source_partitions WHERE source_name = 'orders_in'", 0) == "0"
    time.sleep(1)
    assert count(oxbow, "SELECT count(*) FROM orders WHERE id >= 1000") == 0
    assert count(oxbow, "SELECT count(*) FROM orders") == 200
    # A partition added while running is read from its beginning.
    noida.add_partitions("orders", 3)
    p = noida.producer()
    produce(p, "orders", range(5000, 5100), partition=2)
    assert wait_for(oxbow, "SELECT count(*) FROM orders WHERE id >= 5000", 100, timeout=60) == "100", oxbow.log()
    assert wait_for(oxbow, "SELECT count(*) FROM oxbow.source_partitions WHERE source_name = 'orders_in'", 3) == "3"


def test_kafka_source_survives_the_broker_stopping_and_starting(oxbow, noida):
    noida.create_topic("logs", 2)
    p = noida.producer()
    produce(p, "logs", range(500))
    oxbow.psql("-c", "CREATE TABLE logs (id bigint NOT NULL, url text)")
    oxbow.psql("-c", kafka_source("logs_in", noida, "logs", "logs"))
    assert wait_for(oxbow, "SELECT count(*) FROM logs", 500) == "500", oxbow.log()
    noida.stop()
    assert wait_for(oxbow, "SELECT status FROM oxbow.sources WHERE source_name = 'logs_in'", "failed",
                    timeout=60) == "failed", oxbow.log()
    reason = scalar(oxbow, "SELECT last_error FROM oxbow.sources WHERE source_name = 'logs_in'")
    assert reason, "a failed source says why"
    noida.start()
    p = noida.producer()
    produce(p, "logs", range(500, 1000))
    assert wait_for(oxbow, "SELECT count(*) FROM logs", 1000, timeout=120) == "1000", oxbow.log()
    time.sleep(1)
    assert scalar(oxbow, "SELECT count(*) || ' ' || count(DISTINCT id) FROM logs") == "1000 1000"
    assert wait_for(oxbow, "SELECT status FROM oxbow.sources WHERE source_name = 'logs_in'", "running") == "running"


AVRO_SCHEMA = ('{"type":"record","name":"click","fields":[{"name":"id","type":"long"},'
               '{"name":"url","type":"string"}]}')


def zigzag(n):
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def avro_datum(i):
    url = f"/a/{i}".encode()
    return zigzag(i) + zigzag(len(url)) + url


def test_kafka_avro_plain_and_confluent_framed(oxbow, noida):
    noida.create_topic("avro_plain", 1)
    noida.create_topic("avro_framed", 1)
    p = noida.producer()
    for i in range(300):
        p.produce("avro_plain", value=avro_datum(i))
        p.produce("avro_framed", value=b"\x00" + struct.pack(">I", 42) + avro_datum(i))
    p.produce("avro_framed", value=b"\x00" + struct.pack(">I", 43) + avro_datum(999))  # another schema id
    p.produce("avro_framed", value=avro_datum(998))  # no wire-format header
    p.produce("avro_plain", value=b"\x07")  # truncated
    p.flush(10)
    oxbow.psql("-c", "CREATE TABLE ap (id bigint NOT NULL, url text, _kafka_offset bigint)")
    oxbow.psql("-c", "CREATE TABLE af (id bigint NOT NULL, url text)")
    oxbow.psql("-c", f"CREATE SOURCE ap_in FROM KAFKA (brokers = '{noida.bootstrap}', topic = 'avro_plain') "
               f"FORMAT AVRO (schema = '{AVRO_SCHEMA}') INTO ap")
    oxbow.psql("-c", f"CREATE SOURCE af_in FROM KAFKA (brokers = '{noida.bootstrap}', topic = 'avro_framed') "
               f"FORMAT AVRO (schema = '{AVRO_SCHEMA}', confluent = 'true', schema_id = '42') INTO af")
    assert wait_for(oxbow, "SELECT count(*) FROM ap", 300) == "300", oxbow.log()
    assert wait_for(oxbow, "SELECT count(*) FROM af", 300) == "300", oxbow.log()
    assert count(oxbow, "SELECT count(*) FROM ap WHERE url = '/a/' || CAST(id AS text) AND _kafka_offset = id") == 300
    assert wait_for(oxbow, "SELECT count(*) FROM oxbow.dead_letters WHERE source = 'public.af_in'", 2) == "2"
    assert count(oxbow, "SELECT count(*) FROM oxbow.dead_letters WHERE source = 'public.af_in' "
                 "AND error LIKE '%schema id 43%'") == 1
    assert wait_for(oxbow, "SELECT count(*) FROM oxbow.dead_letters WHERE source = 'public.ap_in'", 1) == "1"
    assert count(oxbow, "SELECT count(*) FROM af WHERE id >= 998") == 0


def test_kafka_options_are_checked_at_create(oxbow):
    missing = oxbow.psql("-c", "CREATE SOURCE k FROM KAFKA (topic = 't') FORMAT JSON INTO t", check=False)
    assert missing.returncode != 0 and "brokers" in missing.stderr
    unknown = oxbow.psql("-c", "CREATE SOURCE k FROM KAFKA (brokers = '127.0.0.1:1', topic = 't', "
                         "colour = 'red') FORMAT JSON INTO t", check=False)
    assert unknown.returncode != 0 and "colour" in unknown.stderr
    csv = oxbow.psql("-c", "CREATE SOURCE k FROM KAFKA (brokers = '127.0.0.1:1', topic = 't') "
                     "FORMAT CSV INTO t", check=False)
    assert csv.returncode != 0 and "FORMAT CSV for KAFKA" in csv.stderr, csv.stderr
    avro = oxbow.psql("-c", "CREATE SOURCE k FROM KAFKA (brokers = '127.0.0.1:1', topic = 't') "
                      "FORMAT AVRO (schema = '{\"type\": \"nope\"}') INTO t", check=False)
    assert avro.returncode != 0
    # A source whose broker is down is created, and shows failed with the reason.
    oxbow.psql("-c", "CREATE SOURCE k FROM KAFKA (brokers = '127.0.0.1:1', topic = 't') FORMAT JSON INTO t")
    assert wait_for(oxbow, "SELECT status FROM oxbow.sources WHERE source_name = 'k'", "failed", 60) == "failed"
    assert "127.0.0.1:1" in scalar(oxbow, "SELECT last_error FROM oxbow.sources WHERE source_name = 'k'")

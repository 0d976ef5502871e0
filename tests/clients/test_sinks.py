"""Kafka sinks end to end: rows written to an Oxbow table leave through `CREATE SINK ... INTO
KAFKA` (a transactional producer) to a real Kafka-protocol broker (noida-db), across a kill -9
of Oxbow in the middle of the stream and a restart; a confluent-kafka consumer with
isolation.level=read_committed then reads every row exactly once, each message carrying the
oxbow_sink and oxbow_position headers."""

import json
import time
import uuid
from collections import Counter

from confluent_kafka import Consumer, TopicPartition

from test_kafka import Noida, count, noida, scalar  # noqa: F401 (the fixture)


def insert(server, start, end, per_statement=50):
    sql = []
    for s in range(start, end, per_statement):
        e = min(s + per_statement, end) - 1
        sql.append(
            f"INSERT INTO events SELECT value AS id, 'row ' || CAST(value AS text) AS payload "
            f"FROM generate_series({s}, {e});")
    server.psql("-c", "\n".join(sql))


def read_committed(broker, topic, timeout=60, want=None):
    """Every committed message of `topic`, from the beginning, as (row, headers)."""
    consumer = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": f"check-{uuid.uuid4()}",
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        # noida-db ignores the fetch size limits.
        "receive.message.max.bytes": 2147483647,
    })
    metadata = consumer.list_topics(topic, timeout=20)
    partitions = list(metadata.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    seen, at_eof = [], set()
    deadline = time.time() + timeout
    while time.time() < deadline and len(at_eof) < len(partitions):
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            if message.error().code() == -191:  # _PARTITION_EOF
                at_eof.add(message.partition())
                continue
            raise RuntimeError(message.error())
        at_eof.discard(message.partition())
        seen.append((json.loads(message.value()), dict(message.headers() or [])))
    consumer.close()
    return seen


def test_kafka_sink_delivers_every_row_exactly_once_across_kill_9(oxbow, noida):
    noida.create_topic("out", 3)
    oxbow.psql("-c", "CREATE TABLE events (id bigint NOT NULL, payload text)")
    oxbow.psql("-c", f"""CREATE SINK k FROM events INTO KAFKA (brokers = '{noida.bootstrap}', topic = 'out')
                         WITH (batch_interval = '20ms', max_batch_rows = '100')""")
    sink_id = scalar(oxbow, "SELECT sink_id FROM oxbow.sinks WHERE sink_name = 'k'")
    insert(oxbow, 0, 4000)
    oxbow.proc.kill()  # SIGKILL while the sink is still sending
    oxbow.proc.wait()
    before = len(read_committed(noida, "out", timeout=20))
    assert before < 4000, f"the sink had sent all {before} rows before the kill"
    oxbow.start()
    insert(oxbow, 4000, 6000)
    deadline = time.time() + 120
    while time.time() < deadline:
        if int(scalar(oxbow, "SELECT coalesce(lag_seq, 1) FROM oxbow.sinks WHERE sink_name = 'k'")) == 0:
            break
        time.sleep(0.3)
    rows = read_committed(noida, "out")
    ids = Counter(r["id"] for r, _ in rows)
    doubled = {i: c for i, c in ids.items() if c > 1}
    missing = [i for i in range(6000) if i not in ids]
    assert not doubled and not missing and len(rows) == 6000, (
        f"{len(rows)} messages; doubled: {list(doubled.items())[:10]}; missing: {missing[:10]}\n{oxbow.log()}")
    assert all(h["oxbow_sink"] == sink_id.encode() for _, h in rows)
    positions = [int(h["oxbow_position"]) for _, h in rows]
    assert max(positions) > 0
    assert scalar(oxbow, "SELECT status FROM oxbow.sinks WHERE sink_name = 'k'") == "running"

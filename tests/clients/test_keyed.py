"""Keyed tables are plain Delta tables after a flush: another Delta reader (Python deltalake,
polars) sees one row per key, the newest, with deletes applied, and each flush is one commit
carrying Oxbow's `txn` watermark."""

import deltalake
import psycopg2

from test_lakehouse import oxbow_rows, table_dir


def test_delta_readers_see_one_row_per_key_after_keyed_flushes(oxbow):
    import polars as pl

    oxbow.psql("-c", "CREATE TABLE kd (id bigint PRIMARY KEY, v text, n int) "
               "WITH (flush_interval = '1h')",
               "-c", "INSERT INTO kd SELECT x, 'v0', 0 FROM generate_series(1, 100) AS t(x)",
               "-c", "FLUSH TABLE kd",
               # Updates of keys in Delta, a key change, deletes in Delta and in the hot tier,
               # upserts over Delta and new keys: all hot until the next flush.
               "-c", "UPDATE kd SET v = 'v1', n = 1 WHERE id <= 10",
               "-c", "UPDATE kd SET id = 1000 WHERE id = 50",
               "-c", "DELETE FROM kd WHERE id BETWEEN 90 AND 95",
               "-c", "INSERT INTO kd VALUES (20, 'v2', 2), (200, 'new', 2) "
                     "ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, n = kd.n + EXCLUDED.n",
               "-c", "INSERT INTO kd VALUES (300, 'gone', 0)",
               "-c", "DELETE FROM kd WHERE id = 300",
               "-c", "FLUSH TABLE kd")
    path = table_dir(oxbow, "kd")
    want = oxbow_rows(oxbow, "SELECT id, v, n FROM kd ORDER BY id")
    assert len(want) == 100 - 6 + 1, len(want)

    table = deltalake.DeltaTable(str(path))
    got = sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["id"])
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids)), "a key is in Delta twice"
    assert [[str(r["id"]), r["v"], str(r["n"])] for r in got] == want
    by_id = {r["id"]: r for r in got}
    assert by_id[5]["v"] == "v1" and by_id[20]["v"] == "v2" and by_id[20]["n"] == 2
    assert 50 not in by_id and 1000 in by_id and 300 not in by_id and 92 not in by_id

    # The second flush is one MERGE commit; both flushes carry the txn watermark.
    history = table.history()
    ops = [h.get("operation") for h in history]
    assert ops.count("MERGE") == 1, ops
    frame = pl.read_delta(str(path)).sort("id")
    assert frame.height == len(want)
    assert frame["id"].n_unique() == frame.height


def test_unique_violation_reaches_the_client_as_postgresql_sends_it(oxbow):
    oxbow.psql("-c", "CREATE TABLE uv (id bigint PRIMARY KEY, v text)",
               "-c", "INSERT INTO uv VALUES (1, 'a')")
    conn = psycopg2.connect(oxbow.dsn, connect_timeout=10)
    conn.autocommit = True
    cur = conn.cursor()
    try:
        cur.execute("INSERT INTO uv VALUES (%s, %s)", (1, "again"))
        raise AssertionError("the duplicate key was accepted")
    except psycopg2.errors.UniqueViolation as e:
        assert e.pgcode == "23505"
        assert e.diag.message_primary == \
            'duplicate key value violates unique constraint "uv_pkey"'
        assert e.diag.message_detail == "Key (id)=(1) already exists."
    # The connection stays usable.
    cur.execute("INSERT INTO uv VALUES (%s, %s) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v",
                (1, "b"))
    cur.execute("SELECT id, v FROM uv")
    assert cur.fetchall() == [(1, "b")]
    conn.close()

"""The lakehouse tier is plain Delta Lake: another reader sees the same rows."""

from pathlib import Path
from urllib.parse import unquote, urlparse

import deltalake


def table_dir(oxbow, table):
    """A table's Delta directory, as `oxbow.tables` reports it (it comes from the table's id,
    not its name)."""
    url = oxbow.psql("-At", "-c",
                     f"SELECT location FROM oxbow.tables WHERE table_name = '{table}'").stdout.strip()
    assert url.startswith("file://"), url
    return Path(unquote(urlparse(url).path))


def test_python_deltalake_reads_what_oxbow_wrote(oxbow):
    """Rows reach Delta through the hot tier's flush; the DELETE flushes first."""
    oxbow.psql("-c", "CREATE TABLE t (id bigint, name text, ts timestamptz); "
               "INSERT INTO t VALUES (1,'a',now()), (2,'b',now()); "
               "INSERT INTO t VALUES (3,'c',NULL); DELETE FROM t WHERE id = 2")
    path = table_dir(oxbow, "t")
    log = sorted(p.name for p in (path / "_delta_log").iterdir() if p.suffix == ".json")
    # create; one flush holding both INSERTs (they were hot until the DELETE flushed them);
    # the delete
    assert len(log) == 3, log
    assert list(path.glob("*.parquet")), "data files are Parquet"
    table = deltalake.DeltaTable(str(path))
    rows = sorted((r["id"], r["name"]) for r in table.to_pyarrow_table().to_pylist())
    assert rows == [(1, "a"), (3, "c")]
    out = oxbow.psql("-At", "-c", "SELECT id, name FROM t ORDER BY id").stdout.split()
    assert out == ["1|a", "3|c"]


def test_a_graceful_stop_leaves_every_row_in_delta(oxbow):
    oxbow.psql("-c", "CREATE TABLE g (id bigint) WITH (flush_interval = '1h'); "
               "INSERT INTO g SELECT * FROM (VALUES (1), (2), (3)) AS v(x)")
    path = table_dir(oxbow, "g")
    oxbow.stop()
    table = deltalake.DeltaTable(str(path))
    assert sorted(r["id"] for r in table.to_pyarrow_table().to_pylist()) == [1, 2, 3]
    txns = [a for a in table.history() if a.get("operation") == "WRITE"]
    assert txns, "the shutdown flush is a Delta WRITE commit"


def oxbow_rows(oxbow, sql):
    """Rows of `sql` as psql prints them unaligned (NULL as 'NULL')."""
    out = oxbow.psql("-At", "-P", "null=NULL", "-c", sql).stdout
    return [line.split("|") for line in out.splitlines() if line]


def test_other_readers_see_an_evolved_table_as_oxbow_does(oxbow):
    """ALTER TABLE ADD COLUMN is a Delta metadata commit: files written before it lack the
    column, and every reader (Oxbow, Python deltalake, polars) reads NULL there."""
    import polars as pl

    oxbow.psql("-c", "CREATE TABLE ev (id bigint, kind text) WITH (flush_interval = '1h'); "
               "INSERT INTO ev VALUES (1, 'old'), (2, 'old')",
               "-c", "FLUSH TABLE ev",
               "-c", "INSERT INTO ev VALUES (3, 'hot before')",
               "-c", "ALTER TABLE ev ADD COLUMN score double precision, ADD COLUMN tag text",
               "-c", "INSERT INTO ev VALUES (4, 'new', 1.5, 'x')",
               "-c", "FLUSH TABLE ev")
    path = table_dir(oxbow, "ev")
    want = oxbow_rows(oxbow, "SELECT id, kind, score, tag FROM ev ORDER BY id")
    assert want == [["1", "old", "NULL", "NULL"], ["2", "old", "NULL", "NULL"],
                    ["3", "hot before", "NULL", "NULL"], ["4", "new", "1.5", "x"]]

    def as_text(v):
        return "NULL" if v is None else (str(v) if not isinstance(v, float) else f"{v:g}")

    table = deltalake.DeltaTable(str(path))
    assert [f.name for f in table.schema().fields] == ["id", "kind", "score", "tag"]
    got = sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["id"])
    assert [[as_text(r[c]) for c in ("id", "kind", "score", "tag")] for r in got] == want
    ops = [h.get("operation") for h in table.history()]
    assert "ADD COLUMN" in ops, ops

    frame = pl.read_delta(str(path)).sort("id")
    assert frame.columns == ["id", "kind", "score", "tag"]
    assert [[as_text(v) for v in row] for row in frame.rows()] == want


def test_other_readers_see_a_partitioned_table_as_oxbow_does(oxbow):
    """PARTITION BY (day(ts), country): Delta partition columns ts_day (a generated column)
    and country, one directory per partition; deltalake and polars read the same rows, and
    prune by ts_day themselves."""
    import datetime as dt

    import polars as pl

    oxbow.psql("-c", "CREATE TABLE p (id bigint, country text, ts timestamptz) "
               "WITH (flush_interval = '1h') PARTITION BY (day(ts), country)",
               "-c", "INSERT INTO p VALUES (1, 'NL', '2026-01-01 10:00:00+00'), "
               "(2, 'DE', '2026-01-01 23:59:59+00'), (3, 'NL', '2026-01-02 00:00:00+00')",
               "-c", "FLUSH TABLE p",
               "-c", "INSERT INTO p VALUES (4, 'NL', '2026-01-03 12:00:00+00')",
               "-c", "FLUSH TABLE p")
    path = table_dir(oxbow, "p")
    assert sorted(d.name for d in path.iterdir() if d.is_dir() and d.name != "_delta_log") == [
        "ts_day=2026-01-01", "ts_day=2026-01-02", "ts_day=2026-01-03"]
    want = oxbow_rows(oxbow, "SELECT id, country FROM p ORDER BY id")
    assert want == [["1", "NL"], ["2", "DE"], ["3", "NL"], ["4", "NL"]]

    table = deltalake.DeltaTable(str(path))
    assert table.metadata().partition_columns == ["ts_day", "country"]
    got = sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["id"])
    assert [[str(r["id"]), r["country"]] for r in got] == want
    assert [r["ts_day"] for r in got] == [dt.date(2026, 1, 1)] * 2 + [
        dt.date(2026, 1, 2), dt.date(2026, 1, 3)]
    jan2 = table.to_pyarrow_table(partitions=[("ts_day", "=", "2026-01-02")]).to_pylist()
    assert [r["id"] for r in jan2] == [3]

    frame = pl.read_delta(str(path)).sort("id")
    assert [[str(i), c] for i, c in frame.select("id", "country").rows()] == want

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

"""The lakehouse tier is plain Delta Lake: another reader sees the same rows."""

import deltalake


def test_python_deltalake_reads_what_oxbow_wrote(oxbow):
    oxbow.psql("-c", "CREATE TABLE t (id bigint, name text, ts timestamptz); "
               "INSERT INTO t VALUES (1,'a',now()), (2,'b',now()); "
               "INSERT INTO t VALUES (3,'c',NULL); DELETE FROM t WHERE id = 2")
    path = oxbow.data_dir / "tables" / "public" / "t"
    log = sorted(p.name for p in (path / "_delta_log").iterdir() if p.suffix == ".json")
    assert len(log) == 4, log  # create, insert, insert, delete: one commit each
    assert list(path.glob("*.parquet")), "data files are Parquet"
    table = deltalake.DeltaTable(str(path))
    rows = sorted((r["id"], r["name"]) for r in table.to_pyarrow_table().to_pylist())
    assert rows == [(1, "a"), (3, "c")]
    out = oxbow.psql("-At", "-c", "SELECT id, name FROM t ORDER BY id").stdout.split()
    assert out == ["1|a", "3|c"]

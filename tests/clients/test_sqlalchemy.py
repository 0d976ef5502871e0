"""SQLAlchemy 2 against Oxbow, with its postgresql+psycopg2, postgresql+psycopg (3) and
postgresql+asyncpg dialects.

Connect (each dialect runs its own startup queries), the Inspector (what Superset, Alembic,
pandas and most BI tools use to list tables and columns), and Core: a Table with every
supported type made by create_all, rows written with parameters and read back with the
Python type SQLAlchemy gives. A test marked xfail(strict=True) is a known server gap.
"""

import asyncio
import math
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import create_async_engine

TEXT = "héllo ✓ 'quoted' \\ back"
BYTES = b"\x00\x01\xfe\xff\\'"
TSTZ = datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=timezone(timedelta(hours=2)))
JSON = {"a": [1, 2], "b": "x"}

DRIVERS = ["psycopg2", "psycopg", "asyncpg"]


def url(port, driver):
    return f"postgresql+{driver}://anyone@127.0.0.1:{port}/oxbow"


class Engines:
    """One engine per dialect for the whole module; `run(driver, fn)` calls fn with a sync
    Connection inside a transaction (through run_sync for the asyncio dialect)."""

    def __init__(self, port):
        self.port = port
        self.sync = {}
        self.runner = asyncio.Runner()
        self.async_engine = None

    def run(self, driver, fn):
        if driver == "asyncpg":
            async def main():
                if self.async_engine is None:
                    self.async_engine = create_async_engine(url(self.port, "asyncpg"))
                async with self.async_engine.begin() as conn:
                    return await conn.run_sync(fn)
            return self.runner.run(main())
        if driver not in self.sync:
            self.sync[driver] = sa.create_engine(url(self.port, driver))
        with self.sync[driver].begin() as conn:
            return fn(conn)

    def close(self):
        for engine in self.sync.values():
            engine.dispose()
        if self.async_engine is not None:
            self.runner.run(self.async_engine.dispose())
        self.runner.close()


@pytest.fixture(scope="module")
def engines(oxbow_module):
    e = Engines(oxbow_module.port)
    yield e
    e.close()


def driver_params(drivers=DRIVERS, xfail=None):
    """pytest params for drivers; `xfail` maps a driver to the reason it is expected to fail."""
    xfail = dict(xfail or {})
    return [pytest.param(d, id=d, marks=[pytest.mark.xfail(strict=True, reason=xfail[d])]
                         if d in xfail else []) for d in drivers]


@pytest.mark.parametrize("driver", driver_params())
def test_engine_connects(engines, driver):
    def fn(conn):
        assert conn.dialect.server_version_info >= (10,)
        assert conn.execute(sa.text("SELECT :a + 1"), {"a": 41}).scalar() == 42
    engines.run(driver, fn)


# --- Inspector ---

@pytest.fixture(scope="module")
def schema_objects(engines):
    """A table with every type, one with a primary key, a view, and a table in another schema."""
    u = uuid.uuid4().hex[:8]
    names = {"all": f"sa_all_{u}", "pk": f"sa_pk_{u}", "view": f"sa_view_{u}",
             "schema": f"sa_other_{u}", "hidden": f"sa_hidden_{u}"}
    ddl = [
        f"CREATE TABLE {names['all']} (id integer NOT NULL, b boolean, i2 smallint, i4 integer, "
        "i8 bigint, f4 real, f8 double precision, n numeric(12,3), t text, vc varchar(20), "
        "by bytea, d date, ts timestamp, tstz timestamptz, j jsonb)",
        f"CREATE TABLE {names['pk']} (id bigint PRIMARY KEY, name text)",
        f"CREATE VIEW {names['view']} AS SELECT id, t FROM {names['all']}",
        f"CREATE SCHEMA {names['schema']}",
        f"CREATE TABLE {names['schema']}.{names['hidden']} (id integer)",
    ]

    def fn(conn):
        for stmt in ddl:
            conn.exec_driver_sql(stmt)
    engines.run("psycopg2", fn)
    return names


INSPECT_DRIVERS = ["psycopg2", "asyncpg"]


@pytest.mark.parametrize("driver", driver_params(INSPECT_DRIVERS))
def test_inspector_get_table_names(engines, schema_objects, driver):
    names = engines.run(driver, lambda c: sa.inspect(c).get_table_names())
    assert schema_objects["all"] in names and schema_objects["pk"] in names
    assert schema_objects["view"] not in names
    other = engines.run(driver, 
        lambda c: sa.inspect(c).get_table_names(schema=schema_objects["schema"]))
    assert other == [schema_objects["hidden"]]
    assert engines.run(driver, lambda c: sa.inspect(c).has_table(schema_objects["all"]))


@pytest.mark.parametrize("driver", driver_params(INSPECT_DRIVERS))
def test_inspector_default_schema_hides_other_schemas(engines, schema_objects, driver):
    def fn(c):
        i = sa.inspect(c)
        return i.get_table_names(), i.get_view_names()
    tables, views = engines.run(driver, fn)
    assert schema_objects["hidden"] not in tables
    assert "tables" not in views  # oxbow.tables lives in schema oxbow


@pytest.mark.parametrize("driver", driver_params(INSPECT_DRIVERS))
def test_inspector_get_view_names(engines, schema_objects, driver):
    views = engines.run(driver, lambda c: sa.inspect(c).get_view_names())
    assert schema_objects["view"] in views


@pytest.mark.parametrize("driver", driver_params(INSPECT_DRIVERS))
def test_inspector_get_columns_types(engines, schema_objects, driver):
    cols = engines.run(driver, lambda c: sa.inspect(c).get_columns(schema_objects["all"]))
    by_name = {c["name"]: c for c in cols}
    assert [c["name"] for c in cols] == ["id", "b", "i2", "i4", "i8", "f4", "f8", "n", "t", "vc",
                                         "by", "d", "ts", "tstz", "j"]
    expected = {"id": sa.INTEGER, "b": sa.BOOLEAN, "i2": sa.SMALLINT, "i4": sa.INTEGER,
                "i8": sa.BIGINT, "f4": sa.REAL, "f8": pg.DOUBLE_PRECISION, "n": sa.NUMERIC,
                "t": sa.TEXT, "by": pg.BYTEA, "d": sa.DATE, "ts": pg.TIMESTAMP, "tstz": pg.TIMESTAMP}
    for name, cls in expected.items():
        assert isinstance(by_name[name]["type"], cls), (name, by_name[name]["type"])
    assert by_name["ts"]["type"].timezone is False and by_name["tstz"]["type"].timezone is True
    assert by_name["id"]["nullable"] is False and by_name["t"]["nullable"] is True


@pytest.mark.parametrize("driver", driver_params(INSPECT_DRIVERS))
def test_inspector_get_columns_type_modifiers(engines, schema_objects, driver):
    cols = engines.run(driver, lambda c: sa.inspect(c).get_columns(schema_objects["all"]))
    by_name = {c["name"]: c["type"] for c in cols}
    assert isinstance(by_name["n"], sa.NUMERIC) and (by_name["n"].precision, by_name["n"].scale) == (12, 3)
    assert isinstance(by_name["vc"], sa.VARCHAR) and by_name["vc"].length == 20
    assert isinstance(by_name["j"], pg.JSONB)


@pytest.mark.parametrize("driver", driver_params(INSPECT_DRIVERS))
def test_inspector_get_schema_names(engines, schema_objects, driver):
    schemas = engines.run(driver, lambda c: sa.inspect(c).get_schema_names())
    assert "public" in schemas and schema_objects["schema"] in schemas
    assert "pg_catalog" not in schemas


@pytest.mark.parametrize("driver", driver_params(INSPECT_DRIVERS))
def test_inspector_get_pk_constraint(engines, schema_objects, driver):
    pk = engines.run(driver, lambda c: sa.inspect(c).get_pk_constraint(schema_objects["pk"]))
    assert pk["constrained_columns"] == ["id"]


@pytest.mark.parametrize("driver", driver_params(INSPECT_DRIVERS))
def test_inspector_get_indexes(engines, schema_objects, driver):
    # The primary key's index is reported by get_pk_constraint, not here (as on PostgreSQL).
    assert engines.run(driver, lambda c: sa.inspect(c).get_indexes(schema_objects["pk"])) == []


@pytest.mark.parametrize("driver", driver_params(INSPECT_DRIVERS))
def test_inspector_foreign_keys_and_comment(engines, schema_objects, driver):
    def fn(c):
        i = sa.inspect(c)
        return i.get_foreign_keys(schema_objects["all"]), i.get_table_comment(schema_objects["all"])
    fks, comment = engines.run(driver, fn)
    assert fks == [] and comment == {"text": None}


@pytest.mark.parametrize("driver", driver_params(INSPECT_DRIVERS))
def test_inspector_get_view_definition(engines, schema_objects, driver):
    definition = engines.run(driver, 
        lambda c: sa.inspect(c).get_view_definition(schema_objects["view"]))
    assert "SELECT" in definition.upper()


# --- Core: create_all with every type, insert with parameters, read back ---

# name, SQLAlchemy type, value written, value read back, Python type read back
CASES = [
    ("boolean", sa.Boolean(), True, True, bool),
    ("smallint", sa.SmallInteger(), -32768, -32768, int),
    ("integer", sa.Integer(), 2147483647, 2147483647, int),
    ("bigint", sa.BigInteger(), 9223372036854775807, 9223372036854775807, int),
    ("real", sa.REAL(), 1.25, 1.25, float),
    ("double", sa.Double(), math.pi, math.pi, float),
    ("numeric", sa.Numeric(12, 3), Decimal("-12345.678"), Decimal("-12345.678"), Decimal),
    ("text", sa.Text(), TEXT, TEXT, str),
    ("varchar", sa.String(20), "varchar", "varchar", str),
    ("bytea", sa.LargeBinary(), BYTES, BYTES, bytes),
    ("date", sa.Date(), date(2024, 2, 29), date(2024, 2, 29), date),
    ("timestamp", sa.DateTime(), datetime(2024, 1, 2, 3, 4, 5, 123456),
     datetime(2024, 1, 2, 3, 4, 5, 123456), datetime),
    ("timestamptz", sa.DateTime(timezone=True), TSTZ, TSTZ, datetime),
    ("jsonb", pg.JSONB(), JSON, JSON, dict),
]
CORE_XFAIL = {}


def core_params():
    out = []
    for driver in ["psycopg2", "asyncpg"]:
        for i, case in enumerate(CASES):
            reason = CORE_XFAIL.get((driver, case[0]))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(driver, i, id=f"{driver}-{case[0]}", marks=marks))
    return out


@pytest.fixture(scope="module")
def core_table(engines):
    metadata = sa.MetaData()
    table = sa.Table(f"sa_core_{uuid.uuid4().hex[:8]}", metadata,
                     sa.Column("id", sa.Integer, nullable=False),
                     sa.Column("driver", sa.Text),
                     *[sa.Column(f"v_{name}", typ) for name, typ, *_ in CASES])
    engines.run("psycopg2", metadata.create_all)
    return table


def test_core_create_all_made_the_table(engines, core_table):
    assert engines.run("psycopg2", lambda c: sa.inspect(c).has_table(core_table.name))


@pytest.mark.parametrize("driver,case", core_params())
def test_core_type_round_trip(engines, core_table, driver, case):
    name, _, value, expected, py_type = CASES[case]
    row_id = case + 1 + (100 if driver == "asyncpg" else 0)
    col = core_table.c[f"v_{name}"]

    def fn(conn):
        conn.execute(core_table.insert(), {"id": row_id, "driver": driver, col.name: value})
        conn.execute(core_table.insert(), {"id": -row_id, "driver": driver})
        got = conn.execute(sa.select(col).where(core_table.c.id == row_id)).scalar_one()
        null = conn.execute(sa.select(col).where(core_table.c.id == -row_id)).scalar_one()
        return got, null
    got, null = engines.run(driver, fn)
    assert type(got) is py_type, f"{got!r} is a {type(got).__name__}"
    assert got == expected
    if name == "timestamptz":
        assert got.tzinfo is not None
    assert null is None


def test_core_bulk_insert_and_aggregate(engines, uniq):
    metadata = sa.MetaData()
    t = sa.Table(f"sa_bulk_{uniq}", metadata, sa.Column("id", sa.BigInteger),
                 sa.Column("name", sa.Text), sa.Column("amount", sa.Numeric(12, 2)))

    def fn(conn):
        metadata.create_all(conn)
        conn.execute(t.insert(), [{"id": i, "name": f"n{i % 3}", "amount": Decimal(i) / 4}
                                  for i in range(300)])
        q = (sa.select(t.c.name, sa.func.count().label("n"), sa.func.sum(t.c.amount).label("total"))
             .group_by(t.c.name).order_by(t.c.name))
        return [tuple(r) for r in conn.execute(q)]
    rows = engines.run("psycopg2", fn)
    assert rows == [(f"n{k}", 100, sum(Decimal(i) / 4 for i in range(300) if i % 3 == k))
                    for k in range(3)]


@pytest.mark.parametrize("driver", driver_params(["psycopg2", "asyncpg"]))
def test_error_sqlstate_through_sqlalchemy(engines, driver):
    def fn(conn):
        with pytest.raises(sa.exc.ProgrammingError) as e:
            conn.execute(sa.text("SELECT * FROM sa_missing_table"))
        orig = e.value.orig
        return getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    assert engines.run(driver, fn) == "42P01"

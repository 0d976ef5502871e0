"""asyncpg (its own protocol implementation: extended protocol only, binary parameters and
results) against Oxbow.

Every supported type goes in as a $n parameter and comes back in binary; then the types the
server describes for prepared statements, cursors (portals fetched in pieces), COPY,
transactions and SQLSTATEs. A test marked xfail(strict=True) is a known server gap.
"""

import asyncio
import io
import json
import math
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import asyncpg
import pytest

TEXT = "héllo ✓ 'quoted' \\ back"
BYTES = b"\x00\x01\xfe\xff\\'"
TSTZ = datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=timezone(timedelta(hours=2)))
JSON = {"a": [1, 2], "b": "x"}

# name, SQL type, parameter, value read back, Python type read back
CASES = [
    ("boolean", "boolean", True, True, bool),
    ("smallint", "smallint", -32768, -32768, int),
    ("integer", "integer", 2147483647, 2147483647, int),
    ("bigint", "bigint", -9223372036854775808, -9223372036854775808, int),
    ("real", "real", 1.25, 1.25, float),
    ("double", "double precision", math.pi, math.pi, float),
    ("numeric", "numeric(12,3)", Decimal("-12345.678"), Decimal("-12345.678"), Decimal),
    ("text", "text", TEXT, TEXT, str),
    ("varchar", "varchar(20)", "varchar", "varchar", str),
    ("bytea", "bytea", BYTES, BYTES, bytes),
    ("date", "date", date(2024, 2, 29), date(2024, 2, 29), date),
    ("timestamp", "timestamp", datetime(2024, 1, 2, 3, 4, 5, 123456),
     datetime(2024, 1, 2, 3, 4, 5, 123456), datetime),
    ("timestamptz", "timestamptz", TSTZ, TSTZ, datetime),
    # asyncpg has no json codec by default: json/jsonb go in and come out as str (also on PostgreSQL)
    ("jsonb", "jsonb", json.dumps(JSON), JSON, str),
]
NAMES = [c[0] for c in CASES]
# asyncpg's name for the type PostgreSQL describes for each column / parameter
TYPE_NAMES = {"boolean": "bool", "smallint": "int2", "integer": "int4", "bigint": "int8",
              "real": "float4", "double": "float8", "numeric": "numeric", "text": "text",
              "varchar": "varchar", "bytea": "bytea", "date": "date", "timestamp": "timestamp",
              "timestamptz": "timestamptz", "jsonb": "jsonb"}


def run(oxbow, body):
    """Runs `body(conn)` on a fresh asyncpg connection in its own event loop."""
    async def main():
        conn = await asyncpg.connect(host="127.0.0.1", port=oxbow.port, user="anyone",
                                     database="oxbow", timeout=10)
        try:
            return await body(conn)
        finally:
            await conn.close()
    return asyncio.run(main())


@pytest.fixture(scope="module")
def all_types(oxbow_module):
    """One table with a column of every supported type and an all-NULL row (id 0)."""
    table = f"ap_all_{uuid.uuid4().hex[:8]}"
    cols = ", ".join(f"v_{name} {sql}" for name, sql, *_ in CASES)

    async def body(conn):
        await conn.execute(f"CREATE TABLE {table} (id integer, {cols})")
        await conn.execute(f"INSERT INTO {table} (id) VALUES ($1)", 0)
    run(oxbow_module, body)
    return table


def test_connect_reports_a_postgresql_version(oxbow_module):
    async def body(conn):
        assert conn.get_server_version().major >= 10
        assert (await conn.fetchval("SELECT version()")).startswith("PostgreSQL ")
    run(oxbow_module, body)


@pytest.mark.parametrize("name,sql_type,param,expected,py_type", CASES, ids=NAMES)
def test_type_round_trip(oxbow_module, all_types, name, sql_type, param, expected, py_type):
    row_id = NAMES.index(name) + 1

    async def body(conn):
        status = await conn.execute(f"INSERT INTO {all_types} (id, v_{name}) VALUES ($1, $2)",
                                    row_id, param)
        assert status == "INSERT 0 1"
        value = await conn.fetchval(f"SELECT v_{name} FROM {all_types} WHERE id = $1", row_id)
        assert type(value) is py_type, f"{value!r} is a {type(value).__name__}"
        if name == "jsonb":
            value = json.loads(value)
        assert value == expected
        if name == "timestamptz":
            assert value.tzinfo is not None
        assert await conn.fetchval(f"SELECT v_{name} FROM {all_types} WHERE id = 0") is None
    run(oxbow_module, body)


def test_prepared_statement_describes_column_types(oxbow_module, all_types):
    async def body(conn):
        stmt = await conn.prepare(f"SELECT * FROM {all_types}")
        return {a.name: a.type.name for a in stmt.get_attributes()}
    got = run(oxbow_module, body)
    assert got == {"id": "int4", **{f"v_{n}": TYPE_NAMES[n] for n in NAMES}}


def test_prepared_statement_describes_parameter_types(oxbow_module, all_types):
    placeholders = ", ".join(f"${i + 2}" for i in range(len(NAMES)))
    cols = ", ".join(f"v_{n}" for n in NAMES)

    async def body(conn):
        stmt = await conn.prepare(f"INSERT INTO {all_types} (id, {cols}) VALUES ($1, {placeholders})")
        return [t.name for t in stmt.get_parameters()]
    assert run(oxbow_module, body) == ["int4"] + [TYPE_NAMES[n] for n in NAMES]


def test_arrays_decode_after_type_introspection(oxbow_module, uniq):
    """asyncpg decodes only oid[] and text[] by itself; for any other array it first runs its
    type introspection query, which must plan and describe itself in types it knows."""
    table = f"ap_arr_{uniq}"

    async def body(conn):
        row = await conn.fetchrow("SELECT ARRAY[1::smallint, 2::smallint] AS i2, ARRAY[3, 4] AS i4, "
                                  "ARRAY[5::bigint] AS i8, ARRAY[1.5::double precision] AS f8, "
                                  "ARRAY[true, false] AS b, ARRAY['x', 'y'] AS t")
        assert dict(row) == {"i2": [1, 2], "i4": [3, 4], "i8": [5], "f8": [1.5],
                             "b": [True, False], "t": ["x", "y"]}
        await conn.execute(f"CREATE TABLE {table} (id integer, tag text)")
        await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(1, "a"), (2, "b"), (3, "a")])
        rows = await conn.fetch(f"SELECT tag, array_agg(id ORDER BY id) AS ids FROM {table} "
                                "GROUP BY tag ORDER BY tag")
        assert [(r["tag"], r["ids"]) for r in rows] == [("a", [1, 3]), ("b", [2])]
        assert await conn.fetchval("SELECT $1::integer[]", [7, 8]) == [7, 8]
    run(oxbow_module, body)


def test_executemany_and_fetch(oxbow_module, uniq):
    table = f"ap_many_{uniq}"

    async def body(conn):
        await conn.execute(f"CREATE TABLE {table} (id bigint, name text, score double precision)")
        await conn.executemany(f"INSERT INTO {table} VALUES ($1, $2, $3)",
                               [(i, f"n{i}", i / 4) for i in range(200)])
        rows = await conn.fetch(f"SELECT id, name FROM {table} WHERE id >= $1 AND name <> $2 "
                                "ORDER BY id", 195, "n197")
        assert [tuple(r) for r in rows] == [(195, "n195"), (196, "n196"), (198, "n198"), (199, "n199")]
        assert await conn.fetchval(f"SELECT sum(score) FROM {table}") == sum(i / 4 for i in range(200))
    run(oxbow_module, body)


def test_cursor_fetches_a_portal_in_pieces(oxbow_module, uniq):
    table = f"ap_cursor_{uniq}"

    async def body(conn):
        await conn.execute(f"CREATE TABLE {table} (id bigint)")
        await conn.executemany(f"INSERT INTO {table} VALUES ($1)", [(i,) for i in range(100)])
        async with conn.transaction():
            ids = [r["id"] async for r in conn.cursor(
                f"SELECT id FROM {table} WHERE id >= $1 ORDER BY id", 0, prefetch=7)]
            assert ids == list(range(100))
            cur = await conn.cursor(f"SELECT id FROM {table} ORDER BY id")
            assert [r["id"] for r in await cur.fetch(5)] == [0, 1, 2, 3, 4]
            assert (await cur.fetchrow())["id"] == 5
    run(oxbow_module, body)


def test_cursor_forward(oxbow_module, uniq):
    table = f"ap_move_{uniq}"

    async def body(conn):
        await conn.execute(f"CREATE TABLE {table} (id bigint)")
        await conn.executemany(f"INSERT INTO {table} VALUES ($1)", [(i,) for i in range(30)])
        async with conn.transaction():
            cur = await conn.cursor(f"SELECT id FROM {table} ORDER BY id")
            await cur.fetch(5)
            await cur.forward(10)
            assert (await cur.fetchrow())["id"] == 15
    run(oxbow_module, body)


def test_transaction_commit(oxbow_module, uniq):
    table = f"ap_tx_{uniq}"

    async def body(conn):
        await conn.execute(f"CREATE TABLE {table} (id integer)")
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {table} VALUES ($1)", 1)
            await conn.execute(f"INSERT INTO {table} VALUES ($1)", 2)
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 2
    run(oxbow_module, body)


def test_copy_csv_in_and_out(oxbow_module, uniq):
    table = f"ap_copy_{uniq}"

    async def body(conn):
        await conn.execute(f"CREATE TABLE {table} (id integer, name text)")
        status = await conn.copy_to_table(table, source=io.BytesIO(b'1,a\n2,"b, c"\n3,\n'),
                                          format="csv")
        assert status == "COPY 3"
        out = io.BytesIO()
        await conn.copy_from_table(table, output=out, format="csv")
        assert sorted(out.getvalue().splitlines()) == [b"1,a", b'2,"b, c"', b"3,"]
    run(oxbow_module, body)


def test_copy_records_to_table(oxbow_module, uniq):
    """copy_records_to_table sends binary COPY: every type in its binary format, and NULLs."""
    table = f"ap_copyrec_{uniq}"
    cols = ", ".join(f"v_{name} {sql}" for name, sql, *_ in CASES)
    record = tuple(param for _, _, param, *_ in CASES)

    async def body(conn):
        await conn.execute(f"CREATE TABLE {table} (id integer, {cols})")
        status = await conn.copy_records_to_table(
            table, records=[(1, *record), (2, *([None] * len(CASES)))])
        assert status == "COPY 2"
        rows = await conn.fetch(f"SELECT * FROM {table} ORDER BY id")
        assert [r["id"] for r in rows] == [1, 2]
        for name, _, _, expected, _ in CASES:
            value = rows[0][f"v_{name}"]
            assert (json.loads(value) if name == "jsonb" else value) == expected, name
            assert rows[1][f"v_{name}"] is None
        # A bad row fails the whole COPY (22P02 for text that is no JSON) and writes nothing.
        with pytest.raises(asyncpg.exceptions.InvalidTextRepresentationError):
            await conn.copy_records_to_table(table, records=[(3, *record[:-1], "not json")],
                                             columns=["id", *[f"v_{n}" for n in NAMES]])
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 2
    run(oxbow_module, body)


def test_copy_from_query_with_arguments(oxbow_module, uniq):
    table = f"ap_copyq_{uniq}"

    async def body(conn):
        await conn.execute(f"CREATE TABLE {table} (id integer, name text)")
        await conn.execute(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
        out = io.BytesIO()
        await conn.copy_from_query(f"SELECT * FROM {table} WHERE id > $1", 1, output=out, format="csv")
        assert out.getvalue() == b"2,b\n"
    run(oxbow_module, body)


def test_record_keys_follow_postgresql_column_names(oxbow_module, all_types):
    async def body(conn):
        row = await conn.fetchrow(f"SELECT count(*), max(id) FROM {all_types}")
        assert list(row.keys()) == ["count", "max"]
    run(oxbow_module, body)


def test_list_tables_and_columns_pg_catalog(oxbow_module, all_types):
    async def body(conn):
        tables = await conn.fetch("SELECT schemaname, tablename FROM pg_catalog.pg_tables "
                                  "WHERE tablename = $1", all_types)
        assert [tuple(r) for r in tables] == [("public", all_types)]
        cols = await conn.fetch(
            "SELECT a.attname, t.typname FROM pg_catalog.pg_attribute a "
            "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            "JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
            "WHERE c.relname = $1 AND a.attnum > 0 ORDER BY a.attnum", all_types)
        got = dict((r["attname"], r["typname"]) for r in cols)
        assert got["id"] == "int4" and got["v_bigint"] == "int8" and got["v_bytea"] == "bytea"
        assert got["v_timestamptz"] == "timestamptz" and got["v_numeric"] == "numeric"
    run(oxbow_module, body)


@pytest.mark.parametrize("sql,args,sqlstate,error", [
    ("SELEC 1", (), "42601", asyncpg.PostgresSyntaxError),
    ("SELECT * FROM ap_missing WHERE id = $1", (1,), "42P01", asyncpg.UndefinedTableError),
    ("SELECT nope FROM {all_types} WHERE id = $1", (1,), "42703", asyncpg.UndefinedColumnError),
    ("SELECT 'x1'::integer", (), "22P02", asyncpg.InvalidTextRepresentationError),
    ("CREATE TABLE {all_types} (id integer)", (), "42P07", asyncpg.DuplicateTableError),
], ids=["syntax", "undefined_table", "undefined_column", "bad_integer", "duplicate_table"])
def test_error_sqlstate(oxbow_module, all_types, sql, args, sqlstate, error):
    async def body(conn):
        with pytest.raises(error) as e:
            await conn.fetch(sql.format(all_types=all_types), *args)
        assert e.value.sqlstate == sqlstate
        assert await conn.fetchval("SELECT $1::text", "usable") == "usable"
    run(oxbow_module, body)

"""psycopg2 (libpq, parameters interpolated on the client, text results) against Oxbow.

Every supported column type is written with a parameter and read back: the value, the Python
type psycopg2 gives, and the type oid in the RowDescription. Then metadata through the
catalogs tools query (information_schema, pg_catalog), COPY, server-side cursors, transactions
and SQLSTATEs. A test marked xfail(strict=True) is a known server gap; its reason says exactly
why, and it starts failing (XPASS) the day the gap is fixed.
"""

import io
import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import psycopg2
import psycopg2.errors
import psycopg2.extras
import pytest

TEXT = "héllo ✓ 'quoted' \\ back"
BYTES = b"\x00\x01\xfe\xff\\'"
TSTZ = datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=timezone(timedelta(hours=2)))
JSON = {"a": [1, 2], "b": "x"}

JSONB_AS_TEXT = ("Oxbow stores jsonb as text and describes the column as text (oid 25, not "
                 "jsonb 3802), so psycopg2 returns the JSON as a str instead of parsing it")

# name, SQL type, parameter, value read back, Python type read back
CASES = [
    ("boolean", "boolean", True, True, bool),
    ("smallint", "smallint", -32768, -32768, int),
    ("integer", "integer", 2147483647, 2147483647, int),
    ("bigint", "bigint", 9223372036854775807, 9223372036854775807, int),
    ("real", "real", 1.25, 1.25, float),
    ("double", "double precision", math.pi, math.pi, float),
    ("numeric", "numeric(12,3)", Decimal("-12345.678"), Decimal("-12345.678"), Decimal),
    ("text", "text", TEXT, TEXT, str),
    ("varchar", "varchar(20)", "varchar", "varchar", str),
    pytest.param("bytea", "bytea", psycopg2.Binary(BYTES), BYTES, memoryview, id="bytea"),
    ("date", "date", date(2024, 2, 29), date(2024, 2, 29), date),
    ("timestamp", "timestamp", datetime(2024, 1, 2, 3, 4, 5, 123456),
     datetime(2024, 1, 2, 3, 4, 5, 123456), datetime),
    ("timestamptz", "timestamptz", TSTZ, TSTZ, datetime),
    pytest.param("jsonb", "jsonb", psycopg2.extras.Json(JSON), JSON, dict, id="jsonb"),
]
CASE_NAMES = [c.values[0] if hasattr(c, "values") else c[0] for c in CASES]
CASE_TYPES = [c.values[1] if hasattr(c, "values") else c[1] for c in CASES]
# The type oid PostgreSQL puts in the RowDescription for each column.
OIDS = {"boolean": 16, "smallint": 21, "integer": 23, "bigint": 20, "real": 700, "double": 701,
        "numeric": 1700, "text": 25, "varchar": 1043, "bytea": 17, "date": 1082,
        "timestamp": 1114, "timestamptz": 1184, "jsonb": 3802}


@pytest.fixture(scope="module")
def conn(oxbow_module):
    c = psycopg2.connect(oxbow_module.dsn, connect_timeout=10)
    c.autocommit = True
    yield c
    c.close()


@pytest.fixture(scope="module")
def all_types(conn):
    """One table with a column of every supported type and an all-NULL row (id 0)."""
    import uuid
    table = f"p2_all_{uuid.uuid4().hex[:8]}"
    cols = ", ".join(f"v_{n} {t}" for n, t in zip(CASE_NAMES, CASE_TYPES))
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id integer, {cols})")
        cur.execute(f"INSERT INTO {table} (id) VALUES (%s)", (0,))
    return table


def test_connect_reports_a_postgresql_version(conn):
    assert conn.server_version >= 100000
    assert conn.get_parameter_status("client_encoding") == "UTF8"
    assert conn.get_parameter_status("integer_datetimes") == "on"
    assert conn.get_parameter_status("standard_conforming_strings") == "on"
    with conn.cursor() as cur:
        cur.execute("SELECT version()")
        assert cur.fetchone()[0].startswith("PostgreSQL ")


@pytest.mark.parametrize("name,sql_type,param,expected,py_type", CASES, ids=CASE_NAMES)
def test_type_round_trip(conn, all_types, name, sql_type, param, expected, py_type):
    row_id = CASE_NAMES.index(name) + 1
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO {all_types} (id, v_{name}) VALUES (%s, %s)", (row_id, param))
        assert cur.rowcount == 1
        cur.execute(f"SELECT v_{name} FROM {all_types} WHERE id = %s", (row_id,))
        (value,) = cur.fetchone()
        assert type(value) is py_type, f"{value!r} is a {type(value).__name__}"
        if isinstance(value, memoryview):
            value = bytes(value)
        assert value == expected
        if name == "timestamptz":
            assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        cur.execute(f"SELECT v_{name} FROM {all_types} WHERE id = 0")
        assert cur.fetchone() == (None,)


def test_row_description_type_oids(conn, all_types):
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM {all_types} WHERE id = 0")
        got = {d.name: d.type_code for d in cur.description}
    assert got == {"id": 23, **{f"v_{n}": OIDS[n] for n in CASE_NAMES}}


def test_row_description_numeric_precision_and_scale(conn, all_types):
    with conn.cursor() as cur:
        cur.execute(f"SELECT v_numeric FROM {all_types} WHERE id = 0")
        d = cur.description[0]
    assert (d.precision, d.scale) == (12, 3)


def test_row_description_type_sizes(conn, all_types):
    with conn.cursor() as cur:
        cur.execute(f"SELECT id, v_bigint, v_text, v_timestamp FROM {all_types} WHERE id = 0")
        assert [d.internal_size for d in cur.description] == [4, 8, -1, 8]


def test_show_server_version_is_a_postgresql_version(conn):
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        shown = cur.fetchone()[0]
    assert shown.split(".")[0].isdigit() and shown.split()[0] == \
        conn.get_parameter_status("server_version").split()[0]


def test_integer_literal_is_int4(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT 1, 2 + 3")
        assert [d.type_code for d in cur.description] == [23, 23]


def test_now_and_timestamptz_cast_are_timestamptz(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT now(), '2024-01-02 03:04:05+00'::timestamptz")
        now, cast = cur.fetchone()
    assert now.tzinfo is not None and cast.tzinfo is not None
    assert cast == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_result_column_names_follow_postgresql(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), 1 + 1, 'x', lower('A')")
        assert [d.name for d in cur.description] == ["count", "?column?", "?column?", "lower"]


def test_duplicate_output_column_names(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT 1 AS a, 2 AS a, NULL, NULL")
        assert cur.fetchone() == (1, 2, None, None)


def test_jsonb_rejects_invalid_json(conn, uniq):
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE p2_badjson_{uniq} (j jsonb)")
        with pytest.raises(psycopg2.errors.InvalidTextRepresentation):
            cur.execute(f"INSERT INTO p2_badjson_{uniq} VALUES (%s)", ("not json",))


def test_executemany_execute_values_and_execute_batch(conn, uniq):
    table = f"p2_many_{uniq}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id bigint, name text, score double precision)")
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s)",
                        [(i, f"m{i}", i / 2) for i in range(10)])
        assert cur.rowcount == 10
        psycopg2.extras.execute_values(cur, f"INSERT INTO {table} VALUES %s",
                                       [(i, f"v{i}", i / 2) for i in range(10, 110)])
        psycopg2.extras.execute_batch(cur, f"INSERT INTO {table} VALUES (%s, %s, %s)",
                                      [(i, f"b{i}", i / 2) for i in range(110, 130)])
        cur.execute(f"SELECT count(*), sum(id), min(name) FROM {table}")
        assert cur.fetchone() == (130, sum(range(130)), "b110")


def test_copy_in_and_out(conn, uniq):
    table = f"p2_copy_{uniq}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id integer, name text)")
        cur.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)",
                        io.StringIO('1,a\n2,"b, c"\n3,\n'))
        assert cur.rowcount == 3
        cur.copy_from(io.StringIO("4\td\n5\t\\N\n"), table, columns=("id", "name"))
        out = io.StringIO()
        cur.copy_expert(f"COPY (SELECT * FROM {table} ORDER BY id) TO STDOUT WITH (FORMAT csv)", out)
        assert out.getvalue() == '1,a\n2,"b, c"\n3,\n4,d\n5,\n'


def test_named_server_side_cursor_fetches_in_batches(oxbow_module, conn, uniq):
    table = f"p2_cursor_{uniq}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id bigint)")
        psycopg2.extras.execute_values(cur, f"INSERT INTO {table} VALUES %s", [(i,) for i in range(100)])
    with psycopg2.connect(oxbow_module.dsn) as c2:  # DECLARE needs a transaction block
        with c2.cursor(name="big") as named:
            named.itersize = 7
            named.execute(f"SELECT id FROM {table} ORDER BY id")
            assert [r[0] for r in named] == list(range(100))
    c2.close()


def test_transaction_commit(oxbow_module, conn, uniq):
    table = f"p2_tx_{uniq}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id integer)")
    c2 = psycopg2.connect(oxbow_module.dsn)
    with c2.cursor() as cur:  # autocommit off: psycopg2 sends BEGIN first
        cur.execute(f"INSERT INTO {table} VALUES (%s)", (1,))
        cur.execute(f"INSERT INTO {table} VALUES (%s)", (2,))
    c2.commit()
    c2.close()
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone() == (2,)


def test_rollback_discards_the_insert(oxbow_module, conn, uniq):
    table = f"p2_rb_{uniq}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {table} (id integer)")
    c2 = psycopg2.connect(oxbow_module.dsn)
    with c2.cursor() as cur:
        cur.execute(f"INSERT INTO {table} VALUES (%s)", (1,))
    c2.rollback()
    c2.close()
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone() == (0,)


def test_statement_after_an_error_in_a_block_is_25p02(oxbow_module):
    c2 = psycopg2.connect(oxbow_module.dsn)
    try:
        with c2.cursor() as cur:
            with pytest.raises(psycopg2.errors.SyntaxError):
                cur.execute("SELEC 1")
            with pytest.raises(psycopg2.errors.InFailedSqlTransaction):
                cur.execute("SELECT 1")
        c2.rollback()
        with c2.cursor() as cur:
            cur.execute("SELECT 'ok'")
            assert cur.fetchone() == ("ok",)
    finally:
        c2.close()


@pytest.mark.parametrize("sql,params,sqlstate,error", [
    ("SELEC 1", None, "42601", psycopg2.errors.SyntaxError),
    ("SELECT * FROM p2_missing WHERE id = %s", (1,), "42P01", psycopg2.errors.UndefinedTable),
    ("SELECT nope FROM {all_types}", None, "42703", psycopg2.errors.UndefinedColumn),
    ("CREATE TABLE {all_types} (id integer)", None, "42P07", psycopg2.errors.DuplicateTable),
    ("INSERT INTO {all_types} (id, v_integer) VALUES (%s, %s)", (99, "x1"), "22P02",
     psycopg2.errors.InvalidTextRepresentation),
    pytest.param("INSERT INTO {all_types} (id, v_numeric) VALUES (%s, %s)", (99, Decimal("1e12")),
                 "22003", psycopg2.errors.NumericValueOutOfRange, id="numeric_overflow"),
], ids=["syntax", "undefined_table", "undefined_column", "duplicate_table", "bad_integer",
        "numeric_overflow"])
def test_error_sqlstate(conn, all_types, sql, params, sqlstate, error):
    with conn.cursor() as cur:
        with pytest.raises(error) as e:
            cur.execute(sql.format(all_types=all_types), params)
        assert e.value.pgcode == sqlstate
        cur.execute("SELECT 'still usable'")
        assert cur.fetchone() == ("still usable",)


def test_not_null_violation_is_23502(conn, uniq):
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE p2_nn_{uniq} (id bigint NOT NULL)")
        with pytest.raises(psycopg2.errors.NotNullViolation):
            cur.execute(f"INSERT INTO p2_nn_{uniq} VALUES (%s)", (None,))


# --- metadata: the catalog queries tools send through psycopg2 ---

def test_list_tables_information_schema(conn, all_types):
    with conn.cursor() as cur:
        cur.execute("SELECT table_schema, table_type FROM information_schema.tables "
                    "WHERE table_name = %s", (all_types,))
        assert cur.fetchall() == [("public", "BASE TABLE")]


def test_list_tables_pg_catalog(conn, all_types):
    # what psql's \dt and most GUI tools run
    with conn.cursor() as cur:
        cur.execute("SELECT n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p') AND c.relname = %s", (all_types,))
        assert cur.fetchall() == [("public", all_types, "r")]


def test_list_columns_pg_catalog_format_type(conn, all_types):
    with conn.cursor() as cur:
        cur.execute("SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnum "
                    "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
                    "WHERE c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                    (all_types,))
        rows = cur.fetchall()
    types = {name: t for name, t, _ in rows}
    assert [num for _, _, num in rows] == list(range(1, len(CASES) + 2))
    assert types["v_boolean"] == "boolean" and types["v_bigint"] == "bigint"
    assert types["v_double"] == "double precision" and types["v_bytea"] == "bytea"
    assert types["v_timestamp"] == "timestamp without time zone"
    assert types["v_timestamptz"] == "timestamp with time zone"
    assert types["v_numeric"].startswith("numeric")


def test_list_columns_pg_catalog_type_modifiers(conn, all_types):
    with conn.cursor() as cur:
        cur.execute("SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
                    "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
                    "WHERE c.relname = %s AND a.attname IN ('v_numeric', 'v_varchar', 'v_jsonb') "
                    "ORDER BY a.attnum", (all_types,))
        assert cur.fetchall() == [("v_numeric", "numeric(12,3)"),
                                  ("v_varchar", "character varying(20)"), ("v_jsonb", "jsonb")]


def test_list_columns_information_schema_data_types(conn, all_types):
    with conn.cursor() as cur:
        cur.execute("SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = %s ORDER BY ordinal_position", (all_types,))
        got = dict(cur.fetchall())
    assert got["id"] == "integer" and got["v_text"] == "text" and got["v_numeric"] == "numeric"
    assert got["v_varchar"] == "character varying" and got["v_jsonb"] == "jsonb"
    assert got["v_timestamptz"] == "timestamp with time zone"


def test_list_columns_information_schema_ordinal_position(conn, all_types):
    with conn.cursor() as cur:
        cur.execute("SELECT min(ordinal_position), max(ordinal_position) FROM "
                    "information_schema.columns WHERE table_name = %s", (all_types,))
        assert cur.fetchone() == (1, len(CASES) + 1)


@pytest.mark.parametrize("sql", [
    pytest.param("SELECT current_setting('server_version_num')::int >= 100000", id="current_setting"),
    pytest.param("SELECT pg_typeof(1)::text IS NOT NULL", id="pg_typeof"),
    pytest.param("SELECT pg_get_viewdef('pg_catalog.pg_tables'::regclass) IS NOT NULL",
                 id="pg_get_viewdef"),
    pytest.param("DISCARD ALL", id="discard_all"),
    pytest.param("SELECT '{\"a\": 1}'::jsonb IS NOT NULL AND '[1]'::json IS NOT NULL", id="jsonb_cast"),
    pytest.param("SELECT 3.141592653589793::float = 3.141592653589793::double precision",
                 id="float_cast_is_double"),
    pytest.param("SELECT true = 't'", id="bool_eq_untyped_literal"),
])
def test_statements_clients_send(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        if cur.description:
            assert cur.fetchone()[0] in (True, 1)


def test_timestamptz_output_follows_set_time_zone(oxbow_module, all_types):
    c2 = psycopg2.connect(oxbow_module.dsn)
    c2.autocommit = True
    try:
        with c2.cursor() as cur:
            cur.execute("SET TIME ZONE 'Europe/Paris'")
            cur.execute("SHOW TimeZone")
            assert cur.fetchone() == ("Europe/Paris",)
            row_id = CASE_NAMES.index("timestamptz") + 1
            cur.execute(f"INSERT INTO {all_types} (id, v_timestamptz) VALUES (%s, %s)", (100 + row_id, TSTZ))
            cur.execute(f"SELECT v_timestamptz FROM {all_types} WHERE id = %s", (100 + row_id,))
            value = cur.fetchone()[0]
        assert value == TSTZ and value.utcoffset() == timedelta(hours=1)
    finally:
        c2.close()

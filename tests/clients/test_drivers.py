"""Python drivers over the extended protocol: parameters, errors with SQLSTATE."""

import psycopg
import pytest


def test_psycopg_binds_parameters_server_side(oxbow):
    with psycopg.connect(oxbow.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE p (id bigint, name text, score double precision)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO p VALUES (%s, %s, %s)",
                            [(i, f"n{i}", i / 4) for i in range(10)])
            cur.execute("SELECT name, score FROM p WHERE id > %s AND name <> %s ORDER BY id",
                        (6, "n8"))
            assert cur.fetchall() == [("n7", 1.75), ("n9", 2.25)]
            cur.execute("SELECT count(*) FROM p WHERE id = %s", (3,), prepare=True)
            assert cur.fetchone() == (1,)


def test_psycopg_sees_sqlstate_and_keeps_the_connection(oxbow):
    with psycopg.connect(oxbow.dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.SyntaxError) as e:
            conn.execute("SELEC 1")
        assert e.value.sqlstate == "42601"
        with pytest.raises(psycopg.errors.UndefinedTable) as e:
            conn.execute("SELECT * FROM nothing_here")
        assert e.value.sqlstate == "42P01"
        assert conn.execute("SELECT 1 + %s", (1,)).fetchone() == (2,)


def test_psycopg_in_a_transaction_block(oxbow):
    with psycopg.connect(oxbow.dsn) as conn:
        conn.execute("CREATE TABLE tx (id int)")
        conn.execute("INSERT INTO tx VALUES (%s)", (1,))
        conn.commit()
        assert conn.execute("SELECT count(*) FROM tx").fetchone() == (1,)

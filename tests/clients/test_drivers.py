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


def test_psycopg_transaction_holds_inserts_and_copy_until_commit(oxbow):
    """A block's INSERT and COPY rows are seen by its own session only, written at COMMIT,
    and dropped by ROLLBACK (also when the connection goes away without a COMMIT)."""
    with psycopg.connect(oxbow.dsn, autocommit=True) as other:
        other.execute("CREATE TABLE held (id int, name text)")
        with psycopg.connect(oxbow.dsn) as conn:
            conn.execute("INSERT INTO held VALUES (%s, %s)", (1, "a"))
            with conn.cursor().copy("COPY held FROM STDIN") as copy:
                copy.write_row((2, "b"))
            assert conn.execute("SELECT count(*) FROM held").fetchone() == (2,)
            assert other.execute("SELECT count(*) FROM held").fetchone() == (0,)
            conn.commit()
            assert other.execute("SELECT count(*) FROM held").fetchone() == (2,)
            conn.execute("INSERT INTO held VALUES (3, 'c')")
            conn.rollback()
            assert conn.execute("SELECT count(*) FROM held").fetchone() == (2,)
            conn.execute("INSERT INTO held VALUES (4, 'd')")
        # Leaving the `with` commits in psycopg 3; a connection closed without it does not.
        assert other.execute("SELECT max(id) FROM held").fetchone() == (4,)
        lost = psycopg.connect(oxbow.dsn)
        lost.execute("INSERT INTO held VALUES (5, 'e')")
        lost.close()
        assert other.execute("SELECT count(*) FROM held WHERE id = 5").fetchone() == (0,)


def test_psycopg_nested_transaction_rolls_back_to_its_savepoint(oxbow):
    with psycopg.connect(oxbow.dsn) as conn:
        conn.execute("CREATE TABLE nested (id int)")
        conn.commit()
        with conn.transaction():
            conn.execute("INSERT INTO nested VALUES (1)")
            with pytest.raises(ZeroDivisionError):
                with conn.transaction():  # SAVEPOINT ... ROLLBACK TO SAVEPOINT
                    conn.execute("INSERT INTO nested VALUES (2)")
                    1 / 0
            conn.execute("INSERT INTO nested VALUES (3)")
        assert conn.execute("SELECT id FROM nested ORDER BY id").fetchall() == [(1,), (3,)]


def test_psycopg_rollback_warns_when_an_update_already_committed(oxbow):
    with psycopg.connect(oxbow.dsn) as conn:
        notices = []
        conn.add_notice_handler(lambda d: notices.append((d.severity, d.sqlstate)))
        conn.execute("CREATE TABLE warned (id int)")
        conn.commit()
        conn.execute("INSERT INTO warned VALUES (1)")
        conn.execute("UPDATE warned SET id = 2")
        conn.rollback()
        assert notices == [("WARNING", "01000")]
        assert conn.execute("SELECT id FROM warned").fetchall() == [(2,)]

"""Server-side cursors as drivers use them: psycopg's named cursors (text and binary) and
DECLARE / FETCH / MOVE / CLOSE typed by hand.

psycopg declares the cursor, describes its portal, then reads each `FETCH` against that
description; a description that did not match the rows crashed psycopg's C implementation
(and its binary cursors once read text as binary numbers)."""

import datetime

import psycopg
import pytest

ROWS = 5000


def _table(conn):
    conn.execute(
        "CREATE TABLE cur_t (id int, name varchar(20), score double precision, at timestamp)"
    )
    conn.execute(
        "INSERT INTO cur_t SELECT g, 'n' || g, g / 4.0, "
        "TIMESTAMP '2024-01-01 00:00:00' + CAST(g || ' seconds' AS interval) "
        "FROM generate_series(1, %d) AS s(g)" % ROWS
    )


def _expected(i):
    return (i, f"n{i}", i / 4, datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=i))


@pytest.mark.parametrize("binary", [False, True])
def test_psycopg_named_cursor_reads_every_row_in_batches(oxbow, binary):
    with psycopg.connect(oxbow.dsn, autocommit=True) as conn:
        _table(conn)
    with psycopg.connect(oxbow.dsn) as conn:
        with conn.cursor(name="big", binary=binary) as cur:
            cur.itersize = 700  # several FETCHes, most ending inside a batch
            cur.execute("SELECT id, name, score, at FROM cur_t ORDER BY id")
            names = [c.name for c in cur.description]
            assert names == ["id", "name", "score", "at"]
            assert [c.type_code for c in cur.description] == [23, 1043, 701, 1114]
            rows = list(cur)
        assert rows == [_expected(i) for i in range(1, ROWS + 1)]
        # The connection is still usable, and the cursor is gone after the block.
        assert conn.execute("SELECT count(*) FROM cur_t").fetchone() == (ROWS,)


def test_psycopg_named_cursor_fetchmany_and_scroll_forward(oxbow):
    with psycopg.connect(oxbow.dsn, autocommit=True) as conn:
        _table(conn)
    with psycopg.connect(oxbow.dsn) as conn:
        with conn.cursor(name="part") as cur:
            cur.execute("SELECT id FROM cur_t WHERE id <= 10 ORDER BY id")
            assert cur.fetchmany(3) == [(1,), (2,), (3,)]
            cur.scroll(2)  # MOVE FORWARD 2
            assert cur.fetchone() == (6,)
            assert cur.fetchall() == [(7,), (8,), (9,), (10,)]
            assert cur.fetchone() is None


def test_declare_fetch_move_close_by_hand(oxbow):
    with psycopg.connect(oxbow.dsn, autocommit=True) as conn:
        _table(conn)
    with psycopg.connect(oxbow.dsn) as conn:
        conn.execute("DECLARE C CURSOR FOR SELECT id, name AS label FROM cur_t ORDER BY id")
        cur = conn.execute("FETCH 2 FROM c")  # unquoted names fold to lower case
        assert [d.name for d in cur.description] == ["id", "label"]
        assert cur.fetchall() == [(1, "n1"), (2, "n2")]
        assert cur.statusmessage == "FETCH 2"
        assert conn.execute("MOVE 10 IN c").statusmessage == "MOVE 10"
        assert conn.execute("FETCH NEXT FROM c").fetchall() == [(13, "n13")]
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState) as e:
            conn.execute("FETCH BACKWARD 1 FROM c")
        assert e.value.sqlstate == "55000"
        conn.rollback()
        conn.execute("DECLARE d CURSOR FOR SELECT 1 AS one")
        with pytest.raises(psycopg.errors.DuplicateCursor):
            conn.execute("DECLARE d CURSOR FOR SELECT 2")
        conn.rollback()
        conn.execute("DECLARE e CURSOR FOR SELECT id FROM cur_t")
        assert conn.execute("CLOSE e").statusmessage == "CLOSE CURSOR"
        with pytest.raises(psycopg.errors.InvalidCursorName) as e:
            conn.execute("FETCH 1 FROM e")
        assert e.value.sqlstate == "34000"

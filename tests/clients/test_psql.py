"""psql, as a new user would drive it: the README session, restart, \\copy, the meta-commands
and tab completion."""

import os
import re

import pytest


def test_readme_session_prints_the_row_and_survives_a_restart(oxbow):
    out = oxbow.psql("-c", "CREATE TABLE t (id bigint, name text, ts timestamptz); "
                     "INSERT INTO t VALUES (1,'a',now()); SELECT * FROM t").stdout
    assert re.search(r"^\s*1 \| a\s+\| \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", out, re.M), out
    oxbow.restart()
    out = oxbow.psql("-At", "-c", "SELECT id, name FROM t").stdout
    assert out.strip() == "1|a"


def test_copy_a_million_rows_from_a_csv_file(oxbow, tmp_path):
    csv = tmp_path / "big.csv"
    with open(csv, "w") as f:
        for i in range(1_000_000):
            f.write(f"{i},name{i % 1000},2024-01-01 00:00:{i % 60:02d}+00\n")
    oxbow.psql("-c", "CREATE TABLE big (id bigint NOT NULL, name text, ts timestamptz)")
    out = oxbow.psql("-c", f"\\copy big FROM '{csv}' CSV").stdout
    assert "COPY 1000000" in out, out
    out = oxbow.psql("-At", "-c", "SELECT count(*), count(DISTINCT id), max(id) FROM big").stdout
    assert out.strip() == "1000000|1000000|999999"


def test_a_bad_value_rejects_the_whole_copy_with_22p02_and_its_line(oxbow, tmp_path):
    csv = tmp_path / "bad.csv"
    lines = [f"{i},ok" for i in range(10_000)]
    lines[8_999] = "not-a-number,bad"  # line 9,000 of the file
    csv.write_text("\n".join(lines) + "\n")
    oxbow.psql("-c", "CREATE TABLE c (id bigint, name text)")
    oxbow.psql("-c", "INSERT INTO c VALUES (-1, 'before')")
    result = oxbow.psql("-v", "VERBOSITY=verbose", "-c", f"\\copy c FROM '{csv}' CSV", check=False)
    assert result.returncode != 0
    assert "22P02" in result.stderr, result.stderr
    assert "line 9000" in result.stderr, result.stderr
    assert "not-a-number" in result.stderr, result.stderr
    out = oxbow.psql("-At", "-c", "SELECT count(*) FROM c").stdout
    assert out.strip() == "1", "the failed COPY must not change the table"


def test_copy_with_header_and_copy_out_round_trip(oxbow, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,name\n1,one\n2,\"two, quoted\"\n3,\n")
    oxbow.psql("-c", "CREATE TABLE r (id int, name text)")
    assert "COPY 3" in oxbow.psql("-c", f"\\copy r FROM '{src}' WITH (FORMAT csv, HEADER)").stdout
    dst = tmp_path / "out.csv"
    oxbow.psql("-c", f"\\copy (SELECT * FROM r ORDER BY id) TO '{dst}' CSV")
    assert dst.read_text() == "1,one\n2,\"two, quoted\"\n3,\n"


def test_copy_out_writes_timestamps_as_postgresql_does(oxbow, tmp_path):
    oxbow.psql("-c", "CREATE TABLE stamps (a timestamp, b timestamptz)")
    oxbow.psql("-c", "INSERT INTO stamps VALUES ('2024-01-02 03:04:05.5', '2024-01-02 03:04:05+02'), "
               "('2024-01-02 03:04:05', '2024-01-02 03:04:05.123456+00')")
    dst = tmp_path / "stamps.csv"
    oxbow.psql("-c", f"\\copy (SELECT * FROM stamps ORDER BY a DESC) TO '{dst}' CSV")
    assert dst.read_text() == ("2024-01-02 03:04:05.5,2024-01-02 01:04:05+00\n"
                               "2024-01-02 03:04:05,2024-01-02 03:04:05.123456+00\n")


def test_an_error_leaves_the_session_usable(oxbow):
    result = oxbow.psql("-v", "ON_ERROR_STOP=0", "-c", "SELEC 1", "-c", "SELECT 41 + 1", check=False)
    assert "42" in result.stdout
    assert "syntax error" in result.stderr


def test_describe_shows_columns_types_nullability_and_key(oxbow):
    oxbow.psql("-c", "CREATE TABLE described (id bigint PRIMARY KEY, name varchar(20) NOT NULL, "
               "amount numeric(12,3), doc jsonb, at timestamptz)")
    out = oxbow.psql("-c", "\\d described").stdout
    rows = {line.split("|")[0].strip(): [c.strip() for c in line.split("|")[1:]]
            for line in out.splitlines() if line.count("|") >= 3}
    assert rows["id"][:3] == ["bigint", "", "not null"], out
    assert rows["name"][:3] == ["character varying(20)", "", "not null"], out
    assert rows["amount"][:3] == ["numeric(12,3)", "", ""], out
    assert rows["doc"][0] == "jsonb" and rows["at"][0] == "timestamp with time zone", out
    assert '"described_pkey" PRIMARY KEY, btree (id)' in out, out


def test_list_tables_shows_user_tables_only(oxbow):
    oxbow.psql("-c", "CREATE TABLE listed_a (x int); CREATE VIEW listed_v AS SELECT x FROM listed_a")
    out = oxbow.psql("-c", "\\dt").stdout
    assert re.search(r"^\s*public\s*\|\s*listed_a\s*\|\s*table", out, re.M), out
    assert "pg_class" not in out and "listed_v" not in out and "oxbow" not in out.split("Owner")[-1], out


def test_meta_commands_answer_with_postgresql_columns(oxbow):
    oxbow.psql("-c", "CREATE SCHEMA meta_s; CREATE TABLE meta_s.m (x int); "
               "CREATE VIEW meta_view AS SELECT 1 AS one")
    header = lambda out: [c.strip() for c in out.splitlines()[1].split("|")]  # noqa: E731
    # Each answers with PostgreSQL 15's psql columns, and lists what it should.
    out = oxbow.psql("-c", "\\l").stdout
    assert header(out)[:3] == ["Name", "Owner", "Encoding"] and "oxbow" in out, out
    out = oxbow.psql("-c", "\\dn").stdout
    assert header(out) == ["Name", "Owner"] and "meta_s" in out and "public" in out, out
    out = oxbow.psql("-c", "\\dv").stdout
    assert header(out) == ["Schema", "Name", "Type", "Owner"], out
    assert re.search(r"^\s*public\s*\|\s*meta_view\s*\|\s*view", out, re.M), out
    out = oxbow.psql("-c", "\\dt meta_s.*").stdout
    assert re.search(r"^\s*meta_s\s*\|\s*m\s*\|\s*table", out, re.M), out
    result = oxbow.psql("-c", "\\df", check=False)
    assert result.returncode == 0, result.stderr
    assert header(result.stdout)[:3] == ["Schema", "Name", "Result data type"], result.stdout


def test_plus_meta_commands_answer_with_postgresql_columns(oxbow):
    """psql 15's verbose meta-commands: the columns PostgreSQL's psql prints, with sizes that
    are the table's (hot rows and Delta files), not 0."""
    oxbow.psql("-c", "CREATE TABLE plus_t (id bigint PRIMARY KEY, name text); "
               "INSERT INTO plus_t SELECT value, 'row ' || value FROM generate_series(1, 500); "
               "CREATE VIEW plus_v AS SELECT id FROM plus_t")
    header = lambda out: [c.strip() for c in out.splitlines()[1].split("|")]  # noqa: E731
    out = oxbow.psql("-c", "\\dt+ plus_t").stdout
    assert header(out) == ["Schema", "Name", "Type", "Owner", "Persistence", "Access method",
                           "Size", "Description"], out
    row = next(line for line in out.splitlines() if "plus_t" in line)
    size = row.split("|")[6].strip()
    assert re.fullmatch(r"\d+ (bytes|kB)", size) and size != "0 bytes", out
    out = oxbow.psql("-c", "\\dv+ plus_v").stdout
    assert header(out) == ["Schema", "Name", "Type", "Owner", "Persistence", "Size",
                           "Description"], out
    assert re.search(r"plus_v\s*\|\s*view\s*\|.*\|\s*0 bytes\s*\|", out), out
    out = oxbow.psql("-c", "\\l+").stdout
    assert header(out) == ["Name", "Owner", "Encoding", "Collate", "Ctype", "ICU Locale",
                           "Locale Provider", "Access privileges", "Size", "Tablespace",
                           "Description"], out
    out = oxbow.psql("-c", "\\d+ plus_t").stdout
    assert header(out) == ["Column", "Type", "Collation", "Nullable", "Default", "Storage",
                           "Compression", "Stats target", "Description"], out
    assert '"plus_t_pkey" PRIMARY KEY, btree (id)' in out, out
    oxbow.psql("-c", "CREATE SCHEMA plus_s; CREATE ROLE plus_reader; "
               "GRANT USAGE ON SCHEMA plus_s TO plus_reader")
    out = oxbow.psql("-c", "\\dn+").stdout
    assert header(out) == ["Name", "Owner", "Access privileges", "Description"], out
    assert re.search(r"^\s*plus_s\s*\|.*\|\s*plus_reader=U/oxbow\s*\|", out, re.M), out
    out = oxbow.psql("-c", "\\df+ abs").stdout
    assert header(out) == ["Schema", "Name", "Result data type", "Argument data types", "Type",
                           "Volatility", "Parallel", "Owner", "Security", "Access privileges",
                           "Language", "Source code", "Description"], out
    assert re.search(r"^\s*pg_catalog\s*\|\s*abs\s*\|\s*bigint", out, re.M), out
    oxbow.psql("-c", "GRANT SELECT, INSERT ON plus_t TO plus_reader")
    out = oxbow.psql("-c", "\\dp plus_t").stdout
    assert header(out) == ["Schema", "Name", "Type", "Access privileges", "Column privileges",
                           "Policies"], out
    assert re.search(r"plus_t\s*\|\s*table\s*\|\s*plus_reader=ar/oxbow\s*\|", out), out
    out = oxbow.psql("-c", "\\x", "-c", "SELECT 1 AS a, 2 AS b").stdout
    assert "-[ RECORD 1 ]" in out and re.search(r"^b\s*\|\s*2$", out, re.M), out


def test_du_lists_roles_with_their_memberships(oxbow):
    """psql's \\du reads pg_roles and pg_auth_members (its "Member of" column, an
    ARRAY(SELECT ...) constructor; a role in no other role shows {})."""
    oxbow.psql("-c", "CREATE ROLE du_readers; CREATE ROLE du_alice LOGIN; "
               "GRANT du_readers TO du_alice")
    out = oxbow.psql("-c", "\\du").stdout
    header = [c.strip() for c in out.splitlines()[1].split("|")]
    assert header[:2] == ["Role name", "Attributes"], out
    row = next(line for line in out.splitlines() if line.strip().startswith("du_alice"))
    assert "{du_readers}" in row, out
    readers = next(line for line in out.splitlines() if line.strip().startswith("du_readers"))
    assert "Cannot login" in readers, out
    assert "{}" in readers, out


def test_tab_completion_completes_tables_columns_and_schemas(oxbow):
    """psql's readline completion, typed into a real terminal: each <TAB> sends psql's own
    catalog query, and a query that errors completes nothing."""
    import pexpect

    oxbow.psql("-c", "CREATE TABLE completion_target (completion_col int); "
               "CREATE SCHEMA completion_schema")
    child = pexpect.spawn("psql", ["-X", "-h", "127.0.0.1", "-p", str(oxbow.port), "-U",
                                   "anyone", "oxbow"], encoding="utf-8", timeout=10,
                          env=dict(os.environ, TERM="dumb", PAGER="cat"))
    try:
        child.expect("oxbow=# ")
        child.send("SELECT * FROM completion_t\t")
        child.expect("completion_target")
        child.send(" WHERE completion_c\t")
        child.expect("completion_col")
        child.send("\x03")  # Ctrl-C: drop the line
        child.expect("oxbow=# ")
        child.send("SET search_path TO completion_s\t")
        child.expect("completion_schema")
        child.send("\x03")
        child.expect("oxbow=# ")
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)

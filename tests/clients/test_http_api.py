"""The HTTP API end to end with outside clients: urllib for requests, pyarrow for Arrow IPC,
DuckDB for Parquet, prometheus-client's parser for /metrics, psycopg to set up and to read the
system tables the metrics must agree with.

Covers: HTTP Basic against the roles' passwords and their privileges (401/403 with JSON
errors), trust on loopback, /v1/sql in every format and both methods, parameters, errors with
SQLSTATE and status, statement_timeout while computing, the memory limit, streaming (the first
row arrives long before a huge result could have been gathered), the Obsrv endpoint's
realtime / datalake routing, and /metrics against oxbow.tables and oxbow.sources."""

import base64
import io
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.ipc
import pytest
from prometheus_client.parser import text_string_to_metric_families

PASSWORD = "http-superuser-pw"


def request(server, path, body=None, headers=None, method=None, auth=None, timeout=60):
    """(status, headers, body bytes) of one request."""
    url = f"http://127.0.0.1:{server.http_port}{path}"
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        hdrs.setdefault("Content-Type", "application/json")
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        hdrs["Authorization"] = f"Basic {token}"
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def sql(server, query, auth=None, **fields):
    status, headers, body = request(server, "/v1/sql", {"query": query, **fields}, auth=auth)
    return status, headers, body


def error_of(body):
    err = json.loads(body)["error"]
    return err["code"], err["message"]


def admin(server):
    return psycopg.connect(host="127.0.0.1", port=server.port, user="oxbow", dbname="oxbow",
                           password=PASSWORD, autocommit=True)


def test_every_endpoint_but_health_needs_a_role_and_its_privileges(make_oxbow):
    server = make_oxbow(env={"OXBOW_PASSWORD": PASSWORD})
    with admin(server) as conn:
        conn.execute("CREATE TABLE granted (id bigint, name text)")
        conn.execute("CREATE TABLE secret (id bigint)")
        conn.execute("INSERT INTO granted VALUES (1, 'visible')")
        conn.execute("INSERT INTO secret VALUES (2)")
        conn.execute("CREATE ROLE alice LOGIN PASSWORD 'alice-pw'")
        conn.execute("CREATE ROLE nologin PASSWORD 'x'")
        conn.execute("GRANT SELECT ON TABLE granted TO alice")
        conn.execute("CREATE TABLE pushed (id bigint)")
        conn.execute("CREATE SOURCE web FROM HTTP () FORMAT JSON INTO pushed")

    status, _, body = request(server, "/health")
    assert (status, body) == (200, b"ok")

    for path, body in [("/v1/sql", {"query": "SELECT 1"}), ("/metrics", None),
                       ("/data/v1/sql-query", {"querySql": {"query": "SELECT 1"}}),
                       ("/v1/sources/web", b'{"id": 1}')]:
        status, headers, answer = request(server, path, body)
        assert status == 401, (path, answer)
        assert headers["WWW-Authenticate"].startswith("Basic")
        assert error_of(answer)[0] == "28000"

    wrong = sql(server, "SELECT 1", auth=("alice", "nope"))
    unknown = sql(server, "SELECT 1", auth=("mallory", "nope"))
    no_login = sql(server, "SELECT 1", auth=("nologin", "x"))
    for status, _, answer in (wrong, unknown, no_login):
        assert status == 401
        assert error_of(answer)[0] == "28P01"
    assert "alice" in error_of(wrong[2])[1]

    status, _, body = sql(server, "SELECT name FROM granted", auth=("alice", "alice-pw"))
    assert status == 200, body
    assert json.loads(body) == [{"name": "visible"}]
    status, _, body = sql(server, "SELECT * FROM secret", auth=("alice", "alice-pw"))
    assert status == 403
    assert error_of(body) == ("42501", "permission denied for table secret")
    status, _, body = sql(server, "SELECT * FROM granted JOIN secret USING (id)",
                          auth=("alice", "alice-pw"))
    assert status == 403
    status, _, body = sql(server, "SELECT count(*) AS n FROM secret", auth=("oxbow", PASSWORD))
    assert (status, json.loads(body)) == (200, [{"n": 1}])

    # Push needs INSERT on the source's table.
    status, _, body = request(server, "/v1/sources/web", b'{"id": 1}\n',
                              {"Content-Type": "application/x-ndjson"}, auth=("alice", "alice-pw"))
    assert status == 403, body
    assert error_of(body)[0] == "42501"
    with admin(server) as conn:
        conn.execute("GRANT INSERT ON pushed TO alice")
    status, _, body = request(server, "/v1/sources/web", b'{"id": 1}\n',
                              {"Content-Type": "application/x-ndjson"}, auth=("alice", "alice-pw"))
    assert status == 200, body
    assert json.loads(body)["accepted"] == 1
    # REVOKE holds from the next request.
    with admin(server) as conn:
        conn.execute("REVOKE SELECT ON granted FROM alice")
    status, _, body = sql(server, "SELECT * FROM granted", auth=("alice", "alice-pw"))
    assert status == 403

    status, _, body = request(server, "/metrics", auth=("alice", "alice-pw"))
    assert status == 200
    assert b"oxbow_table_hot_rows" in body


def test_trust_on_loopback_lets_anyone_in_and_a_role_name_gets_its_rights(oxbow):
    oxbow.psql("-c", "CREATE TABLE t (id bigint); INSERT INTO t VALUES (1), (2);"
               "CREATE ROLE bob LOGIN; CREATE ROLE ghost")
    status, _, body = sql(oxbow, "SELECT count(*) AS n FROM t")
    assert (status, json.loads(body)) == (200, [{"n": 2}])
    status, _, body = sql(oxbow, "SELECT count(*) AS n FROM t", auth=("bob", "anything"))
    assert status == 403 and error_of(body)[0] == "42501"
    status, _, body = sql(oxbow, "SELECT 1", auth=("ghost", ""))
    assert status == 401 and error_of(body)[0] == "28000"


def test_results_in_every_format(oxbow):
    oxbow.psql("-c", "CREATE TABLE f (id bigint, name text, amount double precision);"
               "INSERT INTO f VALUES (1, 'a,b', 1.5), (2, NULL, 2.5), (3, 'c', NULL)")
    query = "SELECT id, name, amount FROM f ORDER BY id"
    expected = [{"id": 1, "name": "a,b", "amount": 1.5}, {"id": 2, "name": None, "amount": 2.5},
                {"id": 3, "name": "c", "amount": None}]

    status, headers, body = sql(oxbow, query)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == expected

    status, headers, body = sql(oxbow, query, format="jsonl")
    assert headers["Content-Type"] == "application/x-ndjson"
    assert [json.loads(line) for line in body.decode().splitlines()] == expected

    status, headers, body = sql(oxbow, query, format="csv")
    assert headers["Content-Type"].startswith("text/csv")
    assert body.decode() == 'id,name,amount\n1,"a,b",1.5\n2,,2.5\n3,c,\n'

    status, headers, body = sql(oxbow, query, format="arrow")
    assert headers["Content-Type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(body).read_all()
    assert table.column_names == ["id", "name", "amount"]
    assert table.to_pylist() == expected

    status, headers, body = sql(oxbow, query, format="parquet")
    assert status == 200 and headers["Content-Type"] == "application/vnd.apache.parquet"
    path = oxbow.data_dir.parent / "result.parquet"
    path.write_bytes(body)
    rows = duckdb.sql(f"SELECT id, name, amount FROM '{path}' ORDER BY id").fetchall()
    assert rows == [(1, "a,b", 1.5), (2, None, 2.5), (3, "c", None)]

    # GET with ?q= and ?format=, the Accept header, a text body, parameters.
    q = urllib.parse.quote(query)
    status, _, body = request(oxbow, f"/v1/sql?q={q}&format=csv")
    assert status == 200 and body.decode().startswith("id,name,amount\n1,")
    status, headers, body = request(oxbow, f"/v1/sql?q={q}", headers={"Accept": "application/x-ndjson"})
    assert headers["Content-Type"] == "application/x-ndjson" and len(body.splitlines()) == 3
    status, _, body = request(oxbow, "/v1/sql", query.encode(), {"Content-Type": "text/plain"})
    assert json.loads(body) == expected
    status, _, body = sql(oxbow, "SELECT name FROM f WHERE id = $1 OR name = $2 ORDER BY id",
                          params=[1, "c"])
    assert (status, json.loads(body)) == (200, [{"name": "a,b"}, {"name": "c"}])
    status, _, body = sql(oxbow, "SELECT id FROM f WHERE false")
    assert (status, json.loads(body)) == (200, [])
    status, _, body = sql(oxbow, "EXPLAIN SELECT * FROM f")
    assert status == 200 and "plan" in json.loads(body)[0]


def test_errors_carry_sqlstate_and_status(make_oxbow):
    server = make_oxbow(extra_args=["--query-memory-mb", "8"])
    cases = [("SELEC 1", 400, "42601"), ("SELECT * FROM missing", 400, "42P01"),
             ("SELECT 1; SELECT 2", 400, "42601"), ("DROP TABLE x", 400, "0A000"),
             ("CREATE TABLE x (a int)", 400, "0A000"), ("SELECT 1/0", 400, "22012")]
    for query, status, code in cases:
        got, _, body = sql(server, query)
        assert (got, error_of(body)[0]) == (status, code), (query, body)
    got, _, body = sql(server, "SELECT 1", format="xml")
    assert got == 400 and "format" in error_of(body)[1]

    started = time.time()
    got, _, body = sql(server, "SELECT count(*) FROM generate_series(1, 100000) a "
                       "CROSS JOIN generate_series(1, 100000) b", statement_timeout="1s")
    assert time.time() - started < 5
    assert (got, error_of(body)) == (408, ("57014", "canceling statement due to statement timeout"))

    got, headers, body = sql(server, "SELECT count(*) FROM generate_series(1, 3000000) a "
                             "JOIN generate_series(1, 3000000) b ON a.value = b.value")
    assert (got, error_of(body)[0]) == (503, "53200"), body
    got, _, body = sql(server, "SELECT count(*) AS n FROM generate_series(1, 1000)")
    assert (got, json.loads(body)) == (200, [{"n": 1000}])


def test_results_stream_and_a_client_that_leaves_stops_the_query(oxbow):
    """2 billion rows cannot be gathered before the first one is sent: the first line must
    come in seconds. After the client hangs up the server answers at once."""
    body = json.dumps({"query": "SELECT * FROM generate_series(1, 2000000000) AS g(n)",
                       "format": "jsonl"}).encode()
    sock = socket.create_connection(("127.0.0.1", oxbow.http_port), timeout=30)
    started = time.time()
    sock.sendall(b"POST /v1/sql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    received = b""
    while b'{"n":1}' not in received:
        chunk = sock.recv(65536)
        assert chunk, received[:500]
        received += chunk
    assert time.time() - started < 15
    assert b"200 OK" in received.split(b"\r\n")[0]
    assert b"transfer-encoding: chunked" in received.lower()
    sock.close()
    started = time.time()
    status, _, answer = sql(oxbow, "SELECT 41 + 1 AS n")
    assert (status, json.loads(answer)) == (200, [{"n": 42}])
    assert time.time() - started < 10


def test_obsrv_query_routes_realtime_to_hot_and_datalake_to_delta(oxbow):
    oxbow.psql("-c", "CREATE TABLE events (id bigint, kind text)"
               " WITH (flush_interval = '1h', flush_rows = 1000000);"
               "INSERT INTO events VALUES (1, 'a'), (2, 'a'), (3, 'b');")
    oxbow.psql("-c", "FLUSH TABLE events")
    oxbow.psql("-c", "INSERT INTO events VALUES (4, 'b'), (5, 'c')")

    def query(source_type, q="SELECT count(*) AS n FROM events"):
        context = {"dataSource": "events", "granularity": "day"}
        if source_type:
            context["dataSourceType"] = source_type
        return request(oxbow, "/data/v1/sql-query", {"context": context, "querySql": {"query": q}})

    counts = {}
    for kind in ("realtime", "datalake", None):
        status, _, body = query(kind)
        assert status == 200, body
        answer = json.loads(body)
        assert answer["id"] == "api.obsrv.data.sql-query"
        assert answer["params"]["status"] == "SUCCESS" and answer["responseCode"] == "OK"
        counts[kind] = answer["result"][0]["n"]
    assert counts == {"realtime": 2, "datalake": 3, None: 5}
    status, _, body = query("realtime", "SELECT id FROM events ORDER BY id")
    assert [r["id"] for r in json.loads(body)["result"]] == [4, 5]

    status, _, body = query("druid")
    assert status == 400 and error_of(body)[0] == "22023"
    status, _, body = request(oxbow, "/data/v1/sql-query", {
        "context": {"dataSource": "nope", "dataSourceType": "realtime"},
        "querySql": {"query": "SELECT 1"}})
    assert status == 404 and error_of(body)[0] == "42P01"


def test_metrics_parse_and_match_the_system_tables(oxbow):
    oxbow.psql("-c", "CREATE TABLE m (id bigint); INSERT INTO m VALUES (1), (2), (3);"
               "CREATE SOURCE gen FROM DATAGEN (rows_per_second = '5000', max_rows = '700', seed = '3')"
               " FORMAT JSON INTO gen_events;"
               "CREATE SOURCE web FROM HTTP () FORMAT JSON INTO web_events"
               " WITH (schema_mode = 'strict');")
    status, _, body = request(oxbow, "/v1/sources/web", b'{"id": 1}\n{"id": 2}\n',
                              {"Content-Type": "application/x-ndjson"})
    assert status == 200, body
    deadline = time.time() + 60
    while oxbow.psql("-At", "-c", "SELECT status FROM oxbow.sources WHERE source_name = 'gen'"
                     ).stdout.strip() != "finished":
        assert time.time() < deadline, "the datagen source did not finish"
        time.sleep(0.2)
    sql(oxbow, "SELECT 1")  # one recorded query at least

    status, headers, body = request(oxbow, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))

    def value(name, **labels):
        found = [v for l, v in samples.get(name, []) if all(l.get(k) == x for k, x in labels.items())]
        assert len(found) == 1, (name, labels, samples.get(name))
        return found[0]

    tables = oxbow.psql("-At", "-F", "|", "-c", "SELECT schema_name, table_name, hot_rows, hot_bytes,"
                        " flushed_seq, delta_version, delta_files FROM oxbow.tables").stdout.split()
    assert len(tables) >= 3
    for line in tables:
        schema, table, hot_rows, hot_bytes, flushed, version, files = line.split("|")
        assert value("oxbow_table_hot_rows", schema=schema, table=table) == int(hot_rows)
        assert value("oxbow_table_hot_bytes", schema=schema, table=table) == int(hot_bytes)
        assert value("oxbow_table_flushed_seq", schema=schema, table=table) == int(flushed)
        assert value("oxbow_table_delta_version", schema=schema, table=table) == int(version)
        assert value("oxbow_table_delta_files", schema=schema, table=table) == int(files)
        assert value("oxbow_table_available", schema=schema, table=table) == 1
    assert value("oxbow_table_hot_rows", table="m") == 3

    sources = oxbow.psql("-At", "-F", "|", "-c", "SELECT source_name, rows_in, rows_rejected, bytes_in,"
                         " status FROM oxbow.sources ORDER BY 1").stdout.split()
    assert [line.split("|")[0] for line in sources] == ["gen", "web"]
    for line in sources:
        name, rows_in, rejected, bytes_in, state = line.split("|")
        assert value("oxbow_source_rows_in_total", source=name) == int(rows_in)
        assert value("oxbow_source_rows_rejected_total", source=name) == int(rejected)
        assert value("oxbow_source_bytes_in_total", source=name) == int(bytes_in)
        assert value("oxbow_source_up", source=name, state=state) == (1 if state == "running" else 0)
    assert value("oxbow_source_rows_in_total", source="gen") == 700
    assert value("oxbow_source_rows_in_total", source="web") == 2
    assert value("oxbow_queries_total", protocol="http", outcome="ok") >= 1
    assert value("oxbow_query_duration_seconds_count", protocol="http") >= 1
    assert any(l.get("path") == "/v1/sql" for l, _ in samples["oxbow_http_requests_total"])

"""Sources end to end with outside tools: a FILES source over S3 (moto, started here), objects
put with boto3 while it runs (across a restart and a kill -9); HTTP pushes with urllib; the landed rows read back from Delta
by the Python deltalake reader."""

import io
import json
import time
import urllib.request

import boto3
import deltalake
import pyarrow as pa
import pyarrow.parquet as pq

from test_s3 import s3  # noqa: F401 (the moto fixture)


def count(server, sql):
    return int(server.psql("-At", "-c", sql).stdout.strip())


def wait_count(server, sql, want, timeout=30):
    deadline = time.time() + timeout
    while True:
        n = count(server, sql)
        if n >= want or time.time() > deadline:
            return n
        time.sleep(0.2)


def ndjson(ids):
    return "".join(json.dumps({"id": i, "email": f"u{i}@x.io"}) + "\n" for i in ids).encode()


def test_a_files_source_reads_s3_objects_exactly_once(make_oxbow, s3):  # noqa: F811
    server = make_oxbow([], env=s3)
    client = boto3.client("s3", endpoint_url=s3["AWS_ENDPOINT"], aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
    client.create_bucket(Bucket="inbox")
    server.psql("-c", "CREATE TABLE events (id bigint NOT NULL, email text)")
    server.psql("-c", "CREATE SOURCE s3_json FROM FILES (path = 's3://inbox/clicks/', "
                "pattern = '*.ndjson', settle = '200ms', poll_interval = '100ms') FORMAT JSON INTO events")
    server.psql("-c", "CREATE SOURCE s3_parquet FROM FILES (path = 's3://inbox/clicks/', "
                "pattern = '*.parquet', settle = '200ms', poll_interval = '100ms') FORMAT PARQUET INTO events")
    client.put_object(Bucket="inbox", Key="clicks/a.ndjson", Body=ndjson(range(0, 1000)))
    client.put_object(Bucket="inbox", Key="clicks/b.ndjson", Body=ndjson(range(1000, 1500)))
    buf = io.BytesIO()
    pq.write_table(pa.table({"id": list(range(5000, 5300)),
                             "email": [f"p{i}@x.io" for i in range(5000, 5300)]}), buf)
    client.put_object(Bucket="inbox", Key="clicks/c.parquet", Body=buf.getvalue())
    assert wait_count(server, "SELECT count(*) FROM events", 1800) == 1800, server.log()
    server.restart()
    client.put_object(Bucket="inbox", Key="clicks/d.ndjson", Body=ndjson(range(2000, 2100)))
    assert wait_count(server, "SELECT count(*) FROM events", 1900) == 1900, server.log()
    time.sleep(0.5)
    assert count(server, "SELECT count(*) FROM events") == 1900
    # kill -9 while objects keep arriving: afterwards each is in the table exactly once.
    for f in range(5):
        client.put_object(Bucket="inbox", Key=f"clicks/e{f}.ndjson",
                          Body=ndjson(range(10_000 + f * 500, 10_000 + (f + 1) * 500)))
    time.sleep(0.4)
    server.proc.kill()
    server.proc.wait()
    server.start()
    assert wait_count(server, "SELECT count(*) FROM events", 4400) == 4400, server.log()
    time.sleep(0.5)
    assert count(server, "SELECT count(*) FROM events") == 4400
    assert count(server, "SELECT count(*) FROM (SELECT id FROM events GROUP BY id HAVING count(*) > 1)") == 0
    status = server.psql("-At", "-c", "SELECT status FROM oxbow.sources ORDER BY source_name").stdout.split()
    assert status == ["running", "running"], status


def post(server, name, body, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{server.http_port}/v1/sources/{name}",
                                     data=body, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_pushed_rows_reach_delta_and_other_readers_see_them(make_oxbow):
    server = make_oxbow()
    server.psql("-c", "CREATE SOURCE web FROM HTTP () FORMAT JSON INTO clicks WITH (time_column = 'ts')")
    rows = [{"id": i, "url": f"/p/{i % 7}", "ts": 1767225600 + i} for i in range(1000)]
    status, answer = post(server, "web", json.dumps(rows).encode(), {"Content-Type": "application/json"})
    assert status == 200 and answer["accepted"] == 1000, answer
    server.psql("-c", "FLUSH TABLE clicks")
    location = server.psql("-At", "-c", "SELECT location FROM oxbow.tables WHERE table_name = 'clicks'").stdout.strip()
    table = deltalake.DeltaTable(location).to_pyarrow_table()
    assert table.num_rows == 1000
    assert sorted(table.column("id").to_pylist()) == list(range(1000))
    assert str(table.schema.field("ts").type).startswith("timestamp[us")

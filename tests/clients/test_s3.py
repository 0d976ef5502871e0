"""The lakehouse tier on an S3-compatible object store (moto, started here on loopback)."""

import os
import shutil
import socket
import subprocess
import time

import boto3
import deltalake
import pytest

from conftest import free_port


@pytest.fixture
def s3():
    binary = shutil.which("moto_server")
    if binary is None:
        pytest.fail("moto_server is not installed (tests/run.sh installs it)")
    port = free_port()
    proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if time.time() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1", "AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true",
    }
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                 aws_secret_access_key="test", region_name="us-east-1").create_bucket(Bucket="lake")
    yield env
    proc.kill()
    proc.wait()


def test_tables_live_on_s3_and_survive_a_restart(make_oxbow, s3):
    server = make_oxbow(["--lake", "s3://lake/oxbow"], env=s3)
    server.psql("-c", "CREATE TABLE t (id bigint, name text); "
                "INSERT INTO t VALUES (1,'a'), (2,'b'); UPDATE t SET name = 'B' WHERE id = 2")
    server.restart()
    out = server.psql("-At", "-c", "SELECT id, name FROM t ORDER BY id").stdout.split()
    assert out == ["1|a", "2|B"]
    assert not (server.data_dir / "tables").exists(), "no table files on local disk"
    location = server.psql("-At", "-c", "SELECT location FROM oxbow.tables WHERE table_name = 't'").stdout.strip()
    assert location.startswith("s3://lake/oxbow/tables/"), location
    table = deltalake.DeltaTable(location, storage_options={
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3["AWS_ENDPOINT"], "AWS_ALLOW_HTTP": "true"})
    rows = sorted((r["id"], r["name"]) for r in table.to_pyarrow_table().to_pylist())
    assert rows == [(1, "a"), (2, "B")]
    server.psql("-c", "DROP TABLE t")
    server.psql("-c", "CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
    assert server.psql("-At", "-c", "SELECT * FROM t").stdout.strip() == "7"

"""Fixtures that start the real `oxbow` binary for client tests.

The binary is $OXBOW_BIN (set by tests/run.sh). Each test gets a fresh data directory and a
free loopback port; the server is killed afterwards. The driver tests (test_psycopg2.py,
test_asyncpg.py, test_sqlalchemy.py, test_jdbc.py, test_odbc.py, test_node.py) share one server
per module (`oxbow_module`) and use unique table names.

Checking the tests themselves against PostgreSQL: with OXBOW_TEST_PG_PORT=<port> set, the
module-scoped server is replaced by the PostgreSQL already listening on 127.0.0.1:<port> (user
`anyone`, database `oxbow`, trust auth) and every xfail marker is dropped, so the driver tests
must all pass there. A failure in that mode is a mistake in the test, not a gap in Oxbow:

    OXBOW_TEST_PG_PORT=5499 pytest tests/clients/test_psycopg2.py tests/clients/test_jdbc.py ...
"""

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REFERENCE_PG_PORT = os.environ.get("OXBOW_TEST_PG_PORT")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Oxbow:
    """A running oxbow process on `port` with its data in `data_dir`."""

    def __init__(self, data_dir: Path, extra_args=(), env=None):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.port = None
        self.http_port = None
        self.log_path = data_dir.parent / "oxbow.log"
        self.start()

    def start(self):
        """Starts oxbow on kernel-chosen ports (`:0`), read back from its --ready-file: a port
        chosen here and bound there could be taken by another process in between."""
        ready = self.data_dir.parent / "oxbow.ready"
        for _ in range(3):
            ready.unlink(missing_ok=True)
            log = open(self.log_path, "ab")
            http = [] if "--http-listen" in self.extra_args else [
                "--http-listen", "127.0.0.1:0"]
            self.proc = subprocess.Popen(
                [os.environ["OXBOW_BIN"], "serve", "--pg-listen", "127.0.0.1:0",
                 "--data-dir", str(self.data_dir), "--ready-file", str(ready),
                 *http, *self.extra_args],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=self.env)
            deadline = time.time() + 60
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                if ready.exists():
                    ports = dict(line.split("=", 1) for line in ready.read_text().split())
                    self.port = int(ports["pg"].rsplit(":", 1)[1])
                    if "http" in ports:
                        self.http_port = int(ports["http"].rsplit(":", 1)[1])
                    return
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                raise RuntimeError("oxbow did not start:\n" + self.log())
        raise RuntimeError("oxbow failed to start:\n" + self.log())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def restart(self):
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=anyone dbname=oxbow"

    def psql(self, *args, input=None, check=True):
        """Runs psql against the server and returns the completed process."""
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        result = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "anyone", "-d", "oxbow",
             "-X", "-v", "ON_ERROR_STOP=1", *args],
            input=input, capture_output=True, text=True, env=env, timeout=600)
        if check and result.returncode != 0:
            raise AssertionError(f"psql failed ({result.returncode}):\n{result.stderr}\n{self.log()}")
        return result


@pytest.fixture
def oxbow(tmp_path):
    server = Oxbow(tmp_path / "data")
    yield server
    server.stop()


class ReferencePostgres:
    """A PostgreSQL server that is already running (see OXBOW_TEST_PG_PORT above)."""

    def __init__(self, port: int):
        self.port = port
        self.data_dir = None

    def log(self) -> str:
        return "(reference PostgreSQL: no Oxbow log)"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=anyone dbname=oxbow"


@pytest.fixture(scope="module")
def oxbow_module(tmp_path_factory):
    """One server for the whole test module; tests in it use unique table names."""
    if REFERENCE_PG_PORT:
        yield ReferencePostgres(int(REFERENCE_PG_PORT))
        return
    server = Oxbow(tmp_path_factory.mktemp("oxbow") / "data")
    yield server
    server.stop()


@pytest.fixture
def uniq():
    """A fresh lowercase name suffix, so tables never collide (also across reference runs)."""
    return uuid.uuid4().hex[:8]


def pytest_collection_modifyitems(config, items):
    if REFERENCE_PG_PORT:
        for item in items:
            item.own_markers = [m for m in item.own_markers if m.name != "xfail"]


@pytest.fixture
def make_oxbow(tmp_path):
    """Starts servers with extra flags or environment (for S3)."""
    servers = []

    def make(extra_args=(), env=None, name="data"):
        server = Oxbow(tmp_path / name, extra_args, env)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()

#!/usr/bin/env python3
"""Records what real clients send, as seeds for the TCP fuzzer (tests/wire_fuzz.rs).

Starts the oxbow binary ($OXBOW_BIN) on a fresh data directory under trust, puts a recording
proxy in front of it, and runs real client sessions through the proxy: psql (simple queries,
\\copy, \\d), psycopg 3 (extended protocol with parameters, COPY, a transaction, a prepared
statement run many times) and pgJDBC (tests/clients/jdbc/OxbowJdbc.java: every type, batches,
a fetch-size cursor, metadata). Each connection's client-to-server bytes become one file
`<client>-<n>.bin` beside this script (whole messages, at most MAX_BYTES), which the fuzzer
splits into messages and mutates. Every client runs with a timeout, so a client that hangs
costs its seconds and is reported, not the whole run.

    OXBOW_BIN=target/debug/oxbow ~/.cache/oxbow/venv/bin/python tests/sqllogictest/fuzz-seeds/record.py

The recordings are committed: rerun this when the clients or the protocol change.
"""

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
JAR = "/usr/share/java/postgresql.jar"
MAX_BYTES = 16 * 1024
CLIENT_TIMEOUT = 120


def start_oxbow(work: Path):
    ready = work / "ready"
    log = open(work / "oxbow.log", "wb")
    proc = subprocess.Popen(
        [os.environ["OXBOW_BIN"], "serve", "--pg-listen", "127.0.0.1:0", "--http-listen", "off",
         "--data-dir", str(work / "data"), "--ready-file", str(ready)],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        if ready.exists():
            ports = dict(line.split("=", 1) for line in ready.read_text().split())
            return proc, int(ports["pg"].rsplit(":", 1)[1])
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    sys.exit("oxbow did not start:\n" + (work / "oxbow.log").read_text(errors="replace"))


class Proxy:
    """Accepts on a free port, forwards each connection to the server, keeps the bytes each
    client sent, by connection, under the name of the client now running."""

    def __init__(self, upstream: int):
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.client = "none"
        self.sessions = []  # (client, bytearray)
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self.upstream))
            sent = bytearray()
            with self.lock:
                self.sessions.append((self.client, sent))
            threading.Thread(target=self.pump, args=(down, up, sent), daemon=True).start()
            threading.Thread(target=self.pump, args=(up, down, None), daemon=True).start()

    @staticmethod
    def pump(src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record is not None:
                    record.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def whole_messages(data: bytes) -> bytes:
    """The longest prefix of `data`, at most MAX_BYTES, that ends at a message boundary: the
    untyped startup-phase messages (SSLRequest, startup) until a startup packet, then typed
    ones."""
    at, typed, end = 0, False, 0
    while at < len(data):
        if typed:
            if at + 5 > len(data):
                break
            length = struct.unpack(">i", data[at + 1:at + 5])[0]
            size = 1 + length
        else:
            if at + 8 > len(data):
                break
            length, code = struct.unpack(">ii", data[at:at + 8])
            size = length
            typed = code == 196608
        if size < 4 or at + size > len(data) or at + size > MAX_BYTES:
            break
        at += size
        end = at
    return data[:end]


def has_startup_and_query(data: bytes) -> bool:
    at, typed, startup, query = 0, False, False, False
    while at + 5 <= len(data):
        if typed:
            query |= data[at:at + 1] in (b"Q", b"P")
            at += 1 + struct.unpack(">i", data[at + 1:at + 5])[0]
        else:
            length, code = struct.unpack(">ii", data[at:at + 8])
            typed = startup = code == 196608
            at += length
    return startup and query


def run(name: str, proxy: Proxy, command, env=None):
    proxy.client = name
    started = time.time()
    try:
        result = subprocess.run(command, capture_output=True, timeout=CLIENT_TIMEOUT, env=env,
                                text=True)
        status = f"exit {result.returncode}"
        if result.returncode != 0:
            status += ": " + (result.stderr or result.stdout)[-400:]
    except subprocess.TimeoutExpired:
        status = f"TIMED OUT after {CLIENT_TIMEOUT} s"
    print(f"{name}: {status} ({time.time() - started:.1f} s)")
    time.sleep(0.5)  # the last bytes reach the proxy


PSYCOPG = r"""
import sys, psycopg
with psycopg.connect(f"host=127.0.0.1 port={sys.argv[1]} user=fuzz dbname=oxbow sslmode=disable") as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS py_seed (id bigint, name text, at timestamp, v double precision)")
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO py_seed VALUES (%s, %s, now(), %s)", [(i, f"n{i}", i / 3) for i in range(20)])
        cur.execute("SELECT id, name, v FROM py_seed WHERE id > %s ORDER BY id LIMIT %s", (3, 5))
        cur.fetchall()
        cur.execute("SELECT %s::text, %s::int, %s::numeric, %s::bool", ("x", 7, "1.5", True), binary=True)
        cur.fetchall()
        with cur.copy("COPY py_seed (id, name) FROM STDIN") as copy:
            for i in range(5):
                copy.write_row((100 + i, f"c{i}"))
        with cur.copy("COPY (SELECT id, name FROM py_seed ORDER BY id LIMIT 3) TO STDOUT") as copy:
            for _ in copy.rows():
                pass
    with conn.transaction():
        conn.execute("INSERT INTO py_seed VALUES (%s, %s, now(), 0)", (999, "tx"))
    try:
        conn.execute("SELECT * FROM missing_table")
    except psycopg.Error:
        conn.rollback()
    for i in range(3):
        conn.execute("SELECT count(*) FROM py_seed WHERE id < %s", (i,), prepare=True).fetchone()
"""


def main():
    if "OXBOW_BIN" not in os.environ:
        sys.exit("set OXBOW_BIN to the oxbow binary")
    for old in HERE.glob("*.bin"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server, port = start_oxbow(work)
        try:
            proxy = Proxy(port)
            dsn = f"host=127.0.0.1 port={proxy.port} user=fuzz dbname=oxbow sslmode=disable"
            csv = work / "rows.csv"
            csv.write_text("".join(f"{i},name {i}\n" for i in range(50)))
            run("psql", proxy, [
                "psql", dsn, "-v", "ON_ERROR_STOP=0",
                "-c", "CREATE TABLE IF NOT EXISTS psql_seed (id bigint, name text)",
                "-c", f"\\copy psql_seed FROM '{csv}' WITH (FORMAT csv)",
                "-c", "SELECT count(*), max(name) FROM psql_seed",
                "-c", "\\d psql_seed",
                "-c", "\\dt",
                "-c", "SELECT 1/0",
                "-c", "BEGIN; INSERT INTO psql_seed VALUES (1, 'a'); COMMIT;",
            ])
            python = os.environ.get("PYTHON", sys.executable)
            run("psycopg", proxy, [python, "-c", PSYCOPG, str(proxy.port)])
            if shutil.which("javac") and os.path.exists(JAR):
                classes = work / "jdbc"
                subprocess.run(["javac", "-d", str(classes), "-cp", JAR,
                                str(ROOT / "tests/clients/jdbc/OxbowJdbc.java")],
                               check=True, capture_output=True, timeout=CLIENT_TIMEOUT)
                run("jdbc", proxy, ["java", "-cp", f"{JAR}:{classes}", "OxbowJdbc",
                                    str(proxy.port), "jdbc_seed"])
            else:
                print("jdbc: skipped (javac or the pgJDBC jar missing)")
        finally:
            server.terminate()
            server.wait(30)
        counts = {}
        with proxy.lock:
            sessions = list(proxy.sessions)
        for client, sent in sessions:
            data = whole_messages(bytes(sent))
            if not has_startup_and_query(data):
                continue  # a CancelRequest, or a connection closed before its first query
            counts[client] = counts.get(client, 0) + 1
            (HERE / f"{client}-{counts[client]}.bin").write_bytes(data)
        print("recorded:", ", ".join(f"{c} {n}" for c, n in sorted(counts.items())) or "nothing")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PostgreSQL compatibility, measured: the corpus in tests/pgcompat/corpus/ run against a real
PostgreSQL 15 and a real Oxbow, statement by statement, with the share of statements whose
answers match per area.

Each corpus file is one area (booleans, joins, dates, ...): statements written for this suite,
each ending with `;` at the end of a line, run in order on one fresh connection per server with
`TimeZone = 'UTC'`. A statement PostgreSQL refuses is not counted (it is there to show that
Oxbow refuses it too, or it is a mistake in the corpus). A statement PostgreSQL answers counts
as matched when Oxbow gives the same answer: for a query, the same number of columns and the
same rows as PostgreSQL's text output (in order when the statement has ORDER BY, as multisets
otherwise; float8/float4 columns within a relative 1e-12), for any other statement the same
command tag (`INSERT 0 3`). Everything else is a difference, listed with both answers.

    tests/pgcompat/compare.py [--out tests/pgcompat/RESULTS.md]

starts both servers itself (PostgreSQL from Debian's postgresql package with initdb in a temp
dir; Oxbow from $OXBOW_BIN), each on a free loopback port, and stops them at the end.
tests/clients/test_pg_compat.py runs the same comparison in the suite and fails when an area
matches fewer statements than tests/pgcompat/baseline.json records.
"""

import argparse
import glob
import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import psycopg.adapt

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
BASELINE = HERE / "baseline.json"
FLOAT_OIDS = {700, 701}


# ---------------------------------------------------------------------------------------------
# The corpus

def statements(path):
    """The statements of one corpus file: `--` comment lines dropped, split at a `;` that ends a line."""
    out, current = [], []
    for line in Path(path).read_text().splitlines():
        if line.lstrip().startswith("--") or not line.strip():
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    if current:
        out.append("\n".join(current))
    return out


def areas():
    return {Path(p).stem: statements(p) for p in sorted(glob.glob(str(CORPUS / "*.sql")))}


# ---------------------------------------------------------------------------------------------
# Running statements

class RawText(psycopg.adapt.Loader):
    """Every value as the server's text, so that answers compare as PostgreSQL prints them."""

    def load(self, data):
        return bytes(data).decode()


def connect(dsn):
    conn = psycopg.connect(dsn, autocommit=True, connect_timeout=30)
    for t in psycopg.postgres.types:
        conn.adapters.register_loader(t.oid, RawText)
        if t.array_oid:
            conn.adapters.register_loader(t.array_oid, RawText)
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def run(conn, sql):
    """One statement's answer: ("rows", float columns, rows) | ("status", tag) | ("error", sqlstate, message)."""
    try:
        cur = conn.execute(sql)
    except psycopg.Error as e:
        return ("error", e.sqlstate, (e.diag.message_primary or str(e)).strip())
    if cur.description is None:
        return ("status", cur.statusmessage)
    floats = [d.type_code in FLOAT_OIDS for d in cur.description]
    return ("rows", floats, [tuple(row) for row in cur.fetchall()])


def same_value(a, b, is_float):
    if a == b:
        return True
    if is_float and a is not None and b is not None:
        try:
            x, y = float(a), float(b)
        except ValueError:
            return False
        return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12)
    return False


def same_rows(pg_rows, ox_rows, floats, ordered):
    if len(pg_rows) != len(ox_rows):
        return False
    if not ordered:
        key = lambda row: tuple("" if v is None else v for v in row)  # noqa: E731
        pg_rows, ox_rows = sorted(pg_rows, key=key), sorted(ox_rows, key=key)
    for p, o in zip(pg_rows, ox_rows):
        if len(p) != len(o) or not all(same_value(a, b, f) for a, b, f in zip(p, o, floats)):
            return False
    return True


def matches(sql, pg, ox):
    if pg[0] != ox[0]:
        return False
    if pg[0] == "status":
        return pg[1] == ox[1]
    _, floats, pg_rows = pg
    _, _, ox_rows = ox
    if pg_rows and ox_rows and len(pg_rows[0]) != len(ox_rows[0]):
        return False
    return same_rows(pg_rows, ox_rows, floats, "order by" in sql.lower())


def show(answer, limit=6):
    if answer[0] == "error":
        return f"ERROR {answer[1]}: {answer[2]}"
    if answer[0] == "status":
        return answer[1]
    rows = answer[2]
    text = "; ".join("(" + ", ".join("NULL" if v is None else repr(v) for v in row) + ")" for row in rows[:limit])
    return f"{len(rows)} row(s): {text}" + (" ..." if len(rows) > limit else "")


def compare(pg_dsn, oxbow_dsn):
    """Per area: {"answered", "matched", "refused_by_pg", "differences": [(sql, pg, oxbow)]}."""
    report = {}
    for area, stmts in areas().items():
        entry = {"statements": len(stmts), "answered": 0, "matched": 0, "refused_by_pg": 0, "differences": [],
                 "refused": []}
        with connect(pg_dsn) as pg, connect(oxbow_dsn) as ox:
            for sql in stmts:
                a, b = run(pg, sql), run(ox, sql)
                if a[0] == "error":
                    entry["refused_by_pg"] += 1
                    entry["refused"].append((sql, a[2]))
                    continue
                entry["answered"] += 1
                if matches(sql, a, b):
                    entry["matched"] += 1
                else:
                    entry["differences"].append((sql, show(a), show(b)))
        report[area] = entry
    return report


# ---------------------------------------------------------------------------------------------
# Servers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, what, log):
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{Path(log).read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


class Postgres:
    """A PostgreSQL server from Debian's package, in a temp dir, on a free port (as `postgres` when root)."""

    def __init__(self):
        initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not initdbs:
            raise RuntimeError("no PostgreSQL server installed (Debian package postgresql)")
        self.bin = Path(initdbs[-1]).parent
        self.dir = tempfile.mkdtemp(prefix="oxbow-pgcompat-pg.")
        self.port = free_port()
        self.root = os.geteuid() == 0
        if self.root:
            shutil.chown(self.dir, "postgres", "postgres")
        data, log = f"{self.dir}/data", f"{self.dir}/log.txt"
        self._as_owner([str(self.bin / "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--locale=C.UTF-8"])
        with open(f"{data}/postgresql.conf", "a") as f:
            f.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.dir}'\n"
                    "fsync = off\n")
        self._as_owner([str(self.bin / "pg_ctl"), "-D", data, "-l", log, "-w", "start"])
        self.dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        self.version = psycopg.connect(self.dsn).execute("SHOW server_version").fetchone()[0]

    def _as_owner(self, argv):
        if self.root:
            argv = ["su", "postgres", "-c", " ".join(f"'{a}'" for a in argv)]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        try:
            self._as_owner([str(self.bin / "pg_ctl"), "-D", f"{self.dir}/data", "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Oxbow:
    """The real oxbow binary ($OXBOW_BIN) on kernel-chosen ports (read back from its
    --ready-file) with a fresh data dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="oxbow-pgcompat-ox.")
        log = f"{self.dir}/oxbow.log"
        ready = Path(self.dir) / "oxbow.ready"
        self.proc = subprocess.Popen(
            [os.environ["OXBOW_BIN"], "serve", "--pg-listen", "127.0.0.1:0", "--data-dir",
             f"{self.dir}/data", "--http-listen", "127.0.0.1:0", "--ready-file", str(ready)],
            stdout=open(log, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not ready.exists():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"oxbow did not start:\n{Path(log).read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        ports = dict(line.split("=", 1) for line in ready.read_text().split())
        self.port = int(ports["pg"].rsplit(":", 1)[1])
        self.dsn = f"host=127.0.0.1 port={self.port} user=oxbow dbname=oxbow"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Report

def summary(report):
    answered = sum(e["answered"] for e in report.values())
    matched = sum(e["matched"] for e in report.values())
    return answered, matched


def markdown(report, pg_version, commit):
    answered, matched = summary(report)
    lines = [
        "# PostgreSQL compatibility: the share of statements that get PostgreSQL's answer",
        "",
        f"Written by `tests/pgcompat/compare.py` (git {commit}): the corpus in `tests/pgcompat/corpus/` run against "
        f"PostgreSQL {pg_version} and Oxbow, each statement on both, answers compared as text (see the script's "
        "docstring for the rules). Statements PostgreSQL refuses are not counted.",
        "",
        "| area | statements | answered by PostgreSQL | same answer from Oxbow | share |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for area, e in report.items():
        share = e["matched"] / e["answered"] if e["answered"] else 1
        lines.append(f"| {area} | {e['statements']} | {e['answered']} | {e['matched']} | {share:.0%} |")
    lines.append(f"| **all** | {sum(e['statements'] for e in report.values())} | {answered} | {matched} | "
                 f"**{matched / answered:.0%}** |")
    lines += ["", "## Differences", ""]
    for area, e in report.items():
        if not e["differences"]:
            continue
        lines += [f"### {area}", ""]
        for sql, pg, ox in e["differences"]:
            one_line = " ".join(sql.split())
            lines += [f"- `{one_line}`", f"  - PostgreSQL: {pg}", f"  - Oxbow: {ox}"]
        lines.append("")
    return "\n".join(lines) + "\n"


def git_commit():
    r = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    parser.add_argument("--write-baseline", action="store_true",
                        help="also record each area's matched count in tests/pgcompat/baseline.json")
    args = parser.parse_args()
    pg = Postgres()
    try:
        ox = Oxbow()
        try:
            report = compare(pg.dsn, ox.dsn)
        finally:
            ox.stop()
    finally:
        pg.stop()
    Path(args.out).write_text(markdown(report, pg.version, git_commit()))
    if args.write_baseline:
        BASELINE.write_text(json.dumps({a: e["matched"] for a, e in report.items()}, indent=1) + "\n")
    answered, matched = summary(report)
    for area, e in report.items():
        print(f"{area:14} {e['matched']:3} of {e['answered']:3}")
    print(f"all            {matched} of {answered} ({matched / answered:.0%}); wrote {args.out}")


if __name__ == "__main__":
    main()

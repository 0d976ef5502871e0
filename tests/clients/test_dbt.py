"""dbt (dbt-core 1.9 with the dbt-postgres adapter) runs a small project against Oxbow.

The project in tests/clients/dbt/ exercises what dbt does to a PostgreSQL database: it creates
a schema, loads seeds (CREATE TABLE, INSERT with bind parameters), builds a view and a table
(CREATE TABLE AS inside a transaction, then ALTER ... RENAME and DROP of the backup), an
incremental model (a second run inserts only the new days), introspects with pg_catalog and
information_schema, and runs schema and singular tests. The results are then checked with
psycopg against figures computed here from the seed CSV files, not against dbt's word.
"""

import csv
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

PROJECT = Path(__file__).parent / "dbt"
SCHEMA = "analytics"


def dbt_bin() -> str:
    found = shutil.which("dbt")
    if not found:
        pytest.fail("dbt is not installed (tests/run.sh installs dbt-postgres into its venv)")
    return found


def run_dbt(project: Path, oxbow, *args):
    env = dict(os.environ, DBT_PROFILES_DIR=str(project), DO_NOT_TRACK="1",
               DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    result = subprocess.run([dbt_bin(), *args, "--no-use-colors"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"dbt {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-6000:]}\n{result.stderr[-2000:]}\n"
                             f"--- oxbow log\n{oxbow.log()[-4000:]}")
    return result.stdout


@pytest.fixture
def project(tmp_path, oxbow):
    copy = tmp_path / "dbt"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("target", "logs"))
    (copy / "profiles.yml").write_text(f"""
oxbow:
  target: dev
  outputs:
    dev:
      type: postgres
      host: 127.0.0.1
      port: {oxbow.port}
      user: dbt
      password: ""
      dbname: oxbow
      schema: {SCHEMA}
      threads: 2
      connect_timeout: 10
""")
    return copy


def seed_rows(name):
    with open(PROJECT / "seeds" / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


# `dbt run` replaces a relation by creating `<name>__dbt_tmp` and renaming it (ALTER TABLE /
# ALTER VIEW ... RENAME TO); the incremental model's second run builds a temporary table
# (CREATE TEMPORARY TABLE ... AS) and inserts from it.
def test_dbt_seed_run_test_and_incremental(project, oxbow):
    run_dbt(project, oxbow, "seed")
    out = run_dbt(project, oxbow, "run")
    assert "Completed successfully" in out, out
    out = run_dbt(project, oxbow, "test")
    assert "Completed successfully" in out, out

    orders = seed_rows("raw_orders")
    customers = seed_rows("raw_customers")
    expected = {}
    for c in customers:
        mine = [o for o in orders if o["customer_id"] == c["customer_id"]]
        revenue = sum((Decimal(o["amount"]) for o in mine if o["status"] != "returned"),
                      Decimal("0"))
        expected[int(c["customer_id"])] = (c["name"], c["country"], len(mine), revenue)

    with psycopg.connect(f"host=127.0.0.1 port={oxbow.port} user=check dbname=oxbow",
                         autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT customer_id, name, country, orders, revenue "
            f"FROM {SCHEMA}.customer_revenue ORDER BY customer_id").fetchall()
        got = {int(r[0]): (r[1], r[2], int(r[3]), Decimal(r[4])) for r in rows}
        assert got == expected

        kinds = dict(conn.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = %s", (SCHEMA,)).fetchall())
        assert kinds.get("stg_orders") == "VIEW", kinds
        assert kinds.get("customer_revenue") == "BASE TABLE", kinds
        assert kinds.get("daily_orders") == "BASE TABLE", kinds
        # dbt's backup and temporary relations are gone.
        assert not [k for k in kinds if "__dbt" in k], kinds

        days = conn.execute(f"SELECT count(*), sum(orders) FROM {SCHEMA}.daily_orders").fetchone()
        assert (int(days[0]), int(days[1])) == (3, len(orders))

        # New orders on a new day: the incremental model's second run adds only that day.
        conn.execute(f"INSERT INTO {SCHEMA}.raw_orders VALUES "
                     f"(7, 12, 'placed', 3.50, '2026-11-04 09:00:00'), "
                     f"(8, 10, 'placed', 6.50, '2026-11-04 10:00:00')")
    run_dbt(project, oxbow, "run", "--select", "daily_orders")
    with psycopg.connect(f"host=127.0.0.1 port={oxbow.port} user=check dbname=oxbow",
                         autocommit=True) as conn:
        days = conn.execute(
            f"SELECT day, orders, amount FROM {SCHEMA}.daily_orders ORDER BY day").fetchall()
        assert len(days) == 4, days
        assert int(days[-1][1]) == 2 and Decimal(days[-1][2]) == Decimal("10.00"), days
        assert sum(int(d[1]) for d in days) == len(orders) + 2

    # A full rebuild replaces the tables again (rename to a backup, rename the new one in,
    # drop the backup): the same figures, no leftovers.
    run_dbt(project, oxbow, "run", "--full-refresh")
    with psycopg.connect(f"host=127.0.0.1 port={oxbow.port} user=check dbname=oxbow",
                         autocommit=True) as conn:
        days = conn.execute(f"SELECT count(*), sum(orders) FROM {SCHEMA}.daily_orders").fetchone()
        assert (int(days[0]), int(days[1])) == (4, len(orders) + 2)
        names = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (SCHEMA,)).fetchall()]
        assert not [n for n in names if "__dbt" in n], names


def test_dbt_docs_generate_reads_the_catalog(project, oxbow):
    """`dbt docs generate` runs dbt-postgres's catalog query (pg_class, pg_attribute,
    pg_is_other_temp_schema, ...) and writes every model's columns to target/catalog.json."""
    import json

    run_dbt(project, oxbow, "seed")
    run_dbt(project, oxbow, "run")
    run_dbt(project, oxbow, "docs", "generate")
    catalog = json.loads((project / "target" / "catalog.json").read_text())
    nodes = {key.split(".")[-1]: node for key, node in catalog["nodes"].items()}
    for model in ("stg_orders", "customer_revenue", "daily_orders"):
        assert model in nodes, sorted(nodes)
    columns = {c.lower() for c in nodes["customer_revenue"]["columns"]}
    assert {"customer_id", "name", "country", "orders", "revenue"} <= columns, columns
    assert nodes["stg_orders"]["metadata"]["type"].upper() == "VIEW", nodes["stg_orders"]["metadata"]

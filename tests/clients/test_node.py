"""node-postgres (`pg`, from npm) against Oxbow.

tests/clients/node/smoke.js runs once per module with NODE_PATH pointing at the `pg` that
tests/run.sh installs into $OXBOW_CACHE/node; it writes and reads every supported type with
$n parameters, checks the type oids, named prepared statements, transactions, metadata through
information_schema and the `code` (SQLSTATE) of errors. Each of its checks is one test here.
"""

import os
import shutil
import uuid
from pathlib import Path

import pytest

from client_checks import assert_check, params, run_checks

SCRIPT = Path(__file__).parent / "node" / "smoke.js"
NODE_MODULES = os.environ.get("OXBOW_NODE_MODULES") or os.path.join(
    os.environ.get("OXBOW_CACHE") or os.path.expanduser("~/.cache/oxbow"), "node", "node_modules")

TYPES = ["boolean", "smallint", "integer", "bigint", "real", "double", "numeric", "text",
         "varchar", "bytea", "date", "timestamp", "timestamptz", "jsonb"]
CHECKS = ["connect", "create_table", *[f"type_{t}" for t in TYPES], "row_description_type_oids",
          "integer_literal_is_int4", "named_prepared_statement",
          "row_mode_array_and_multi_statement", "transaction", "list_tables_information_schema",
          "list_columns_information_schema", "error_code_syntax", "error_code_undefined_table",
          "error_code_undefined_column", "error_code_bad_parameter_value"]

XFAIL = {
}


@pytest.fixture(scope="module")
def node_results(oxbow_module):
    if not shutil.which("node") or not os.path.exists(os.path.join(NODE_MODULES, "pg")):
        pytest.fail(f"node or the pg module in {NODE_MODULES} missing (tests/run.sh installs them)")
    env = dict(os.environ, NODE_PATH=NODE_MODULES, TZ="UTC")
    return run_checks(["node", str(SCRIPT), str(oxbow_module.port), f"node_{uuid.uuid4().hex[:8]}"],
                      env=env)


def test_every_check_ran(node_results):
    results, output = node_results
    assert sorted(results) == sorted(CHECKS), output


@pytest.mark.parametrize("check", params(CHECKS, XFAIL))
def test_node(node_results, check):
    assert_check(*node_results, check)

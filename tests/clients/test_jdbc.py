"""pgJDBC (Debian's libpostgresql-jdbc-java) against Oxbow.

tests/clients/jdbc/OxbowJdbc.java is compiled with javac and run once per module with
`java -cp /usr/share/java/postgresql.jar`; it connects, writes every supported type with a
PreparedStatement, batch-inserts, reads through a fetch-size cursor, reads every type back
(value, getObject class, column type name), lists tables, columns and keys through
DatabaseMetaData and checks getSQLState() of errors. Each of its checks is one test here. The
JVM runs in America/New_York so that pgJDBC's time zone handling is exercised off UTC.
"""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from client_checks import assert_check, params, run_checks

JAR = "/usr/share/java/postgresql.jar"
SOURCE = Path(__file__).parent / "jdbc" / "OxbowJdbc.java"

CHECKS = [
    "connect", "create_table", "prepared_insert_every_type", "prepared_insert_nulls",
    "prepared_insert_legacy_setters", "select_every_type",
    "read_boolean", "read_smallint", "read_integer", "read_bigint", "read_real", "read_double",
    "read_numeric", "read_numeric_precision_scale", "read_text", "read_varchar", "read_bytea",
    "read_date", "read_timestamp", "read_timestamptz", "read_jsonb",
    "batch_insert", "batch_insert_rewritten", "fetch_size_cursor", "transaction_commit",
    "metadata_get_tables", "metadata_get_schemas", "metadata_get_columns",
    "metadata_get_columns_varchar", "metadata_get_columns_jsonb",
    "metadata_get_columns_numeric_precision_scale", "metadata_get_columns_not_null",
    "metadata_get_primary_keys",
    "error_sqlstate_syntax", "error_sqlstate_undefined_table", "error_sqlstate_undefined_column",
    "error_sqlstate_prepared",
]

VARCHAR_AS_TEXT = ("varchar(n) columns are described as text (oid 25) in the RowDescription and "
                   "in pg_attribute, so pgJDBC reports type 'text' (and COLUMN_SIZE 2147483647 "
                   "instead of 20)")
JSONB_AS_TEXT = ("jsonb columns are described as text (oid 25) in the RowDescription and in "
                 "pg_attribute, so pgJDBC reports 'text'/VARCHAR and getObject gives a String, "
                 "not a PGobject of type jsonb")
TYPMOD = ("the type modifier of numeric(12,3) is -1 both in the RowDescription and in "
          "pg_attribute.atttypmod, so pgJDBC reports precision/scale 0,0")
XFAIL = {
}


@pytest.fixture(scope="module")
def jdbc_results(oxbow_module, tmp_path_factory):
    if not shutil.which("javac") or not os.path.exists(JAR):
        pytest.fail("javac or /usr/share/java/postgresql.jar missing (tests/run.sh installs them)")
    classes = tmp_path_factory.mktemp("jdbc")
    subprocess.run(["javac", "-d", str(classes), "-cp", JAR, str(SOURCE)], check=True,
                   capture_output=True, timeout=120)
    prefix = f"jdbc_{uuid.uuid4().hex[:8]}"
    return run_checks(["java", "-Duser.timezone=America/New_York", "-cp", f"{JAR}:{classes}",
                       "OxbowJdbc", str(oxbow_module.port), prefix])


def test_every_check_ran(jdbc_results):
    results, output = jdbc_results
    assert sorted(results) == sorted(CHECKS), output


@pytest.mark.parametrize("check", params(CHECKS, XFAIL))
def test_jdbc(jdbc_results, check):
    assert_check(*jdbc_results, check)

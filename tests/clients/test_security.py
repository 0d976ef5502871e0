"""Logging in over TLS with real clients: psql (sslmode=require, verify-full against a test
CA, channel_binding=require for SCRAM-SHA-256-PLUS), psycopg and pgJDBC, against a server
started with a password, --tls-cert/--tls-key and --require-tls.

The test CA and the server certificate (ECDSA P-256, for localhost and 127.0.0.1) are made
with the openssl command line for each run.
"""

import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from client_checks import assert_check, run_checks
from conftest import Oxbow

PASSWORD = "tls-test-password"
JAR = "/usr/share/java/postgresql.jar"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(dir: Path, name: str):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
            "-subj", f"/CN={name}", cwd=dir)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    dir = tmp_path_factory.mktemp("certs")
    make_ca(dir, "ca")
    make_ca(dir, "other-ca")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
            cwd=dir)
    (dir / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext", cwd=dir)
    return dir


@pytest.fixture(scope="module")
def secure(certs, tmp_path_factory):
    server = Oxbow(tmp_path_factory.mktemp("secure") / "data",
                   ["--tls-cert", str(certs / "server.crt"), "--tls-key", str(certs / "server.key"),
                    "--require-tls"],
                   env={"OXBOW_PASSWORD": PASSWORD})
    yield server
    server.stop()


def psql(server, conninfo, password=PASSWORD, sql="SELECT 41 + 1"):
    env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="10")
    # No ~/.postgresql/root.crt may turn sslmode=require into verify-ca behind our back.
    env["PGSSLROOTCERT"] = env.get("PGSSLROOTCERT", "/nonexistent")
    return subprocess.run(
        ["psql", f"port={server.port} user=oxbow dbname=oxbow {conninfo}", "-X", "-At",
         "-c", sql], capture_output=True, text=True, env=env, timeout=60)


def test_psql_logs_in_with_scram_over_tls_sslmode_require(secure):
    out = psql(secure, "host=127.0.0.1 sslmode=require")
    assert out.returncode == 0 and out.stdout.strip() == "42", out.stderr


def test_psql_verify_full_accepts_the_server_certificate_of_the_test_ca(secure, certs):
    out = psql(secure, f"host=localhost sslmode=verify-full sslrootcert={certs / 'ca.crt'}")
    assert out.returncode == 0 and out.stdout.strip() == "42", out.stderr


def test_psql_verify_full_refuses_a_certificate_of_another_ca(secure, certs):
    out = psql(secure, f"host=localhost sslmode=verify-full sslrootcert={certs / 'other-ca.crt'}")
    assert out.returncode != 0
    assert "certificate verify failed" in out.stderr, out.stderr


def test_psql_channel_binding_require_uses_scram_sha_256_plus(secure, certs):
    out = psql(secure, f"host=localhost sslmode=verify-full sslrootcert={certs / 'ca.crt'} "
                       "channel_binding=require")
    assert out.returncode == 0 and out.stdout.strip() == "42", out.stderr


def test_psql_wrong_password_and_unknown_user_get_the_same_answer(secure):
    wrong = psql(secure, "host=127.0.0.1 sslmode=require", password="not-it")
    assert wrong.returncode != 0
    assert 'password authentication failed for user "oxbow"' in wrong.stderr, wrong.stderr
    env = dict(os.environ, PGPASSWORD="not-it", PGSSLROOTCERT="/nonexistent")
    unknown = subprocess.run(
        ["psql", f"host=127.0.0.1 port={secure.port} user=nobody dbname=oxbow sslmode=require",
         "-X", "-c", "SELECT 1"], capture_output=True, text=True, env=env, timeout=60)
    assert unknown.returncode != 0
    assert 'password authentication failed for user "nobody"' in unknown.stderr, unknown.stderr


def test_psql_without_tls_is_refused_under_require_tls(secure):
    out = psql(secure, "host=127.0.0.1 sslmode=disable")
    assert out.returncode != 0
    assert "accepts only TLS connections" in out.stderr, out.stderr


def test_psycopg_logs_in_over_verified_tls_and_reads_and_writes(secure, certs):
    dsn = (f"host=localhost port={secure.port} user=oxbow dbname=oxbow password={PASSWORD} "
           f"sslmode=verify-full sslrootcert={certs / 'ca.crt'}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        conn.execute("CREATE TABLE IF NOT EXISTS tls_rows (id bigint, name text)")
        conn.execute("INSERT INTO tls_rows VALUES (%s, %s)", (1, "over tls"))
        assert conn.execute("SELECT name FROM tls_rows WHERE id = %s", (1,)).fetchone() == ("over tls",)


def test_psycopg_wrong_password_fails_with_28p01(secure):
    dsn = (f"host=127.0.0.1 port={secure.port} user=oxbow dbname=oxbow password=not-it "
           "sslmode=require sslrootcert=/nonexistent")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dsn)


@pytest.fixture(scope="module")
def jdbc_tls(secure, tmp_path_factory):
    if not shutil.which("javac") or not os.path.exists(JAR):
        pytest.fail("javac or /usr/share/java/postgresql.jar missing (tests/run.sh installs them)")
    classes = tmp_path_factory.mktemp("jdbc-tls")
    source = Path(__file__).parent / "jdbc" / "OxbowJdbcTls.java"
    subprocess.run(["javac", "-d", str(classes), "-cp", JAR, str(source)], check=True,
                   capture_output=True, timeout=120)
    return run_checks(["java", "-cp", f"{JAR}:{classes}", "OxbowJdbcTls", str(secure.port),
                       PASSWORD])


@pytest.mark.parametrize("check", ["scram_over_tls", "wrong_password_28p01",
                                   "unknown_user_28p01", "plaintext_28000"])
def test_jdbc_sslmode_require(jdbc_tls, check):
    assert_check(*jdbc_tls, check)

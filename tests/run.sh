#!/usr/bin/env bash
# Runs Oxbow's whole test suite. Works on a fresh Debian machine with only Rust installed:
# it installs what the tests need (Debian packages, a Python venv with the client drivers)
# idempotently, builds in debug, and runs the unit tests, the wire-protocol and persistence
# tests, the sqllogictest files, and the client tests (psql, psycopg, psycopg2, asyncpg,
# SQLAlchemy, pgJDBC, psqlODBC, Node pg, deltalake, S3 on moto).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${OXBOW_CACHE:-$HOME/.cache/oxbow}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
export RUST_BACKTRACE=0
step() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }

step "system packages"
missing=()
command -v psql >/dev/null || missing+=(postgresql-client)
# A real PostgreSQL 15 server, the peer of tests/clients/test_pg_compat.py (started there with
# initdb in a temp dir on a free port).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v curl >/dev/null || missing+=(curl)
# The TLS client tests make their test CA with the openssl command line.
command -v openssl >/dev/null || missing+=(openssl)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
# The Kafka client builds librdkafka from source (C compiler, make) with OpenSSL.
command -v make >/dev/null || missing+=(build-essential)
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
command -v pkg-config >/dev/null || missing+=(pkg-config)
# Client drivers: pgJDBC (/usr/share/java/postgresql.jar), psqlODBC ("PostgreSQL Unicode"
# driver) with unixODBC (pyodbc links against it), a JDK for javac, Node and npm for `pg`.
[ -e /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
dpkg -s odbc-postgresql >/dev/null 2>&1 || missing+=(odbc-postgresql)
dpkg -s unixodbc >/dev/null 2>&1 || missing+=(unixodbc)
command -v javac >/dev/null || missing+=(default-jdk-headless)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

step "python venv"
venv="$CACHE/venv"
requirements=tests/clients/requirements.txt
if ! cmp -s "$requirements" "$venv/.installed" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$requirements"
  cp "$requirements" "$venv/.installed"
fi

step "node pg"
export OXBOW_NODE_MODULES="$CACHE/node/node_modules"
if [ ! -e "$OXBOW_NODE_MODULES/pg/package.json" ]; then
  mkdir -p "$CACHE/node"
  (cd "$CACHE/node" && { [ -e package.json ] || npm init -y >/dev/null; } && npm install --no-audit --no-fund -q pg)
fi

step "build (debug)"
cargo build --workspace --all-targets
export OXBOW_BIN="$CARGO_TARGET_DIR/debug/oxbow"

step "rust tests: unit, protocol, persistence, sqllogictest"
cargo test --workspace

step "client tests: psql, psycopg, psycopg2, asyncpg, SQLAlchemy, JDBC, ODBC, node, deltalake, S3, Kafka (noida-db), PostgreSQL compatibility"
PATH="$venv/bin:$PATH" "$venv/bin/pytest" -q -p no:cacheprovider tests/clients

step "all tests passed"

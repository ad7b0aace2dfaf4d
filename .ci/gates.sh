#!/usr/bin/env bash
# The project's own parity gates (constitution rule 12): load an Odoo-shaped database from
# tests/fixtures/gates_fixture.sql into the test PostgreSQL and run `odooops gates run` against
# the repository's ssot/ and examples/addons. Fails when any gate fails.
# Server: ODOOOPS_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

admin="${ODOOOPS_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db=odooops_ci_gates
base="${admin%%\?*}"
base="${base%/*}"
url="$base/$db"

PGOPTIONS="--client-min-messages=warning" psql "$admin" -v ON_ERROR_STOP=1 -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
psql "$url" -v ON_ERROR_STOP=1 -q -f tests/fixtures/gates_fixture.sql

# Evidence goes to the default store (.odooops/ops.db, or ODOOOPS_DATABASE_URL when set).
cargo run --quiet -- gates run --ssot ssot \
  --addons-path examples/addons \
  --db "production=$url" \
  --db "staging=$url"

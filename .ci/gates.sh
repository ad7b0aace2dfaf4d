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

# Evidence goes where the SSOT says: Project `acme` keeps it in the PostgreSQL the
# `ODOOOPS_DATABASE_URL` secret names — here a fresh database on the test server unless set.
if [ -z "${ODOOOPS_DATABASE_URL:-}" ]; then
  store=odooops_ci_gates_store
  PGOPTIONS="--client-min-messages=warning" psql "$admin" -v ON_ERROR_STOP=1 -q -c "DROP DATABASE IF EXISTS $store WITH (FORCE)" -c "CREATE DATABASE $store"
  export ODOOOPS_DATABASE_URL="$base/$store"
fi
# Its artifacts go to a Spaces bucket; CI has no account: a local directory instead.
export ODOOOPS_ARTIFACT_URL="${ODOOOPS_ARTIFACT_URL:-$PWD/.odooops/ci-gates-artifacts}"
cargo run --quiet -- gates run --ssot ssot \
  --addons-path examples/addons \
  --db "production=$url" \
  --db "staging=$url"

#!/usr/bin/env bash
# A real Odoo 17.0 Community for the tests: its source and a cached virtualenv with its Python
# requirements. Prints `export ODOOOPS_ODOO_SRC=…` and `export ODOOOPS_ODOO_PYTHON=…` on
# stdout (everything else goes to stderr), so `.ci/run` does `eval "$(bash .ci/odoo-env.sh)"`
# and the test support (tests/support/real_odoo.rs) runs it when those variables are unset.
#
# The source: $ODOOOPS_ODOO_SRC when set, else ../shared/odoo/17.0 next to the repository,
# else a shallow clone of Odoo's public repository (branch 17.0) cached under the target
# directory. The virtualenv: <target>/odoo-venv-<hash of the requirements and python3
# version>, created once and reused; an interrupted creation is started over.
set -euo pipefail
cd "$(dirname "$0")/.."

SERIES=17.0
say() { printf '%s\n' "$*" >&2; }
target_dir="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target_dir"
target_dir="$(cd "$target_dir" && pwd)"

# --- the source ---------------------------------------------------------------------------
src="${ODOOOPS_ODOO_SRC:-}"
req=""
if [ -z "$src" ] && [ -f "../shared/odoo/$SERIES/odoo-bin" ]; then
  src="$(cd "../shared/odoo/$SERIES" && pwd)"
  req="$(cd ../shared/odoo && pwd)/requirements-$SERIES.txt"
fi
if [ -z "$src" ]; then
  # A clone without ../shared: Odoo's public repository (needs network access to GitHub).
  src="$target_dir/odoo-src-$SERIES"
  if [ ! -f "$src/odoo-bin" ]; then
    say "fetching Odoo $SERIES from https://github.com/odoo/odoo into $src"
    rm -rf "$src.partial"
    git clone --quiet --depth 1 --branch "$SERIES" https://github.com/odoo/odoo "$src.partial" >&2
    mv "$src.partial" "$src"
  fi
fi
if [ ! -f "$src/odoo-bin" ] || [ ! -f "$src/odoo/release.py" ]; then
  say "error: $src is not an Odoo source (odoo-bin and odoo/release.py expected)"
  exit 1
fi
if [ -z "$req" ]; then
  if [ -f "$(dirname "$src")/requirements-$SERIES.txt" ]; then
    req="$(dirname "$src")/requirements-$SERIES.txt"
  else
    # Odoo's own list, made installable without a compiler or LDAP headers: psycopg2-binary
    # instead of psycopg2, and no python-ldap (only the auth_ldap addon needs it).
    req="$target_dir/odoo-requirements-$SERIES.txt"
    sed -e 's/^psycopg2==/psycopg2-binary==/' -e '/^python-ldap/d' "$src/requirements.txt" > "$req"
  fi
fi

# --- the virtualenv -----------------------------------------------------------------------
# Odoo 17.0 imports pkg_resources, which recent setuptools no longer ship.
tools='pip setuptools<70 wheel'
hash="$( { cat "$req"; python3 --version; echo "$tools"; } | sha256sum | cut -c1-12)"
venv="$target_dir/odoo-venv-$hash"
if [ ! -f "$venv/.complete" ]; then
  say "creating the Odoo virtualenv $venv (pip install -r $req)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086 # $tools is a list of requirement specifiers
  "$venv/bin/python" -m pip install --quiet --upgrade $tools >&2
  "$venv/bin/python" -m pip install --quiet -r "$req" >&2
  touch "$venv/.complete"
fi
"$venv/bin/python" -W ignore -c 'import pkg_resources, psycopg2, lxml, werkzeug' >&2

printf 'export ODOOOPS_ODOO_SRC=%q\n' "$src"
printf 'export ODOOOPS_ODOO_PYTHON=%q\n' "$venv/bin/python"

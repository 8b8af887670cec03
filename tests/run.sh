#!/usr/bin/env bash
# The whole test suite: every Rust test, including the one that reads the published warehouse with the
# analysts' own clients (pyarrow and DuckDB from pip, installed here into target/py-clients).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/py-clients
if ! "$venv/bin/python" -c "import pyarrow, duckdb" 2>/dev/null; then
  echo "installing pyarrow and duckdb into $venv ..."
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pyarrow>=15" "duckdb>=1.0"
fi
export FUGONG_PYTHON="$PWD/$venv/bin/python"

cargo test --locked "$@"

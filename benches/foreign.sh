#!/usr/bin/env bash
# The foreign-file corpus (benches/foreign/make_corpus.py): reports saved by other programs, with the
# bookkeeping other tools get wrong, and what clerks attach instead of a workbook. Runs
# `fugong validate --format json` (reader workers, as a run reads) on each and counts what fugong made
# of them against what each file is (its name says). Usage: benches/foreign.sh [FUGONG_BIN] [COPIES]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/fugong}
copies=${2:-20}
venv=target/py-foreign
if ! "$venv/bin/python" -c "import openpyxl, xlsxwriter, xlwt, odf, pandas" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check openpyxl xlsxwriter xlwt odfpy pandas
fi
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
"$venv/bin/python" benches/foreign/make_corpus.py "$corpus" "$copies"
"$venv/bin/python" - "$bin" "$corpus" <<'PY'
import collections, json, os, subprocess, sys
bin, corpus = sys.argv[1], sys.argv[2]
tally = collections.Counter()
wrong = []
for name in sorted(os.listdir(corpus)):
    o = subprocess.run([bin, "validate", "--format", "json", "--date", "2020-02-24",
                        os.path.join(corpus, name)], capture_output=True)
    try:
        doc = json.loads(o.stdout)
    except ValueError:
        wrong.append((name, "no JSON: " + o.stderr.decode()[:120]))
        continue
    codes = sorted({f["code"] for f in doc["findings"] if f["severity"] == "error"})
    kind = name.split("-")[0]
    group = name.rsplit("-", 1)[0]
    good = (kind == "ok" and not codes and doc["rows_accepted"] > 0) or \
           (kind == "refuse" and codes == ["file-unreadable"])
    tally[(group, good)] += 1
    if not good:
        wrong.append((name, ",".join(codes) or "accepted"))
groups = sorted({g for g, _ in tally})
print(f"{'files':<34} {'as expected':>11} {'not':>5}")
for g in groups:
    print(f"{g:<34} {tally[(g, True)]:>11} {tally[(g, False)]:>5}")
total_ok = sum(v for (g, ok), v in tally.items() if ok)
total = sum(tally.values())
print(f"{'all':<34} {total_ok:>11} {total - total_ok:>5}")
for name, why in wrong[:20]:
    print(f"  {name}: {why}")
PY

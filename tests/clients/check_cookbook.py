"""Run every query of docs/cookbook.md against a warehouse and compare with the documented result.

Usage: check_cookbook.py COOKBOOK.md WAREHOUSE [KIND]
Blocks are fenced code blocks whose info string has `id=<recipe>` and `engine=duckdb|pandas|polars`; a
`text id=<recipe> expected` block holds the expected rows (` | `-separated). Python blocks must leave their
answer in `result`. The path `data/warehouse` in the queries is replaced by WAREHOUSE.
Recipes marked `warehouse=KIND` need a warehouse of that kind (e.g. `two-schema-versions`) and run only
when KIND is given; the others run against the example warehouse when it is not.
"""

import datetime
import math
import re
import sys

import duckdb

cookbook, warehouse = sys.argv[1], sys.argv[2]
kind = sys.argv[3] if len(sys.argv) > 3 else None
text = open(cookbook, encoding="utf-8").read()
blocks = re.findall(r"```(\w+)([^\n]*)\n(.*?)```", text, flags=re.S)


def attrs(info):
    return dict(a.split("=", 1) if "=" in a else (a, True) for a in info.split())


def cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.5f}"
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.strftime("%Y-%m-%d")
    if hasattr(v, "isoformat"):  # pandas Timestamp
        return v.strftime("%Y-%m-%d")
    return str(v)


def rows_of(result):
    if isinstance(result, list):
        return [[cell(v) for v in r] for r in result]
    if hasattr(result, "to_dicts"):  # polars
        return [[cell(v) for v in r.values()] for r in result.to_dicts()]
    return [[cell(v) for v in r] for r in result.itertuples(index=False, name=None)]  # pandas


expected, runs = {}, []
for lang, info, body in blocks:
    a = attrs(info)
    if "id" not in a or a.get("warehouse") != kind:
        continue
    if a.get("expected"):
        expected[a["id"]] = [[c.strip() for c in line.split("|")] for line in body.strip().splitlines()]
    else:
        runs.append((a["id"], a.get("engine", lang), body.replace("data/warehouse", warehouse)))

failures = 0
seen = {}
for recipe, engine, code in runs:
    if engine == "duckdb":
        result = duckdb.connect().execute(code).fetchall()
    else:
        scope = {}
        exec(code, scope)
        result = scope["result"]
    got = rows_of(result)
    want = expected.get(recipe)
    seen.setdefault(recipe, set()).add(engine)
    if got != want:
        failures += 1
        print(f"FAILED {recipe} ({engine}):\n  got  {got}\n  want {want}", file=sys.stderr)
    else:
        print(f"ok {recipe} ({engine}): {len(got)} rows")

for recipe in expected:
    missing = {"duckdb", "pandas", "polars"} - seen.get(recipe, set())
    if missing:
        failures += 1
        print(f"FAILED {recipe}: no query for {sorted(missing)}", file=sys.stderr)
if not runs:
    failures += 1
    print("FAILED: no queries found", file=sys.stderr)
print(f"{len(runs) - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)

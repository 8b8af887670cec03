"""Read enterprise_daily of a Delta Lake warehouse holding two schema versions — a date published before
the field `export_orders` was added and a date after — with deltalake, polars `scan_delta` and DuckDB
`delta_scan`, and check that every reader sees the new column: null on the old date, the submitted values
on the new one. (The plain layout's readers are the cookbook's recipe `mixed-versions`.)

    check_evolution.py delta URL OLD_DATE NEW_DATE NON_NULL SUM

Prints one line per reader; exits non-zero at the first disagreement."""
import datetime
import os
import sys

import duckdb
import polars as pl

kind, location, old, new, non_null, total = sys.argv[1:7]
old, new = datetime.date.fromisoformat(old), datetime.date.fromisoformat(new)
non_null, total = int(non_null), int(total)


def check(reader, rows):
    """rows: (snapshot_date, rows, non-null export_orders, sum of export_orders) per date."""
    by_date = {(d if isinstance(d, datetime.date) else datetime.date.fromisoformat(str(d))): r for d, *r in rows}
    if set(by_date) != {old, new}:
        sys.exit(f"{reader}: dates {sorted(by_date)}, expected {old} and {new}")
    o, n = by_date[old], by_date[new]
    if o[0] == 0 or o[1] != 0:
        sys.exit(f"{reader}: the old date has {o[0]} rows and {o[1]} values of export_orders, expected rows and no value")
    if (n[1], n[2]) != (non_null, total):
        sys.exit(f"{reader}: the new date has {n[1]} values summing to {n[2]}, expected {non_null} summing to {total}")
    print(f"{reader}: {old} {o[0]} rows export_orders null; {new} {n[1]} values sum {n[2]}")


def polars_rows(lf):
    df = (
        lf.group_by("snapshot_date")
        .agg(pl.len(), pl.col("export_orders").count().alias("values"), pl.col("export_orders").sum().alias("sum"))
        .collect()
    )
    return df.rows()


def duckdb_connection():
    return duckdb.connect(config={"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false"})


SQL = "SELECT snapshot_date, count(*), count(export_orders), coalesce(sum(export_orders), 0) FROM {} GROUP BY 1"

if kind == "delta":
    import deltalake
    import duckdb_extension_delta

    table = location.rstrip("/") + "/enterprise_daily"
    t = deltalake.DeltaTable(table)
    check("deltalake", polars_rows(pl.from_arrow(t.to_pyarrow_table(columns=["snapshot_date", "export_orders"])).lazy()))
    check("polars scan_delta", polars_rows(pl.scan_delta(table)))
    con = duckdb_connection()
    path = os.path.join(
        os.path.dirname(duckdb_extension_delta.__file__), "extensions", "v" + duckdb.__version__, "delta.duckdb_extension"
    )
    con.execute(f"LOAD '{path}'")
    check("duckdb delta_scan", con.execute(SQL.format(f"delta_scan('{table.removeprefix('file://')}')")).fetchall())
else:
    sys.exit(f"unknown kind {kind}")

"""Read a published fugong warehouse with real analyst clients (pyarrow, DuckDB) and check what they see.

Usage: check_warehouse.py WAREHOUSE DATE [DATE ...]
Exits non-zero with a message on the first mismatch. Run by tests/clients.rs.
"""

import datetime
import decimal
import json
import pathlib
import sys

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

warehouse = pathlib.Path(sys.argv[1])
dates = sys.argv[2:]


def check(condition, message):
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)


EXPECTED_TYPES = {
    "enterprise_daily": {
        "report_date": pa.date32(), "province_code": pa.string(), "city_code": pa.string(),
        "city_name": pa.string(), "district_code": pa.string(), "district_name": pa.string(),
        "uscc": pa.string(), "enterprise_name": pa.string(), "industry": pa.string(), "resumed": pa.bool_(),
        "resumed_on": pa.date32(), "employees_total": pa.int64(), "employees_on_duty": pa.int64(),
        "capacity_utilization": pa.float64(), "mask_daily_capacity": pa.int64(),
        "financing_need_cny": pa.decimal128(18, 2), "issues_text": pa.string(), "source_file": pa.string(),
        "source_row": pa.int32(),
    },
    "city_daily": {
        "report_date": pa.date32(), "resumption_rate": pa.float64(), "resumption_rate_rank": pa.int32(),
        "on_duty_rate_rank": pa.int32(), "capacity_utilization_rank": pa.int32(),
        "resumption_rate_change": pa.float64(), "districts_expected": pa.int64(),
        "mask_daily_capacity_total": pa.int64(), "enterprises_with_financing_need": pa.int64(),
        "financing_need_cny_total": pa.decimal128(18, 2),
    },
    "district_daily": {"submission_status": pa.string(), "rows_rejected": pa.int64(), "warnings": pa.int64()},
    "rejects": {"row": pa.int32(), "code": pa.string(), "severity": pa.string(), "message": pa.string()},
    "problem_ledger": {
        "report_date": pa.date32(), "city_name": pa.string(), "district_code": pa.string(), "uscc": pa.string(),
        "enterprise_name": pa.string(), "category": pa.string(), "keyword": pa.string(),
        "opened_on": pa.date32(), "closed_on": pa.date32(), "status": pa.string(), "days_open": pa.int32(),
        "first_text": pa.string(), "latest_text": pa.string(),
    },
    "problem_daily": {
        "report_date": pa.date32(), "city_name": pa.string(), "category": pa.string(), "opened": pa.int64(),
        "closed": pa.int64(), "open": pa.int64(), "open_over_7_days": pa.int64(),
    },
}

manifests = {d: json.loads((warehouse / "_manifests" / f"{d}.json").read_text()) for d in dates}

# pyarrow: hive partitioning gives snapshot_date as a column; the files carry report_date themselves.
for table, types in EXPECTED_TYPES.items():
    dataset = ds.dataset(warehouse / table, format="parquet", partitioning="hive")
    schema = dataset.schema
    for name, typ in types.items():
        check(schema.field(name).type == typ, f"pyarrow {table}.{name}: {schema.field(name).type} != {typ}")
    check("snapshot_date" in schema.names, f"pyarrow {table}: no hive partition column snapshot_date")
    for d in dates:
        rows = dataset.to_table(filter=ds.field("snapshot_date") == d).num_rows
        want = manifests[d]["tables"][table]["rows"]
        check(rows == want, f"pyarrow {table} {d}: {rows} rows, manifest says {want}")
        same = dataset.to_table(filter=ds.field("report_date") == datetime.date.fromisoformat(d)).num_rows
        check(same == rows, f"pyarrow {table} {d}: report_date and snapshot_date disagree")

enterprises = ds.dataset(warehouse / "enterprise_daily", format="parquet", partitioning="hive").to_table()
money = [v for v in enterprises.column("financing_need_cny").to_pylist() if v is not None]
check(money and all(isinstance(v, decimal.Decimal) for v in money), "financing_need_cny reads as Decimal")
check("contact_name" not in enterprises.column_names and "contact_phone" not in enterprises.column_names,
      "personal data columns must not be published")

# DuckDB: the analysts' ranking query over every date at once.
con = duckdb.connect()
glob = str(warehouse / "city_daily" / "**" / "*.parquet")
ranking = con.execute(
    f"""
    SELECT CAST(snapshot_date AS VARCHAR) AS d, city_name, resumption_rate, resumption_rate_rank
    FROM read_parquet('{glob}', hive_partitioning = true)
    ORDER BY d, resumption_rate_rank NULLS LAST, city_code
    """
).fetchall()
check(len(ranking) == sum(len({x["city_name"] for x in m["districts"]}) for m in manifests.values()),
      f"duckdb ranking rows: {ranking}")
for d in dates:
    rows = [r for r in ranking if r[0] == d]
    rates = [r[2] for r in rows if r[2] is not None]
    check(rates == sorted(rates, reverse=True), f"duckdb {d}: ranking not by rate: {rows}")
    check(rows[0][3] == 1, f"duckdb {d}: first row has rank {rows[0][3]}")
    print(f"{d}: {rows[0][1]} ranks first with resumption_rate {rows[0][2]:.4%}")

types = dict(con.execute(
    f"DESCRIBE SELECT * FROM read_parquet('{warehouse / 'enterprise_daily' / '**' / '*.parquet'}', hive_partitioning = true)"
).fetchall()[i][:2] for i in range(20))
check(types["report_date"] == "DATE", f"duckdb report_date is {types['report_date']}")
check(types["financing_need_cny"] == "DECIMAL(18,2)", f"duckdb financing_need_cny is {types['financing_need_cny']}")
check(types["source_row"] == "INTEGER", f"duckdb source_row is {types['source_row']}")

# The sum of district figures equals the city figures (pooled, not averaged).
mismatch = con.execute(
    f"""
    WITH d AS (
      SELECT snapshot_date, city_code, SUM(enterprises_resumed) AS resumed, SUM(enterprises_total) AS total
      FROM read_parquet('{warehouse / 'district_daily' / '**' / '*.parquet'}', hive_partitioning = true)
      GROUP BY ALL)
    SELECT count(*) FROM d JOIN read_parquet('{glob}', hive_partitioning = true) c USING (snapshot_date, city_code)
    WHERE d.total > 0 AND (d.resumed <> c.enterprises_resumed OR d.resumed::DOUBLE / d.total::DOUBLE <> c.resumption_rate)
    """
).fetchone()[0]
check(mismatch == 0, "duckdb: city figures are not the pooled district figures")

# problem_daily counts the ledger: open, opened and closed per date, city and category.
disagree = con.execute(
    f"""
    WITH l AS (
      SELECT snapshot_date, city_code, category,
             count(*) FILTER (WHERE status = 'open') AS open,
             count(*) FILTER (WHERE opened_on = report_date) AS opened,
             count(*) FILTER (WHERE closed_on = report_date) AS closed
      FROM read_parquet('{warehouse / 'problem_ledger' / '**' / '*.parquet'}', hive_partitioning = true)
      GROUP BY ALL)
    SELECT count(*) FROM read_parquet('{warehouse / 'problem_daily' / '**' / '*.parquet'}', hive_partitioning = true) p
    LEFT JOIN l USING (snapshot_date, city_code, category)
    WHERE p.open <> coalesce(l.open, 0) OR p.opened <> coalesce(l.opened, 0) OR p.closed <> coalesce(l.closed, 0)
    """
).fetchone()[0]
check(disagree == 0, "duckdb: problem_daily does not count problem_ledger")
print("pyarrow and duckdb read the warehouse as the contract says")

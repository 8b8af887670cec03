"""Read a fugong Delta Lake warehouse with the analysts' own clients — deltalake, polars (scan_delta)
and DuckDB (delta_scan, extensions from PyPI) — and check the provincial ranking of a date.

    check_delta.py URL DATE CITY PERCENT RANK [S3_ENDPOINT]

Prints one line per client; exits non-zero at the first disagreement."""
import os
import sys

import deltalake
import duckdb
import duckdb_extension_delta
import duckdb_extension_httpfs
import polars as pl

url, date, city, percent, rank = sys.argv[1:6]
endpoint = sys.argv[6] if len(sys.argv) > 6 else None
percent, rank = float(percent), int(rank)
table = url.rstrip("/") + "/city_daily"
options = None
if endpoint:
    options = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
    }


def check(client, rows):
    found = [r for r in rows if r[0] == city]
    if len(found) != 1:
        sys.exit(f"{client}: {city} appears {len(found)} times on {date}: {rows}")
    got_percent, got_rank = round(100 * found[0][1], 2), found[0][2]
    if (got_percent, got_rank) != (percent, rank):
        sys.exit(f"{client}: {city} is {got_percent}% rank {got_rank}, expected {percent}% rank {rank}")
    print(f"{client}: {city} {got_percent}% rank {got_rank}")


t = deltalake.DeltaTable(table, storage_options=options)
if "snapshot_date" not in t.metadata().partition_columns:
    sys.exit("deltalake: city_daily is not partitioned by snapshot_date")
arrow = t.to_pyarrow_table()
df = pl.from_arrow(arrow).filter(pl.col("snapshot_date").cast(pl.Utf8) == date)
check("deltalake", list(zip(df["city_name"], df["resumption_rate"], df["resumption_rate_rank"])))

lf = pl.scan_delta(table, storage_options=options)
df = lf.filter(pl.col("snapshot_date").cast(pl.Utf8) == date).collect()
check("polars", list(zip(df["city_name"], df["resumption_rate"], df["resumption_rate_rank"])))

con = duckdb.connect(config={"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false"})
for module, name in [(duckdb_extension_httpfs, "httpfs"), (duckdb_extension_delta, "delta")]:
    path = os.path.join(os.path.dirname(module.__file__), "extensions", "v" + duckdb.__version__, name + ".duckdb_extension")
    con.execute(f"LOAD '{path}'")
if endpoint:
    host = endpoint.split("://", 1)[1]
    con.execute(
        f"CREATE SECRET s3 (TYPE S3, KEY_ID '{options['AWS_ACCESS_KEY_ID']}', SECRET '{options['AWS_SECRET_ACCESS_KEY']}', "
        f"REGION '{options['AWS_REGION']}', ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)"
    )
location = table if endpoint else table.removeprefix("file://")
rows = con.execute(
    f"SELECT city_name, resumption_rate, resumption_rate_rank FROM delta_scan('{location}') WHERE snapshot_date = DATE '{date}'"
).fetchall()
check("duckdb", rows)

//! Schema evolution (issue: evolving schemas): a province adds an optional field to its schema file and
//! raises `version`; dates published before read the new column as null in every reader — the plain
//! layout with the cookbook's reader options, Delta Lake through its merged table schema — and each
//! manifest names the version it was written with. Renaming, retyping or adding without raising the
//! version is refused before anything is read, and nothing published changes.

use std::path::Path;
use std::process::{Command, Output};

use chrono::NaiveDate;

use crate::publish::text;
use crate::support::*;

const EXPORT_FIELD: &str = "\n[[fields]]\nname = \"export_orders\"\nlabel = \"出口订单\"\ntype = \"int\"\naliases = [\"出口订单\"]\n";

fn old_date() -> NaiveDate {
    report_date()
}

fn new_date() -> NaiveDate {
    date(2020, 2, 25)
}

fn fugong(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(args)
        .output()
        .expect("fugong")
}

fn run(province: &Province, date: NaiveDate) -> Output {
    fugong(&[
        "run",
        "--quiet",
        "--in-process",
        "--job",
        province.job_path().to_str().expect("utf8"),
        "--date",
        &date.to_string(),
    ])
}

/// Write the schema file the job names: the built-in schema at `version`, plus `extra` fields.
fn write_schema(province: &Province, version: u32, extra: &str) {
    let text = fugong::config::schema::BUILTIN_SCHEMA_TOML
        .replace("version = 1", &format!("version = {version}"))
        + extra;
    std::fs::write(province.root().join("jobs").join("schema.toml"), text).expect("schema");
}

/// A province of two districts whose job names its own schema file, on `output` (`table_format` and
/// `[storage]` lines included).
fn province(output_lines: &str) -> Province {
    let p = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    let job = std::fs::read_to_string(p.job_path()).expect("job");
    let job = job.replace(
        "output = \"../warehouse\"\n",
        &format!("{output_lines}\nschema = \"schema.toml\"\n"),
    );
    std::fs::write(p.job_path(), job).expect("job");
    write_schema(&p, 1, "");
    p
}

/// Both districts' workbooks for a date; with `exports`, a 出口订单 column (row i has i*10, the last
/// row of each district left empty).
fn submit(province: &Province, date: NaiveDate, exports: bool) {
    for (d, (code, name, _)) in province.districts.iter().enumerate() {
        let rows: Vec<Vec<C>> = (0..4u32)
            .map(|i| {
                let mut row = standard_row(1000 * (d as u32 + 1) + i, true, 100, 80);
                if exports {
                    row.push(if i < 3 { n(f64::from(i * 10)) } else { C::E });
                }
                row
            })
            .collect();
        let mut report = report_for(name, rows);
        report.date_text = Some(format!("{}", date.format("%Y年%-m月%-d日")));
        if exports {
            report.headers.push("出口订单".into());
        }
        province.submit(date, &format!("{code}.xlsx"), &report.to_xlsx());
    }
}

/// Two districts × values 0, 10, 20 and an empty cell.
const NON_NULL: &str = "6";
const SUM: &str = "60";

fn python() -> String {
    std::env::var("FUGONG_PYTHON").expect("FUGONG_PYTHON: run the suite with `bash tests/run.sh`")
}

fn check_delta_readers(location: &str) {
    let kind = "delta";
    let o = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/check_evolution.py"))
        .args([
            kind,
            location,
            &old_date().to_string(),
            &new_date().to_string(),
            NON_NULL,
            SUM,
        ])
        .output()
        .expect("python");
    assert!(o.status.success(), "{kind} {location}: {}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 3, "{out}");
}

/// Publish the old date with version 1, then the new date with version 2 and its new column.
fn publish_two_versions(p: &Province) {
    submit(p, old_date(), false);
    let o = run(p, old_date());
    assert!(o.status.success(), "{}", text(&o));
    write_schema(p, 2, EXPORT_FIELD);
    submit(p, new_date(), true);
    let o = run(p, new_date());
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn an_added_field_reads_as_null_before_it_in_duckdb_polars_and_pyarrow_and_manifests_name_versions()
{
    let p = province("output = \"../warehouse\"");
    publish_two_versions(&p);
    let wh = fugong::publish::local::LocalWarehouse::new(p.warehouse());
    use fugong::publish::Warehouse;
    let old = wh.manifest(old_date()).expect("read").expect("old");
    let new = wh.manifest(new_date()).expect("read").expect("new");
    assert_eq!((old.schema_version, new.schema_version), (1, 2));
    // The old date's files are as they were: no export_orders column.
    let batch = read_table(&p.warehouse(), "enterprise_daily", old_date());
    assert!(batch.schema().field_with_name("export_orders").is_err());
    let batch = read_table(&p.warehouse(), "enterprise_daily", new_date());
    assert!(batch.schema().field_with_name("export_orders").is_ok());
    // The cookbook's recipe for such a warehouse, in DuckDB, pandas and polars.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = Command::new(python())
        .arg(repo.join("tests/clients/check_cookbook.py"))
        .arg(repo.join("docs/cookbook.md"))
        .arg(p.warehouse())
        .arg("two-schema-versions")
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("3 passed, 0 failed"), "{}", text(&o));

    // Republishing the old date with version 2 gives it the column, all null (its file has none).
    let o = run(&p, old_date());
    assert!(o.status.success(), "{}", text(&o));
    let batch = read_table(&p.warehouse(), "enterprise_daily", old_date());
    let col = batch.column_by_name("export_orders").expect("column");
    assert_eq!(col.null_count(), batch.num_rows());
}

#[test]
fn a_delta_table_merges_the_new_column_and_every_reader_sees_null_before_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = url::Url::from_directory_path(dir.path().join("wh"))
        .expect("url")
        .to_string();
    let p = province(&format!("output = \"{url}\"\ntable_format = \"delta\""));
    publish_two_versions(&p);
    check_delta_readers(&url);
    // A rename is refused on Delta too, from the table's own schema.
    write_schema(
        &p,
        3,
        &EXPORT_FIELD.replace("export_orders", "export_order_count"),
    );
    let o = run(&p, new_date());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("renames or removes `export_orders`"),
        "{}",
        text(&o)
    );
}

#[test]
fn renaming_retyping_or_adding_without_raising_the_version_is_refused_and_nothing_changes() {
    let p = province("output = \"../warehouse\"");
    publish_two_versions(&p);
    let manifest = fugong::publish::manifest_path(&p.warehouse(), new_date());
    let before = std::fs::read(&manifest).expect("manifest");

    let cases = [
        (
            3,
            EXPORT_FIELD.replace("export_orders", "export_order_count"),
            "renames or removes `export_orders`",
        ),
        (
            3,
            EXPORT_FIELD.replace("\"int\"", "\"money\""),
            "changes the type of `export_orders` from int to money",
        ),
        (
            2,
            format!(
                "{EXPORT_FIELD}{}",
                EXPORT_FIELD
                    .replace("export_orders", "import_orders")
                    .replace("出口订单", "进口订单")
            ),
            "adds `import_orders` but keeps version 2",
        ),
        (1, String::new(), "renames or removes `export_orders`"),
        (
            1,
            EXPORT_FIELD.to_string(),
            "is version 1, but the warehouse already holds dates published with version 2",
        ),
    ];
    for (version, extra, message) in cases {
        write_schema(&p, version, &extra);
        let o = run(&p, new_date());
        assert_eq!(o.status.code(), Some(2), "{message}: {}", text(&o));
        assert!(text(&o).contains(message), "{message}: {}", text(&o));
        assert!(
            text(&o).contains("new field")
                || text(&o).contains("set `version = 3`")
                || text(&o).contains("newer schema file"),
            "the message says what to do: {}",
            text(&o)
        );
        assert_eq!(std::fs::read(&manifest).expect("manifest"), before);
    }
    // Raising the version for the second field is accepted.
    write_schema(
        &p,
        3,
        &format!(
            "{EXPORT_FIELD}{}",
            EXPORT_FIELD
                .replace("export_orders", "import_orders")
                .replace("出口订单", "进口订单")
        ),
    );
    let o = run(&p, new_date());
    assert!(o.status.success(), "{}", text(&o));
}

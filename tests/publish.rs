//! Publishing: byte-identical re-runs, and interrupted publishes that leave the previous snapshot intact
//! and are completed by the next run.

use std::collections::BTreeMap;
use std::path::Path;

use fugong::publish::{FailPoint, manifest_path};
use fugong::{RunOptions, run_job};

use crate::support::*;

/// Every file under the warehouse's table folders and manifests: relative path → bytes.
fn snapshot_files(warehouse: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for table in [
        "enterprise_daily",
        "district_daily",
        "city_daily",
        "rejects",
        "_manifests",
    ] {
        let root = warehouse.join(table);
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path
                        .strip_prefix(warehouse)
                        .expect("prefix")
                        .to_string_lossy()
                        .into_owned();
                    files.insert(rel, std::fs::read(&path).expect("read"));
                }
            }
        }
    }
    files
}

fn two_district_province(version: u32) -> Province {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    submit_version(&province, version);
    province
}

fn submit_version(province: &Province, version: u32) {
    let date = report_date();
    let resumed = 3 + version;
    let rows = |base: u32| {
        (1..=8)
            .map(|i| standard_row(base + i, i <= resumed, 10, 8))
            .collect::<Vec<_>>()
    };
    let mut a = report_for("历下区", rows(0));
    a.rows[0][6] = s("约100");
    province.submit(date, "370102.xlsx", &a.to_xlsx());
    province.submit(
        date,
        "370103.xlsx",
        &report_for("市中区", rows(100)).to_xlsx(),
    );
}

#[test]
fn two_runs_with_the_same_inputs_give_identical_bytes() {
    let province = two_district_province(1);
    run_job(&province.job(), report_date(), &RunOptions::default()).expect("first");
    let first = snapshot_files(&province.warehouse());
    assert_eq!(first.len(), 5, "{:?}", first.keys().collect::<Vec<_>>());
    run_job(&province.job(), report_date(), &subprocess_options()).expect("second");
    let second = snapshot_files(&province.warehouse());
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        second.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &first {
        assert!(bytes == &second[name], "{name} differs between runs");
    }
    // Partition folders hold only Parquet files.
    for name in first.keys().filter(|n| !n.starts_with("_manifests")) {
        assert!(
            name.ends_with(".parquet") && name.contains("/snapshot_date=2020-02-24/"),
            "{name}"
        );
    }
    // No staging or journal left behind.
    let staging = province.warehouse().join("_staging");
    assert_eq!(
        std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0),
        0
    );
}

#[test]
fn a_publish_interrupted_while_staging_leaves_the_previous_snapshot_intact() {
    let province = two_district_province(1);
    run_job(&province.job(), report_date(), &RunOptions::default()).expect("first");
    let before = snapshot_files(&province.warehouse());

    submit_version(&province, 2);
    let crash = RunOptions {
        fail: FailPoint {
            after_staged_files: Some(2),
            ..FailPoint::default()
        },
        ..RunOptions::default()
    };
    let err = run_job(&province.job(), report_date(), &crash).expect_err("injected failure");
    assert!(err.to_string().contains("injected"), "{err}");
    assert_eq!(
        snapshot_files(&province.warehouse()),
        before,
        "previous snapshot untouched"
    );
    let city = read_table(&province.warehouse(), "city_daily", report_date());
    assert_eq!(city.num_rows(), 1, "still readable");

    let report = run_job(&province.job(), report_date(), &RunOptions::default()).expect("re-run");
    assert_eq!(report.rows_published, 15);
    let after = snapshot_files(&province.warehouse());
    assert_ne!(after, before);
    assert!(manifest_path(&province.warehouse(), report_date()).exists());
    let staging = province.warehouse().join("_staging");
    assert_eq!(
        std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0),
        0,
        "stale staging removed"
    );
}

#[test]
fn a_publish_interrupted_between_swaps_is_rolled_forward_by_the_next_run() {
    let province = two_district_province(1);
    run_job(&province.job(), report_date(), &RunOptions::default()).expect("first");
    submit_version(&province, 2);
    let crash = RunOptions {
        fail: FailPoint {
            after_swaps: Some(2),
            ..FailPoint::default()
        },
        ..RunOptions::default()
    };
    run_job(&province.job(), report_date(), &crash).expect_err("injected failure");
    // Mid-swap: no manifest, so no reader takes the date as complete; every partition is still whole.
    assert!(!manifest_path(&province.warehouse(), report_date()).exists());
    for table in [
        "enterprise_daily",
        "district_daily",
        "city_daily",
        "rejects",
    ] {
        read_table(&province.warehouse(), table, report_date());
    }
    // The next run (for any date) completes the interrupted one first.
    let recovered = fugong::publish::recover(&province.warehouse()).expect("recover");
    assert_eq!(recovered, vec![report_date()]);
    assert!(manifest_path(&province.warehouse(), report_date()).exists());
    let rolled = snapshot_files(&province.warehouse());

    // Rolled forward to exactly what an uninterrupted run publishes.
    run_job(&province.job(), report_date(), &RunOptions::default()).expect("re-run");
    assert_eq!(snapshot_files(&province.warehouse()), rolled);
}

#[test]
fn the_manifest_lists_sources_statuses_and_table_totals() {
    let province = two_district_province(1);
    run_job(&province.job(), report_date(), &RunOptions::default()).expect("run");
    let text = std::fs::read_to_string(manifest_path(&province.warehouse(), report_date()))
        .expect("manifest");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(doc["job"], "test-province");
    assert_eq!(doc["report_date"], "2020-02-24");
    assert_eq!(doc["schema_id"], "enterprise_daily");
    assert_eq!(doc["tool_version"], env!("CARGO_PKG_VERSION"));
    let first = &doc["districts"][0];
    assert_eq!(first["district_code"], "370102");
    assert_eq!(first["status"], "partial");
    assert_eq!(first["rows_accepted"], 7);
    assert_eq!(first["rows_rejected"], 1);
    assert!(
        first["source"]
            .as_str()
            .expect("source")
            .ends_with("inbox/2020-02-24/370102.xlsx")
    );
    assert_eq!(first["sha256"].as_str().expect("sha").len(), 64);
    assert_eq!(doc["tables"]["enterprise_daily"]["rows"], 15);
    assert_eq!(doc["tables"]["rejects"]["rows"], 1);
}

#[test]
fn a_second_writer_is_refused_with_a_clear_message() {
    let province = two_district_province(1);
    let _held =
        fugong::publish::OutputLock::acquire(&province.warehouse(), std::time::Duration::ZERO)
            .expect("lock");
    let err = run_job(&province.job(), report_date(), &RunOptions::default()).expect_err("busy");
    assert!(err.to_string().contains("another fugong process"), "{err}");
    assert!(!manifest_path(&province.warehouse(), report_date()).exists());
}

#[test]
fn a_large_enterprise_table_is_written_as_ordered_parts() {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    for (code, name, base) in [("370102", "历下区", 0u32), ("370103", "市中区", 100_000)] {
        let rows = (1..=8_200)
            .map(|k| standard_row(base + k, k % 7 != 0, 10, 8))
            .collect();
        province.submit(
            report_date(),
            &format!("{code}.xlsx"),
            &report_for(name, rows).to_xlsx(),
        );
    }
    run_job(&province.job(), report_date(), &RunOptions::default()).expect("published");
    let manifest =
        fugong::publish::read_manifest(&province.warehouse(), report_date()).expect("manifest");
    let files = &manifest.tables["enterprise_daily"].files;
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files[0].starts_with("part-00000-") && files[1].starts_with("part-00001-"),
        "{files:?}"
    );
    assert_eq!(manifest.tables["enterprise_daily"].rows, 16_400);
    let dir =
        fugong::publish::partition_dir(&province.warehouse(), "enterprise_daily", report_date());
    for f in files {
        assert!(dir.join(f).is_file());
    }
    // Read in file-name order, the parts are one table sorted by district_code, uscc.
    let table = read_table(&province.warehouse(), "enterprise_daily", report_date());
    assert_eq!(table.num_rows(), 16_400);
    let col = |name: &str| {
        table
            .column_by_name(name)
            .expect(name)
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .expect("utf8")
            .clone()
    };
    let (district, uscc) = (col("district_code"), col("uscc"));
    for i in 1..table.num_rows() {
        assert!(
            (district.value(i - 1), uscc.value(i - 1)) < (district.value(i), uscc.value(i)),
            "order at {i}"
        );
    }
    let before = snapshot_files(&province.warehouse());
    run_job(&province.job(), report_date(), &RunOptions::default()).expect("again");
    assert_eq!(
        snapshot_files(&province.warehouse()),
        before,
        "the same parts, byte for byte"
    );
}

//! Publishing: byte-identical re-runs, versions and rollback, and the publish protocol proven with
//! failpoints: the process is killed (as `kill -9` would) after every step of a publish, of the refresh of
//! the next date's change, and of a rollback; between steps every table of every date is the whole old
//! version or the whole new one, and the next run completes or undoes what was left.

// Without the failpoints feature the crash tests are compiled out (and one test fails to say so).
#![cfg_attr(not(feature = "failpoints"), allow(dead_code))]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;

use chrono::NaiveDate;
use fugong::publish::{manifest_path, parquet_io, partition_dir};
use fugong::{RunOptions, run_job};

use crate::support::*;

pub use fugong::records::TABLES;

/// Every file under the warehouse's table folders and manifests: relative path → bytes.
pub fn snapshot_files(warehouse: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for table in TABLES.iter().chain(&["_manifests"]) {
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

/// The Parquet files only (manifests name their version and time, so they differ between publishes).
fn parquet_files(warehouse: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot_files(warehouse)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("_manifests"))
        .collect()
}

/// table → the file names of its partition of `date`.
pub type Sets = BTreeMap<String, BTreeSet<String>>;

pub fn partition_sets(warehouse: &Path, date: NaiveDate) -> Sets {
    TABLES
        .iter()
        .map(|t| {
            let names = std::fs::read_dir(partition_dir(warehouse, t, date))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            (t.to_string(), names)
        })
        .collect()
}

pub fn two_district_province(version: u32) -> Province {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    submit_version(&province, report_date(), version);
    province
}

/// A version of the two districts' submissions for a date: `version` changes how many have resumed.
pub fn submit_version(province: &Province, date: NaiveDate, version: u32) {
    let resumed = 3 + version;
    let rows = |base: u32| {
        (1..=8)
            .map(|i| standard_row(base + i, i <= resumed, 10, 8))
            .collect::<Vec<_>>()
    };
    let text = format!("{}年{}月{}日", 2020, 2, chrono::Datelike::day(&date));
    let mut a = report_for("历下区", rows(0));
    a.rows[0][6] = s("约100");
    a.date_text = Some(text.clone());
    let mut b = report_for("市中区", rows(100));
    b.date_text = Some(text);
    province.submit(date, "370102.xlsx", &a.to_xlsx());
    province.submit(date, "370103.xlsx", &b.to_xlsx());
}

/// Run the fugong binary.
pub fn fugong(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_fugong"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("fugong runs")
}

/// `fugong run` on a province for a date, reading in process (the failpoints are in the publish).
pub fn run_date(province: &Province, date: NaiveDate, env: &[(&str, &str)]) -> Output {
    let job = province.job_path();
    let date = date.to_string();
    fugong(
        &[
            "run",
            "--quiet",
            "--in-process",
            "--job",
            job.to_str().expect("utf8"),
            "--date",
            &date,
        ],
        env,
    )
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn two_runs_with_the_same_inputs_give_identical_bytes_and_publish_once() {
    let province = two_district_province(1);
    let first_report =
        run_job(&province.job(), report_date(), &RunOptions::default()).expect("first");
    assert_eq!(first_report.version, 1);
    assert!(!first_report.unchanged);
    let first = parquet_files(&province.warehouse());
    assert_eq!(
        first.len(),
        TABLES.len(),
        "one part per table: {:?}",
        first.keys().collect::<Vec<_>>()
    );
    // The same bytes again, read in worker processes this time: the tables would be byte for byte the
    // live ones, so nothing is published and version 1 stays (ten idle re-runs evict nothing).
    let manifest_before = std::fs::read(fugong::publish::manifest_path(
        &province.warehouse(),
        report_date(),
    ))
    .expect("manifest");
    for _ in 0..3 {
        let again = run_job(&province.job(), report_date(), &subprocess_options()).expect("again");
        assert!(again.unchanged);
        assert_eq!(again.version, 1);
    }
    assert_eq!(
        first,
        parquet_files(&province.warehouse()),
        "the same Parquet bytes"
    );
    assert_eq!(
        std::fs::read(fugong::publish::manifest_path(
            &province.warehouse(),
            report_date()
        ))
        .expect("manifest"),
        manifest_before,
        "the manifest untouched"
    );
    assert!(!province.warehouse().join("_versions/2020-02-24").exists());
    let o = fugong(
        &[
            "history",
            "--job",
            province.job_path().to_str().expect("utf8"),
            "--format",
            "json",
        ],
        &[],
    );
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("history");
    let statuses: Vec<(&str, u64)> = runs
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap_or(""),
                r["version"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("published", 1),
            ("unchanged", 1),
            ("unchanged", 1),
            ("unchanged", 1)
        ]
    );
    let o = fugong(
        &[
            "run",
            "--quiet",
            "--in-process",
            "--job",
            province.job_path().to_str().expect("utf8"),
            "--date",
            "2020-02-24",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("unchanged: 2020-02-24 version 1 stays live"),
        "{}",
        text(&o)
    );

    // A workbook whose content changed is a new version; the replaced one is kept.
    submit_version(&province, report_date(), 2);
    let second = run_job(&province.job(), report_date(), &subprocess_options()).expect("second");
    assert_eq!(second.version, 2);
    assert!(!second.unchanged);
    // Partition folders hold only Parquet files.
    for name in first.keys() {
        assert!(
            name.ends_with(".parquet") && name.contains("/snapshot_date=2020-02-24/"),
            "{name}"
        );
    }
    // The manifest names its version; the replaced version is kept outside the table folders.
    let manifest =
        fugong::publish::read_manifest(&province.warehouse(), report_date()).expect("manifest");
    assert_eq!(manifest.version, 2);
    assert_eq!(manifest.trigger.as_deref(), Some("manual"));
    assert!(manifest.published_at.is_some());
    let archived = province.warehouse().join("_versions/2020-02-24/1");
    assert!(archived.join("manifest.json").is_file());
    for t in TABLES {
        assert_eq!(
            std::fs::read_dir(archived.join(t))
                .expect("archived table")
                .count(),
            1,
            "{t}"
        );
    }
    // No staging or journal left behind.
    assert_no_leftovers(&province.warehouse());
}

/// Nothing of a publish in progress is left: no staging, no journal, no temporary file.
pub fn assert_no_leftovers(warehouse: &Path) {
    let count = |p: &Path| std::fs::read_dir(p).map(|d| d.count()).unwrap_or(0);
    assert_eq!(count(&warehouse.join("_staging")), 0, "staging left");
    assert_eq!(count(&warehouse.join("_state/journal")), 0, "journal left");
    let mut stack = vec![warehouse.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                !name.contains(".tmp."),
                "temporary file {}",
                entry.path().display()
            );
            if entry.path().is_dir() {
                stack.push(entry.path());
            }
        }
    }
}

#[test]
fn a_republish_with_fewer_parts_leaves_no_stale_part() {
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
    let dir = partition_dir(&province.warehouse(), "enterprise_daily", report_date());
    assert_eq!(
        std::fs::read_dir(&dir).expect("dir").count(),
        2,
        "two parts"
    );
    // 市中区 now sends 10 rows: one part. Fewer rows is a regression, published on the operator's word.
    let rows = (1..=10)
        .map(|k| standard_row(100_000 + k, true, 10, 8))
        .collect();
    province.submit(
        report_date(),
        "370103.xlsx",
        &report_for("市中区", rows).to_xlsx(),
    );
    let refused = run_job(&province.job(), report_date(), &RunOptions::default())
        .expect_err("a regression is refused");
    assert!(refused.to_string().contains("370103"), "{refused}");
    let allowed = RunOptions {
        allow_regression: true,
        ..RunOptions::default()
    };
    run_job(&province.job(), report_date(), &allowed).expect("published");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "the old second part is gone: {names:?}");
    let table = read_table(&province.warehouse(), "enterprise_daily", report_date());
    assert_eq!(table.num_rows(), 8_200 + 10);
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
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["schema_id"], "enterprise_daily");
    assert_eq!(doc["tool_version"], env!("CARGO_PKG_VERSION"));
    let first = &doc["districts"][0];
    assert_eq!(first["district_code"], "370102");
    assert_eq!(first["status"], "partial");
    assert_eq!(first["submission"], "pulled");
    assert_eq!(first["rows_accepted"], 7);
    assert_eq!(first["rows_rejected"], 1);
    let source = first["source"].as_str().expect("source");
    assert!(
        Path::new(source).is_absolute() && source.ends_with("inbox/2020-02-24/370102.xlsx"),
        "{source}"
    );
    let sha = first["sha256"].as_str().expect("sha");
    assert_eq!(sha.len(), 64);
    // The raw submission is kept under its digest.
    let blob = province.warehouse().join("_state/blobs").join(sha);
    assert_eq!(
        fugong::pull::sha256_hex(&std::fs::read(blob).expect("blob kept")),
        sha
    );
    assert_eq!(doc["tables"]["enterprise_daily"]["rows"], 15);
    assert_eq!(doc["tables"]["rejects"]["rows"], 1);
}

#[test]
fn a_second_writer_is_refused_with_a_clear_message_and_exit_3() {
    let province = two_district_province(1);
    let _held =
        fugong::publish::OutputLock::acquire(&province.warehouse(), std::time::Duration::ZERO)
            .expect("lock");
    let err = run_job(&province.job(), report_date(), &RunOptions::default()).expect_err("busy");
    assert!(err.to_string().contains("another fugong process"), "{err}");
    assert!(!manifest_path(&province.warehouse(), report_date()).exists());
    let o = run_date(&province, report_date(), &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

// ---------------------------------------------------------------------------------------------------
// Versions and rollback

#[test]
fn versions_and_rollback_round_trip_byte_for_byte() {
    let province = two_district_province(1);
    let warehouse = province.warehouse();
    let w = warehouse.to_str().expect("utf8").to_string();
    assert!(run_date(&province, report_date(), &[]).status.success());
    let v1 = parquet_files(&warehouse);
    submit_version(&province, report_date(), 2);
    assert!(run_date(&province, report_date(), &[]).status.success());
    let v2 = parquet_files(&warehouse);
    assert_ne!(v1, v2);
    submit_version(&province, report_date(), 3);
    assert!(run_date(&province, report_date(), &[]).status.success());
    let v3 = parquet_files(&warehouse);

    let o = fugong(
        &[
            "versions",
            "--output",
            &w,
            "--date",
            "2020-02-24",
            "--format",
            "json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 3);
    assert_eq!(list[2]["version"], 3);
    assert_eq!(list[2]["live"], true);
    assert_eq!(list[0]["trigger"], "manual");
    assert_eq!(list[0]["partial"], 1);
    assert_eq!(list[0]["accepted"], 1);
    assert_eq!(list[0]["rows"]["enterprise_daily"], 15);
    let table = fugong(&["versions", "--output", &w, "--date", "2020-02-24"], &[]);
    assert!(text(&table).contains("3 version(s)"), "{}", text(&table));

    // Restore version 1: a new version 4, its files byte-identical to version 1's.
    let o = fugong(
        &[
            "rollback",
            "--output",
            &w,
            "--date",
            "2020-02-24",
            "--to",
            "1",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("restored as version 4"), "{}", text(&o));
    assert_eq!(parquet_files(&warehouse), v1);
    let manifest = fugong::publish::read_manifest(&warehouse, report_date()).expect("manifest");
    assert_eq!(
        (
            manifest.version,
            manifest.trigger.as_deref(),
            manifest.restored_version
        ),
        (4, Some("rollback"), Some(1))
    );
    // Version 3 is kept whole, so the rollback itself can be undone.
    let o = fugong(
        &[
            "rollback",
            "--output",
            &w,
            "--date",
            "2020-02-24",
            "--to",
            "3",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(parquet_files(&warehouse), v3);
    let _ = v2;
    assert_no_leftovers(&warehouse);
    // The ledger records the rollbacks.
    let ledger =
        fugong::ledger::Ledger::open(&warehouse.join("_state/ledger.sqlite")).expect("ledger");
    let runs = ledger
        .history("test-province", None, None)
        .expect("history");
    assert_eq!(
        runs.iter()
            .filter(|r| r.trigger == "rollback" && r.status == "published")
            .count(),
        2
    );
    // The live version is already live; an unknown one is a usage error that lists what is kept.
    let o = fugong(
        &[
            "rollback",
            "--output",
            &w,
            "--date",
            "2020-02-24",
            "--to",
            "5",
        ],
        &[],
    );
    assert!(
        o.status.success() && text(&o).contains("already"),
        "{}",
        text(&o)
    );
    let o = fugong(
        &[
            "rollback",
            "--output",
            &w,
            "--date",
            "2020-02-24",
            "--to",
            "9",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("1, 2, 3, 4, 5"), "{}", text(&o));
}

#[test]
fn keep_versions_bounds_the_versions_kept() {
    let province = two_district_province(1);
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    std::fs::write(province.job_path(), format!("keep_versions = 3\n{job}")).expect("job");
    for v in 1..=5 {
        submit_version(&province, report_date(), v);
        let o = run_date(&province, report_date(), &[]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let list = fugong::publish::versions::list(&province.warehouse(), report_date()).expect("list");
    let numbers: Vec<u32> = list.iter().map(|v| v.version).collect();
    assert_eq!(numbers, vec![3, 4, 5]);
}

// ---------------------------------------------------------------------------------------------------
// The publish protocol under kill -9

/// What a crash may leave: per date, the old version's tables or the new one's.
struct States {
    old: BTreeMap<NaiveDate, Sets>,
    new: BTreeMap<NaiveDate, Sets>,
}

fn next_date() -> NaiveDate {
    date(2020, 2, 25)
}

/// Two published dates, version 1 each; then new inputs for the first, whose publish also refreshes
/// the second's day-over-day change.
fn crash_scenario() -> Province {
    let province = two_district_province(1);
    submit_version(&province, next_date(), 4);
    for d in [report_date(), next_date()] {
        let o = run_date(&province, d, &[]);
        assert!(o.status.success(), "{}", text(&o));
    }
    submit_version(&province, report_date(), 2);
    province
}

fn reference_states() -> States {
    let province = crash_scenario();
    let w = province.warehouse();
    let old = [report_date(), next_date()]
        .into_iter()
        .map(|d| (d, partition_sets(&w, d)))
        .collect();
    let o = run_date(&province, report_date(), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let new: BTreeMap<NaiveDate, Sets> = [report_date(), next_date()]
        .into_iter()
        .map(|d| (d, partition_sets(&w, d)))
        .collect();
    assert_ne!(old, new, "the republish changes both dates");
    let next = fugong::publish::read_manifest(&w, next_date()).expect("next manifest");
    assert_eq!(next.trigger.as_deref(), Some("refresh"));
    States { old, new }
}

/// A reader between two steps: every table of every date is whole and is the old or the new version;
/// a date with a manifest is complete and consistent with it.
fn assert_reader_sees_whole_versions(warehouse: &Path, states: &States, case: &str) {
    for (d, old) in &states.old {
        let new = &states.new[d];
        let live = partition_sets(warehouse, *d);
        for t in TABLES {
            assert!(
                live[t] == old[t] || live[t] == new[t],
                "{case}: {d} {t} is neither version: {:?}",
                live[t]
            );
            let batches = parquet_io::read_partition(&partition_dir(warehouse, t, *d))
                .unwrap_or_else(|e| panic!("{case}: {d} {t} unreadable: {e}"));
            assert!(!batches.is_empty(), "{case}: {d} {t}");
        }
        if let Ok(m) = fugong::publish::read_manifest(warehouse, *d) {
            let expected = if m.version == 1 { old } else { new };
            for (t, entry) in &m.tables {
                let files: BTreeSet<String> = entry.files.iter().cloned().collect();
                assert_eq!(
                    &files,
                    &expected[t.as_str()],
                    "{case}: manifest of {d} v{}",
                    m.version
                );
                assert_eq!(
                    &live[t.as_str()],
                    &files,
                    "{case}: {d} {t} differs from its manifest"
                );
            }
        }
    }
}

#[cfg(feature = "failpoints")]
#[test]
fn a_kill_at_every_step_of_a_publish_leaves_whole_versions_and_the_next_run_repairs() {
    let states = reference_states();
    // (failpoint, action, whether the transaction was journalled and must be rolled forward)
    let cases: &[(&str, &str, bool)] = &[
        ("publish::after-staging", "return(crash)", false),
        ("publish::after-journal", "return(crash)", true),
        ("publish::after-swap", "return(crash)", true),
        ("publish::after-swap", "1*off->return(crash)", true),
        // rejects is the same in both versions: its partition is not swapped, so three swaps do the date.
        ("publish::after-swap", "2*off->return(crash)", true),
        ("publish::before-manifest", "return(crash)", true),
        ("publish::after-manifest", "return(crash)", true),
        ("publish::after-archive", "return(crash)", true),
        // The refresh of the next date's change, in the same transaction.
        ("publish::before-next-date", "return(crash)", true),
        ("publish::after-swap", "3*off->return(crash)", true),
    ];
    std::thread::scope(|scope| {
        for chunk in cases.chunks(cases.len().div_ceil(3)) {
            let states = &states;
            scope.spawn(move || {
                for (point, action, journalled) in chunk {
                    let case = format!("{point}={action}");
                    let province = crash_scenario();
                    let w = province.warehouse();
                    let o = run_date(&province, report_date(), &[("FAILPOINTS", &case)]);
                    assert!(
                        !o.status.success(),
                        "{case}: the process must die: {}",
                        text(&o)
                    );
                    #[cfg(unix)]
                    {
                        use std::os::unix::process::ExitStatusExt;
                        assert_eq!(o.status.signal(), Some(9), "{case}: killed: {}", text(&o));
                    }
                    assert_reader_sees_whole_versions(&w, states, &case);
                    // The next run's first step: roll forward what was journalled, back what was not.
                    fugong::publish::recover(&w).expect("recover");
                    let expected = if *journalled {
                        &states.new
                    } else {
                        &states.old
                    };
                    for (d, sets) in expected {
                        assert_eq!(&partition_sets(&w, *d), sets, "{case}: {d} after recovery");
                    }
                    let live = fugong::publish::read_manifest(&w, report_date()).expect("manifest");
                    assert_eq!(live.version, if *journalled { 2 } else { 1 }, "{case}");
                    if *journalled {
                        assert!(
                            w.join("_versions/2020-02-24/1/manifest.json").is_file(),
                            "{case}"
                        );
                        assert!(
                            w.join("_versions/2020-02-25/1/manifest.json").is_file(),
                            "{case}"
                        );
                    }
                    assert_no_leftovers(&w);
                    // And the run goes on as usual.
                    let o = run_date(&province, report_date(), &[]);
                    assert!(o.status.success(), "{case}: {}", text(&o));
                    for (d, sets) in &states.new {
                        assert_eq!(
                            &partition_sets(&w, *d),
                            sets,
                            "{case}: {d} after the next run"
                        );
                    }
                    assert_no_leftovers(&w);
                }
            });
        }
    });
}

/// The blobs under their digest's names, each with its digest checked.
#[cfg(feature = "failpoints")]
fn named_blobs(warehouse: &std::path::Path) -> BTreeMap<String, bool> {
    std::fs::read_dir(warehouse.join("_state/blobs"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.len() == 64).then(|| {
                let bytes = std::fs::read(e.path()).unwrap_or_default();
                let ok = fugong::pull::sha256_hex(&bytes) == name;
                (name, ok)
            })
        })
        .collect()
}

/// A run's blobs are made durable together (one file-system flush, then the renames): a kill between
/// the flush and the renames, or between two renames, leaves no digest name over missing bytes and
/// publishes nothing; the next run keeps every blob its manifest names.
#[cfg(feature = "failpoints")]
#[test]
fn a_kill_while_a_run_seals_its_blobs_names_no_missing_bytes_and_publishes_nothing() {
    for case in [
        "blobs::after-flush=return(crash)",
        "blobs::after-rename=return(crash)",
    ] {
        let province = two_district_province(1);
        let w = province.warehouse();
        let o = run_date(&province, report_date(), &[("FAILPOINTS", case)]);
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(o.status.signal(), Some(9), "{case}: killed: {}", text(&o));
        }
        assert!(
            fugong::publish::read_manifest(&w, report_date()).is_err(),
            "{case}: nothing is published"
        );
        let named = named_blobs(&w);
        assert!(named.values().all(|ok| *ok), "{case}: {named:?}");
        let expected = if case.starts_with("blobs::after-rename") {
            1
        } else {
            0
        };
        assert_eq!(named.len(), expected, "{case}: blobs named before the kill");
        let o = run_date(&province, report_date(), &[]);
        assert!(o.status.success(), "{case}: {}", text(&o));
        let manifest = fugong::publish::read_manifest(&w, report_date()).expect("manifest");
        let named = named_blobs(&w);
        for d in &manifest.districts {
            let sha = d.sha256.as_deref().expect("a submission");
            assert_eq!(
                named.get(sha),
                Some(&true),
                "{case}: {} kept",
                d.district_code
            );
        }
        assert_eq!(named.len(), 2, "{case}");
    }
}

#[cfg(feature = "failpoints")]
#[test]
fn a_kill_during_a_rollback_is_rolled_forward_to_the_restored_version() {
    let province = two_district_province(1);
    let w = province.warehouse();
    let ws = w.to_str().expect("utf8").to_string();
    assert!(run_date(&province, report_date(), &[]).status.success());
    let v1 = parquet_files(&w);
    submit_version(&province, report_date(), 2);
    assert!(run_date(&province, report_date(), &[]).status.success());
    let v2 = parquet_files(&w);
    for (point, action) in [
        ("publish::after-staging", "return(crash)"),
        ("publish::after-swap", "1*off->return(crash)"),
    ] {
        let case = format!("{point}={action}");
        let o = fugong(
            &[
                "rollback",
                "--output",
                &ws,
                "--date",
                "2020-02-24",
                "--to",
                "1",
            ],
            &[("FAILPOINTS", &case)],
        );
        assert!(!o.status.success(), "{case}: {}", text(&o));
        // Every table is whole: version 1's or version 2's.
        let live = partition_sets(&w, report_date());
        for t in TABLES {
            let of = |files: &BTreeMap<String, Vec<u8>>| -> BTreeSet<String> {
                files
                    .keys()
                    .filter(|k| k.starts_with(&format!("{t}/")))
                    .map(|k| k.rsplit('/').next().unwrap_or_default().to_string())
                    .collect()
            };
            assert!(live[t] == of(&v1) || live[t] == of(&v2), "{case}: {t}");
        }
        fugong::publish::recover(&w).expect("recover");
        if point == "publish::after-staging" {
            assert_eq!(parquet_files(&w), v2, "{case}: not journalled, rolled back");
        } else {
            assert_eq!(parquet_files(&w), v1, "{case}: journalled, rolled forward");
        }
        assert_no_leftovers(&w);
    }
}

#[cfg(not(feature = "failpoints"))]
#[test]
fn the_suite_runs_with_failpoints() {
    panic!(
        "the publish protocol tests need the failpoints: run `bash tests/run.sh` (cargo test --features failpoints)"
    );
}

#[test]
fn an_injected_error_is_a_failed_run_that_changes_nothing() {
    let province = crash_scenario();
    let w = province.warehouse();
    let before = snapshot_files(&w);
    let o = run_date(
        &province,
        report_date(),
        &[("FAILPOINTS", "publish::after-staging=return")],
    );
    if cfg!(feature = "failpoints") {
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(text(&o).contains("injected"), "{}", text(&o));
        assert_eq!(snapshot_files(&w), before);
        assert_no_leftovers(&w);
    }
}

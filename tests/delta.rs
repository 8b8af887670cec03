//! Delta Lake warehouses (contract §10) on a local `file://` URL and on a real S3 server (SeaweedFS on
//! loopback, started by `tests/run.sh`): the seed's figures through every Delta reader, versions and
//! rollback, and many writers — real processes — with no lock but the store's conditional writes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDate;
use fugong::config::job::Output as JobOutput;
use fugong::publish::Warehouse;

use crate::province::publish_jinan_and_qingdao;
use crate::publish::text;
use crate::support::*;

/// The S3 endpoint `tests/run.sh` started. An S3 test without it fails: it never skips.
fn s3_endpoint() -> String {
    std::env::var("FUGONG_S3_ENDPOINT").expect(
        "FUGONG_S3_ENDPOINT is not set: run the suite with `bash tests/run.sh`, which starts SeaweedFS",
    )
}

/// A new, empty bucket. SeaweedFS answers on its S3 port a little before its filer is ready to create
/// buckets, so the creation is retried for up to a minute before the test fails.
fn new_bucket() -> String {
    let name = format!("fugong-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let outcome = client.put(format!("{}/{name}", s3_endpoint())).send();
        match outcome {
            Ok(response) if response.status().is_success() => return name,
            other if std::time::Instant::now() > deadline => {
                panic!("bucket {name} could not be created within a minute: {other:?}")
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(250)),
        }
    }
}

/// Point a province's job at a Delta Lake warehouse.
fn delta_job(province: &Province, url: &str, extra_top: &str) {
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    let mut job = job.replace(
        "output = \"../warehouse\"",
        &format!("output = \"{url}\"\ntable_format = \"delta\"\n{extra_top}"),
    );
    if url.starts_with("s3://") {
        job = job.replace(
            "[province]",
            &format!(
                "[storage]\nendpoint = \"{}\"\nregion = \"us-east-1\"\nallow_http = true\n\n[province]",
                s3_endpoint()
            ),
        );
    }
    std::fs::write(province.job_path(), job).expect("job");
}

fn open(url: &str) -> Arc<dyn Warehouse> {
    let storage = fugong::publish::delta::Storage {
        endpoint: url.starts_with("s3://").then(s3_endpoint),
        region: Some("us-east-1".into()),
        allow_http: true,
    };
    fugong::publish::open(&JobOutput::Delta {
        url: url::Url::parse(url).expect("url"),
        storage,
    })
    .expect("warehouse")
}

fn fugong(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(args)
        .output()
        .expect("fugong")
}

fn run(job: &Path, date: NaiveDate) -> Output {
    run_with(job, date, &[])
}

/// `fugong run` of one date in process, with extra flags.
fn run_with(job: &Path, date: NaiveDate, extra: &[&str]) -> Output {
    let date = date.to_string();
    let mut args = vec![
        "run",
        "--quiet",
        "--in-process",
        "--job",
        job.to_str().expect("utf8"),
        "--date",
        &date,
    ];
    args.extend_from_slice(extra);
    fugong(&args)
}

fn python() -> String {
    std::env::var("FUGONG_PYTHON").expect("FUGONG_PYTHON: run the suite with `bash tests/run.sh`")
}

fn enterprise_rows(warehouse: &dyn Warehouse, date: NaiveDate) -> usize {
    warehouse
        .read_table("enterprise_daily", date)
        .expect("read")
        .iter()
        .map(|b| b.num_rows())
        .sum()
}

#[test]
fn the_seed_figures_read_the_same_in_deltalake_polars_and_duckdb_on_s3_and_file() {
    let local = tempfile::tempdir().expect("tmp");
    let file_url = url::Url::from_directory_path(local.path().join("wh"))
        .expect("file url")
        .to_string();
    let s3_url = format!("s3://{}/warehouse", new_bucket());
    for url in [file_url.as_str(), s3_url.as_str()] {
        let province = Province::jinan_qingdao();
        publish_jinan_and_qingdao(&province);
        delta_job(&province, url, "");
        let o = run(&province.job_path(), report_date());
        assert!(o.status.success(), "{url}: {}", text(&o));
        let mut check = Command::new(python());
        check
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/check_delta.py"))
            .args([url, "2020-02-24", "济南市", "98.78", "1"]);
        if url.starts_with("s3://") {
            check.arg(s3_endpoint());
        }
        let o = check.output().expect("python");
        assert!(o.status.success(), "{url}: {}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        for client in ["deltalake", "polars", "duckdb"] {
            assert!(
                out.contains(&format!("{client}: 济南市 98.78% rank 1")),
                "{out}"
            );
        }
        // fugong's own commands read it through the job.
        let o = fugong(&[
            "compare",
            "--job",
            province.job_path().to_str().expect("utf8"),
            "--date",
            "2020-02-24",
        ]);
        assert!(
            text(&o).contains("济南市规上工业企业开工率98.78%"),
            "{url}: {}",
            text(&o)
        );
        // Tables are Delta tables, partitioned by snapshot_date, with the manifest beside them.
        let w = open(url);
        let manifest = w
            .manifest(report_date())
            .expect("manifest")
            .expect("published");
        assert_eq!(manifest.version, 1);
        assert!(manifest.tables["city_daily"].delta_version.is_some());
        assert_eq!(enterprise_rows(&*w, report_date()), 1885 + 300);
    }
}

/// Two districts; `rows` enterprises each, for the date.
fn submit(province: &Province, date: NaiveDate, rows: u32, base: u32) {
    for (i, (code, name)) in [("370102", "历下区"), ("370103", "市中区")]
        .iter()
        .enumerate()
    {
        let mut r = report_for(
            name,
            (1..=rows)
                .map(|k| standard_row(base + i as u32 * 1000 + k, k % 3 != 0, 10, 8))
                .collect(),
        );
        r.date_text = Some(format!(
            "{}年{}月{}日",
            chrono::Datelike::year(&date),
            chrono::Datelike::month(&date),
            chrono::Datelike::day(&date)
        ));
        province.submit(date, &format!("{code}.xlsx"), &r.to_xlsx());
    }
}

fn two_districts() -> Province {
    Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ])
}

#[test]
fn versions_and_rollback_use_the_delta_tables_own_versions() {
    let local = tempfile::tempdir().expect("tmp");
    let url = url::Url::from_directory_path(local.path().join("wh"))
        .expect("url")
        .to_string();
    let province = two_districts();
    delta_job(&province, &url, "");
    let w = open(&url);
    let live_files = |w: &dyn Warehouse| -> BTreeSet<String> {
        let m = w.manifest(report_date()).expect("m").expect("published");
        m.tables["enterprise_daily"].files.iter().cloned().collect()
    };
    submit(&province, report_date(), 4, 0);
    assert!(run(&province.job_path(), report_date()).status.success());
    let v1 = live_files(&*w);
    submit(&province, report_date(), 6, 0);
    assert!(run(&province.job_path(), report_date()).status.success());
    assert_eq!(enterprise_rows(&*w, report_date()), 12);
    let job = province.job_path();
    let job = job.to_str().expect("utf8");
    let o = fugong(&[
        "rollback",
        "--job",
        job,
        "--date",
        "2020-02-24",
        "--to",
        "1",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("restored as version 3"), "{}", text(&o));
    assert_eq!(enterprise_rows(&*w, report_date()), 8, "version 1's rows");
    assert_eq!(live_files(&*w), v1, "version 1's very files");
    let o = fugong(&[
        "versions",
        "--job",
        job,
        "--date",
        "2020-02-24",
        "--format",
        "json",
    ]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 3);
    assert_eq!(list[2]["trigger"], "rollback");
    assert_eq!(list[2]["restored_version"], 1);
    assert_eq!(list[2]["live"], true);
}

/// Jobs publishing to the same tables from their own processes, `rounds` times over.
fn backfill(job: &Path, from: NaiveDate, to: NaiveDate) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["backfill", "--in-process", "--allow-regression", "--job"])
        .arg(job)
        .args(["--from", &from.to_string(), "--to", &to.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("backfill")
}

#[test]
fn two_jobs_publishing_different_dates_at_once_all_land() {
    let url = format!("s3://{}/national", new_bucket());
    let days =
        |first: u32| -> Vec<NaiveDate> { (first..first + 3).map(|d| date(2020, 2, d)).collect() };
    let (a_days, b_days) = (days(10), days(20));
    let a = two_districts();
    let b = two_districts();
    for (province, name, dates, rows) in
        [(&a, "half-a", &a_days, 3u32), (&b, "half-b", &b_days, 5u32)]
    {
        let job = std::fs::read_to_string(province.job_path())
            .expect("job")
            .replace("test-province", name);
        std::fs::write(province.job_path(), job).expect("job");
        delta_job(province, &url, "");
        for (i, d) in dates.iter().enumerate() {
            submit(province, *d, rows + i as u32, 0);
        }
    }
    let w = open(&url);
    for round in 1..=2u32 {
        if round > 1 {
            // New enterprises (the same counts): a round on the same bytes would publish nothing.
            for (province, dates, rows) in [(&a, &a_days, 3u32), (&b, &b_days, 5u32)] {
                for (i, d) in dates.iter().enumerate() {
                    submit(province, *d, rows + i as u32, 5000 * round);
                }
            }
        }
        let ca = backfill(&a.job_path(), a_days[0], a_days[2]);
        let cb = backfill(&b.job_path(), b_days[0], b_days[2]);
        for (who, child) in [("a", ca), ("b", cb)] {
            let o = child.wait_with_output().expect("wait");
            assert!(o.status.success(), "round {round}, job {who}: {}", text(&o));
        }
        for (dates, rows) in [(&a_days, 3usize), (&b_days, 5usize)] {
            for (i, d) in dates.iter().enumerate() {
                assert_eq!(
                    enterprise_rows(&*w, *d),
                    2 * (rows + i),
                    "round {round}: {d} holds exactly its rows"
                );
                let versions = w.versions(*d).expect("versions");
                assert!(
                    versions.len() >= round as usize,
                    "round {round}: {d}: {versions:?}"
                );
            }
        }
    }
}

#[test]
fn two_writers_of_the_same_date_are_serialised_and_a_reader_never_sees_a_mix() {
    let url = format!("s3://{}/same-date", new_bucket());
    let x = two_districts();
    let y = two_districts();
    for (province, name, rows) in [(&x, "writer-x", 3u32), (&y, "writer-y", 7u32)] {
        let job = std::fs::read_to_string(province.job_path())
            .expect("job")
            .replace("test-province", name);
        std::fs::write(province.job_path(), job).expect("job");
        delta_job(province, &url, "");
        submit(
            province,
            report_date(),
            rows,
            if rows == 3 { 0 } else { 500 },
        );
    }
    let w = open(&url);
    let (x_rows, y_rows) = (6usize, 14usize);
    // A race on a date nobody has published yet (an empty partition: nothing to remove, so only the
    // application transaction tells the writers apart).
    let fresh = date(2020, 2, 25);
    submit(&x, fresh, 3, 0);
    submit(&y, fresh, 7, 500);
    let spawn = |p: &Province, day: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fugong"))
            .args(["run", "--quiet", "--in-process", "--date", day, "--job"])
            .arg(p.job_path())
            .args(extra)
            // Both writers dwell before each table's commit, so that their four commits interleave.
            .env("FAILPOINTS", "delta::before-table-commit=sleep(400)")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run")
    };
    let children = [spawn(&x, "2020-02-25", &[]), spawn(&y, "2020-02-25", &[])];
    for child in children {
        let o = child.wait_with_output().expect("wait");
        // Published, superseded by the later-started writer (exit 3), or refused as a regression of
        // what the other one published first (exit 4).
        assert!(
            matches!(o.status.code(), Some(0) | Some(3) | Some(4)),
            "{}",
            text(&o)
        );
    }
    let rows = one_writers_date(&*w, fresh);
    assert!(
        rows == x_rows || rows == y_rows,
        "the first publish of a date mixed both writers: {rows} rows"
    );
    assert!(run(&x.job_path(), report_date()).status.success());
    assert_eq!(one_writers_date(&*w, report_date()), x_rows);

    let stop = AtomicBool::new(false);
    let seen = std::sync::Mutex::new(BTreeSet::new());
    let mut superseded = 0;
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let w = open(&url);
            while !stop.load(Ordering::SeqCst) {
                seen.lock()
                    .expect("lock")
                    .insert(enterprise_rows(&*w, report_date()));
            }
        });
        // A failed assertion below stops the reader too, so the scope ends and the test fails.
        let stopper = StopOnDrop(&stop);
        for round in 1..=3 {
            let before = w.versions(report_date()).expect("versions").len();
            // The held writer starts first, commits its first table and stops at a rendezvous; the
            // other starts after it, so it is the later-started one, and publishes the whole date;
            // then the held one goes on and must lose. Roles swap each round.
            let (held, other, other_rows) = if round % 2 == 1 {
                (&x, &y, y_rows)
            } else {
                (&y, &x, x_rows)
            };
            // Both writers send workbooks they have not published before (the same counts, other
            // enterprises): a writer whose tables would be the live ones publishes nothing at all.
            for (p, rows, base) in [(&x, 3u32, 0u32), (&y, 7, 500)] {
                submit(p, report_date(), rows, base + 2000 * round);
            }
            let meeting = tempfile::tempdir().expect("tempdir");
            let held_child = Command::new(env!("CARGO_BIN_EXE_fugong"))
                .args(["run", "--quiet", "--in-process", "--date", "2020-02-24"])
                .args(["--allow-regression", "--job"])
                .arg(held.job_path())
                .env(
                    "FAILPOINTS",
                    format!(
                        "delta::before-table-commit=1*off->return(rendezvous:{})",
                        meeting.path().display()
                    ),
                )
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while !meeting.path().join("waiting").exists() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "round {round}: the held writer never reached its second table"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let o = run_with(&other.job_path(), report_date(), &["--allow-regression"]);
            assert_eq!(o.status.code(), Some(0), "round {round}: {}", text(&o));
            std::fs::write(meeting.path().join("go"), "").expect("go");
            let o = held_child.wait_with_output().expect("wait");
            assert_eq!(
                o.status.code(),
                Some(3),
                "round {round}: the earlier-started writer loses: {}",
                text(&o)
            );
            assert!(
                text(&o).contains("another writer published 2020-02-24"),
                "round {round}: the loser says why: {}",
                text(&o)
            );
            superseded += 1;
            assert_eq!(
                one_writers_date(&*w, report_date()),
                other_rows,
                "round {round}: the later-started writer's date is live, whole"
            );
            let after = w.versions(report_date()).expect("versions");
            assert_eq!(
                after.len(),
                before + 1,
                "round {round}: the one publish that went live is a version"
            );
            let numbers: BTreeSet<u32> = after.iter().map(|v| v.version).collect();
            assert_eq!(numbers.len(), after.len(), "no version number taken twice");
        }
        drop(stopper);
        reader.join().expect("reader");
    });
    let seen = seen.into_inner().expect("seen");
    assert!(
        seen.iter().all(|n| *n == x_rows || *n == y_rows),
        "the reader saw a partial or mixed date: {seen:?}"
    );
    assert_eq!(superseded, 3, "the earlier-started writer lost every round");
}

/// Sets its flag when dropped, also while a failed assertion unwinds.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A date whose four tables and manifest all come from one publish: the rows of enterprise_daily are
/// the sums of district_daily and city_daily and the manifest's counts. Returns the rows.
fn one_writers_date(w: &dyn Warehouse, day: NaiveDate) -> usize {
    let rows = enterprise_rows(w, day);
    for table in ["district_daily", "city_daily"] {
        let total: i64 = w
            .read_table(table, day)
            .expect("read")
            .iter()
            .map(|b| {
                let c = column::<arrow::array::Int64Array>(b, "enterprises_total");
                c.iter().flatten().sum::<i64>()
            })
            .sum();
        assert_eq!(
            total as usize, rows,
            "{table} of {day} is the same publish's"
        );
    }
    let manifest = w.manifest(day).expect("read").expect("manifest");
    assert_eq!(
        manifest.tables["enterprise_daily"].rows as usize, rows,
        "the manifest of {day} is the live publish's"
    );
    rows
}

/// The log entries of a `file://` table that define it (hold a `metaData` action).
fn definitions(table_dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(table_dir.join("_delta_log"))
        .expect("log")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter(|e| {
            std::fs::read_to_string(e.path())
                .expect("entry")
                .lines()
                .any(|l| l.starts_with("{\"metaData\""))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    found
}

#[test]
fn two_writers_creating_the_tables_at_once_make_one_definition_and_both_publish() {
    let local = tempfile::tempdir().expect("tmp");
    let root = local.path().join("wh");
    let url = url::Url::from_directory_path(&root)
        .expect("url")
        .to_string();
    let (a, b) = (two_districts(), two_districts());
    let (a_day, b_day) = (date(2020, 3, 1), date(2020, 3, 2));
    for (province, name, day, rows) in [(&a, "maker-a", a_day, 3u32), (&b, "maker-b", b_day, 4u32)]
    {
        let job = std::fs::read_to_string(province.job_path())
            .expect("job")
            .replace("test-province", name);
        std::fs::write(province.job_path(), job).expect("job");
        delta_job(province, &url, "");
        submit(province, day, rows, 0);
    }
    // Both writers find no table, wait, then both write its first log entry: one wins.
    let spawn = |province: &Province, day: NaiveDate| {
        Command::new(env!("CARGO_BIN_EXE_fugong"))
            .args(["run", "--quiet", "--in-process", "--job"])
            .arg(province.job_path())
            .args(["--date", &day.to_string()])
            .env("FAILPOINTS", "delta::before-create=sleep(1500)")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run")
    };
    let (ca, cb) = (spawn(&a, a_day), spawn(&b, b_day));
    for (who, child) in [("a", ca), ("b", cb)] {
        let o = child.wait_with_output().expect("wait");
        assert!(o.status.success(), "{who}: {}", text(&o));
    }
    for table in fugong::records::TABLES {
        assert_eq!(
            definitions(&root.join(table)),
            vec!["00000000000000000000.json".to_string()],
            "{table} is defined once"
        );
    }
    let w = open(&url);
    assert_eq!(enterprise_rows(&*w, a_day), 6);
    assert_eq!(enterprise_rows(&*w, b_day), 8);
}

/// `count` `fugong run` processes of one job file (one run ledger), each of its own date, started at
/// once; every one must publish (none fails on the ledger's lock) and the ledger must hold every run.
fn runs_of_one_job_at_once(province: &Province, count: u32, extra: &[&str]) {
    let dates: Vec<NaiveDate> = (0..count).map(|i| date(2020, 3, 1 + i)).collect();
    for (i, d) in dates.iter().enumerate() {
        submit(province, *d, 2 + i as u32, 0);
    }
    let children: Vec<(NaiveDate, std::process::Child)> = dates
        .iter()
        .map(|d| {
            let child = Command::new(env!("CARGO_BIN_EXE_fugong"))
                .args(["run", "--quiet", "--in-process", "--job"])
                .arg(province.job_path())
                .args(["--date", &d.to_string()])
                .args(extra)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run");
            (*d, child)
        })
        .collect();
    for (d, child) in children {
        let o = child.wait_with_output().expect("wait");
        let all = text(&o);
        assert!(o.status.success(), "{count} runs, {d}: {all}");
        assert!(!all.contains("database is locked"), "{d}: {all}");
    }
    let o = fugong(&[
        "history",
        "--job",
        province.job_path().to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("history json");
    let published = runs
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["status"] == "published")
        .count();
    assert_eq!(published, count as usize, "{runs}");
}

#[test]
fn concurrent_runs_of_one_delta_job_wait_for_the_run_ledger() {
    for count in [2, 4] {
        let local = tempfile::tempdir().expect("tmp");
        let url = url::Url::from_directory_path(local.path().join("wh"))
            .expect("url")
            .to_string();
        let province = two_districts();
        delta_job(&province, &url, "");
        runs_of_one_job_at_once(&province, count, &[]);
        let w = open(&url);
        for i in 0..count {
            assert_eq!(
                enterprise_rows(&*w, date(2020, 3, 1 + i)),
                2 * (2 + i as usize)
            );
        }
    }
    for count in [2, 4] {
        let url = format!("s3://{}/same-job", new_bucket());
        let province = two_districts();
        delta_job(&province, &url, "");
        runs_of_one_job_at_once(&province, count, &[]);
        let w = open(&url);
        for i in 0..count {
            assert_eq!(
                enterprise_rows(&*w, date(2020, 3, 1 + i)),
                2 * (2 + i as usize)
            );
        }
    }
}

#[test]
fn concurrent_runs_of_one_local_job_take_turns_at_the_warehouse_lock() {
    for count in [2, 4] {
        let province = two_districts();
        runs_of_one_job_at_once(&province, count, &["--lock-wait-secs", "120"]);
        for i in 0..count {
            let d = date(2020, 3, 1 + i);
            assert_eq!(
                read_table(&province.warehouse(), "enterprise_daily", d).num_rows(),
                2 * (2 + i as usize)
            );
        }
    }
}

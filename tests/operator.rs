//! What an operator meets on a fresh machine: a day on which nobody submitted, the service's metrics and
//! log right after a restart, the run ledger's history.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::publish::{fugong, text};
use crate::serve::{free_port, http_get, service_job, sigterm, wait_for};
use crate::support::*;

fn job_arg(province: &Province) -> String {
    province.job_path().to_str().expect("utf8").to_string()
}

#[test]
fn a_day_without_submissions_fails_and_publishes_nothing_unless_allowed() {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    std::fs::create_dir_all(province.root().join("inbox/2020-02-24")).expect("inbox");
    let job = job_arg(&province);
    let o = fugong(
        &[
            "run",
            "--quiet",
            "--in-process",
            "--job",
            &job,
            "--date",
            "2020-02-24",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("no district submitted for 2020-02-24"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("WARN"), "logged at WARN: {}", text(&o));
    assert!(!fugong::publish::manifest_path(&province.warehouse(), report_date()).exists());
    let o = fugong(&["history", "--job", &job, "--format", "json"], &[]);
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("history");
    assert_eq!(runs[0]["status"], "failed", "{runs}");
    assert!(
        runs[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no district submitted for 2020-02-24")),
        "{runs}"
    );
    // A backfill over the day fails it too; --allow-empty publishes the day of missing districts.
    let o = fugong(
        &[
            "backfill",
            "--in-process",
            "--job",
            &job,
            "--from",
            "2020-02-24",
            "--to",
            "2020-02-24",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = fugong(
        &[
            "run",
            "--quiet",
            "--in-process",
            "--allow-empty",
            "--job",
            &job,
            "--date",
            "2020-02-24",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let m = fugong::publish::read_manifest(&province.warehouse(), report_date()).expect("manifest");
    assert!(m.districts.iter().all(|d| d.status == "missing"));
}

/// The value of one series in a Prometheus text exposition.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn after_a_restart_metrics_are_complete_from_the_first_scrape_and_the_log_names_the_next_run() {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    // The service's target date (yesterday in Shanghai) is published before it starts, so its
    // catch-up has nothing to do; the schedule fires once a year, at a moment the test never reaches.
    let target = crate::serve::today_in_shanghai() - chrono::Days::new(1);
    for (code, name, base) in [("370102", "历下区", 0), ("370103", "市中区", 10)] {
        let mut r = report_for(
            name,
            vec![
                standard_row(base + 1, true, 10, 8),
                standard_row(base + 2, false, 10, 8),
            ],
        );
        r.date_text = None;
        province.submit(target, &format!("{code}.xlsx"), &r.to_xlsx());
    }
    service_job(
        &province,
        "schedule = \"0 0 3 1 1 *\"\ntimezone = \"Asia/Shanghai\"\ncatchup_days = 0\nlookback_days = 0",
    );
    let job = job_arg(&province);
    let target_text = target.to_string();
    let o = fugong(
        &[
            "run",
            "--quiet",
            "--in-process",
            "--job",
            &job,
            "--date",
            &target_text,
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let ledger = fugong::ledger::Ledger::open(&province.warehouse().join("_state/ledger.sqlite"))
        .expect("ledger");
    let (finished, _) = ledger
        .last_success("test-province")
        .expect("ledger")
        .expect("a published run");

    let port = free_port();
    let log_path = province.root().join("serve.log");
    // The default log level (no --log), stderr a file: not a terminal.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["serve", "--listen", "off", "--jobs"])
        .arg(province.job_path().parent().expect("dir"))
        .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log"))
        .spawn()
        .expect("serve");
    let mut metrics = String::new();
    wait_for("/metrics", Duration::from_secs(30), || {
        let _ = rustls::crypto::ring::default_provider().install_default();
        match reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics")) {
            Ok(r) => {
                metrics = r.text().unwrap_or_default();
                true
            }
            Err(_) => false,
        }
    });
    let job_label = "job=\"test-province\"";
    assert_eq!(
        metric(
            &metrics,
            &format!("fugong_last_success_timestamp_seconds{{{job_label}}}")
        ),
        Some(finished as f64),
        "{metrics}"
    );
    for status in ["published", "unchanged", "failed", "refused", "abandoned"] {
        assert_eq!(
            metric(
                &metrics,
                &format!("fugong_runs_total{{{job_label},status=\"{status}\"}}")
            ),
            Some(0.0),
            "{status}: {metrics}"
        );
    }
    for counter in [
        "fugong_rows_published_total",
        "fugong_pull_retries_total",
        "fugong_regressions_total",
        "fugong_source_failures_total",
    ] {
        assert_eq!(
            metric(&metrics, &format!("{counter}{{{job_label}}}")),
            Some(0.0),
            "{counter}: {metrics}"
        );
    }
    // The last published run's districts: both accepted, none missing.
    assert_eq!(
        metric(
            &metrics,
            &format!("fugong_districts{{{job_label},status=\"missing\"}}")
        ),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            &format!("fugong_districts{{{job_label},status=\"partial\"}}")
        )
        .unwrap_or(0.0)
            + metric(
                &metrics,
                &format!("fugong_districts{{{job_label},status=\"accepted\"}}")
            )
            .unwrap_or(0.0),
        2.0,
        "{metrics}"
    );
    let _ = http_get(&format!("http://127.0.0.1:{port}/healthz"));
    sigterm(&child);
    let status = child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(0),
        "a clean shutdown on SIGTERM is exit 0"
    );
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(
        !log.contains('\u{1b}'),
        "no ANSI colour codes in a file: {log:?}"
    );
    let next = log
        .lines()
        .find(|l| l.contains("scheduled: next run"))
        .unwrap_or_else(|| panic!("one INFO line per job at the default level: {log}"));
    assert!(
        next.contains("INFO") && next.contains("test-province"),
        "{next}"
    );
    // The next 03:00 on 1 January in Shanghai (+08:00).
    assert!(next.contains("-01-01 03:00:00 CST"), "{next}");
}

#[test]
fn at_info_the_log_holds_fugongs_own_lines_not_third_party_noise() {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    crate::publish::submit_version(&province, report_date(), 1);
    let local = tempfile::tempdir().expect("tmp");
    let url = url::Url::from_directory_path(local.path().join("wh"))
        .expect("url")
        .to_string();
    let job_text = std::fs::read_to_string(province.job_path())
        .expect("job")
        .replace(
            "output = \"../warehouse\"",
            &format!("output = \"{url}\"\ntable_format = \"delta\""),
        );
    std::fs::write(province.job_path(), job_text).expect("job");
    let job = job_arg(&province);
    // The first publish creates the Delta tables: at the default level nothing is logged at all.
    let o = fugong(
        &[
            "run",
            "--quiet",
            "--in-process",
            "--job",
            &job,
            "--date",
            "2020-02-24",
        ],
        &[("RUST_LOG", "")],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "",
        "a quiet first publish"
    );
    crate::publish::submit_version(&province, report_date(), 2);
    let o = fugong(
        &[
            "--log",
            "info",
            "--log-format",
            "json",
            "run",
            "--quiet",
            "--in-process",
            "--job",
            &job,
            "--date",
            "2020-02-24",
        ],
        &[("RUST_LOG", "")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut targets = std::collections::BTreeSet::new();
    for line in String::from_utf8_lossy(&o.stderr).lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if event["level"] == "INFO" || event["level"] == "DEBUG" {
            targets.insert(event["target"].as_str().unwrap_or("").to_string());
        }
    }
    assert!(!targets.is_empty(), "fugong logs at INFO: {}", text(&o));
    assert!(
        targets.iter().all(|t| t.starts_with("fugong")),
        "only fugong's own targets at INFO: {targets:?}"
    );
}

#[test]
fn check_names_the_cron_field_suggests_the_nearest_key_and_names_the_file_once() {
    let province = Province::new(&[("370102", "历下区", "济南市")]);
    let job = job_arg(&province);
    let original = std::fs::read_to_string(province.job_path()).expect("job");
    let check = |settings: &str| {
        std::fs::write(province.job_path(), format!("{settings}\n{original}")).expect("job");
        let o = fugong(&["check", "--job", &job], &[]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let out = text(&o);
        for line in out
            .lines()
            .filter(|l| l.contains("problem") || l.contains(':'))
        {
            assert!(
                line.matches(job.as_str()).count() <= 1,
                "the file named once: {line}"
            );
        }
        assert!(!out.contains("nothing was published"), "{out}");
        out
    };
    let out = check("schedule = \"0 30 25 * * *\"\ntimezone = \"Asia/Shanghai\"");
    assert!(out.contains("hour 25: 0–23"), "{out}");
    let out = check("schedule = \"0 61 1 * * *\"\ntimezone = \"Asia/Shanghai\"");
    assert!(out.contains("minute 61: 0–59"), "{out}");
    let out = check("schedule = \"0 30 1 * 13 *\"\ntimezone = \"Asia/Shanghai\"");
    assert!(out.contains("month 13: 1–12"), "{out}");
    let out = check("schedule = \"0 30 1 * * *\"\ntimezone = \"Asia/Shanghai\"\ncatchup_day = 3");
    assert!(out.contains("did you mean `catchup_days`?"), "{out}");
    // The inbox's fixed folder is missing: a problem of the job, not of a publish.
    std::fs::remove_dir_all(province.root().join("inbox")).ok();
    let out = check("schedule = \"0 30 1 * * *\"\ntimezone = \"Asia/Shanghai\"");
    assert!(out.contains("[source] path"), "{out}");
}

#[test]
fn backfill_dry_run_names_each_districts_file_and_flags_dates_where_nothing_would_be_read() {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    crate::publish::submit_version(&province, report_date(), 1);
    // The 25th: only 历下区, and it twice; the 26th: nothing at all.
    let xlsx = report_for("历下区", vec![standard_row(1, true, 10, 8)]).to_xlsx();
    province.submit(date(2020, 2, 25), "370102.xlsx", &xlsx);
    province.submit(date(2020, 2, 25), "370102.xls", &xlsx);
    std::fs::create_dir_all(province.root().join("inbox/2020-02-26")).expect("mkdir");
    let job = job_arg(&province);
    let o = fugong(
        &[
            "backfill",
            "--dry-run",
            "--job",
            &job,
            "--from",
            "2020-02-24",
            "--to",
            "2020-02-26",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let inbox = province.root().join("inbox");
    let line_of = |code: &str, date: &str| -> String {
        let mut in_date = false;
        for line in out.lines() {
            if !line.starts_with(' ') {
                in_date = line.starts_with(date);
            } else if in_date && line.trim_start().starts_with(code) {
                return line.to_string();
            }
        }
        panic!("no line for {code} on {date}: {out}")
    };
    assert!(
        line_of("370102", "2020-02-24")
            .ends_with(&inbox.join("2020-02-24/370102.xlsx").display().to_string()),
        "{out}"
    );
    assert!(
        line_of("370102", "2020-02-25").contains("2 files, an ambiguous submission"),
        "{out}"
    );
    assert!(
        line_of("370103", "2020-02-25").contains("nothing (looked for"),
        "{out}"
    );
    let flagged: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("nothing would be read"))
        .collect();
    assert_eq!(flagged.len(), 2, "the 26th, and the summary: {out}");
    assert!(flagged[0].starts_with("2020-02-26"), "{out}");
    assert!(
        out.contains("1 date(s) where nothing would be read: 2020-02-26"),
        "{out}"
    );
    assert!(
        !province.warehouse().join("_manifests").exists(),
        "nothing published"
    );
}

//! `fugong serve`: schedules in the job's time zone, catch-up after downtime, lookback for late
//! districts, no overlapping runs, clean shutdown on SIGTERM mid-run; and `fugong backfill`.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use fugong::ledger::{Ledger, RunRecord};

use crate::support::*;

// ---------------------------------------------------------------------------------------------------
// Time zones

#[tokio::test]
async fn a_shanghai_schedule_fires_once_a_day_at_17_30_utc() {
    let tz: Tz = "Asia/Shanghai".parse().expect("tz");
    let mut job =
        tokio_cron_scheduler::Job::new_async_tz("0 30 1 * * *", tz, |_, _| Box::pin(async {}))
            .expect("job");
    let data = job.job_data().expect("data");
    assert_eq!(
        data.time_offset_seconds,
        8 * 3600,
        "the offset the scheduler fixes for Shanghai"
    );
    let mut scheduler = tokio_cron_scheduler::JobScheduler::new()
        .await
        .expect("scheduler");
    let id = scheduler.add(job).await.expect("add");
    let next = scheduler
        .next_tick_for_job(id)
        .await
        .expect("tick")
        .expect("a next tick");
    assert_eq!(
        (next.hour(), next.minute(), next.second()),
        (17, 30, 0),
        "{next}"
    );
    assert!(next > Utc::now() && next - Utc::now() <= chrono::Duration::days(1));

    // Every later tick is computed the way the scheduler does it: the stored schedule, iterated in the
    // fixed offset. Over 60 days: one tick a day, each at 17:30 UTC.
    let schedule = data.schedule().expect("cron schedule");
    let offset = chrono::FixedOffset::east_opt(data.time_offset_seconds).expect("offset");
    let ticks: Vec<_> = schedule
        .iter_after(Utc::now().with_timezone(&offset))
        .take(60)
        .map(|t| t.with_timezone(&Utc))
        .collect();
    for pair in ticks.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::days(1), "{pair:?}");
    }
    assert!(
        ticks
            .iter()
            .all(|t| (t.hour(), t.minute(), t.second()) == (17, 30, 0)),
        "{ticks:?}"
    );
    let _ = scheduler.shutdown().await;
}

#[tokio::test]
async fn a_live_schedule_in_shanghai_fires_once_per_slot() {
    let tz: Tz = "Asia/Shanghai".parse().expect("tz");
    let fired = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&fired);
    let job = tokio_cron_scheduler::Job::new_async_tz("*/2 * * * * *", tz, move |_, _| {
        let c = Arc::clone(&counter);
        Box::pin(async move {
            c.fetch_add(1, Ordering::SeqCst);
        })
    })
    .expect("job");
    let mut scheduler = tokio_cron_scheduler::JobScheduler::new()
        .await
        .expect("scheduler");
    scheduler.add(job).await.expect("add");
    scheduler.start().await.expect("start");
    tokio::time::sleep(Duration::from_millis(6200)).await;
    let _ = scheduler.shutdown().await;
    let n = fired.load(Ordering::SeqCst);
    assert!(
        (3..=4).contains(&n),
        "every 2 s for 6.2 s must fire 3 or 4 times, not twice as often: {n}"
    );
}

#[test]
fn a_zone_with_daylight_saving_is_refused_with_a_reason() {
    assert!(fugong::schedule::has_daylight_saving(
        "Europe/Berlin".parse().expect("tz"),
        2027
    ));
    assert!(!fugong::schedule::has_daylight_saving(
        "Asia/Shanghai".parse().expect("tz"),
        2027
    ));
    let province = Province::new(&[("370102", "历下区", "济南市")]);
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    std::fs::write(
        province.job_path(),
        format!("schedule = \"0 30 1 * * *\"\ntimezone = \"Europe/Berlin\"\n{job}"),
    )
    .expect("write");
    let err = match fugong::schedule::ScheduledJob::new(province.job()) {
        Ok(_) => panic!("a DST zone must be refused"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("Europe/Berlin") && err.contains("daylight saving"),
        "{err}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["serve", "--metrics-addr", "off", "--jobs"])
        .arg(province.job_path().parent().expect("dir"))
        .output()
        .expect("fugong");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("daylight saving"));
}

// ---------------------------------------------------------------------------------------------------
// Helpers for the service tests

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Prepend service settings to the province's job file.
pub fn service_job(province: &Province, settings: &str) {
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    std::fs::write(province.job_path(), format!("{settings}\n{job}")).expect("write");
}

/// Start `fugong serve`; its log goes to `serve.log` in the province folder (a file, not a pipe, so a
/// long-running service can never block on a full pipe).
pub fn start_serve(province: &Province, metrics_port: u16) -> Child {
    let log = std::fs::File::create(serve_log(province)).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["--log", "info", "serve", "--listen", "off", "--jobs"])
        .arg(province.job_path().parent().expect("dir"))
        .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("fugong serve")
}

pub fn serve_log(province: &Province) -> std::path::PathBuf {
    province.root().join("serve.log")
}

pub fn history(warehouse: &Path) -> Vec<RunRecord> {
    let path = warehouse.join("_state").join("ledger.sqlite");
    if !path.exists() {
        return Vec::new();
    }
    Ledger::open(&path)
        .and_then(|l| l.history("test-province", None, None))
        .unwrap_or_default()
}

pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

pub fn today_in_shanghai() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

pub fn http_get(url: &str) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::get(url)
        .and_then(|r| r.text())
        .unwrap_or_default()
}

/// A slow HTTP source: every district answers after `delay_ms` with its workbook.
pub struct SlowServer {
    pub delay_ms: Arc<AtomicU64>,
    pub requests: Arc<AtomicU32>,
    pub addr: SocketAddr,
}

pub fn start_slow_server(workbooks: HashMap<String, Vec<u8>>) -> SlowServer {
    use axum::extract::{Path as UrlPath, State};
    let delay_ms = Arc::new(AtomicU64::new(300));
    let requests = Arc::new(AtomicU32::new(0));
    let state = (
        Arc::clone(&delay_ms),
        Arc::clone(&requests),
        Arc::new(workbooks),
    );
    type S = (
        Arc<AtomicU64>,
        Arc<AtomicU32>,
        Arc<HashMap<String, Vec<u8>>>,
    );
    async fn handler(
        State((delay, requests, books)): State<S>,
        UrlPath(district): UrlPath<String>,
    ) -> Vec<u8> {
        requests.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(delay.load(Ordering::SeqCst))).await;
        books.get(&district).cloned().unwrap_or_default()
    }
    let app = axum::Router::new()
        .route("/{district}", axum::routing::get(handler))
        .with_state(state);
    SlowServer {
        delay_ms,
        requests,
        addr: serve_on_loopback(app),
    }
}

// ---------------------------------------------------------------------------------------------------
// The service

#[test]
fn serve_runs_on_schedule_never_overlaps_and_stops_cleanly_on_sigterm_mid_run() {
    let today = today_in_shanghai();
    let districts = [
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ];
    let workbooks: HashMap<String, Vec<u8>> = districts
        .iter()
        .enumerate()
        .map(|(i, (code, name, _))| {
            let mut r = report_for(
                name,
                (1..=3)
                    .map(|k| standard_row(i as u32 * 10 + k, true, 10, 8))
                    .collect(),
            );
            r.date_text = None;
            (code.to_string(), r.to_xlsx())
        })
        .collect();
    let server = start_slow_server(workbooks);
    let province = Province::new(&districts);
    let job = std::fs::read_to_string(province.job_path()).expect("job").replace(
        "[source]\nkind = \"dir\"\npath = \"../inbox/{date}/{district_code}.*\"\n",
        &format!("[source]\nkind = \"http\"\nurl = \"http://{}/{{district_code}}\"\ntimeout_secs = 3\nretry_attempts = 1\n", server.addr),
    );
    std::fs::write(province.job_path(), job).expect("write");
    // Every second, while a run takes at least 300 ms per district: triggers that find the job running
    // are skipped.
    service_job(
        &province,
        "schedule = \"* * * * * *\"\ntimezone = \"Asia/Shanghai\"\ntarget = \"today\"\ncatchup_days = 0\nlookback_days = 0\nshutdown_timeout_secs = 1",
    );
    let port = free_port();
    let mut child = start_serve(&province, port);
    let warehouse = province.warehouse();
    // The first run publishes; the later ones find the same bytes and publish nothing (`unchanged`).
    wait_for("three successful runs", Duration::from_secs(60), || {
        history(&warehouse)
            .iter()
            .filter(|r| r.status == "published" || r.status == "unchanged")
            .count()
            >= 3
    });
    let statuses: Vec<String> = history(&warehouse).into_iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| *s == "published").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        http_get(&format!("http://127.0.0.1:{port}/healthz")),
        "ok\n"
    );
    let metrics = http_get(&format!("http://127.0.0.1:{port}/metrics"));
    assert!(
        metrics.contains("fugong_runs_total{job=\"test-province\",status=\"published\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fugong_last_success_timestamp_seconds{job=\"test-province\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fugong_rows_published_total{job=\"test-province\"}"),
        "{metrics}"
    );

    // A run in progress when SIGTERM arrives: the server now takes 20 s to answer.
    let published_before = history(&warehouse)
        .iter()
        .filter(|r| r.status == "published")
        .count();
    let manifest = fugong::publish::manifest_path(&warehouse, today);
    let manifest_before = std::fs::read(&manifest).expect("manifest");
    server.delay_ms.store(20_000, Ordering::SeqCst);
    let seen = server.requests.load(Ordering::SeqCst);
    wait_for(
        "a run to start against the slow server",
        Duration::from_secs(30),
        || {
            server.requests.load(Ordering::SeqCst) > seen
                && history(&warehouse)
                    .last()
                    .is_some_and(|r| r.status == "running")
        },
    );
    sigterm(&child);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    let stderr = std::fs::read_to_string(serve_log(&province)).expect("serve log");
    assert!(stderr.contains("abandon"), "{stderr}");

    let runs = history(&warehouse);
    assert_eq!(
        runs.last().map(|r| r.status.as_str()),
        Some("abandoned"),
        "{runs:#?}"
    );
    assert_eq!(
        runs.iter().filter(|r| r.status == "published").count(),
        published_before
    );
    assert_eq!(
        std::fs::read(&manifest).expect("manifest"),
        manifest_before,
        "nothing published half-way"
    );
    assert_eq!(
        std::fs::read_dir(warehouse.join("_staging"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
    assert_eq!(
        std::fs::read_dir(warehouse.join("_state/journal"))
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
    // Never two runs of the job at once.
    let mut intervals: Vec<(String, String)> = runs
        .iter()
        .map(|r| {
            (
                r.started_at.clone(),
                r.finished_at.clone().unwrap_or_default(),
            )
        })
        .collect();
    intervals.sort();
    for w in intervals.windows(2) {
        assert!(w[1].0 >= w[0].1, "overlapping runs: {w:?}");
    }
    assert!(
        runs.iter()
            .all(|r| r.trigger == "schedule" || r.trigger == "catch-up"),
        "{runs:#?}"
    );
}

#[test]
fn catch_up_after_downtime_then_lookback_republishes_a_late_district() {
    let today = today_in_shanghai();
    let day = |back: u64| today - chrono::Days::new(back);
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    let submit = |date: NaiveDate, code: &str, name: &str| {
        let mut r = report_for(
            name,
            (1..=2)
                .map(|k| standard_row(k + if code == "370103" { 50 } else { 0 }, true, 10, 8))
                .collect(),
        );
        r.date_text = None;
        province.submit(date, &format!("{code}.xlsx"), &r.to_xlsx());
    };
    for back in 1..=4 {
        submit(day(back), "370102", "历下区");
    }
    // The service ran last four days ago, then was down.
    fugong::run_job(&province.job(), day(4), &fugong::RunOptions::default())
        .expect("published before the downtime");
    service_job(
        &province,
        "schedule = \"*/2 * * * * *\"\ntimezone = \"Asia/Shanghai\"\ntarget = \"yesterday\"\ncatchup_days = 3\nlookback_days = 2",
    );
    let mut child = start_serve(&province, free_port());
    let warehouse = province.warehouse();
    wait_for("catch-up of three dates", Duration::from_secs(60), || {
        history(&warehouse)
            .iter()
            .filter(|r| r.trigger == "catch-up" && r.status == "published")
            .count()
            >= 3
    });
    let runs = history(&warehouse);
    let catch_up: Vec<NaiveDate> = runs
        .iter()
        .filter(|r| r.trigger == "catch-up")
        .map(|r| r.report_date)
        .collect();
    assert_eq!(
        catch_up,
        vec![day(3), day(2), day(1)],
        "oldest first, only dates without a published run"
    );

    // 市中区 sends the day before yesterday's report late: the next scheduled run's lookback republishes it.
    let status_of = |date: NaiveDate| {
        fugong::publish::read_manifest(&warehouse, date)
            .map(|m| {
                m.districts
                    .iter()
                    .find(|d| d.district_code == "370103")
                    .map(|d| d.status.clone())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    };
    assert_eq!(status_of(day(2)), "missing");
    submit(day(2), "370103", "市中区");
    wait_for("a lookback run", Duration::from_secs(60), || {
        history(&warehouse)
            .iter()
            .any(|r| r.trigger == "lookback" && r.report_date == day(2) && r.status == "published")
    });
    assert_eq!(status_of(day(2)), "accepted");
    sigterm(&child);
    let status = child.wait().expect("wait");
    assert!(status.success());
    // Dates whose submissions did not change are not republished by lookback.
    let lookbacks: Vec<NaiveDate> = history(&warehouse)
        .iter()
        .filter(|r| r.trigger == "lookback")
        .map(|r| r.report_date)
        .collect();
    assert!(lookbacks.iter().all(|d| *d == day(2)), "{lookbacks:?}");
}

// ---------------------------------------------------------------------------------------------------
// Backfill

#[test]
fn backfill_ten_dates_two_at_a_time_with_one_broken_date() {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370202", "市南区", "青岛市"),
    ]);
    let first = date(2020, 2, 10);
    let dates: Vec<NaiveDate> = (0..10).map(|i| first + chrono::Days::new(i)).collect();
    for (i, d) in dates.iter().enumerate() {
        let resumed = 2 + (i as u32 % 5);
        for (code, name, base) in [("370102", "历下区", 0u32), ("370202", "市南区", 100)] {
            let mut r = report_for(
                name,
                (1..=8)
                    .map(|k| standard_row(base + k, k <= resumed, 10, 8))
                    .collect(),
            );
            r.date_text = None;
            province.submit(*d, &format!("{code}.xlsx"), &r.to_xlsx());
        }
    }
    // The fourth date cannot be published: a folder stands where its manifest must be written.
    let broken = dates[3];
    let obstacle = fugong::publish::manifest_path(&province.warehouse(), broken);
    std::fs::create_dir_all(&obstacle).expect("mkdir");

    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args([
            "backfill",
            "--parallel",
            "2",
            "--from",
            "2020-02-10",
            "--to",
            "2020-02-19",
            "--job",
        ])
        .arg(province.job_path())
        .output()
        .expect("fugong");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "a failed date makes the exit non-zero: {out}"
    );
    assert!(
        out.contains("10 dates") && out.contains("9 published, 1 failed"),
        "{out}"
    );
    let warehouse = province.warehouse();
    for d in &dates {
        assert_eq!(
            fugong::publish::manifest_path(&warehouse, *d).is_file(),
            *d != broken,
            "{d}"
        );
    }
    // Each date's change is against the nearest earlier published date, whatever order they ran in.
    let rate = |d: NaiveDate| {
        let c = read_table(&warehouse, "city_daily", d);
        let rates = c.column_by_name("resumption_rate").expect("col");
        let rates = rates
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .expect("f64");
        let changes = c.column_by_name("resumption_rate_change").expect("col");
        let changes = changes
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .expect("f64");
        (
            rates.value(0),
            (!arrow::array::Array::is_null(changes, 0)).then(|| changes.value(0)),
        )
    };
    let published: Vec<NaiveDate> = dates.iter().copied().filter(|d| *d != broken).collect();
    assert_eq!(rate(published[0]).1, None);
    for w in published.windows(2) {
        let expected = rate(w[1]).0 - rate(w[0]).0;
        let change = rate(w[1]).1.expect("a change");
        assert!((change - expected).abs() < 1e-12, "{} vs {}", w[1], w[0]);
    }
    // --only-failed picks up the broken date once the obstacle is gone.
    std::fs::remove_dir(&obstacle).expect("rm");
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args([
            "backfill",
            "--only-failed",
            "--from",
            "2020-02-10",
            "--to",
            "2020-02-19",
            "--job",
        ])
        .arg(province.job_path())
        .output()
        .expect("fugong");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("1 dates") && out.contains(&broken.to_string()),
        "{out}"
    );
    assert!(fugong::publish::manifest_path(&warehouse, broken).is_file());
    let after = rate(dates[4]);
    assert!(
        (after.1.expect("a change") - (after.0 - rate(broken).0)).abs() < 1e-12,
        "the next date now compares with the repaired one"
    );
    // --dry-run lists dates and sources without pulling or writing.
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args([
            "backfill",
            "--dry-run",
            "--only-missing",
            "--from",
            "2020-02-09",
            "--to",
            "2020-02-10",
            "--job",
        ])
        .arg(province.job_path())
        .output()
        .expect("fugong");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("1 date(s)")
            && out.contains("2020-02-09")
            && out.contains("inbox/2020-02-09/370102.*"),
        "{out}"
    );
}

#[test]
fn a_second_writer_waits_for_the_lock_or_refuses() {
    let province = Province::new(&[("370102", "历下区", "济南市")]);
    province.submit(report_date(), "370102.xlsx", &Report::standard(2).to_xlsx());
    let held =
        fugong::publish::OutputLock::acquire(&province.warehouse(), Duration::ZERO).expect("lock");
    let job_path = province.job_path();
    let run = move |wait: &str| {
        Command::new(env!("CARGO_BIN_EXE_fugong"))
            .args([
                "run",
                "--quiet",
                "--date",
                "2020-02-24",
                "--lock-wait-secs",
                wait,
                "--job",
            ])
            .arg(&job_path)
            .output()
            .expect("fugong")
    };
    let refused = run("0");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("being written by another fugong process")
            && err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(!fugong::publish::manifest_path(&province.warehouse(), report_date()).exists());
    // With a wait, the second writer publishes once the first is done.
    let waiter = std::thread::spawn(move || run("30"));
    std::thread::sleep(Duration::from_millis(800));
    drop(held);
    let waited = waiter.join().expect("thread");
    assert!(
        waited.status.success(),
        "{}",
        String::from_utf8_lossy(&waited.stderr)
    );
    assert!(fugong::publish::manifest_path(&province.warehouse(), report_date()).is_file());
}

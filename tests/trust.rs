//! Never silently worse (contract §9), each fault tried on real files and real processes: a source that
//! cannot be reached fails the run and changes nothing; a regression is refused unless the operator
//! allows it; an automatic run keeps a district's previous submission when its pull fails, and publishes
//! (with a metric) a newly pulled worse file; a full disk keeps the published version; `check` names
//! every problem of a job; SIGINT and SIGTERM stop cleanly; a closed stdout is no panic.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fugong::ledger::{Ledger, RunCounts, RunStatus, Trigger};
use fugong::{RunOptions, run_job};

use crate::publish::{
    assert_no_leftovers, fugong, run_date, submit_version, text, two_district_province,
};
use crate::serve::{free_port, start_slow_server, wait_for};
use crate::support::*;

/// Everything a reader or an operator can see of the warehouse: tables, manifests and versions (not
/// `_state`, where the ledger records every attempt).
fn published(warehouse: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![warehouse.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(warehouse)
                .expect("prefix")
                .to_string_lossy()
                .into_owned();
            if rel.starts_with("_state") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    files
}

fn runs(province: &Province) -> Vec<fugong::ledger::RunRecord> {
    Ledger::open(&province.warehouse().join("_state/ledger.sqlite"))
        .and_then(|l| l.history("test-province", None, None))
        .expect("ledger")
}

fn published_province() -> Province {
    let province = two_district_province(1);
    let o = run_date(&province, report_date(), &[]);
    assert!(o.status.success(), "{}", text(&o));
    province
}

#[test]
fn a_missing_inbox_folder_fails_the_run_and_changes_nothing() {
    let province = published_province();
    let before = published(&province.warehouse());
    std::fs::rename(
        province.root().join("inbox"),
        province.root().join("inbox.unmounted"),
    )
    .expect("unmount");
    let o = run_date(&province, report_date(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("inbox") && text(&o).contains("does not exist"),
        "{}",
        text(&o)
    );
    assert_eq!(
        published(&province.warehouse()),
        before,
        "nothing published"
    );
    let last = runs(&province).pop().expect("a run");
    assert_eq!(last.status, "failed");
    assert!(
        last.error.as_deref().unwrap_or_default().contains("inbox"),
        "{last:?}"
    );
    // The whole source is gone for a backfill too: every date fails, none is published as missing.
    let job = province.job_path();
    let o = fugong(
        &[
            "backfill",
            "--in-process",
            "--job",
            job.to_str().expect("utf8"),
            "--from",
            "2020-02-23",
            "--to",
            "2020-02-24",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("0 published, 2 failed"), "{}", text(&o));
    assert_eq!(published(&province.warehouse()), before);
}

#[test]
fn an_unknown_placeholder_is_a_configuration_error_that_touches_nothing() {
    let province = published_province();
    let before = published(&province.warehouse());
    let runs_before = runs(&province).len();
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    std::fs::write(province.job_path(), job.replace("{date}", "{datum}")).expect("job");
    let o = run_date(&province, report_date(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("{datum}"), "{}", text(&o));
    assert_eq!(published(&province.warehouse()), before);
    assert_eq!(runs(&province).len(), runs_before, "not even a failed run");
}

/// Run a command without the capabilities that let root read any folder, so that a folder's
/// permissions apply as they do to the service's user. None when that cannot be arranged here.
fn as_unprivileged(args: &[&str]) -> Option<std::process::Output> {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut cmd = if is_root {
        let mut c = Command::new("setpriv");
        c.args([
            "--inh-caps=-dac_override,-dac_read_search",
            "--bounding-set=-dac_override,-dac_read_search",
            env!("CARGO_BIN_EXE_fugong"),
        ]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_fugong"))
    };
    cmd.args(args).output().ok()
}

#[test]
fn a_permission_denied_inbox_is_a_failed_run_never_missing_districts() {
    use std::os::unix::fs::PermissionsExt;
    let province = published_province();
    let before = published(&province.warehouse());
    let folder = province.root().join("inbox").join("2020-02-24");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let job = province.job_path();
    let o = as_unprivileged(&[
        "run",
        "--quiet",
        "--in-process",
        "--job",
        job.to_str().expect("utf8"),
        "--date",
        "2020-02-24",
    ]);
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    let Some(o) = o else {
        println!("skipped: setpriv is needed to drop root's permission override here");
        return;
    };
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("Permission denied"), "{}", text(&o));
    assert!(text(&o).contains("never taken as"), "{}", text(&o));
    assert_eq!(published(&province.warehouse()), before);
}

#[test]
fn a_vanished_district_is_a_regression_refused_then_published_on_the_operators_word() {
    let province = published_province();
    let before = published(&province.warehouse());
    std::fs::remove_file(province.root().join("inbox/2020-02-24/370103.xlsx")).expect("rm");
    let o = run_date(&province, report_date(), &[]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("370103 市中区: accepted (8 rows) -> missing (0 rows)")
            && t.contains("no longer at the source")
            && t.contains("--allow-regression"),
        "{t}"
    );
    assert_eq!(published(&province.warehouse()), before);
    assert_eq!(runs(&province).pop().expect("run").status, "refused");
    // backfill refuses the same way, date by date.
    let job = province.job_path();
    let o = fugong(
        &[
            "backfill",
            "--in-process",
            "--job",
            job.to_str().expect("utf8"),
            "--from",
            "2020-02-24",
            "--to",
            "2020-02-24",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("refused"), "{}", text(&o));
    // On the operator's word it is published.
    let o = fugong(
        &[
            "run",
            "--quiet",
            "--in-process",
            "--allow-regression",
            "--job",
            job.to_str().expect("utf8"),
            "--date",
            "2020-02-24",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("regression published: 370103"),
        "{}",
        text(&o)
    );
    let d = read_table(&province.warehouse(), "district_daily", report_date());
    let status = column::<arrow::array::StringArray>(&d, "submission_status");
    assert_eq!(status.value(1), "missing");
    let manifest = fugong::publish::read_manifest(&province.warehouse(), report_date()).expect("m");
    assert_eq!(manifest.version, 2);
}

/// An HTTP source whose answer per district can be changed while it runs.
#[derive(Clone, Default)]
struct Answers(Arc<Mutex<HashMap<String, Answer>>>);

/// An HTTP status and body.
type Answer = (u16, Vec<u8>);

impl Answers {
    fn set(&self, district: &str, status: u16, body: Vec<u8>) {
        self.0
            .lock()
            .expect("lock")
            .insert(district.to_string(), (status, body));
    }
}

fn answering_server(answers: Answers) -> std::net::SocketAddr {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::StatusCode;
    async fn handler(
        State(answers): State<Answers>,
        UrlPath(district): UrlPath<String>,
    ) -> (StatusCode, Vec<u8>) {
        let (status, body) = answers
            .0
            .lock()
            .expect("lock")
            .get(&district)
            .cloned()
            .unwrap_or((404, Vec::new()));
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND),
            body,
        )
    }
    serve_on_loopback(
        axum::Router::new()
            .route("/{district}", axum::routing::get(handler))
            .with_state(answers),
    )
}

fn workbook(name: &str, base: u32, bad_rows: usize) -> Vec<u8> {
    let mut r = report_for(
        name,
        (1..=6)
            .map(|k| standard_row(base + k, true, 10, 8))
            .collect(),
    );
    for row in r.rows.iter_mut().take(bad_rows) {
        row[6] = s("约100");
    }
    r.to_xlsx()
}

#[test]
fn an_automatic_run_keeps_a_failed_pull_and_publishes_a_newly_worse_file_with_a_metric() {
    let answers = Answers::default();
    answers.set("370102", 200, workbook("历下区", 0, 0));
    answers.set("370103", 200, workbook("市中区", 100, 0));
    let addr = answering_server(answers.clone());
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    let job = std::fs::read_to_string(province.job_path())
        .expect("job")
        .replace("test-province", "trust-lookback")
        .replace(
            "kind = \"dir\"\npath = \"../inbox/{date}/{district_code}.*\"",
            &format!(
                "kind = \"http\"\nurl = \"http://{addr}/{{district_code}}\"\nretry_attempts = 1"
            ),
        );
    std::fs::write(province.job_path(), job).expect("job");
    let job = province.job();
    let lookback = RunOptions {
        trigger: Trigger::Lookback,
        ..RunOptions::default()
    };
    let first = run_job(&job, report_date(), &lookback).expect("published");
    assert_eq!(first.rows_published, 12);

    // 市中区's server fails: the automatic run keeps its previous submission.
    answers.set("370103", 500, Vec::new());
    let kept = run_job(&job, report_date(), &lookback).expect("published");
    assert_eq!(kept.rows_published, 12, "nothing lost");
    assert!(kept.regressions.is_empty());
    let manifest = fugong::publish::read_manifest(&province.warehouse(), report_date()).expect("m");
    let d = &manifest.districts[1];
    assert_eq!(
        (
            d.district_code.as_str(),
            d.submission.as_str(),
            d.status.as_str()
        ),
        ("370103", "kept-previous", "accepted")
    );
    assert!(
        d.kept_reason
            .as_deref()
            .unwrap_or_default()
            .contains("pull failed"),
        "{d:?}"
    );
    assert_eq!(d.rows_accepted, 6);
    // A person running the same date by hand is told, not silently given a worse table.
    let manual = run_job(&job, report_date(), &RunOptions::default()).expect_err("refused");
    assert!(
        matches!(manual, fugong::RunError::Regression { .. }),
        "{manual}"
    );

    // 市中区 sends a worse file: published (it is what the district sent), logged and counted.
    answers.set("370103", 200, workbook("市中区", 100, 2));
    let worse = run_job(&job, report_date(), &lookback);
    // What serve does with every run: hand the result to the metrics.
    fugong::metrics::record_run(&job.name, &worse);
    let worse = worse.expect("published");
    assert_eq!(worse.rows_published, 10);
    assert_eq!(worse.regressions.len(), 1);
    assert_eq!(worse.regressions[0].district_code, "370103");
    let metrics = fugong::metrics::render();
    assert!(
        metrics.contains("fugong_regressions_total{job=\"trust-lookback\"} 1"),
        "{metrics}"
    );
    let manifest = fugong::publish::read_manifest(&province.warehouse(), report_date()).expect("m");
    assert_eq!(manifest.districts[1].submission, "pulled");
    assert_eq!(manifest.version, 3);

    // The whole server down: a failed run, nothing published, counted.
    answers.set("370102", 503, Vec::new());
    answers.set("370103", 503, Vec::new());
    let before = published(&province.warehouse());
    let down = run_job(&job, report_date(), &lookback);
    fugong::metrics::record_run(&job.name, &down);
    let down = down.expect_err("failed");
    assert!(matches!(down, fugong::RunError::Source(_)), "{down}");
    assert!(
        down.to_string()
            .contains("every district's download failed"),
        "{down}"
    );
    assert_eq!(published(&province.warehouse()), before);
    assert!(
        fugong::metrics::render()
            .contains("fugong_source_failures_total{job=\"trust-lookback\"} 1")
    );
}

#[test]
fn a_kept_submission_whose_blob_is_gone_fails_loudly_and_keeps_the_published_version() {
    let province = published_province();
    let before = published(&province.warehouse());
    std::fs::remove_file(province.root().join("inbox/2020-02-24/370103.xlsx")).expect("rm");
    std::fs::remove_dir_all(province.warehouse().join("_state/blobs")).expect("rm blobs");
    let lookback = RunOptions {
        trigger: Trigger::Lookback,
        ..RunOptions::default()
    };
    let err = run_job(&province.job(), report_date(), &lookback).expect_err("cannot keep");
    assert!(err.to_string().contains("no longer kept"), "{err}");
    assert_eq!(published(&province.warehouse()), before);
}

#[test]
fn history_into_a_closed_pipe_ends_quietly() {
    let province = published_province();
    let ledger = Ledger::open(&province.warehouse().join("_state/ledger.sqlite")).expect("ledger");
    for _ in 0..3000 {
        let id = ledger
            .start_run("test-province", report_date(), Trigger::Backfill)
            .expect("start");
        ledger
            .finish_run(id, RunStatus::Published, RunCounts::default(), None)
            .expect("finish");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["history", "--job"])
        .arg(province.job_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("history");
    let mut first = [0u8; 256];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("the table starts");
    // The reader went away (as `head -2` does) with more than a pipe's worth of table unread.
    let out = child.wait_with_output().expect("exit");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    let o = fugong(
        &[
            "history",
            "--job",
            province.job_path().to_str().expect("utf8"),
            "--from",
            "2020-02-25",
            "--to",
            "2020-02-24",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// A job file for `check`, with a schedule, in `dir`, sourcing from `province`'s inbox.
fn job_text(name: &str, extra_top: &str, source: &str) -> String {
    format!(
        "name = \"{name}\"\noutput = \"../warehouse-{name}\"\nschedule = \"0 30 1 * * *\"\ntimezone = \"Asia/Shanghai\"\n{extra_top}\n[province]\ncode = \"370000\"\nname = \"山东省\"\n\n[source]\n{source}\n\n[[districts]]\ncode = \"370102\"\nname = \"历下区\"\ncity = \"济南市\"\n"
    )
}

const DIR_SOURCE: &str = "kind = \"dir\"\npath = \"../inbox/{date}/{district_code}.*\"";

#[test]
fn check_reports_every_problem_of_every_job_with_its_file_and_key() {
    let province = published_province();
    let jobs = province.root().join("checked");
    std::fs::create_dir_all(&jobs).expect("mkdir");
    let write = |file: &str, text: String| std::fs::write(jobs.join(file), text).expect("write");
    write("a-good.toml", job_text("good", "", DIR_SOURCE));
    let o = fugong(
        &[
            "check",
            "--job",
            jobs.join("a-good.toml").to_str().expect("utf8"),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("ok: "), "{}", text(&o));

    write(
        "b-cron.toml",
        job_text("cron", "", DIR_SOURCE).replace("0 30 1 * * *", "0 61 1 * * *"),
    );
    write(
        "c-dst.toml",
        job_text("dst", "", DIR_SOURCE).replace("Asia/Shanghai", "Europe/Berlin"),
    );
    write(
        "d-inbox.toml",
        job_text(
            "inbox",
            "",
            &DIR_SOURCE.replace("../inbox", "../no-such-inbox"),
        ),
    );
    write(
        "e-placeholder.toml",
        job_text("placeholder", "", &DIR_SOURCE.replace("{date}", "{datum}")),
    );
    std::fs::write(province.root().join("a-file"), b"").expect("file");
    write(
        "f-output.toml",
        job_text("output", "", DIR_SOURCE).replace(
            "output = \"../warehouse-output\"",
            "output = \"../a-file/warehouse\"",
        ),
    );
    write(
        "g-token.toml",
        job_text(
            "token",
            "",
            "kind = \"http\"\nurl = \"https://r.example/{district_code}\"\ntoken_env = \"FUGONG_CHECK_NO_SUCH_TOKEN\"",
        ),
    );
    write("h-key.toml", job_text("key", "schedul = \"x\"", DIR_SOURCE));
    write("i-twice.toml", job_text("good", "", DIR_SOURCE));
    write(
        "j-two.toml",
        job_text("two", "", &DIR_SOURCE.replace("{date}", "{dat}")).replace("370000", "37000"),
    );
    let o = fugong(&["check", "--jobs", jobs.to_str().expect("utf8")], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    for (file, key) in [
        ("b-cron.toml", "schedule `0 61 1 * * *`"),
        ("c-dst.toml", "daylight saving"),
        ("d-inbox.toml", "[source] path"),
        ("e-placeholder.toml", "{datum}"),
        ("f-output.toml", "output:"),
        ("g-token.toml", "[source] token_env"),
        ("h-key.toml", "schedul"),
        ("i-twice.toml", "name: `good`"),
        ("j-two.toml", "[province] code"),
        ("j-two.toml", "{dat}"),
    ] {
        assert!(
            out.lines().any(|l| l.contains(file) && l.contains(key)),
            "no line names {file} and {key}:\n{out}"
        );
    }
    // serve checks the same before anything runs: nothing is published, not even for the good job.
    let o = fugong(
        &[
            "serve",
            "--metrics-addr",
            "off",
            "--jobs",
            jobs.to_str().expect("utf8"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("c-dst.toml"), "{}", text(&o));
    assert!(!province.root().join("warehouse-good/_manifests").exists());
}

#[test]
fn json_logs_have_no_duplicate_keys_and_a_fatal_error_is_json_too() {
    let province = published_province();
    let job = province.job_path();
    let o = fugong(
        &[
            "--log-format",
            "json",
            "--log",
            "debug",
            "run",
            "--quiet",
            "--in-process",
            "--job",
            job.to_str().expect("utf8"),
            "--date",
            "2020-02-24",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let mut lines = 0;
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        no_duplicate_keys(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        lines += 1;
    }
    assert!(lines > 5, "{stderr}");
    assert!(stderr.contains("\"district_code\":\"370102\""), "{stderr}");
    let o = fugong(
        &[
            "--log-format",
            "json",
            "run",
            "--job",
            "/no/such/job.toml",
            "--date",
            "2020-02-24",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let last = stderr.lines().last().expect("a line");
    let v: serde_json::Value = serde_json::from_str(last).expect("fatal error as JSON");
    assert_eq!(v["level"], "ERROR");
    assert!(
        v["fields"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("job.toml"),
        "{last}"
    );
}

/// Parse a JSON document, failing on an object with a repeated key (serde_json keeps the last).
fn no_duplicate_keys(text: &str) -> Result<(), serde_json::Error> {
    use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};
    struct Any;
    impl<'de> DeserializeSeed<'de> for Any {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(Any)
        }
    }
    impl<'de> Visitor<'de> for Any {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(A::Error::custom(format!("duplicate key `{key}`")));
                }
                map.next_value_seed(Any)?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Any)?.is_some() {}
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    Any.deserialize(&mut de)
}

/// An HTTP province served by a slow server, for the signal tests.
fn slow_http_province(
    name: &str,
    addr: std::net::SocketAddr,
    root: Option<&Path>,
) -> (Province, PathBuf) {
    let districts = [
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ];
    let province = Province::new(&districts);
    let text = std::fs::read_to_string(province.job_path())
        .expect("job")
        .replace("test-province", name)
        .replace(
            "kind = \"dir\"\npath = \"../inbox/{date}/{district_code}.*\"",
            &format!("kind = \"http\"\nurl = \"http://{addr}/{{district_code}}\"\nretry_attempts = 1\ntimeout_secs = 60"),
        );
    let path = match root {
        Some(dir) => {
            let text = text.replace(
                "output = \"../warehouse\"",
                &format!("output = \"{}\"", province.warehouse().display()),
            );
            let p = dir.join(format!("{name}.toml"));
            std::fs::write(&p, text).expect("job");
            p
        }
        None => {
            std::fs::write(province.job_path(), text).expect("job");
            province.job_path()
        }
    };
    (province, path)
}

fn slow_workbooks() -> HashMap<String, Vec<u8>> {
    [("370102", "历下区", 0), ("370103", "市中区", 100)]
        .iter()
        .map(|(code, name, base)| {
            let mut r = report_for(
                name,
                (1..=2)
                    .map(|k| standard_row(base + k, true, 10, 8))
                    .collect(),
            );
            r.date_text = None;
            (code.to_string(), r.to_xlsx())
        })
        .collect()
}

fn ledger_runs(warehouse: &Path, job: &str) -> Vec<fugong::ledger::RunRecord> {
    let path = warehouse.join("_state/ledger.sqlite");
    if !path.exists() {
        return Vec::new();
    }
    Ledger::open(&path)
        .and_then(|l| l.history(job, None, None))
        .unwrap_or_default()
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn sigint_to_backfill_abandons_the_date_in_flight_prints_the_summary_and_exits_130() {
    let server = start_slow_server(slow_workbooks());
    server
        .delay_ms
        .store(1500, std::sync::atomic::Ordering::SeqCst);
    let (province, job) = slow_http_province("backfill-sigint", server.addr, None);
    let child = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args([
            "backfill",
            "--in-process",
            "--from",
            "2020-02-20",
            "--to",
            "2020-02-24",
            "--job",
        ])
        .arg(&job)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("backfill");
    let warehouse = province.warehouse();
    wait_for(
        "the first date to be published and the second to run",
        Duration::from_secs(60),
        || {
            let runs = ledger_runs(&warehouse, "backfill-sigint");
            runs.len() >= 2 && runs.last().is_some_and(|r| r.status == "running")
        },
    );
    signal(child.id(), "INT");
    let out = child.wait_with_output().expect("exit");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("abandoned") && stdout.contains("not started"),
        "{stdout}"
    );
    assert!(stdout.contains("1 published"), "{stdout}");
    let runs = ledger_runs(&warehouse, "backfill-sigint");
    assert!(runs.iter().all(|r| r.status != "running"), "{runs:#?}");
    assert_eq!(
        runs.iter().filter(|r| r.status == "abandoned").count(),
        1,
        "{runs:#?}"
    );
    assert_no_leftovers(&warehouse);
    assert!(!fugong::publish::manifest_path(&warehouse, date(2020, 2, 21)).exists());
}

#[test]
fn sigterm_to_serve_with_two_jobs_mid_run_gives_both_their_timeout_at_once() {
    let server = start_slow_server(slow_workbooks());
    server
        .delay_ms
        .store(60_000, std::sync::atomic::Ordering::SeqCst);
    let jobs = tempfile::tempdir().expect("jobs");
    let settings = "schedule = \"0 0 0 1 1 *\"\ntimezone = \"Asia/Shanghai\"\ntarget = \"today\"\ncatchup_days = 0\nlookback_days = 0\nshutdown_timeout_secs = 2\n";
    let mut provinces = Vec::new();
    for name in ["serve-a", "serve-b"] {
        let (province, path) = slow_http_province(name, server.addr, Some(jobs.path()));
        let text = std::fs::read_to_string(&path).expect("job");
        std::fs::write(&path, format!("{settings}{text}")).expect("job");
        provinces.push((name, province));
    }
    let log = std::fs::File::create(jobs.path().join("serve.log")).expect("log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args([
            "--log",
            "info",
            "serve",
            "--listen",
            "off",
            "--in-process",
            "--jobs",
        ])
        .arg(jobs.path())
        .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve");
    // Catch-up of today (catchup_days = 0) runs both jobs at start, each stuck on the slow server.
    wait_for("both jobs to be running", Duration::from_secs(60), || {
        provinces.iter().all(|(name, p)| {
            ledger_runs(&p.warehouse(), name)
                .last()
                .is_some_and(|r| r.status == "running")
        })
    });
    let started = Instant::now();
    signal(child.id(), "TERM");
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    // Each job: 2 s to finish, then 5 s to reach a checkpoint; at once, not one after the other.
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(12),
        "stopped after {took:?}"
    );
    let log = std::fs::read_to_string(jobs.path().join("serve.log")).expect("log");
    assert_eq!(log.matches("did not finish in time").count(), 2, "{log}");
    for (_, p) in &provinces {
        assert!(
            !fugong::publish::manifest_path(&p.warehouse(), today()).exists(),
            "nothing published"
        );
    }
}

fn today() -> chrono::NaiveDate {
    crate::serve::today_in_shanghai()
}

// ---------------------------------------------------------------------------------------------------
// A full disk

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_run_keeps_the_published_version_and_the_next_run_leaves_nothing() {
    let province = two_district_province(1);
    let disk = province.root().join("disk");
    std::fs::create_dir_all(&disk).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&disk)
        .output();
    match mounted {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            println!(
                "skipped: cannot mount a tmpfs here (tests run as root in CI): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            return;
        }
        Err(e) => {
            println!("skipped: cannot run mount: {e}");
            return;
        }
    }
    let _mount = Mount(disk.clone());
    // The warehouse on the small disk; the ledger elsewhere (SQLite needs room to record the failure).
    let job = std::fs::read_to_string(province.job_path())
        .expect("job")
        .replace(
            "output = \"../warehouse\"",
            "output = \"../disk/warehouse\"\nledger = \"../ledger.sqlite\"",
        );
    std::fs::write(province.job_path(), job).expect("job");
    let warehouse = disk.join("warehouse");
    let o = run_date(&province, report_date(), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let before = published(&warehouse);

    // New submissions, already kept as blobs (so the disk fills where the tables are written).
    submit_version(&province, report_date(), 2);
    for code in ["370102", "370103"] {
        let bytes = std::fs::read(
            province
                .root()
                .join(format!("inbox/2020-02-24/{code}.xlsx")),
        )
        .expect("read");
        let sha = fugong::pull::sha256_hex(&bytes);
        std::fs::write(warehouse.join("_state/blobs").join(sha), bytes).expect("blob");
    }
    let filler = disk.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).expect("filler");
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        while f.write_all(&[0]).is_ok() {}
        let _ = f.sync_all();
    }
    let o = run_date(&province, report_date(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("No space left on device"), "{}", text(&o));
    assert_eq!(
        published(&warehouse),
        before,
        "the published version is intact"
    );
    for t in crate::publish::TABLES {
        read_table(&warehouse, t, report_date());
    }

    std::fs::remove_file(&filler).expect("free the disk");
    let o = run_date(&province, report_date(), &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_no_leftovers(&warehouse);
    let manifest = fugong::publish::read_manifest(&warehouse, report_date()).expect("m");
    assert_eq!(manifest.version, 2);
}

//! Notices (contract §13) to a real webhook server on loopback that captures what it receives: the
//! `published` notice after `run`, `failed` for a source that cannot be reached, `refused-upload`,
//! reminders before the deadline naming exactly the districts without a submission (once per offset,
//! across a restart of `serve`), an endpoint answering 500 then 200 (retried), one that never answers
//! (the publish is not delayed). Each format's body is checked against its documented shape.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;

use crate::portal::{JOB, portal_province, serve, workbook};
use crate::publish::text;
use crate::serve::wait_for;
use crate::support::*;

/// A webhook receiver: every body it gets, per path; `/flaky` answers 500 to its first request,
/// `/silent` never answers.
#[derive(Clone, Default)]
struct Hook {
    bodies: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    flaky: Arc<AtomicU32>,
}

impl Hook {
    fn start() -> (Hook, String) {
        let hook = Hook::default();
        async fn receive(State(h): State<Hook>, uri: axum::http::Uri, body: String) -> StatusCode {
            let path = uri.path().to_string();
            if path == "/silent" {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
            h.bodies.lock().expect("lock").push((path.clone(), value));
            if path == "/flaky" && h.flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            StatusCode::OK
        }
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(hook.clone());
        let addr = serve_on_loopback(app);
        (hook, format!("http://{addr}"))
    }

    fn on(&self, path: &str) -> Vec<serde_json::Value> {
        self.bodies
            .lock()
            .expect("lock")
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

fn notify_tables(hook: &str, tables: &[(&str, &str, &str)]) -> String {
    tables
        .iter()
        .map(|(path, format, events)| {
            format!("[[notify]]\nurl = \"{hook}{path}?key=SECRET-KEY\"\nformat = \"{format}\"\nevents = [{events}]\n")
        })
        .collect()
}

fn run(province: &Province, date: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["run", "--quiet", "--in-process", "--job"])
        .arg(province.job_path())
        .args(["--date", date])
        .args(extra)
        .output()
        .expect("run")
}

fn two() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]
}

#[test]
fn published_and_failed_notices_in_each_format_and_a_flaky_endpoint_is_retried() {
    let (hook, url) = Hook::start();
    let tables = notify_tables(
        &url,
        &[
            ("/json", "json", "\"published\", \"failed\""),
            ("/wecom", "wecom", "\"published\""),
            ("/dingtalk", "dingtalk", "\"published\""),
            ("/flaky", "json", "\"published\""),
        ],
    );
    let province = portal_province(
        &two(),
        &format!("deadline = \"+1 09:00\"\npublic_url = \"https://fugong.example/\"\n{tables}"),
    );
    let date = report_date();
    province.submit(
        date,
        "370102.xlsx",
        &workbook("历下区", date, 4, 0).to_xlsx(),
    );
    let o = run(&province, "2020-02-24", &[]);
    assert!(o.status.success(), "{}", text(&o));
    // Delivered before the command exits.
    let json = hook.on("/json");
    assert_eq!(json.len(), 1, "{json:?}");
    let n = &json[0];
    assert_eq!(n["event"], "published");
    assert_eq!(n["job"], JOB);
    assert_eq!(n["date"], "2020-02-24");
    assert_eq!(n["version"], 1);
    assert!(
        n["headline"]
            .as_str()
            .is_some_and(|h| h.contains("济南市规上工业企业开工率")),
        "{n}"
    );
    assert_eq!(n["counts"]["accepted"], 1);
    assert_eq!(n["counts"]["missing"], 1);
    assert_eq!(n["missing"][0]["code"], "370103");
    assert_eq!(
        n["late"].as_array().map(Vec::len),
        Some(0),
        "the inbox file came at 08:00, on time"
    );
    assert_eq!(
        n["report_url"],
        format!("https://fugong.example/jobs/{JOB}/dates/2020-02-24/report")
    );
    let wecom = &hook.on("/wecom")[0];
    assert_eq!(wecom["msgtype"], "markdown");
    let content = wecom["markdown"]["content"].as_str().expect("content");
    assert!(
        content.contains("济南市规上工业企业开工率") && content.contains("未报送：济南市市中区"),
        "{content}"
    );
    assert!(content.len() <= 4096);
    let ding = &hook.on("/dingtalk")[0];
    assert_eq!(ding["msgtype"], "markdown");
    assert_eq!(ding["markdown"]["title"], "2020-02-24 复工日报已汇总发布");
    assert!(
        ding["markdown"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("查看当日比较报告"))
    );
    // 500, then 200: retried and delivered.
    assert_eq!(hook.on("/flaky").len(), 2, "tried twice");

    // A source that cannot be reached as a whole: a failed run, a `failed` notice with the reason.
    std::fs::rename(
        province.root().join("inbox"),
        province.root().join("inbox-moved"),
    )
    .expect("mv");
    let o = run(&province, "2020-02-24", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let json = hook.on("/json");
    assert_eq!(json.len(), 2);
    assert_eq!(json[1]["event"], "failed");
    assert!(
        json[1]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("inbox")),
        "{}",
        json[1]
    );
    // --no-notify: nothing.
    let o = run(&province, "2020-02-24", &["--no-notify"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(hook.on("/json").len(), 2);

    // Every delivery is in the audit log with the host only; the URL's key is nowhere.
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["audit", "--format", "json", "--job"])
        .arg(province.job_path())
        .output()
        .expect("audit");
    let audit = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        audit.contains("\"notice\"") && audit.contains("127.0.0.1"),
        "{audit}"
    );
    assert!(!audit.contains("SECRET-KEY"));
}

#[test]
fn an_endpoint_that_never_answers_does_not_delay_the_publish() {
    let (hook, url) = Hook::start();
    let tables = notify_tables(&url, &[("/silent", "json", "\"published\"")]);
    let province = portal_province(&two(), &tables);
    let date = report_date();
    province.submit(
        date,
        "370102.xlsx",
        &workbook("历下区", date, 4, 0).to_xlsx(),
    );
    let started = Instant::now();
    let o = run(&province, "2020-02-24", &[]);
    let took = started.elapsed();
    assert!(o.status.success(), "{}", text(&o));
    let published = std::fs::metadata(fugong::publish::manifest_path(&province.warehouse(), date))
        .and_then(|m| m.modified())
        .expect("manifest");
    // Published at once; the command then gave the notice its 3 tries of 10 s, and no more.
    let published_after = published
        .duration_since(std::time::SystemTime::now() - took)
        .unwrap_or_default();
    assert!(
        published_after < Duration::from_secs(10),
        "published {published_after:?} into the run"
    );
    assert!(took < Duration::from_secs(40), "{took:?}");
    assert!(
        took >= Duration::from_secs(29),
        "three tries of 10 s: {took:?}"
    );
    assert!(text(&o).contains("could not be delivered"), "{}", text(&o));
    assert!(
        !text(&o).contains("SECRET-KEY"),
        "the URL is a secret: {}",
        text(&o)
    );
    let _ = hook;
}

#[test]
fn reminders_name_exactly_the_districts_without_a_submission_once_per_offset_across_a_restart() {
    let (hook, url) = Hook::start();
    // Today's deadline 20 minutes from now (to the minute), a reminder 30 minutes before it: due now.
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
    let due = now + chrono::Duration::minutes(20);
    if due.date_naive() != now.date_naive() {
        eprintln!("too close to midnight in Shanghai for a same-day deadline; nothing to check");
        return;
    }
    let tables = notify_tables(
        &url,
        &[
            ("/all", "json", "\"remind\""),
            ("/jinan-shizhong", "wecom", "\"remind\""),
        ],
    );
    // The second endpoint speaks for 市中区 only.
    let tables = tables.replacen(
        "format = \"wecom\"",
        "format = \"wecom\"\ndistricts = [\"370103\"]",
        1,
    );
    let settings = format!(
        "deadline = \"+0 {}\"\ntarget = \"today\"\nremind_before_mins = [30, 5]\n{tables}",
        due.format("%H:%M")
    );
    let province = portal_province(
        &[
            ("370102", "历下区", "济南市"),
            ("370103", "市中区", "济南市"),
            ("370202", "市南区", "青岛市"),
        ],
        &settings,
    );
    // 历下区's file is in the inbox already; 市中区 and 市南区 have sent nothing.
    let today = now.date_naive();
    let mut r = workbook("历下区", today, 3, 0);
    r.date_text = None;
    province.submit(today, "370102.xlsx", &r.to_xlsx());
    let mut served = serve(province, &[]);
    // The first tick runs at start; the next ones every 15 s.
    wait_for("a reminder", Duration::from_secs(40), || {
        !hook.on("/all").is_empty() && !hook.on("/jinan-shizhong").is_empty()
    });
    let first = hook.on("/all");
    let named: Vec<&str> = first[0]["not_submitted"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert_eq!(first[0]["event"], "remind");
    assert_eq!(first[0]["minutes_before"], 30);
    assert!(
        named.contains(&"370103") && named.contains(&"370202"),
        "{named:?}"
    );
    let wecom = hook.on("/jinan-shizhong");
    assert_eq!(wecom.len(), 1);
    let content = wecom[0]["markdown"]["content"].as_str().expect("content");
    assert!(
        content.contains("市中区") && !content.contains("市南区"),
        "{content}"
    );
    assert!(
        !named.contains(&"370102"),
        "a file in the inbox is a submission: {named:?}"
    );
    assert_eq!(named.len(), 2);
    // The board lists the reminders sent for the date.
    let province_token = crate::portal::token(&served.province, &["--province"]);
    let board = crate::portal::client()
        .get(format!("{}/jobs/{JOB}/dates/{today}", served.base))
        .bearer_auth(&province_token)
        .send()
        .expect("board")
        .text()
        .expect("html");
    assert!(
        board.contains("催报记录") && board.contains("截止前 30 分钟"),
        "{board}"
    );
    // A restart: the same offset and date are not sent again.
    served.restart();
    std::thread::sleep(Duration::from_secs(20));
    assert_eq!(
        hook.on("/all").len(),
        1,
        "once per offset and date, across a restart"
    );
    let _ = JOB;
}

#[test]
fn a_refused_upload_is_told_to_the_districts_endpoint() {
    let (hook, url) = Hook::start();
    let tables = notify_tables(
        &url,
        &[
            ("/lixia", "json", "\"refused-upload\""),
            ("/shizhong", "dingtalk", "\"refused-upload\""),
        ],
    );
    // Each endpoint speaks for one district.
    let tables = tables
        .replacen(
            "events = [\"refused-upload\"]",
            "events = [\"refused-upload\"]\ndistricts = [\"370102\"]",
            1,
        )
        .replacen(
            "format = \"dingtalk\"\nevents = [\"refused-upload\"]",
            "format = \"dingtalk\"\nevents = [\"refused-upload\"]\ndistricts = [\"370103\"]",
            1,
        );
    let province = portal_province(
        &two(),
        &format!("public_url = \"https://fugong.example\"\n{tables}"),
    );
    let served = serve(province, &[]);
    let lixia = crate::portal::token(&served.province, &["--district", "370102"]);
    let date = report_date();
    let (status, _) = crate::portal::upload(
        &served.base,
        &lixia,
        "2020-02-24",
        "370102",
        "市中区的表.xlsx",
        workbook("市中区", date, 3, 100).to_xlsx(),
    );
    assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    wait_for("the notice", Duration::from_secs(20), || {
        !hook.on("/lixia").is_empty()
    });
    let n = &hook.on("/lixia")[0];
    assert_eq!(n["event"], "refused-upload");
    assert_eq!(n["district"]["code"], "370102");
    assert_eq!(n["file_name"], "市中区的表.xlsx");
    assert_eq!(n["findings"][0]["code"], "district-mismatch");
    assert_eq!(
        n["link"],
        format!("https://fugong.example/jobs/{JOB}/districts/370102?date=2020-02-24")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        hook.on("/shizhong").is_empty(),
        "not to another district's endpoint"
    );
}

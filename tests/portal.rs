//! The intake portal (contract §12–§13) through real HTTP on loopback against a real `fugong serve`:
//! uploads taken and refused with their findings, the latest taken upload winning in the run, the board
//! and the status, timeliness in the tables, and every security control proven by a request that must
//! fail.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{Array, BooleanArray, StringArray, TimestampMicrosecondArray};
use chrono::NaiveDate;
use reqwest::StatusCode;
use reqwest::blocking::Client;

use crate::publish::text;
use crate::serve::{free_port, wait_for};
use crate::support::*;

pub const JOB: &str = "test-province";

/// A province served by `fugong serve` with its portal on a free loopback port.
pub struct Served {
    pub province: Province,
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
    port: u16,
    extra: Vec<String>,
}

impl Served {
    /// Stop the service (as a crash or a deploy would) and start it again on the same port.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_serve(&self.province, self.port, &self.log, &self.extra);
        wait_healthy(&self.base);
    }
}

fn spawn_serve(province: &Province, port: u16, log: &Path, extra: &[String]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log");
    Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["--log", "info", "serve", "--jobs"])
        .arg(province.job_path().parent().expect("dir"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--metrics-addr",
            "off",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve")
}

fn wait_healthy(base: &str) {
    let client = Client::new();
    wait_for("the portal", Duration::from_secs(60), || {
        client
            .get(format!("{base}/healthz"))
            .send()
            .is_ok_and(|r| r.status().is_success())
    });
}

impl Drop for Served {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(400).collect();
            eprintln!("--- the end of serve's log ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Service settings that never fire during a test (once a year) and catch up on nothing.
pub const QUIET: &str =
    "schedule = \"0 0 3 1 1 *\"\ntimezone = \"Asia/Shanghai\"\ncatchup_days = 0\nlookback_days = 0";
/// The schedule line of `QUIET`.
pub const QUIET_SCHEDULE: &str = "schedule = \"0 0 3 1 1 *\"";

/// The province's job with top-level `settings` (after the quiet schedule); tables such as `[limits]`
/// go after them, in `tables`.
pub fn portal_province(districts: &[(&str, &str, &str)], settings: &str) -> Province {
    let (top, tables) = match settings.find("\n[") {
        Some(i) => (&settings[..i], &settings[i + 1..]),
        None if settings.starts_with('[') => ("", settings),
        None => (settings, ""),
    };
    let province = Province::new(districts);
    province.write_job(tables);
    let settings = top;
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    std::fs::write(province.job_path(), format!("{QUIET}\n{settings}\n{job}")).expect("job");
    std::fs::create_dir_all(province.root().join("inbox")).expect("inbox");
    province
}

pub fn serve(province: Province, extra: &[&str]) -> Served {
    let port = free_port();
    let log = province.root().join("serve.log");
    let _ = std::fs::remove_file(&log);
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let child = spawn_serve(&province, port, &log, &extra);
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&base);
    Served {
        province,
        child,
        base,
        log,
        port,
        extra,
    }
}

/// Issue a token with `fugong token issue` (`scope`: `--district CODE`, `--city CODE`, `--province`).
pub fn token(province: &Province, scope: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["token", "issue", "--job"])
        .arg(province.job_path())
        .args(scope)
        .output()
        .expect("token issue");
    assert!(o.status.success(), "{}", text(&o));
    let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(token.starts_with("fg_"), "{token}");
    token
}

pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn submission_url(base: &str, date: &str, code: &str) -> String {
    format!("{base}/api/v1/jobs/{JOB}/dates/{date}/districts/{code}/submission")
}

/// POST a workbook's bytes as a district's submission.
pub fn upload(
    base: &str,
    token: &str,
    date: &str,
    code: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (StatusCode, serde_json::Value) {
    let r = client()
        .post(submission_url(base, date, code))
        .bearer_auth(token)
        .header("Content-Type", "application/octet-stream")
        .header("X-File-Name", name)
        .body(bytes)
        .send()
        .expect("upload");
    let status = r.status();
    let body = r.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
    )
}

pub fn workbook(district_name: &str, date: NaiveDate, rows: u32, base: u32) -> Report {
    let mut r = report_for(
        district_name,
        (1..=rows)
            .map(|k| standard_row(base + k, k % 4 != 0, 20, 15))
            .collect(),
    );
    r.date_text = Some(format!(
        "{}年{}月{}日",
        chrono::Datelike::year(&date),
        chrono::Datelike::month(&date),
        chrono::Datelike::day(&date)
    ));
    r
}

fn two_cities() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
        ("370202", "市南区", "青岛市"),
    ]
}

fn d24() -> &'static str {
    "2020-02-24"
}

#[test]
fn an_upload_is_checked_as_a_run_reads_it_taken_or_refused_and_the_latest_taken_one_is_published() {
    let province = portal_province(&two_cities(), "deadline = \"+1 09:00\"");
    let served = serve(province, &[]);
    let base = served.base.clone();
    let lixia = token(&served.province, &["--district", "370102"]);
    let date = report_date();

    // A workbook with a row error: taken (partial), the finding with its cell.
    let mut report = workbook("历下区", date, 6, 0);
    report.rows[2][6] = s("约100");
    let (status, first) = upload(
        &base,
        &lixia,
        d24(),
        "370102",
        "历下区-0224.xlsx",
        report.to_xlsx(),
    );
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["taken"], true);
    assert_eq!(first["status"], "partial");
    assert_eq!(first["rows_accepted"], 5);
    assert_eq!(first["rows_rejected"], 1);
    let cell = format!("{}{}", report.col_of("职工总数(人)"), report.excel_row(2));
    assert_eq!(first["findings"][0]["code"], "type-error");
    assert_eq!(first["findings"][0]["cell"], cell.as_str(), "{first}");
    assert_eq!(first["findings"][0]["value"], "约100");
    let receipt = &first["receipt"];
    assert_eq!(receipt["file_name"], "历下区-0224.xlsx");
    assert_eq!(receipt["on_time"], false, "2020's deadline has long passed");
    assert_eq!(receipt["sha256"].as_str().map(str::len), Some(64));
    let bytes = report.to_xlsx();
    assert_eq!(receipt["bytes"].as_u64(), Some(bytes.len() as u64));

    // Another district's workbook: refused (422), it replaces nothing.
    let (status, refused) = upload(
        &base,
        &lixia,
        d24(),
        "370102",
        "wrong.xlsx",
        workbook("市中区", date, 3, 100).to_xlsx(),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["taken"], false);
    assert_eq!(refused["status"], "rejected");
    assert_eq!(refused["findings"][0]["code"], "district-mismatch");

    // The fixed workbook: taken, accepted; the blob is kept under its hash.
    let fixed = workbook("历下区", date, 6, 0).to_xlsx();
    let sha = fugong::pull::sha256_hex(&fixed);
    let (status, second) = upload(&base, &lixia, d24(), "370102", "历下区-更正.xlsx", fixed);
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["status"], "accepted");
    assert!(
        fugong::pull::blobs::BlobStore::for_output(&served.province.warehouse()).has(&sha),
        "the upload's bytes are in the blob store"
    );

    // 市中区 has a file in the inbox; 市南区 nothing. A province token sees all three.
    served.province.submit(
        date,
        "370103.xlsx",
        &workbook("市中区", date, 4, 100).to_xlsx(),
    );
    let province_token = token(&served.province, &["--province"]);
    let status: serde_json::Value = client()
        .get(format!("{base}/api/v1/jobs/{JOB}/dates/{}/status", d24()))
        .bearer_auth(&province_token)
        .send()
        .expect("status")
        .json()
        .expect("json");
    assert_eq!(status["deadline"], "2020-02-25T01:00:00Z");
    assert_eq!(status["published_version"], serde_json::Value::Null);
    let lines = status["districts"].as_array().expect("districts");
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["code"], "370102");
    assert_eq!(lines[0]["state"], "taken");
    assert_eq!(lines[0]["source"], "upload");
    assert_eq!(lines[0]["rows_accepted"], 6);
    assert_eq!(lines[0]["late"], true);
    assert_eq!(lines[2]["state"], "missing");
    // A district token sees its own line only.
    let own: serde_json::Value = client()
        .get(format!("{base}/api/v1/jobs/{JOB}/dates/{}/status", d24()))
        .bearer_auth(&lixia)
        .send()
        .expect("status")
        .json()
        .expect("json");
    assert_eq!(own["districts"].as_array().map(Vec::len), Some(1));

    // The run publishes the latest taken upload for 历下区 and the pulled file for 市中区.
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["run", "--quiet", "--in-process", "--job"])
        .arg(served.province.job_path())
        .args(["--date", d24()])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", text(&o));
    let m = fugong::publish::read_manifest(&served.province.warehouse(), date).expect("manifest");
    let lixia_line = &m.districts[0];
    assert_eq!(lixia_line.sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(lixia_line.source_kind.as_deref(), Some("upload"));
    assert_eq!(
        lixia_line.source.as_deref(),
        Some(format!("upload:{}", second["receipt"]["id"]).as_str())
    );
    assert_eq!(lixia_line.source_file.as_deref(), Some("历下区-更正.xlsx"));
    assert_eq!(m.districts[1].source_kind.as_deref(), Some("dir"));
    let enterprises = read_table(&served.province.warehouse(), "enterprise_daily", date);
    let files = column::<StringArray>(&enterprises, "source_file");
    assert_eq!(
        (0..enterprises.num_rows())
            .filter(|&i| files.value(i) == "历下区-更正.xlsx")
            .count(),
        6
    );
    // Timeliness in the tables: the upload's receipt time, late; the inbox file's modification time
    // (08:00 the next morning), on time; 市南区 missing (null).
    let district = read_table(&served.province.warehouse(), "district_daily", date);
    let submitted = column::<TimestampMicrosecondArray>(&district, "submitted_at");
    let on_time = column::<BooleanArray>(&district, "on_time");
    let received = chrono::DateTime::parse_from_rfc3339(
        second["receipt"]["received_at"]
            .as_str()
            .expect("received_at"),
    )
    .expect("time");
    assert_eq!(submitted.value(0), received.timestamp_micros());
    assert!(!on_time.value(0) && on_time.value(1));
    assert_eq!(
        submitted.value(1),
        chrono::DateTime::parse_from_rfc3339("2020-02-25T00:00:00Z")
            .expect("t")
            .timestamp_micros()
    );
    assert!(submitted.is_null(2) && on_time.is_null(2));
    let city = read_table(&served.province.warehouse(), "city_daily", date);
    let on_time_cities = column::<arrow::array::Int64Array>(&city, "districts_on_time");
    assert_eq!((on_time_cities.value(0), on_time_cities.value(1)), (1, 0));
    // Now published: the status names the version (the board is reread within a few seconds).
    let mut status = serde_json::Value::Null;
    wait_for(
        "the published version on the board",
        Duration::from_secs(15),
        || {
            status = client()
                .get(format!("{base}/api/v1/jobs/{JOB}/dates/{}/status", d24()))
                .bearer_auth(&province_token)
                .send()
                .expect("status")
                .json()
                .expect("json");
            status["published_version"] == 1
        },
    );
    assert_eq!(status["districts"][1]["source"], "dir");
    // The district page's template download: the day's template with the published enterprises.
    let t = client()
        .get(format!(
            "{base}/jobs/{JOB}/districts/370102/template.xlsx?date=2020-02-25"
        ))
        .bearer_auth(&lixia)
        .send()
        .expect("template");
    assert_eq!(t.status(), StatusCode::OK);
    let bytes = t.bytes().expect("bytes");
    let outcome = validate_as(
        &bytes,
        "370102",
        crate::support::date(2020, 2, 25),
        fugong::read::ReadLimits::default(),
    );
    assert_eq!(
        outcome.sheet.as_deref(),
        Some("复工日报"),
        "a workbook fugong reads"
    );
    let other = client()
        .get(format!("{base}/jobs/{JOB}/districts/370103/template.xlsx"))
        .bearer_auth(&lixia)
        .send()
        .expect("template");
    assert_eq!(
        other.status(),
        StatusCode::FORBIDDEN,
        "another district's template"
    );
    // The report page: per city, 报送率 and 按时报送率.
    let report = client()
        .get(format!("{base}/jobs/{JOB}/dates/{}/report", d24()))
        .bearer_auth(&province_token)
        .send()
        .expect("report");
    assert_eq!(report.status(), StatusCode::OK);
    let html = report.text().expect("html");
    assert!(
        html.contains("报送率") && html.contains("按时报送率"),
        "{html}"
    );
    assert!(
        html.contains("<td class=\"num reporting-rate\">100.00%</td>"),
        "济南: 2 of 2 reported"
    );
    assert!(
        html.contains("<td class=\"num on-time-rate\">50.00%</td>"),
        "济南: 1 of 2 on time"
    );
    assert!(
        html.contains("href=\"/static/report.css\"") && !html.contains("<style>"),
        "no inline style under the CSP"
    );
}

#[test]
fn an_upload_by_the_deadline_is_on_time_and_counted_per_city() {
    // The deadline of today's date is tomorrow: an upload now is on time.
    let province = portal_province(&two_cities(), "deadline = \"+1 23:59\"\ntarget = \"today\"");
    let served = serve(province, &[]);
    let today = crate::serve::today_in_shanghai();
    let lixia = token(&served.province, &["--district", "370102"]);
    let mut r = workbook("历下区", today, 3, 0);
    r.date_text = None;
    let (status, body) = upload(
        &served.base,
        &lixia,
        &today.to_string(),
        "370102",
        "a.xlsx",
        r.to_xlsx(),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["receipt"]["on_time"], true);
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["run", "--quiet", "--in-process", "--job"])
        .arg(served.province.job_path())
        .args(["--date", &today.to_string()])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", text(&o));
    let district = read_table(&served.province.warehouse(), "district_daily", today);
    let on_time = column::<BooleanArray>(&district, "on_time");
    assert!(on_time.value(0));
    let city = read_table(&served.province.warehouse(), "city_daily", today);
    let n = column::<arrow::array::Int64Array>(&city, "districts_on_time");
    assert_eq!(
        (n.value(0), n.value(1)),
        (1, 0),
        "济南 1 on time of 2, 青岛 0 of 1"
    );
}

/// Everything a request that must fail can try.
#[test]
fn every_control_refuses_what_it_must() {
    let province = portal_province(
        &two_cities(),
        "deadline = \"+1 09:00\"\nlock_after_days = 3\nuploads_per_hour = 3\n[limits]\nmax_file_bytes = 200000\nmax_inflated_bytes = 4194304\nmax_reader_memory_bytes = 536870912",
    );
    // A second job in the same folder: its tokens may not act for the first.
    let other_dir = province.root().join("jobs").join("other.toml");
    let other = std::fs::read_to_string(province.job_path())
        .expect("job")
        .replace("name = \"test-province\"", "name = \"other-province\"")
        .replace(
            "output = \"../warehouse\"",
            "output = \"../other-warehouse\"",
        );
    std::fs::write(&other_dir, other).expect("other job");
    let served = serve(province, &["--body-timeout-secs", "2"]);
    let base = served.base.clone();
    let today = crate::serve::today_in_shanghai();
    let date = today.to_string();
    let lixia = token(&served.province, &["--district", "370102"]);
    let shizhong = token(&served.province, &["--district", "370103"]);
    let jinan = token(&served.province, &["--city", "370100"]);
    let other_job = {
        let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
            .args(["token", "issue", "--job"])
            .arg(&other_dir)
            .args(["--district", "370102"])
            .output()
            .expect("issue");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let revoked = token(&served.province, &["--district", "370102"]);
    let list = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["token", "list", "--format", "json", "--job"])
        .arg(served.province.job_path())
        .output()
        .expect("list");
    let tokens: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    let revoked_id = tokens.as_array().expect("tokens").last().expect("last")["id"]
        .as_i64()
        .expect("id");
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains(&revoked),
        "never the secret"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["token", "revoke", "--job"])
        .arg(served.province.job_path())
        .args(["--id", &revoked_id.to_string()])
        .output()
        .expect("revoke");
    assert!(o.status.success(), "{}", text(&o));

    let mut good = workbook("历下区", today, 3, 0);
    good.date_text = None;
    let good = good.to_xlsx();
    let post = |token: Option<&str>, url: &str, body: Vec<u8>| {
        let mut r = client().post(url).body(body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().expect("request").status()
    };
    let url = submission_url(&base, &date, "370102");
    assert_eq!(
        post(None, &url, good.clone()),
        StatusCode::UNAUTHORIZED,
        "no token"
    );
    assert_eq!(
        post(
            Some("fg_00000000_1_nonsense-nonsense-nonsense-nonsense"),
            &url,
            good.clone()
        ),
        StatusCode::UNAUTHORIZED,
        "unknown token"
    );
    assert_eq!(
        post(Some(&revoked), &url, good.clone()),
        StatusCode::UNAUTHORIZED,
        "revoked token"
    );
    assert_eq!(
        post(Some(&shizhong), &url, good.clone()),
        StatusCode::FORBIDDEN,
        "another district's token"
    );
    assert_eq!(
        post(Some(&jinan), &url, good.clone()),
        StatusCode::FORBIDDEN,
        "a city token does not submit"
    );
    assert_eq!(
        post(Some(&other_job), &url, good.clone()),
        StatusCode::FORBIDDEN,
        "another job's token"
    );
    assert_eq!(
        post(
            Some(&lixia),
            &format!("{base}/api/v1/jobs/nope/dates/{date}/districts/370102/submission"),
            good.clone()
        ),
        StatusCode::NOT_FOUND,
        "unknown job"
    );
    assert_eq!(
        post(
            Some(&lixia),
            &submission_url(&base, &date, "379999"),
            good.clone()
        ),
        StatusCode::NOT_FOUND,
        "unknown district"
    );
    assert_eq!(
        post(
            Some(&lixia),
            &submission_url(&base, "2020-13-45", "370102"),
            good.clone()
        ),
        StatusCode::NOT_FOUND,
        "malformed date"
    );
    let tomorrow = (today + chrono::Days::new(1)).to_string();
    assert_eq!(
        post(
            Some(&lixia),
            &submission_url(&base, &tomorrow, "370102"),
            good.clone()
        ),
        StatusCode::CONFLICT,
        "a future date"
    );
    assert_eq!(
        post(
            Some(&lixia),
            &submission_url(&base, d24(), "370102"),
            good.clone()
        ),
        StatusCode::CONFLICT,
        "locked: past lock_after_days"
    );

    // 413 before the body is read through: a declared length over the limit, and a chunked body that
    // passes it (the server answers long before the 100 MB would have been sent).
    assert_eq!(
        post(Some(&lixia), &url, vec![b'x'; 200_001]),
        StatusCode::PAYLOAD_TOO_LARGE,
        "declared over the limit"
    );
    let started = Instant::now();
    let endless = reqwest::blocking::Body::new(std::io::repeat(b'x').take(100 << 20));
    let r = client().post(&url).bearer_auth(&lixia).body(endless).send();
    match r {
        Ok(r) => assert_eq!(
            r.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "streamed over the limit"
        ),
        // The server may close the connection while the client is still sending: it did not read on.
        Err(e) => assert!(e.is_request() || e.is_body() || e.is_connect(), "{e}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    // 408: a body that trickles in.
    let status = slow_upload(&base, &lixia, &date);
    assert_eq!(status, 408, "a slow sender is cut off");

    // Three uploads an hour: the fourth is 429.
    for i in 0..3 {
        let (s, b) = upload(
            &base,
            &lixia,
            &date,
            "370102",
            &format!("{i}.xlsx"),
            good.clone(),
        );
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, _) = upload(&base, &lixia, &date, "370102", "4.xlsx", good.clone());
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);

    // Sign-in: a cookie that is HttpOnly and SameSite=Strict; a cross-site POST with it is 403.
    let signed = client()
        .post(format!("{base}/signin"))
        .form(&[("token", shizhong.as_str())])
        .send()
        .expect("signin");
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let cookie = signed
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().expect("pair").to_string();
    let cross = client()
        .post(format!(
            "{base}/jobs/{JOB}/districts/370103/upload?date={date}"
        ))
        .header("Cookie", &session)
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .multipart(reqwest::blocking::multipart::Form::new().part(
            "file",
            reqwest::blocking::multipart::Part::bytes(good.clone()).file_name("x.xlsx"),
        ))
        .send()
        .expect("cross-site");
    assert_eq!(
        cross.status(),
        StatusCode::FORBIDDEN,
        "cross-site POST with a valid cookie"
    );
    let same = client()
        .post(format!(
            "{base}/jobs/{JOB}/districts/370103/upload?date={date}"
        ))
        .header("Cookie", &session)
        .header("Origin", base.as_str())
        .header("Sec-Fetch-Site", "same-origin")
        .multipart(
            reqwest::blocking::multipart::Form::new().part(
                "file",
                reqwest::blocking::multipart::Part::bytes(
                    workbook("市中区", today, 2, 100).to_xlsx(),
                )
                .file_name("市中区.xlsx"),
            ),
        )
        .send()
        .expect("same-origin");
    assert_eq!(same.status(), StatusCode::SEE_OTHER, "the page's own form");
    // The cookie does not open another district's page or the board.
    let page = |path: &str| {
        client()
            .get(format!("{base}{path}"))
            .header("Cookie", &session)
            .send()
            .expect("page")
    };
    assert_eq!(
        page(&format!("/jobs/{JOB}/districts/370102")).status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        page(&format!("/jobs/{JOB}/dates/{date}")).status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        page(&format!("/jobs/{JOB}/districts/370103")).status(),
        StatusCode::OK
    );

    // Repeated bad sign-ins from one address: 429.
    let mut last = StatusCode::OK;
    for _ in 0..7 {
        last = client()
            .post(format!("{base}/signin"))
            .form(&[("token", "fg_wrong")])
            .send()
            .expect("signin")
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);

    // Every response carries the security headers, errors and /healthz included.
    for r in [
        client()
            .get(format!("{base}/"))
            .send()
            .expect("signin page"),
        client()
            .get(format!("{base}/healthz"))
            .send()
            .expect("healthz"),
        client().get(format!("{base}/nope")).send().expect("404"),
        client().post(&url).body("x").send().expect("401"),
    ] {
        let h = r.headers();
        assert_eq!(
            h.get("content-security-policy")
                .and_then(|v| v.to_str().ok()),
            Some("default-src 'self'; frame-ancestors 'none'")
        );
        assert_eq!(
            h.get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff")
        );
        assert_eq!(
            h.get("referrer-policy").and_then(|v| v.to_str().ok()),
            Some("no-referrer")
        );
    }
    // Every route but /healthz needs a token.
    for path in [
        format!("/jobs/{JOB}/districts/370102"),
        format!("/jobs/{JOB}/dates/{date}"),
        format!("/jobs/{JOB}/dates/{date}/report"),
        format!("/api/v1/jobs/{JOB}/dates/{date}/status"),
        format!("/jobs/{JOB}/districts/370102/feedback.xlsx"),
    ] {
        assert_eq!(
            client()
                .get(format!("{base}{path}"))
                .send()
                .expect("get")
                .status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }

    // The audit log: sign-ins (failed ones too), uploads, token changes; never a token.
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["audit", "--format", "json", "--job"])
        .arg(served.province.job_path())
        .output()
        .expect("audit");
    let audit = String::from_utf8_lossy(&o.stdout).to_string();
    for event in [
        "\"signin\"",
        "\"signin-failed\"",
        "\"upload\"",
        "\"token-issued\"",
        "\"token-revoked\"",
    ] {
        assert!(audit.contains(event), "{event} in {audit}");
    }
    // Tokens never reach a log line or the audit log.
    let log = std::fs::read_to_string(&served.log).expect("log");
    for t in [&lixia, &shizhong, &jinan, &revoked, &other_job] {
        // fg_<job key>_<id>_<secret>: the secret is URL-safe base64 and may hold `_` itself.
        let secret = t.splitn(4, '_').nth(3).expect("a token's secret");
        assert!(secret.len() >= 32, "{secret:?} is a whole secret");
        assert!(
            !log.contains(t.as_str()) && !log.contains(secret),
            "a token in the log"
        );
        assert!(!audit.contains(secret), "a token in the audit log");
    }
    assert!(
        log.contains("upload received"),
        "the log is the whole session's"
    );
}

/// An upload whose body arrives a byte every half second: the status code the server answers.
fn slow_upload(base: &str, token: &str, date: &str) -> u16 {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let head = format!(
        "POST /api/v1/jobs/{JOB}/dates/{date}/districts/370102/submission HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("head");
    let writer = {
        let mut s = stream.try_clone().expect("clone");
        std::thread::spawn(move || {
            for _ in 0..30 {
                if s.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };
    let mut answer = [0u8; 12];
    let _ = stream.read_exact(&mut answer);
    drop(stream);
    let _ = writer.join();
    String::from_utf8_lossy(&answer[9..12]).parse().unwrap_or(0)
}

#[test]
fn hostile_uploads_are_refused_escaped_and_stored_as_data_and_the_server_goes_on() {
    let province = portal_province(
        &two_cities(),
        "[limits]\nmax_inflated_bytes = 4194304\nmax_reader_memory_bytes = 536870912",
    );
    let served = serve(province, &[]);
    let base = served.base.clone();
    let lixia = token(&served.province, &["--district", "370102"]);
    let province_token = token(&served.province, &["--province"]);
    let date = report_date();

    // File names with ../ and control characters: kept as data, never a path (in a form, and in the
    // API's X-File-Name, percent-encoded).
    let form = reqwest::blocking::multipart::Form::new().part(
        "file",
        reqwest::blocking::multipart::Part::bytes(workbook("历下区", date, 2, 0).to_xlsx())
            .file_name("../../etc/passwd.xlsx"),
    );
    let r = client()
        .post(submission_url(&base, d24(), "370102"))
        .bearer_auth(&lixia)
        .multipart(form)
        .send()
        .expect("multipart");
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().expect("json");
    assert_eq!(body["receipt"]["file_name"], "../../etc/passwd.xlsx");
    let (status, body) = upload(
        &base,
        &lixia,
        d24(),
        "370102",
        "..%2F..%2Fetc%2F%07passwd%1B%5B31m.xlsx",
        workbook("历下区", date, 2, 0).to_xlsx(),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["receipt"]["file_name"], "../../etc/passwd[31m.xlsx");
    assert!(!served.province.root().join("etc").exists());
    assert!(!Path::new("/etc/passwd[31m.xlsx").exists());

    // A zip bomb and a crafted xls: refused (file-too-large), the server unharmed.
    let (status, body) = upload(
        &base,
        &lixia,
        d24(),
        "370102",
        "bomb.xlsx",
        crate::hostile::zip_bomb(16 << 20),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["findings"][0]["code"], "file-too-large");
    if let Some(xls) = crate::hostile::hostile_dimensions_xls() {
        let (status, body) = upload(&base, &lixia, d24(), "370102", "crafted.xls", xls);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    assert!(
        client()
            .get(format!("{base}/healthz"))
            .send()
            .expect("alive")
            .status()
            .is_success()
    );

    // A workbook whose enterprise name, a value and its sheet name are markup.
    let mut r = workbook("历下区", date, 3, 0);
    r.sheet_name = "<img src=x onerror=alert(1)>".into();
    r.rows[0][2] = s("<script>alert(\"name\")</script>有限公司");
    r.rows[1][6] = s("<script>alert(\"value\")</script>");
    let (status, body) = upload(&base, &lixia, d24(), "370102", "x.xlsx", r.to_xlsx());
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["findings"][0]["value"],
        "<script>alert(\"value\")</script>"
    );
    // A second one missing a column: its message names the sheet.
    let mut missing = workbook("历下区", date, 2, 0);
    missing.sheet_name = "<img src=x onerror=alert(2)>".into();
    missing.headers[1] = "<b>代码</b>".into();
    let (status, body) = upload(&base, &lixia, d24(), "370102", "y.xlsx", missing.to_xlsx());
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Published, then every page escapes what came from the workbooks and the file names.
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["run", "--quiet", "--in-process", "--allow-empty", "--job"])
        .arg(served.province.job_path())
        .args(["--date", d24()])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", text(&o));
    let signin = |t: &str| {
        let r = client()
            .post(format!("{base}/signin"))
            .form(&[("token", t)])
            .send()
            .expect("signin");
        r.headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .expect("cookie")
            .to_string()
    };
    let (district_cookie, province_cookie) = (signin(&lixia), signin(&province_token));
    for (cookie, path) in [
        (
            &district_cookie,
            format!("/jobs/{JOB}/districts/370102?date={}", d24()),
        ),
        (&province_cookie, format!("/jobs/{JOB}/dates/{}", d24())),
        (
            &province_cookie,
            format!("/jobs/{JOB}/dates/{}/report", d24()),
        ),
    ] {
        let page = client()
            .get(format!("{base}{path}"))
            .header("Cookie", cookie.as_str())
            .send()
            .expect("page");
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let html = page.text().expect("html");
        assert!(
            !html.contains("<script>alert") && !html.contains("<img src=x"),
            "{path}: unescaped markup"
        );
        assert!(!html.contains("<b>代码</b>"), "{path}");
        if path.contains("districts") {
            assert!(
                html.contains("&lt;script&gt;alert"),
                "{path}: the value is shown, escaped"
            );
            assert!(
                html.contains("&lt;img src=x onerror=alert(2)&gt;"),
                "{path}: the sheet name, escaped"
            );
            assert!(
                html.contains("../../etc/passwd[31m.xlsx"),
                "{path}: the file name as data"
            );
            assert!(
                html.contains("历下区-") || html.contains("x.xlsx"),
                "{path}"
            );
        }
    }
}

#[test]
fn fifty_districts_at_once_and_one_district_twice_at_once_lose_nothing() {
    let districts: Vec<(String, String, String)> = (0..50)
        .map(|i| {
            (
                format!("3701{:02}", i + 10),
                format!("第{i}区"),
                "济南市".to_string(),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = districts
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    let province = portal_province(&refs, "");
    let served = serve(province, &[]);
    let base = served.base.clone();
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["token", "issue", "--all-districts", "--job"])
        .arg(served.province.job_path())
        .output()
        .expect("issue");
    assert!(o.status.success(), "{}", text(&o));
    let csv = String::from_utf8_lossy(&o.stdout).to_string();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("district_code,district_name,token_id,token")
    );
    let tokens: Vec<(String, String, String)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[3].to_string())
        })
        .collect();
    assert_eq!(tokens.len(), 50);
    let date = report_date();
    let results: Vec<(String, serde_json::Value, Vec<u8>)> = std::thread::scope(|s| {
        let handles: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(i, (code, name, token))| {
                let base = base.clone();
                s.spawn(move || {
                    let bytes = workbook(name, date, 3 + (i % 4) as u32, i as u32 * 100).to_xlsx();
                    let (status, body) = upload(
                        &base,
                        token,
                        d24(),
                        code,
                        &format!("{code}.xlsx"),
                        bytes.clone(),
                    );
                    assert_eq!(status, StatusCode::OK, "{code}: {body}");
                    (code.clone(), body, bytes)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let blobs = fugong::pull::blobs::BlobStore::for_output(&served.province.warehouse());
    for (code, body, bytes) in &results {
        let sha = body["receipt"]["sha256"].as_str().expect("sha");
        assert_eq!(sha, fugong::pull::sha256_hex(bytes), "{code}");
        assert_eq!(
            blobs.get(sha).expect("blob").as_deref(),
            Some(&bytes[..]),
            "{code}: the blob is whole"
        );
    }
    // One district twice at the same moment: both receipts stored, the later one is the submission.
    let (code, name, token) = &tokens[0];
    let pair: Vec<serde_json::Value> = std::thread::scope(|s| {
        let a = s.spawn(|| {
            upload(
                &base,
                token,
                d24(),
                code,
                "a.xlsx",
                workbook(name, date, 7, 0).to_xlsx(),
            )
            .1
        });
        let b = s.spawn(|| {
            upload(
                &base,
                token,
                d24(),
                code,
                "b.xlsx",
                workbook(name, date, 9, 0).to_xlsx(),
            )
            .1
        });
        vec![a.join().expect("a"), b.join().expect("b")]
    });
    let later = pair
        .iter()
        .max_by_key(|b| b["receipt"]["id"].as_i64())
        .expect("later");
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["run", "--quiet", "--in-process", "--job"])
        .arg(served.province.job_path())
        .args(["--date", d24()])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", text(&o));
    let m = fugong::publish::read_manifest(&served.province.warehouse(), date).expect("manifest");
    let first = m
        .districts
        .iter()
        .find(|d| &d.district_code == code)
        .expect("district");
    assert_eq!(
        first.sha256.as_deref(),
        later["receipt"]["sha256"].as_str(),
        "the later receipt wins"
    );
    assert_eq!(
        first.rows_accepted,
        later["rows_accepted"].as_u64().expect("rows")
    );
    assert!(
        m.districts.iter().all(|d| d.status == "accepted"),
        "every district's upload published"
    );
}

#[test]
fn check_warns_when_the_schedule_fires_before_the_deadline() {
    let province = Province::new(&[("370102", "历下区", "济南市")]);
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    std::fs::write(
        province.job_path(),
        format!("schedule = \"0 30 1 * * *\"\ntimezone = \"Asia/Shanghai\"\ndeadline = \"+1 09:00\"\n{job}"),
    )
    .expect("job");
    std::fs::create_dir_all(province.root().join("inbox")).expect("inbox");
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["check", "--job"])
        .arg(province.job_path())
        .output()
        .expect("check");
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("before the target date"), "{}", text(&o));
    // After the deadline: no warning.
    std::fs::write(
        province.job_path(),
        format!("schedule = \"0 30 9 * * *\"\ntimezone = \"Asia/Shanghai\"\ndeadline = \"+1 09:00\"\n{job}"),
    )
    .expect("job");
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["check", "--job"])
        .arg(province.job_path())
        .output()
        .expect("check");
    assert!(!text(&o).contains("warning"), "{}", text(&o));
}

#[test]
fn the_service_does_not_publish_a_date_before_its_deadline() {
    // target today, deadline tomorrow: the start's catch-up of today waits.
    let province = Province::new(&[("370102", "历下区", "济南市")]);
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    std::fs::write(
        province.job_path(),
        format!("schedule = \"0 0 3 1 1 *\"\ntimezone = \"Asia/Shanghai\"\ntarget = \"today\"\ncatchup_days = 0\nlookback_days = 0\ndeadline = \"+1 23:59\"\n{job}"),
    )
    .expect("job");
    let today = crate::serve::today_in_shanghai();
    let mut r = workbook("历下区", today, 3, 0);
    r.date_text = None;
    province.submit(today, "370102.xlsx", &r.to_xlsx());
    let served = serve(province, &[]);
    wait_for("the catch-up's decision", Duration::from_secs(30), || {
        std::fs::read_to_string(&served.log)
            .is_ok_and(|l| l.contains("not publishing before the date's deadline"))
    });
    assert!(!fugong::publish::manifest_path(&served.province.warehouse(), today).exists());
}

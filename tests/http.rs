//! The HTTP source against a real server on 127.0.0.1 (axum), no mocking of reqwest: retries on 500 and
//! timeouts, 404 as missing, 403 as a clear error that never shows the token, 304 with ETag reusing the
//! stored submission, truncated, oversized and HTML bodies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;

use crate::support::*;

const TOKEN: &str = "s3cret-token-7f9a";

#[derive(Clone, Default)]
struct Server {
    /// Requests seen per district.
    hits: Arc<Mutex<HashMap<String, u32>>>,
    /// Full (200) downloads per district.
    downloads: Arc<Mutex<HashMap<String, u32>>>,
    workbooks: Arc<HashMap<String, Vec<u8>>>,
}

impl Server {
    fn hits(&self, district: &str) -> u32 {
        self.hits
            .lock()
            .expect("lock")
            .get(district)
            .copied()
            .unwrap_or(0)
    }
    fn downloads(&self, district: &str) -> u32 {
        self.downloads
            .lock()
            .expect("lock")
            .get(district)
            .copied()
            .unwrap_or(0)
    }
}

async fn serve(
    State(server): State<Server>,
    Path((district, _day)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let n = {
        let mut hits = server.hits.lock().expect("lock");
        let n = hits.entry(district.clone()).or_default();
        *n += 1;
        *n
    };
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    let workbook = server.workbooks.get(&district).cloned().unwrap_or_default();
    let ok = |bytes: Vec<u8>| {
        *server
            .downloads
            .lock()
            .expect("lock")
            .entry(district.clone())
            .or_default() += 1;
        Response::builder()
            .status(200)
            .header(header::ETAG, "\"v1\"")
            .body(Body::from(bytes))
            .expect("response")
    };
    let status = |code: u16, body: &'static str| {
        Response::builder()
            .status(code)
            .body(Body::from(body))
            .expect("response")
    };
    if !authorized {
        return status(401, "missing token");
    }
    match district.as_str() {
        "370102" => ok(workbook),
        // 500 first, then the workbook.
        "370103" if n == 1 => status(500, "Internal Server Error"),
        "370103" => ok(workbook),
        // Too slow the first time (the client times out after 1 s), then fast.
        "370104" => {
            if n == 1 {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            ok(workbook)
        }
        "370105" => status(404, "Not Found"),
        "370112" => status(403, "Forbidden"),
        // Declares 10 000 bytes, sends 5 000, then the connection breaks.
        "370113" => {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
                Ok(workbook[..5000.min(workbook.len())].to_vec()),
                Err(std::io::Error::other("connection reset")),
            ];
            Response::builder()
                .status(200)
                .header(header::CONTENT_LENGTH, 10_000)
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .expect("response")
        }
        // 3 MiB streamed without a Content-Length, over the job's 1 MiB limit.
        "370114" => {
            let chunks = (0..48).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024]));
            Response::builder()
                .status(200)
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .expect("response")
        }
        // An error page served with status 200.
        "370115" => status(
            200,
            "<!DOCTYPE html><html><body><h1>系统维护中</h1></body></html>",
        ),
        // Conditional GET.
        "370116" => {
            if headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                == Some("\"v1\"")
            {
                return Response::builder()
                    .status(304)
                    .header(header::ETAG, "\"v1\"")
                    .body(Body::empty())
                    .expect("response");
            }
            ok(workbook)
        }
        _ => status(404, "Not Found"),
    }
}

/// Start the server on a free loopback port.
fn start(server: Server) -> SocketAddr {
    serve_on_loopback(
        Router::new()
            .route("/reports/{district}/{day}", get(serve))
            .with_state(server),
    )
}

/// The first eleven of Jinan's districts, one per HTTP behaviour.
const DISTRICTS: &[(&str, &str)] = JINAN.split_at(11).0;

fn http_province(addr: SocketAddr) -> Province {
    let districts: Vec<(&str, &str, &str)> =
        DISTRICTS.iter().map(|(c, n)| (*c, *n, "济南市")).collect();
    let province = Province::new(&districts);
    let job = std::fs::read_to_string(province.job_path()).expect("job").replace(
        "[source]\nkind = \"dir\"\npath = \"../inbox/{date}/{district_code}.*\"\n",
        &format!(
            "[source]\nkind = \"http\"\nurl = \"http://{addr}/reports/{{district_code}}/{{yyyymmdd}}\"\ntoken_env = \"FUGONG_TEST_TOKEN\"\nconnect_timeout_secs = 2\ntimeout_secs = 1\nretry_attempts = 3\nretry_base_delay_ms = 50\n\n[limits]\nmax_file_bytes = 1048576\n"
        ),
    );
    std::fs::write(province.job_path(), job).expect("write job");
    province
}

fn run_cli(province: &Province) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["--log", "debug", "run", "--job"])
        .arg(province.job_path())
        .args(["--date", "2020-02-24"])
        .env("FUGONG_TEST_TOKEN", TOKEN)
        .output()
        .expect("fugong");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn every_http_outcome_lands_where_it_should_and_the_token_never_shows() {
    let workbooks: HashMap<String, Vec<u8>> = DISTRICTS
        .iter()
        .enumerate()
        .map(|(i, (code, name))| {
            let base = i as u32 * 100;
            (
                code.to_string(),
                report_for(
                    name,
                    (1..=3)
                        .map(|k| standard_row(base + k, true, 10, 8))
                        .collect(),
                )
                .to_xlsx(),
            )
        })
        .collect();
    let server = Server {
        workbooks: Arc::new(workbooks),
        ..Server::default()
    };
    let addr = start(server.clone());
    let province = http_province(addr);

    let (ok, log) = run_cli(&province);
    assert!(ok, "{log}");
    assert!(
        !log.contains(TOKEN),
        "the token must never be printed or logged:\n{log}"
    );

    let manifest =
        fugong::publish::read_manifest(&province.warehouse(), report_date()).expect("manifest");
    let status: HashMap<&str, &str> = manifest
        .districts
        .iter()
        .map(|d| (d.district_code.as_str(), d.status.as_str()))
        .collect();
    assert_eq!(status["370102"], "accepted");
    assert_eq!(status["370103"], "accepted", "500 then 200 is retried");
    assert_eq!(server.hits("370103"), 2);
    assert_eq!(status["370104"], "accepted", "a timeout is retried");
    assert_eq!(server.hits("370104"), 2);
    assert_eq!(status["370105"], "missing", "404 means not submitted");
    assert_eq!(server.hits("370105"), 1, "4xx is not retried");
    assert_eq!(status["370112"], "rejected");
    assert_eq!(server.hits("370112"), 1);
    assert_eq!(
        status["370113"], "rejected",
        "a truncated body is never published"
    );
    assert_eq!(server.hits("370113"), 3, "a broken transfer is retried");
    assert_eq!(status["370114"], "rejected");
    assert_eq!(status["370115"], "rejected");
    assert_eq!(status["370116"], "accepted");
    assert_eq!(status["370117"], "missing");
    let source = manifest
        .districts
        .iter()
        .find(|d| d.district_code == "370102")
        .and_then(|d| d.source.clone());
    assert_eq!(
        source,
        Some(format!("http://{addr}/reports/370102/20200224"))
    );

    let rejects = read_table(&province.warehouse(), "rejects", report_date());
    let col = |name: &str| {
        let c = rejects.column_by_name(name).expect(name);
        (0..rejects.num_rows())
            .map(|i| {
                c.as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .expect("utf8")
                    .value(i)
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    let by_district: HashMap<String, (String, String)> = col("district_code")
        .into_iter()
        .zip(col("code").into_iter().zip(col("message")))
        .collect();
    let (code, message) = &by_district["370112"];
    assert_eq!(code, "file-unreadable");
    assert!(
        message.contains("HTTP 403")
            && message.contains(&format!("http://{addr}/reports/370112/20200224")),
        "{message}"
    );
    assert!(!message.contains(TOKEN));
    assert_eq!(by_district["370113"].0, "file-unreadable");
    assert_eq!(by_district["370114"].0, "file-too-large");
    let (code, message) = &by_district["370115"];
    assert_eq!(code, "file-unreadable");
    assert!(
        message.contains("HTML") && message.contains("<!DOCTYPE html>"),
        "the first bytes are shown: {message}"
    );
    // source_file is the URL's last path segment.
    let files = col("source_file");
    assert!(
        files.iter().all(|f| f.is_empty() || f == "20200224"),
        "{files:?}"
    );

    // Second run: the ETag district answers 304 and is not downloaded again; the snapshot is the same.
    let before = std::fs::read_dir(fugong::publish::partition_dir(
        &province.warehouse(),
        "enterprise_daily",
        report_date(),
    ))
    .expect("dir")
    .flatten()
    .map(|e| std::fs::read(e.path()).expect("read"))
    .collect::<Vec<_>>();
    assert_eq!(server.downloads("370116"), 1);
    let (ok, log) = run_cli(&province);
    assert!(ok, "{log}");
    assert_eq!(server.hits("370116"), 2);
    assert_eq!(server.downloads("370116"), 1, "304: no re-download");
    let after = std::fs::read_dir(fugong::publish::partition_dir(
        &province.warehouse(),
        "enterprise_daily",
        report_date(),
    ))
    .expect("dir")
    .flatten()
    .map(|e| std::fs::read(e.path()).expect("read"))
    .collect::<Vec<_>>();
    assert_eq!(before, after, "same snapshot bytes");
}

#[test]
fn a_missing_token_variable_is_a_clear_error() {
    let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let province = http_province(addr);
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["run", "--job"])
        .arg(province.job_path())
        .args(["--date", "2020-02-24"])
        .env_remove("FUGONG_TEST_TOKEN")
        .output()
        .expect("fugong");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("FUGONG_TEST_TOKEN"), "{err}");
}

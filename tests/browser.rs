//! The portal in a real browser: Debian's headless Chromium, driven through chromedriver (WebDriver,
//! fantoccini). A clerk signs in, uploads a workbook with a row error and sees the finding with its cell,
//! uploads the fixed one and sees it taken and on time; the province's board shows the district taken;
//! the service's scheduled run publishes it once the deadline has passed and the report page shows it.
//! Screenshots of the district page and the board (1366×768) are kept in `target/`.
//!
//! `tests/run.sh` installs chromium and chromium-driver (Debian) and sets FUGONG_CHROMEDRIVER; without
//! it this test fails and says how to run it (it never downloads a browser).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Timelike;
use fantoccini::{ClientBuilder, Locator};

use crate::portal::{JOB, portal_province, serve, token, workbook};
use crate::serve::free_port;

struct Driver(Child);

impl Drop for Driver {
    /// chromedriver and the browsers it started are one process group: a test that panics before it
    /// closes its sessions leaves no Chromium behind.
    fn drop(&mut self) {
        if let Some(group) = rustix::process::Pid::from_raw(self.0.id() as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> (Driver, String) {
    let path = std::env::var("FUGONG_CHROMEDRIVER").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| {
        panic!("FUGONG_CHROMEDRIVER is not set: run the suite with `bash tests/run.sh`, which installs Debian's chromium-driver")
    });
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (Driver(child), url)
}

async fn browser(driver: &str, profile: &std::path::Path) -> fantoccini::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chromium = std::env::var("FUGONG_CHROMIUM")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1366,768", "--lang=zh-CN",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::rustls()
        .expect("tls")
        .capabilities(caps)
        .connect(driver)
        .await
        .expect("a browser session");
    client.set_window_size(1366, 768).await.expect("window");
    client
}

/// `f` until it answers: a page being replaced (a navigation, the board's own refresh) makes WebDriver
/// commands fail for a moment (a stale element, no such element yet, or Chromium's "cannot find
/// context"); any error is tried again for up to 30 s, and the last one is what the test reports.
async fn settled<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, fantoccini::error::CmdError>>,
{
    let started = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) => {
                assert!(started.elapsed() < Duration::from_secs(30), "{what}: {e:?}");
                tokio::time::sleep(Duration::from_millis(100)).await
            }
        }
    }
}

/// The text of the page, read again when the page is replaced while it is read.
async fn page_text(c: &fantoccini::Client) -> String {
    settled("the page's text", || async {
        c.find(Locator::Css("body")).await?.text().await
    })
    .await
}

/// The text of the first element `css` finds, read again when the page is replaced while it is read.
async fn element_text(c: &fantoccini::Client, css: &str) -> String {
    settled(css, || async {
        c.find(Locator::Css(css)).await?.text().await
    })
    .await
}

/// Wait until the page is no longer at `path` (a form's answer has come).
async fn left(c: &fantoccini::Client, path: &str) {
    let started = Instant::now();
    loop {
        let url = settled("the address", || c.current_url()).await;
        if url.path() != path {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still at {url} after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await
    }
}

async fn sign_in(c: &fantoccini::Client, base: &str, token: &str) {
    c.goto(&format!("{base}/")).await.expect("goto");
    c.find(Locator::Css("input[name=token]"))
        .await
        .expect("token field")
        .send_keys(token)
        .await
        .expect("type");
    c.find(Locator::Css("button[type=submit]"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    left(c, "/").await;
    left(c, "/signin").await;
}

async fn upload_file(c: &fantoccini::Client, path: &std::path::Path) {
    c.find(Locator::Css("input[type=file]"))
        .await
        .expect("file input")
        .send_keys(&path.display().to_string())
        .await
        .expect("choose");
    let before = c.find(Locator::Css("html")).await.expect("the page");
    c.find(Locator::Css("form.upload button[type=submit]"))
        .await
        .expect("upload button")
        .click()
        .await
        .expect("click");
    // The answer is a new page: wait until the one the form was on is gone, so that what is read next
    // is the answer, never the page before it. While the old page is being replaced, Chromium may
    // answer with other errors for a moment (its "cannot find context"); only a stale element says
    // the old page is gone.
    let started = Instant::now();
    loop {
        match before.tag_name().await {
            Err(e) if e.is_stale_element_reference() => break,
            other => {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the upload's answer never came (last: {other:?})"
                );
                tokio::time::sleep(Duration::from_millis(50)).await
            }
        }
    }
    settled("the answer's page", || c.find(Locator::Css("body"))).await;
}

fn screenshot(name: &str, png: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(name);
    std::fs::write(&path, png).expect("screenshot");
}

#[test]
fn a_clerk_uploads_fixes_and_is_on_time_the_board_and_the_scheduled_run_follow() {
    let (_driver, driver_url) = chromedriver();
    // Today's deadline: a minute boundary at least 75 s ahead (in Shanghai). The service fires every
    // five seconds and waits for it.
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
    let mut deadline = (now + chrono::Duration::seconds(75))
        .with_second(0)
        .expect("second")
        .with_nanosecond(0)
        .expect("nanos");
    if deadline <= now + chrono::Duration::seconds(75) {
        deadline += chrono::Duration::minutes(1);
    }
    assert_eq!(
        deadline.date_naive(),
        now.date_naive(),
        "run this test before 23:57 Shanghai time"
    );
    let settings = format!(
        "deadline = \"+0 {}\"\ntarget = \"today\"",
        deadline.format("%H:%M")
    );
    let province = portal_province(
        &[
            ("370102", "历下区", "济南市"),
            ("370103", "市中区", "济南市"),
            ("370202", "市南区", "青岛市"),
        ],
        &settings,
    );
    // Every five seconds instead of once a year.
    let job = std::fs::read_to_string(province.job_path())
        .expect("job")
        .replace(
            crate::portal::QUIET_SCHEDULE,
            "schedule = \"*/5 * * * * *\"",
        );
    std::fs::write(province.job_path(), job).expect("job");
    let today = now.date_naive();
    let served = serve(province, &[]);
    let base = served.base.clone();
    let lixia = token(&served.province, &["--district", "370102"]);
    let province_token = token(&served.province, &["--province"]);
    let dir = tempfile::tempdir().expect("tmp");
    let mut bad = workbook("历下区", today, 8, 0);
    bad.date_text = None;
    bad.rows[3][6] = s_text("约120");
    let bad_path = dir.path().join("历下区日报.xlsx");
    std::fs::write(&bad_path, bad.to_xlsx()).expect("bad");
    let cell = format!("{}{}", bad.col_of("职工总数(人)"), bad.excel_row(3));
    let mut fixed = workbook("历下区", today, 8, 0);
    fixed.date_text = None;
    let fixed_path = dir.path().join("历下区日报-更正.xlsx");
    std::fs::write(&fixed_path, fixed.to_xlsx()).expect("fixed");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        // The clerk.
        let clerk = browser(&driver_url, &dir.path().join("clerk")).await;
        sign_in(&clerk, &base, &lixia).await;
        let url = clerk.current_url().await.expect("url");
        assert!(
            url.path()
                .ends_with(&format!("/jobs/{JOB}/districts/370102")),
            "{url}"
        );
        let text = page_text(&clerk).await;
        assert!(text.contains("截止时间") && text.contains("还剩"), "{text}");
        upload_file(&clerk, &bad_path).await;
        let text = page_text(&clerk).await;
        assert!(
            text.contains(&cell) && text.contains("约120"),
            "the finding with its cell {cell}: {text}"
        );
        assert!(
            text.contains("已接收"),
            "a row error: taken (partial): {text}"
        );
        // The page as the clerk sees it after the upload, from the top (for the README).
        clerk
            .goto(&format!("{base}/jobs/{JOB}/districts/370102"))
            .await
            .expect("page");
        screenshot(
            "portal-district.png",
            &clerk.screenshot().await.expect("png"),
        );
        upload_file(&clerk, &fixed_path).await;
        let text = page_text(&clerk).await;
        assert!(
            text.contains("历下区日报-更正.xlsx") && text.contains("按时"),
            "{text}"
        );
        assert!(text.contains("没有发现问题"), "{text}");
        clerk.close().await.expect("close");

        // The province's board: taken, on time.
        let office = browser(&driver_url, &dir.path().join("office")).await;
        sign_in(&office, &base, &province_token).await;
        let url = office.current_url().await.expect("url");
        assert!(
            url.path().ends_with(&format!("/jobs/{JOB}/dates/{today}")),
            "{url}"
        );
        let row = element_text(&office, "tr[data-code='370102']").await;
        assert!(row.contains("已接收") && !row.contains("迟报"), "{row}");
        let text = page_text(&office).await;
        assert!(text.contains("尚未报送（2）"), "{text}");
        screenshot("portal-board.png", &office.screenshot().await.expect("png"));

        // The scheduled run publishes it once the deadline has passed; the board and the report show it.
        let manifest = fugong::publish::manifest_path(&served.province.warehouse(), today);
        let started = Instant::now();
        while !manifest.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "the scheduled run did not publish"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let m =
            fugong::publish::read_manifest(&served.province.warehouse(), today).expect("manifest");
        assert_eq!(m.trigger.as_deref(), Some("schedule"));
        assert_eq!(m.districts[0].source_kind.as_deref(), Some("upload"));
        assert_eq!(m.districts[0].rows_accepted, 8);
        // The board is reread within a few seconds of a publish.
        tokio::time::sleep(fugong::web::BOARD_FRESH).await;
        office
            .goto(&format!("{base}/jobs/{JOB}/dates/{today}"))
            .await
            .expect("board");
        let text = page_text(&office).await;
        assert!(
            text.contains("第 1 版") && text.contains("查看当日比较报告"),
            "{text}"
        );
        office
            .find(Locator::LinkText("查看当日比较报告"))
            .await
            .expect("report link")
            .click()
            .await
            .expect("click");
        let text = page_text(&office).await;
        assert!(
            text.contains("规上工业企业复工复产全省比较") && text.contains("济南市"),
            "{text}"
        );
        office.close().await.expect("close");
    });
}

fn s_text(t: &str) -> crate::support::C {
    crate::support::s(t)
}

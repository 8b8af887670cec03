//! What people look at: the HTML report (numbers from Parquet, one chart per section, gaps for missing
//! dates, rendered by a real headless browser), the district feedback workbooks, and the cookbook.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, Float64Array, Int32Array, StringArray};
use calamine::{DataType, Reader, open_workbook_auto};
use chrono::NaiveDate;
use scraper::{Html, Selector};

use crate::support::*;

fn two_city_province() -> Province {
    Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
        ("370202", "市南区", "青岛市"),
        ("370203", "市北区", "青岛市"),
    ])
}

/// Publish `date` with `resumed` of 10 enterprises resumed per district; 市北区 sends garbage.
fn publish(province: &Province, date: NaiveDate, resumed: u32) {
    for (code, name, base) in [
        ("370102", "历下区", 0u32),
        ("370103", "市中区", 100),
        ("370202", "市南区", 200),
    ] {
        let mut r = report_for(
            name,
            (1..=10)
                .map(|k| standard_row(base + k, k <= resumed + base / 100, 10, 7))
                .collect(),
        );
        r.date_text = None;
        if code == "370103" {
            r.rows[9][6] = s("约100");
        }
        province.submit(date, &format!("{code}.xlsx"), &r.to_xlsx());
    }
    province.submit(date, "370203.xlsx", b"<html>bad gateway</html>");
    fugong::run_job(&province.job(), date, &fugong::RunOptions::default()).expect("published");
}

fn render(warehouse: &Path, date: NaiveDate, days: u32) -> String {
    let data =
        fugong::report::data::load(&fugong::publish::LocalWarehouse::new(warehouse), date, days)
            .expect("report data");
    fugong::report::render(&data).expect("render")
}

fn section_svgs(doc: &Html, id: &str) -> Vec<String> {
    let sel = Selector::parse(&format!("section#{id} svg")).expect("selector");
    doc.select(&sel).map(|e| e.html()).collect()
}

fn svg_texts(svg: &str) -> Vec<String> {
    let doc = Html::parse_fragment(svg);
    let sel = Selector::parse("text").expect("selector");
    doc.select(&sel)
        .map(|t| t.text().collect::<String>().trim().to_string())
        .collect()
}

#[test]
fn the_report_shows_the_parquet_numbers_with_one_chart_per_section_and_gaps_for_missing_dates() {
    let province = two_city_province();
    let (d1, d2, d3) = (date(2020, 2, 22), date(2020, 2, 23), date(2020, 2, 24));
    publish(&province, d1, 5);
    publish(&province, d3, 7);
    let warehouse = province.warehouse();
    let html = render(&warehouse, d3, 3);
    let doc = Html::parse_document(&html);
    for id in ["ranking", "trend", "coverage", "quality"] {
        assert_eq!(
            section_svgs(&doc, id).len(),
            1,
            "one SVG chart in section {id}"
        );
    }
    // Self-contained: no scripts, no stylesheets or images fetched from anywhere.
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("<link"), "no linked resources");
    assert!(
        !html.contains("src=\"") && !html.contains("url("),
        "nothing fetched"
    );

    // Every bar label equals the Parquet value, for all three rates.
    let city = read_table(&warehouse, "city_daily", d3);
    let names = column::<StringArray>(&city, "city_name").clone();
    let texts = svg_texts(&section_svgs(&doc, "ranking")[0]);
    for (rate, rank) in [
        ("resumption_rate", "resumption_rate_rank"),
        ("on_duty_rate", "on_duty_rate_rank"),
        ("capacity_utilization_avg", "capacity_utilization_rank"),
    ] {
        let rates = column::<Float64Array>(&city, rate).clone();
        let ranks = column::<Int32Array>(&city, rank).clone();
        for i in 0..city.num_rows() {
            let label = format!(
                "{}  {}  第{}名",
                names.value(i),
                fugong::compare::display::percent(Some(rates.value(i))),
                ranks.value(i)
            );
            assert!(
                texts.contains(&label),
                "{rate} of {}: no label {label} in {texts:?}",
                names.value(i)
            );
        }
    }
    assert!(
        texts.iter().any(|t| t.starts_with("全省 ")),
        "the province reference line is labelled: {texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.starts_with("济南市  "))
            && texts.iter().any(|t| t.starts_with("青岛市  ")),
        "{texts:?}"
    );
    let headline = doc
        .select(&Selector::parse("#headline").expect("sel"))
        .next()
        .expect("headline")
        .text()
        .collect::<String>();
    let ranks = column::<Int32Array>(&city, "resumption_rate_rank").clone();
    let first = (0..city.num_rows())
        .find(|&i| ranks.value(i) == 1)
        .expect("a first city");
    let first_rate = column::<Float64Array>(&city, "resumption_rate").value(first);
    let expected = format!(
        "{}规上工业企业开工率{}",
        names.value(first),
        fugong::compare::display::percent(Some(first_rate))
    );
    assert!(
        headline.starts_with(&expected),
        "{headline} should start with {expected}"
    );

    // Coverage names the rejected district; quality counts the rejects by code.
    let coverage = doc
        .select(&Selector::parse("section#coverage").expect("sel"))
        .next()
        .expect("coverage")
        .text()
        .collect::<String>();
    assert!(coverage.contains("市北区"), "{coverage}");
    let quality = doc
        .select(&Selector::parse("section#quality").expect("sel"))
        .next()
        .expect("quality")
        .text()
        .collect::<String>();
    assert!(
        quality.contains("file-unreadable") && quality.contains("type-error"),
        "{quality}"
    );

    // 2020-02-23 has no snapshot: no city line runs through it, and the page names the gap.
    let polylines = |html: &str| -> Vec<usize> {
        let doc = Html::parse_document(html);
        let svg = section_svgs(&doc, "trend").remove(0);
        let frag = Html::parse_fragment(&svg);
        // City lines are the 2-px strokes (the mesh is 1 px, the legend swatches 3 px).
        frag.select(&Selector::parse(r#"polyline[stroke-width="2"]"#).expect("sel"))
            .filter_map(|p| {
                p.value()
                    .attr("points")
                    .map(|pts| pts.split_whitespace().count())
            })
            .collect()
    };
    assert!(
        polylines(&html).iter().all(|&n| n < 2),
        "a line crosses the missing date: {:?}",
        polylines(&html)
    );
    let trend = doc
        .select(&Selector::parse("section#trend").expect("sel"))
        .next()
        .expect("trend")
        .text()
        .collect::<String>();
    assert!(trend.contains(&d2.to_string()), "{trend}");
    // Once the date is published, each city has one line through all three dates.
    publish(&province, d2, 6);
    let html = render(&warehouse, d3, 3);
    assert_eq!(
        polylines(&html).iter().filter(|&&n| n == 3).count(),
        2,
        "{:?}",
        polylines(&html)
    );
}

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("FUGONG_CHROMIUM").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    for candidate in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "no Chromium: run the suite with `bash tests/run.sh`, which installs chromium and a CJK font"
    );
}

#[test]
fn a_headless_browser_renders_the_report() {
    let fonts = Command::new("fc-list")
        .arg(":lang=zh")
        .output()
        .expect("fc-list (fontconfig)");
    assert!(
        !fonts.stdout.is_empty(),
        "no CJK font installed: tests/run.sh installs fonts-noto-cjk"
    );
    let province = two_city_province();
    publish(&province, date(2020, 2, 24), 7);
    let page = province.root().join("report.html");
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["report", "--date", "2020-02-24", "--output"])
        .arg(province.warehouse())
        .arg("--out")
        .arg(&page)
        .output()
        .expect("fugong report");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().expect("profile");
    let o = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1280,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("png"),
    ));
    let mut reader = decoder.read_info().expect("png header");
    let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut pixels).expect("png frame");
    assert_eq!((info.width, info.height), (1280, 2400));
    let channels = info.color_type.samples();
    let mut colours: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for px in pixels[..info.buffer_size()].chunks(channels) {
        *colours.entry(px[..3.min(channels)].to_vec()).or_default() += 1;
    }
    assert!(
        colours.len() > 200,
        "the page looks blank: {} distinct colours",
        colours.len()
    );
    let white = colours.get(&vec![255, 255, 255]).copied().unwrap_or(0);
    assert!(
        white < (1280 * 2400) * 97 / 100,
        "the page is nearly all white"
    );
}

#[test]
fn feedback_workbooks_list_every_finding_once_with_its_cell() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let job = fugong::config::Job::load(&repo.join("jobs/example.toml")).expect("job");
    let out = tempfile::tempdir().expect("tmp");
    let options = fugong::RunOptions {
        output: Some(out.path().join("wh")),
        ..fugong::RunOptions::default()
    };
    let d = date(2020, 2, 24);
    fugong::run_job(&job, d, &options).expect("published");
    let folder = out.path().join("feedback");
    let files = fugong::report::feedback::write_all(
        &fugong::publish::LocalWarehouse::new(out.path().join("wh")),
        d,
        &folder,
    )
    .expect("feedback");

    // What the rejects table holds: (district, cell or the file marker, code, message).
    let rejects = read_table(&out.path().join("wh"), "rejects", d);
    let s = |name: &str| column::<StringArray>(&rejects, name).clone();
    let (district, cell, code, message) = (s("district_code"), s("cell"), s("code"), s("message"));
    let mut want: Vec<(String, String, String, String)> = (0..rejects.num_rows())
        .map(|i| {
            (
                district.value(i).to_string(),
                if cell.is_valid(i) {
                    cell.value(i).to_string()
                } else {
                    "（整份文件）".into()
                },
                code.value(i).to_string(),
                message.value(i).to_string(),
            )
        })
        .collect();
    want.sort();
    assert!(want.len() >= 4, "{want:?}");
    let districts: std::collections::BTreeSet<&str> = want.iter().map(|w| w.0.as_str()).collect();
    // Open problems per district, as the ledger holds them.
    let ledger = read_table(&out.path().join("wh"), "problem_ledger", d);
    let l = |name: &str| column::<StringArray>(&ledger, name).clone();
    let (l_district, l_status) = (l("district_code"), l("status"));
    let mut open: BTreeMap<String, usize> = BTreeMap::new();
    for i in (0..ledger.num_rows()).filter(|&i| l_status.value(i) == "open") {
        *open.entry(l_district.value(i).to_string()).or_default() += 1;
    }
    assert!(!open.is_empty(), "the example's texts open problems");

    let (notices, files): (Vec<PathBuf>, Vec<PathBuf>) = files
        .into_iter()
        .partition(|f| f.to_string_lossy().ends_with("-未报送.xlsx"));
    // 历城区 sent nothing on the 24th: a one-sheet notice naming the date and where fugong looked.
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].to_string_lossy().contains("370112"));
    let mut wb = open_workbook_auto(&notices[0]).expect("notice opens");
    assert_eq!(wb.sheet_names(), vec!["未报送".to_string()]);
    let notice = wb.worksheet_range("未报送").expect("sheet");
    let value = |key: &str| {
        notice
            .rows()
            .find(|r| r[0] == key)
            .unwrap_or_else(|| panic!("{key}"))[1]
            .to_string()
    };
    assert_eq!(value("报表日期"), "2020-02-24");
    // The file expected, in words: never the server's path or a glob.
    let expected = value("应报送的文件");
    assert!(
        expected.contains("“370112”") && expected.contains("370112.xlsx"),
        "{expected}"
    );
    assert!(
        !expected.contains('/') && !expected.contains('*'),
        "{expected}"
    );
    assert!(value("如何报送").contains("报送"), "how to send it");

    let with_files: std::collections::BTreeSet<String> = files
        .iter()
        .map(|f| {
            f.file_name()
                .expect("name")
                .to_string_lossy()
                .split('-')
                .nth(3)
                .expect("code")
                .to_string()
        })
        .collect();
    let expected_files: std::collections::BTreeSet<String> = districts
        .iter()
        .map(|d| d.to_string())
        .chain(open.keys().cloned())
        .filter(|d| d != "370112")
        .collect();
    assert_eq!(
        with_files, expected_files,
        "one workbook per district with findings or open problems"
    );

    let manifest = fugong::publish::read_manifest(&out.path().join("wh"), d).expect("manifest");
    let mut got = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let code_of_file = name
            .split('-')
            .nth(3)
            .expect("district code in the name")
            .to_string();
        let mut wb = open_workbook_auto(file).expect("calamine opens the feedback workbook");
        assert_eq!(
            wb.sheet_names(),
            vec![
                "汇总".to_string(),
                "问题明细".to_string(),
                "问题台账".to_string()
            ]
        );
        let ledger_sheet = wb.worksheet_range("问题台账").expect("ledger");
        let mut ledger_rows = ledger_sheet.rows();
        let header: Vec<String> = ledger_rows
            .next()
            .expect("header")
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            header,
            fugong::report::feedback::LEDGER_COLUMNS
                .iter()
                .map(|(h, _)| h.to_string())
                .collect::<Vec<_>>()
        );
        let opened: Vec<String> = ledger_rows.map(|r| r[4].to_string()).collect();
        assert_eq!(
            opened.len(),
            open.get(&code_of_file).copied().unwrap_or(0),
            "{name}: every open problem of the district"
        );
        assert!(opened.windows(2).all(|w| w[0] <= w[1]), "oldest first");
        let summary = wb.worksheet_range("汇总").expect("summary");
        let item = |key: &str| {
            summary
                .rows()
                .find(|r| r[0] == key)
                .map(|r| r[1].to_string())
        };
        let status = item("状态").expect("状态");
        assert!(!status.is_empty());
        // The file and the sheet that were read, from the manifest (whatever the findings).
        let m = manifest
            .districts
            .iter()
            .find(|m| m.district_code == code_of_file)
            .expect("district");
        assert_eq!(
            item("读取的文件").as_deref(),
            m.source
                .as_deref()
                .map(fugong::pull::file_name_of)
                .as_deref(),
            "{name}"
        );
        assert_eq!(item("读取的工作表"), m.sheet.clone(), "{name}");
        let errors: usize = item("错误").expect("错误").parse().expect("count");
        let advice = item("说明").expect("说明");
        match m.status.as_str() {
            "rejected" => {
                assert!(item("未接收原因").is_some_and(|w| !w.is_empty()), "{name}");
                assert!(advice.contains("整份报表未被接收"), "{name}: {advice}");
            }
            _ if errors == 0 => {
                assert!(
                    advice.contains("已全部接收") && !advice.contains("修改原表"),
                    "{name}: {advice}"
                );
                assert_eq!(item("未接收原因"), None);
            }
            _ => assert!(advice.contains("逐条修改"), "{name}: {advice}"),
        }
        let sheet = wb.worksheet_range("问题明细").expect("findings");
        let mut rows = sheet.rows();
        let header: Vec<String> = rows
            .next()
            .expect("header")
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            header,
            fugong::report::feedback::FINDING_COLUMNS
                .iter()
                .map(|(h, _)| h.to_string())
                .collect::<Vec<_>>()
        );
        let mut last_row = 0.0;
        for r in rows {
            got.push((
                code_of_file.clone(),
                r[0].to_string(),
                r[6].to_string(),
                r[5].to_string(),
            ));
            let row = r[7].as_f64().unwrap_or(0.0);
            assert!(row >= last_row, "sorted by row");
            last_row = row;
        }
    }
    got.sort();
    assert_eq!(got, want, "every finding exactly once, with its cell");
    assert!(
        got.iter().any(|g| g.1 == "B9" && g.2 == "uscc-invalid"),
        "{got:?}"
    );
}

#[test]
fn the_cookbook_queries_return_the_documented_rows() {
    let Some(python) = std::env::var_os("FUGONG_PYTHON") else {
        panic!(
            "FUGONG_PYTHON is not set: run the suite with `bash tests/run.sh`, which installs the clients"
        );
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let job = fugong::config::Job::load(&repo.join("jobs/example.toml")).expect("job");
    let out = tempfile::tempdir().expect("tmp");
    let options = fugong::RunOptions {
        output: Some(out.path().to_path_buf()),
        ..fugong::RunOptions::default()
    };
    for d in [date(2020, 2, 24), date(2020, 2, 25)] {
        fugong::run_job(&job, d, &options).expect("published");
    }
    let o = Command::new(python)
        .arg(repo.join("tests/clients/check_cookbook.py"))
        .arg(repo.join("docs/cookbook.md"))
        .arg(out.path())
        .output()
        .expect("python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    assert!(text.contains("21 passed, 0 failed"), "{text}");
}

#[test]
fn the_report_lists_the_problem_ledger_the_supply_figures_and_the_anomalies() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let job = fugong::config::Job::load(&repo.join("jobs/example.toml")).expect("job");
    let out = tempfile::tempdir().expect("tmp");
    let wh = out.path().join("wh");
    let options = fugong::RunOptions {
        output: Some(wh.clone()),
        ..fugong::RunOptions::default()
    };
    let (d24, d25) = (date(2020, 2, 24), date(2020, 2, 25));
    for d in [d24, d25] {
        fugong::run_job(&job, d, &options).expect("published");
    }
    let html = render(&wh, d25, 7);
    let doc = Html::parse_document(&html);
    let text_of = |sel: &str| -> Vec<String> {
        doc.select(&Selector::parse(sel).expect("selector"))
            .map(|e| e.text().collect::<String>().trim().to_string())
            .collect()
    };

    // 物资与融资: the seed's figures for 济南市, with the previous date beside them.
    let supply = text_of("section#supply tr");
    let jinan = supply
        .iter()
        .find(|r| r.starts_with("济南市"))
        .expect("济南市 row");
    assert!(
        jinan.contains("50.0万只")
            && jinan.contains("7.0万只")
            && jinan.contains("43家")
            && jinan.contains("11.6亿元"),
        "{jinan}"
    );
    let city = read_table(&wh, "city_daily", d25);
    let masks = column::<arrow::array::Int64Array>(&city, "mask_daily_capacity_total")
        .iter()
        .flatten()
        .sum::<i64>();
    assert_eq!(
        text_of("#province-masks"),
        vec![fugong::compare::display::masks(Some(masks))]
    );

    // 问题清单: the summary and the per-city table agree with problem_daily, the aging chart with
    // problem_ledger, and the oldest list starts with the oldest open problem.
    assert_eq!(section_svgs(&doc, "problems").len(), 1, "the aging chart");
    let daily = read_table(&wh, "problem_daily", d25);
    let sum = |name: &str| {
        column::<arrow::array::Int64Array>(&daily, name)
            .iter()
            .flatten()
            .sum::<i64>()
    };
    let (opened, closed, open) = (sum("opened"), sum("closed"), sum("open"));
    assert!(
        opened > 0 && closed > 0 && open > 0,
        "the example opens and closes problems"
    );
    assert_eq!(
        text_of("#problem-summary"),
        vec![format!(
            "未销号问题 {open} 个；今日新增 {opened} 个，今日销号 {closed} 个。"
        )]
    );
    let ledger = read_table(&wh, "problem_ledger", d25);
    let strings = |name: &str| column::<StringArray>(&ledger, name).clone();
    let (status, city_name) = (strings("status"), strings("city_name"));
    let mut open_per_city: BTreeMap<String, usize> = BTreeMap::new();
    for i in (0..ledger.num_rows()).filter(|&i| status.value(i) == "open") {
        *open_per_city
            .entry(city_name.value(i).to_string())
            .or_default() += 1;
    }
    assert_eq!(open_per_city.values().sum::<usize>() as i64, open);
    let chart = svg_texts(&section_svgs(&doc, "problems")[0]);
    for n in open_per_city.values() {
        assert!(chart.contains(&n.to_string()), "{n} in {chart:?}");
    }
    let oldest = text_of("table#oldest tr");
    assert_eq!(
        oldest.len() - 1,
        open.min(20) as usize,
        "header and up to 20 rows"
    );
    assert!(
        oldest[1].contains("2020-02-24"),
        "the oldest first: {}",
        oldest[1]
    );

    // 异常变动提示: one row per anomaly warning of the date, with its message.
    let rejects = read_table(&wh, "rejects", d25);
    let (code, message) = (
        column::<StringArray>(&rejects, "code").clone(),
        column::<StringArray>(&rejects, "message").clone(),
    );
    let warned: Vec<String> = (0..rejects.num_rows())
        .filter(|&i| code.value(i) == "anomaly")
        .map(|i| message.value(i).to_string())
        .collect();
    assert_eq!(warned.len(), 2, "the example's two anomalies: {warned:?}");
    let rows = text_of("section#anomalies tr");
    assert_eq!(rows.len(), 1 + warned.len());
    // An enterprise is named, its credit code after the name, in its own column and in the message.
    let enterprises = read_table(&wh, "enterprise_daily", d25);
    let (e_uscc, e_name) = (
        column::<StringArray>(&enterprises, "uscc").clone(),
        column::<StringArray>(&enterprises, "enterprise_name").clone(),
    );
    for m in &warned {
        let i = (0..enterprises.num_rows())
            .find(|&i| m.contains(e_uscc.value(i)))
            .unwrap_or_else(|| panic!("an enterprise's credit code in {m}"));
        let named = format!("{}（{}）", e_name.value(i), e_uscc.value(i));
        let shown = m.replacen(e_uscc.value(i), &named, 1);
        assert!(
            rows.iter().any(|r| r.contains(&shown)),
            "{shown} in {rows:?}"
        );
    }

    // Charts: the rank labels sit left of the bars (the province line cannot cross them), the rate
    // axes end at 100 %, the quality chart names codes in Chinese.
    let ranking = &section_svgs(&doc, "ranking")[0];
    let attr = |tag: &str, name: &str| -> Vec<(f64, String)> {
        let fragment = Html::parse_fragment(ranking);
        fragment
            .select(&Selector::parse(tag).expect("selector"))
            .filter_map(|e| {
                let v = e.value().attr(name)?.parse::<f64>().ok()?;
                Some((v, e.text().collect::<String>().trim().to_string()))
            })
            .collect()
    };
    let bars_start = attr("rect", "x")
        .into_iter()
        .map(|(x, _)| x)
        .filter(|x| *x > 0.0)
        .fold(f64::MAX, f64::min);
    let labels: Vec<(f64, String)> = attr("text", "x")
        .into_iter()
        .filter(|(_, t)| t.contains('名') && t.contains('%'))
        .collect();
    assert_eq!(labels.len(), 6, "two cities × three charts: {labels:?}");
    assert!(
        labels.iter().all(|(x, _)| *x < bars_start),
        "{labels:?} vs {bars_start}"
    );
    let ticks: Vec<String> = svg_texts(ranking)
        .into_iter()
        .filter(|t| t.ends_with('%') && t.chars().all(|c| c.is_ascii_digit() || c == '%'))
        .collect();
    assert_eq!(
        ticks.iter().filter(|t| *t == "100%").count(),
        3,
        "{ticks:?}"
    );
    assert!(
        !ticks.iter().any(|t| t == "110%" || t == "120%"),
        "{ticks:?}"
    );
    let trend = svg_texts(&section_svgs(&doc, "trend")[0]);
    assert!(
        trend.iter().any(|t| t == "100%") && !trend.iter().any(|t| t == "105%"),
        "{trend:?}"
    );
    let quality = svg_texts(&section_svgs(&doc, "quality")[0]);
    for code in fugong::validate::Code::ALL {
        assert!(
            !quality.contains(&code.as_str().to_string()),
            "{code:?} in {quality:?}"
        );
    }
    assert!(quality.iter().any(|t| t == "变化异常"), "{quality:?}");
    // Names never wrap.
    assert!(html.contains("td.name, th.name { white-space: nowrap; }"));
    let name_cells = text_of("section#anomalies td.name");
    assert!(
        name_cells.iter().any(|t| t == "济南市章丘区"),
        "{name_cells:?}"
    );
}

/// `docs/tables.md` is the tables' reference in the repository: every column every table is written
/// with, and every code of `rejects`, is listed in its table's section.
#[test]
fn the_tables_reference_lists_every_column_and_code() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(repo.join("docs/tables.md")).expect("docs/tables.md");
    let section = |table: &str| -> String {
        let start = doc
            .find(&format!("## `{table}`"))
            .unwrap_or_else(|| panic!("a section for {table}"));
        let rest = &doc[start + 3..];
        rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
    };
    let geography = section_named(&doc, "## Geography");
    let schema = fugong::config::Schema::builtin().expect("schema");
    let tables = [
        (
            "enterprise_daily",
            fugong::records::enterprise_daily_schema(&schema),
        ),
        ("district_daily", fugong::records::district_daily_schema()),
        ("city_daily", fugong::records::city_daily_schema()),
        ("rejects", fugong::records::rejects_schema()),
        ("problem_ledger", fugong::records::problem_ledger_schema()),
        ("problem_daily", fugong::records::problem_daily_schema()),
    ];
    for (table, arrow_schema) in tables {
        let text = section(table);
        for field in arrow_schema.fields() {
            let row = format!("| `{}` |", field.name());
            assert!(
                text.contains(&row) || geography.contains(&row),
                "docs/tables.md: {table}.{} is not described",
                field.name()
            );
        }
    }
    let rejects = section("rejects");
    for code in fugong::validate::Code::ALL {
        assert!(
            rejects.contains(&format!("| `{}` |", code.as_str())),
            "docs/tables.md: code {} is not described",
            code.as_str()
        );
    }
    let readme = std::fs::read_to_string(repo.join("README.md")).expect("README");
    assert!(readme.contains("(docs/tables.md)"), "the README links it");
    assert!(
        !readme.contains("../shared/"),
        "no link outside the repository"
    );
}

fn section_named(doc: &str, heading: &str) -> String {
    let start = doc.find(heading).unwrap_or_else(|| panic!("{heading}"));
    let rest = &doc[start + 3..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
}

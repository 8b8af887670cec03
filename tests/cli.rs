//! The `fugong` binary as an operator and a helpdesk use it: exit codes and what it prints.

use std::process::{Command, Output};

use crate::support::*;

fn fugong(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(args)
        .output()
        .expect("fugong runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn validate_exits_1_with_errors_and_0_without_and_speaks_json() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good.xlsx");
    std::fs::write(&good, Report::standard(3).to_xlsx()).expect("write");
    let o = fugong(&[
        "validate",
        good.to_str().expect("utf8"),
        "--date",
        "2020-02-24",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("全部 3 行可以接收"), "{}", text(&o));

    let mut report = Report::standard(3);
    report.rows[1][6] = s("约100");
    let bad = dir.path().join("bad.xlsx");
    std::fs::write(&bad, report.to_xlsx()).expect("write");
    let o = fugong(&[
        "validate",
        bad.to_str().expect("utf8"),
        "--date",
        "2020-02-24",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["rows_accepted"], 2);
    assert_eq!(doc["findings"][0]["code"], "type-error");
    assert_eq!(doc["findings"][0]["row"], report.excel_row(1));
    assert_eq!(doc["findings"][0]["column"], "职工总数(人)");
}

#[test]
fn validate_speaks_chinese_names_the_nearest_header_and_says_a_file_is_refused_whole() {
    let dir = tempfile::tempdir().expect("tmp");
    // 职工总数 written as 职工数(人): the one required column missing, the nearest header named.
    let mut report = Report::standard(3);
    let col = report
        .headers
        .iter()
        .position(|h| h.starts_with("职工总数"))
        .expect("职工总数");
    report.headers[col] = "职工数(人)".into();
    let path = dir.path().join("370102.xlsx");
    std::fs::write(&path, report.to_xlsx()).expect("write");
    let o = fugong(&[
        "validate",
        path.to_str().expect("utf8"),
        "--date",
        "2020-02-24",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    let cell = format!("{}{}", report.col_of("职工数(人)"), report.data_start());
    assert!(
        out.contains(&format!("{cell} 写的是“职工数(人)”，是否应为“职工总数”？")),
        "{out}"
    );
    assert!(out.contains("整份文件不能接收"), "{out}");
    assert!(
        !out.contains("0 rows rejected") && !out.contains("rows accepted"),
        "{out}"
    );
    assert!(out.contains("错误 header-missing"), "{out}");
    // JSON carries the cell of the header meant.
    let o = fugong(&[
        "validate",
        path.to_str().expect("utf8"),
        "--date",
        "2020-02-24",
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["findings"][0]["cell"], cell.as_str(), "{doc}");
    // A path that is not there, and a folder, are said in Chinese (exit 2: the command was given wrong).
    let o = fugong(&[
        "validate",
        dir.path().join("没有这个.xlsx").to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("找不到文件"), "{}", text(&o));
    let o = fugong(&["validate", dir.path().to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("是一个文件夹"), "{}", text(&o));
}

#[test]
fn run_prints_the_summary_and_ranking_and_compare_reads_it_back() {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370202", "市南区", "青岛市"),
        ("370203", "市北区", "青岛市"),
    ]);
    province.submit(
        report_date(),
        "370102.xlsx",
        &report_for(
            "历下区",
            (1..=4).map(|i| standard_row(i, true, 10, 8)).collect(),
        )
        .to_xlsx(),
    );
    province.submit(
        report_date(),
        "370202.xlsx",
        &report_for(
            "市南区",
            (11..=14).map(|i| standard_row(i, i != 11, 10, 8)).collect(),
        )
        .to_xlsx(),
    );
    province.submit(report_date(), "370203.xlsx", b"not a workbook");
    let job = province.job_path();
    let o = fugong(&[
        "run",
        "--job",
        job.to_str().expect("utf8"),
        "--date",
        "2020-02-24",
    ]);
    let out = text(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "a rejected district does not fail the run: {out}"
    );
    assert!(out.contains("370203") && out.contains("rejected"), "{out}");
    assert!(out.contains("济南市规上工业企业开工率100.00%"), "{out}");

    let warehouse = province.warehouse();
    let o = fugong(&[
        "compare",
        "--output",
        warehouse.to_str().expect("utf8"),
        "--date",
        "2020-02-24",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("济南市") || l.contains("青岛市"))
        .collect();
    assert!(
        lines[0].contains("济南市") && lines[0].contains("100.00%"),
        "{out}"
    );
    assert!(
        lines[1].contains("青岛市") && lines[1].contains("75.00%") && lines[1].contains("1/2"),
        "{out}"
    );
    // Chinese names are aligned: both table rows have the same display width.
    let width = |l: &str| {
        l.chars()
            // ASCII and box-drawing characters are one column wide, CJK characters two.
            .map(|c| {
                if c.is_ascii() || ('\u{2500}'..='\u{257F}').contains(&c) {
                    1
                } else {
                    2
                }
            })
            .sum::<usize>()
    };
    assert_eq!(width(lines[0]), width(lines[1]), "{out}");

    let o = fugong(&[
        "compare",
        "--output",
        warehouse.to_str().expect("utf8"),
        "--date",
        "2020-02-25",
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        text(&o).contains("no complete snapshot for 2020-02-25"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_bad_job_file_fails_the_run_and_names_the_key_and_the_file() {
    let province = Province::new(&[("370102", "历下区", "济南市")]);
    province.write_job("[limits]\nmax_cell = 10\n");
    let o = fugong(&[
        "run",
        "--job",
        province.job_path().to_str().expect("utf8"),
        "--date",
        "2020-02-24",
    ]);
    assert_ne!(o.status.code(), Some(0));
    let out = text(&o);
    assert!(
        out.contains("max_cell") && out.contains("test.toml"),
        "{out}"
    );
}

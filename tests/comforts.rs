//! What an operator and an analyst meet first: `--version`, `--format table|csv|json`, `compare --xlsx`,
//! `run` without `--date`, dates that look like typos, manifest paths that do not depend on where the
//! command was started, shell completions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use calamine::{Data, Reader, open_workbook_auto};

use crate::publish::text;
use crate::support::*;

fn fugong_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fugong"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("fugong")
}

fn fugong(args: &[&str]) -> Output {
    fugong_in(Path::new(env!("CARGO_MANIFEST_DIR")), args)
}

/// The example job published for 2020-02-24 into a temporary warehouse.
fn example_warehouse() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("wh");
    let o = fugong(&[
        "run",
        "--quiet",
        "--in-process",
        "--job",
        "jobs/example.toml",
        "--date",
        "2020-02-24",
        "--output",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    (dir, out)
}

#[test]
fn version_names_the_release_the_commit_and_the_build_date() {
    let o = fugong(&["--version"]);
    assert!(o.status.success());
    let line = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let re = regex_lite(&line);
    assert!(re, "{line}");
}

/// `fugong 0.1.0 (commit 0123456789ab[-dirty], built 2026-11-30)`, or `commit unknown` outside git.
fn regex_lite(line: &str) -> bool {
    let Some(rest) = line.strip_prefix(&format!("fugong {} (commit ", env!("CARGO_PKG_VERSION")))
    else {
        return false;
    };
    let Some((commit, date)) = rest.split_once(", built ") else {
        return false;
    };
    let commit = commit.strip_suffix("-dirty").unwrap_or(commit);
    let commit_ok = commit == "unknown"
        || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit()));
    let date_ok = date
        .strip_suffix(')')
        .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
    commit_ok && date_ok
}

#[test]
fn compare_speaks_csv_for_excel_and_pandas_json_and_writes_the_ranking_workbook() {
    let (dir, out) = example_warehouse();
    let out = out.to_str().expect("utf8");
    let args = |format: &str| {
        fugong(&[
            "compare",
            "--output",
            out,
            "--date",
            "2020-02-24",
            "--format",
            format,
        ])
    };
    let csv = args("csv");
    assert!(csv.status.success(), "{}", text(&csv));
    assert!(
        csv.stdout.starts_with("\u{feff}".as_bytes()),
        "a BOM for Excel"
    );
    let csv_path = dir.path().join("ranking.csv");
    std::fs::write(&csv_path, &csv.stdout).expect("csv");
    let json = args("json");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).expect("json");
    // Two cities, then the province.
    assert_eq!(rows.len(), 3);
    let keys: Vec<&str> = rows[0]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "report_date",
            "province_code",
            "city_code",
            "city_name",
            "districts_expected",
            "districts_reported",
            "districts_on_time",
            "enterprises_total",
            "enterprises_resumed",
            "resumption_rate",
            "employees_total",
            "employees_on_duty",
            "on_duty_rate",
            "capacity_utilization_avg",
            "resumption_rate_rank",
            "on_duty_rate_rank",
            "capacity_utilization_rank",
            "resumption_rate_change",
            "mask_daily_capacity_total",
            "enterprises_with_financing_need",
            "financing_need_cny_total",
        ],
        "city_daily's columns in its order, after report_date"
    );
    let province = &rows[2];
    assert_eq!(province["city_name"], "全省");
    assert_eq!(province["city_code"], "370000");
    assert_eq!(province["report_date"], "2020-02-24");
    assert_eq!(province["resumption_rate_rank"], serde_json::Value::Null);
    let sum = |key: &str| -> i64 { rows[..2].iter().map(|r| r[key].as_i64().unwrap_or(0)).sum() };
    for key in [
        "enterprises_total",
        "enterprises_resumed",
        "employees_total",
        "employees_on_duty",
    ] {
        assert_eq!(province[key].as_i64(), Some(sum(key)), "{key}");
    }
    assert_eq!(
        province["resumption_rate"].as_f64(),
        Some(sum("enterprises_resumed") as f64 / sum("enterprises_total") as f64),
        "pooled, not a mean of the cities' rates"
    );
    // Money is exact decimal text, never a float; the province's is the cities' sum to the fen.
    let fen = |v: &serde_json::Value| -> i64 {
        let t = v.as_str().unwrap_or_else(|| panic!("money as text: {v}"));
        let (yuan, cents) = t.split_once('.').expect("two decimals");
        assert_eq!(cents.len(), 2, "{t}");
        yuan.parse::<i64>().expect("yuan") * 100 + cents.parse::<i64>().expect("fen")
    };
    assert_eq!(
        fen(&province["financing_need_cny_total"]),
        fen(&rows[0]["financing_need_cny_total"]) + fen(&rows[1]["financing_need_cny_total"])
    );
    let csv_text = String::from_utf8_lossy(&csv.stdout);
    assert!(
        csv_text
            .trim_start_matches('\u{feff}')
            .starts_with("report_date,"),
        "{csv_text}"
    );
    assert!(csv_text.contains(",370000,全省,"), "{csv_text}");
    let first = &rows[0];
    assert_eq!(first["resumption_rate_rank"], 1);
    let rate = first["resumption_rate"].as_f64().expect("rate");
    // pandas reads the CSV (BOM and Chinese intact) to the same figures.
    if let Some(python) = std::env::var_os("FUGONG_PYTHON") {
        let o = Command::new(python)
            .arg("-c")
            .arg(
                "import sys, pandas as pd\n\
                 d = pd.read_csv(sys.argv[1], encoding='utf-8-sig', dtype={'city_code': str})\n\
                 r = d.iloc[0]\n\
                 print(r['city_name'], r['city_code'], repr(float(r['resumption_rate'])), int(r['resumption_rate_rank']))",
            )
            .arg(&csv_path)
            .output()
            .expect("python");
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            format!(
                "{} {} {:?} 1",
                first["city_name"].as_str().expect("name"),
                first["city_code"].as_str().expect("code"),
                rate
            )
        );
    } else {
        panic!("FUGONG_PYTHON is not set: run the suite with `bash tests/run.sh`");
    }
    // The workbook, read back with calamine: title, headline, headers, the first city as a percentage.
    let xlsx = dir.path().join("ranking.xlsx");
    let o = fugong(&[
        "compare",
        "--output",
        out,
        "--date",
        "2020-02-24",
        "--xlsx",
        xlsx.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("居全省首位"),
        "the table still prints: {}",
        text(&o)
    );
    let mut wb = open_workbook_auto(&xlsx).expect("open");
    let range = wb.worksheet_range("开工率排名").expect("sheet");
    let cell = |r: u32, c: u32| range.get_value((r, c)).cloned().unwrap_or(Data::Empty);
    assert!(cell(0, 0).to_string().contains("2020-02-24"));
    assert!(
        cell(1, 0).to_string().contains("居全省首位"),
        "{}",
        cell(1, 0)
    );
    assert_eq!(cell(2, 2).to_string(), "开工率");
    assert_eq!(cell(3, 0), Data::Float(1.0));
    assert_eq!(
        cell(3, 1).to_string(),
        first["city_name"].as_str().expect("name")
    );
    assert_eq!(cell(3, 2), Data::Float(rate));
    // Every column the terminal shows, and the 全省 row after the cities.
    let headers: Vec<String> = (0..16).map(|c| cell(2, c).to_string()).collect();
    for h in [
        "口罩日产能(万只)",
        "有融资需求企业",
        "融资需求(亿元)",
        "报送区县",
    ] {
        assert!(headers.iter().any(|x| x == h), "{h}: {headers:?}");
    }
    let col = |h: &str| headers.iter().position(|x| x == h).expect("column") as u32;
    assert_eq!(cell(5, 1).to_string(), "全省");
    assert_eq!(
        cell(3, col("报送区县")).to_string(),
        format!(
            "{}/{}",
            first["districts_reported"], first["districts_expected"]
        )
    );
    assert_eq!(
        cell(5, col("企业数")),
        Data::Float(province["enterprises_total"].as_f64().expect("total"))
    );
    assert_eq!(
        cell(5, col("融资需求(亿元)")),
        Data::Float(fen(&province["financing_need_cny_total"]) as f64 / 1e10)
    );
}

#[test]
fn history_versions_and_validate_speak_csv_and_json() {
    let (_dir, out) = example_warehouse();
    let out = out.to_str().expect("utf8");
    let o = fugong(&[
        "versions",
        "--output",
        out,
        "--date",
        "2020-02-24",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    assert!(
        lines
            .next()
            .expect("header")
            .starts_with("version,live,published at,trigger")
    );
    assert!(lines.next().expect("row").starts_with("1,*,"), "{csv}");

    let o = fugong(&[
        "history",
        "--job",
        "jobs/example.toml",
        "--output",
        out,
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["date"], "2020-02-24");
    assert_eq!(runs[0]["status"], "published");

    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("example/inbox/2020-02-24/370103.xlsx");
    let o = fugong(&[
        "validate",
        file.to_str().expect("utf8"),
        "--job",
        "jobs/example.toml",
        "--district",
        "370103",
        "--date",
        "2020-02-24",
        "--format",
        "csv",
    ]);
    let csv = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(csv.starts_with('\u{feff}'));
    let mut reader = ::csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().expect("headers").clone();
    assert_eq!(&headers[0], "severity");
    let records: Vec<::csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert!(
        !records.is_empty(),
        "the example's 市中区 file has findings: {csv}"
    );
    assert!(
        records.iter().all(|r| !r[8].is_empty()),
        "every finding has its message"
    );
}

#[test]
fn run_without_a_date_takes_the_jobs_target_and_a_typo_date_needs_force() {
    let province = Province::new(&[("370102", "历下区", "济南市")]);
    let text_of_job = std::fs::read_to_string(province.job_path())
        .expect("job")
        .replace(
            "output = \"../warehouse\"\n",
            "output = \"../warehouse\"\ntimezone = \"Asia/Shanghai\"\ntarget = \"yesterday\"\n",
        );
    std::fs::write(province.job_path(), text_of_job).expect("job");
    let job = province.job_path();
    let job = job.to_str().expect("utf8");
    let yesterday = (chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        - chrono::Days::new(1))
    .to_string();
    std::fs::create_dir_all(province.root().join("inbox")).expect("inbox");
    // Nothing was submitted: published only on the operator's word (--allow-empty).
    let o = fugong(&[
        "run",
        "--quiet",
        "--in-process",
        "--allow-empty",
        "--job",
        job,
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("no --date: processing {yesterday}")),
        "{}",
        text(&o)
    );
    assert!(
        fugong::publish::manifest_path(
            &province.warehouse(),
            chrono::NaiveDate::parse_from_str(&yesterday, "%Y-%m-%d").expect("date")
        )
        .exists()
    );

    for (date, says) in [
        ("2062-02-24", "is in the future"),
        ("1920-02-24", "before 2000"),
    ] {
        let o = fugong(&["run", "--quiet", "--job", job, "--date", date]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(
            text(&o).contains(says) && text(&o).contains("--force-date"),
            "{}",
            text(&o)
        );
        let o = fugong(&[
            "backfill",
            "--job",
            job,
            "--from",
            "2020-02-24",
            "--to",
            date,
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }
    let o = fugong(&[
        "run",
        "--quiet",
        "--in-process",
        "--job",
        job,
        "--date",
        "2062-02-24",
        "--force-date",
        "--allow-empty",
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn manifest_sources_do_not_depend_on_the_working_directory() {
    let (_dir, out) = example_warehouse();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("_manifests/2020-02-24.json")).expect("manifest"),
    )
    .expect("json");
    let inbox = Path::new(env!("CARGO_MANIFEST_DIR")).join("example/inbox/2020-02-24");
    let sources: Vec<&str> = manifest["districts"]
        .as_array()
        .expect("districts")
        .iter()
        .filter_map(|d| d["source"].as_str())
        .collect();
    assert!(!sources.is_empty());
    for s in sources {
        assert!(Path::new(s).is_absolute(), "{s}");
        assert!(!s.contains("/../") && !s.contains("/./"), "{s}");
        assert!(Path::new(s).starts_with(&inbox), "{s}");
        assert!(Path::new(s).exists(), "{s}");
    }
}

#[test]
fn completions_for_bash_zsh_and_fish_know_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let o = fugong(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", text(&o));
        let script = String::from_utf8_lossy(&o.stdout);
        for command in ["compare", "backfill", "rollback", "completions"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
}

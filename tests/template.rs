//! The day's template (contract §13): pre-filled from the district's last published enterprises, data
//! validation on every field with a rule, the header protected, a 填报说明 sheet; filled in (with
//! openpyxl, and re-written with rust_xlsxwriter as another program would save it) it reads back
//! exactly as typed; LibreOffice opens it.

use std::io::Read;
use std::process::Command;

use calamine::{Data, DataType, Reader, open_workbook_auto_from_rs};

use crate::publish::text;
use crate::support::*;

fn province() -> Province {
    Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ])
}

/// Publish the 24th: 历下区 with five enterprises, in a sheet order that is not code order.
fn published(p: &Province) -> Vec<(String, String)> {
    let d = report_date();
    let mut r = report_for(
        "历下区",
        [5u32, 3, 9, 1, 7]
            .iter()
            .map(|&k| standard_row(k, true, 10, 8))
            .collect(),
    );
    r.date_text = Some("2020年2月24日".into());
    p.submit(d, "370102.xlsx", &r.to_xlsx());
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["run", "--quiet", "--in-process", "--allow-empty", "--job"])
        .arg(p.job_path())
        .args(["--date", "2020-02-24"])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", text(&o));
    [5u32, 3, 9, 1, 7]
        .iter()
        .map(|&k| (uscc(k), format!("济南测试制造有限公司{k}")))
        .collect()
}

fn template(p: &Province, code: &str, date: &str) -> Vec<u8> {
    let out = p.root().join(format!("t-{code}-{date}.xlsx"));
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["template", "--job"])
        .arg(p.job_path())
        .args(["--district", code, "--date", date, "--out"])
        .arg(&out)
        .output()
        .expect("template");
    assert!(o.status.success(), "{}", text(&o));
    std::fs::read(&out).expect("template file")
}

fn sheet(bytes: &[u8], name: &str) -> calamine::Range<Data> {
    let mut wb = open_workbook_auto_from_rs(std::io::Cursor::new(bytes.to_vec())).expect("open");
    wb.worksheet_range(name).expect("sheet")
}

fn part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut s = String::new();
    zip.by_name(name)
        .expect("part")
        .read_to_string(&mut s)
        .expect("read");
    s
}

#[test]
fn the_template_carries_the_last_published_enterprises_with_validation_and_a_protected_header() {
    let p = province();
    let carried = published(&p);
    let bytes = template(&p, "370102", "2020-02-25");
    let ws = sheet(&bytes, "复工日报");
    let cell = |r: u32, c: u32| {
        ws.get_value((r, c))
            .cloned()
            .unwrap_or(Data::Empty)
            .to_string()
    };
    assert_eq!(cell(0, 0), "历下区规模以上工业企业复工复产情况日报表");
    assert_eq!(cell(1, 0), "填报单位：历下区工业和信息化局");
    assert!((0..16).any(|c| cell(1, c) == "填报日期：2020年2月25日"));
    assert_eq!(cell(2, 0), "序号");
    assert_eq!(cell(2, 1), "统一社会信用代码");
    let group = (0..16)
        .find(|&c| cell(2, c) == "职工情况")
        .expect("the group header");
    assert_eq!(
        (cell(3, group), cell(3, group + 1)),
        ("职工总数(人)".into(), "上岗人数(人)".into())
    );
    // The carried rows: the published enterprises, in their sheet order, the rest empty.
    let rows: Vec<(String, String)> = (0..5).map(|i| (cell(4 + i, 1), cell(4 + i, 2))).collect();
    assert_eq!(rows, carried);
    assert_eq!(cell(4, 0), "1");
    assert_eq!(cell(4, 3), "通用设备制造业", "the industry carried too");
    assert_eq!(cell(4, 4), "", "是否开工 is for the clerk");
    assert_eq!(cell(9, 1), "", "nothing after the carried rows");
    // Validation on every field with a rule, the header protected, the notes sheet.
    let xml = part(&bytes, "xl/worksheets/sheet1.xml");
    assert!(
        xml.contains("type=\"list\"") && xml.contains("\"是,否\""),
        "the 是/否 list"
    );
    assert!(xml.contains("type=\"whole\"") && xml.contains("operator=\"greaterThanOrEqual\""));
    assert!(
        xml.contains("type=\"decimal\"") && xml.contains("<formula2>150</formula2>"),
        "0–150 %"
    );
    assert!(xml.contains("type=\"date\""), "dates");
    assert!(xml.contains("type=\"textLength\""), "18-character codes");
    assert!(xml.contains("<sheetProtection"), "the header protected");
    let notes = sheet(&bytes, "填报说明");
    let rules: Vec<String> = notes.rows().map(|r| r[0].to_string()).collect();
    for h in [
        "统一社会信用代码",
        "是否开工",
        "职工总数(人)",
        "产能恢复率(%)",
        "融资需求(万元)",
    ] {
        assert!(rules.iter().any(|r| r == h), "{h} in 填报说明: {rules:?}");
    }
    // A date with no earlier data: the header, and an empty table.
    let empty = template(&p, "370103", "2020-02-24");
    let ws = sheet(&empty, "复工日报");
    assert_eq!(
        ws.get_value((2, 0)).map(|v| v.to_string()).as_deref(),
        Some("序号")
    );
    assert!(ws.get_value((4, 1)).is_none_or(|v| v.is_empty()), "no rows");
}

#[test]
fn a_filled_template_is_accepted_row_for_row_from_openpyxl_and_from_rust_xlsxwriter() {
    let p = province();
    let carried = published(&p);
    let bytes = template(&p, "370102", "2020-02-25");
    let path = p.root().join("template.xlsx");
    std::fs::write(&path, &bytes).expect("write");

    // openpyxl: a clerk's program types the day's values into the carried rows and adds one.
    let python = std::env::var("FUGONG_PYTHON")
        .expect("FUGONG_PYTHON: run the suite with `bash tests/run.sh`");
    let filled = p.root().join("filled-openpyxl.xlsx");
    let new_uscc = uscc(42);
    let script = format!(
        r#"
import sys, datetime, openpyxl
wb = openpyxl.load_workbook(sys.argv[1])
ws = wb["复工日报"]
heads = {{}}
for c in range(1, ws.max_column + 1):
    for r in (3, 4):
        v = ws.cell(r, c).value
        if v: heads[v] = c
rows = [(5 + i) for i in range(5)] + [10]
for i, r in enumerate(rows):
    if r == 10:
        ws.cell(r, 1).value = 6
        ws.cell(r, heads["统一社会信用代码"]).value = "{new_uscc}"
        ws.cell(r, heads["企业名称"]).value = "新增企业有限公司"
    ws.cell(r, heads["是否开工"]).value = "是" if i % 2 == 0 else "否"
    if i % 2 == 0:
        ws.cell(r, heads["开工日期"]).value = datetime.date(2020, 2, 10 + i)
    ws.cell(r, heads["职工总数(人)"]).value = 100 + i
    ws.cell(r, heads["上岗人数(人)"]).value = 50 + i
    ws.cell(r, heads["产能恢复率(%)"]).value = 60 + i
    ws.cell(r, heads["口罩日产能(只)"]).value = 1000 * i
    ws.cell(r, heads["融资需求(万元)"]).value = 12.5 * i
    ws.cell(r, heads["存在问题及诉求"]).value = "缺少口罩" if i == 1 else "无"
wb.save(sys.argv[2])
"#
    );
    let o = Command::new(&python)
        .arg("-c")
        .arg(&script)
        .arg(&path)
        .arg(&filled)
        .output()
        .expect("python");
    assert!(o.status.success(), "{}", text(&o));
    let outcome = validate_as(
        &std::fs::read(&filled).expect("filled"),
        "370102",
        date(2020, 2, 25),
        fugong::read::ReadLimits::default(),
    );
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(outcome.rows.len(), 6, "row for row");
    let schema = fugong::config::Schema::builtin().expect("schema");
    let field = |name: &str| schema.field_index(name).expect("field");
    use fugong::validate::Value;
    for (i, row) in outcome.rows.iter().enumerate() {
        let v = |name: &str| row.values[field(name)].clone();
        let expected_uscc = if i == 5 {
            new_uscc.clone()
        } else {
            carried[i].0.clone()
        };
        assert_eq!(v("uscc"), Some(Value::Text(expected_uscc)), "row {i}");
        assert_eq!(v("resumed"), Some(Value::Bool(i % 2 == 0)), "row {i}");
        assert_eq!(
            v("employees_total"),
            Some(Value::Int(100 + i as i64)),
            "row {i}"
        );
        assert_eq!(
            v("employees_on_duty"),
            Some(Value::Int(50 + i as i64)),
            "row {i}"
        );
        assert_eq!(
            v("capacity_utilization"),
            Some(Value::Ratio((60 + i) as f64 / 100.0)),
            "row {i}"
        );
        assert_eq!(
            v("mask_daily_capacity"),
            Some(Value::Int(1000 * i as i64)),
            "row {i}"
        );
        assert_eq!(
            v("financing_need_cny"),
            Some(Value::Money(12_500_000 * i as i64)),
            "row {i}: 12.5 万元 × i, in fen"
        );
        if i % 2 == 0 {
            assert!(v("resumed_on").is_some(), "row {i}");
        }
    }

    // rust_xlsxwriter: the same template re-written cell for cell by another program, with typed values.
    let ws = sheet(&bytes, "复工日报");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let out = wb.add_worksheet().set_name("复工日报").expect("name");
    for (r, row) in ws.rows().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match v {
                Data::String(s) => {
                    out.write_string(r, c, s).expect("write");
                }
                Data::Float(f) => {
                    out.write_number(r, c, *f).expect("write");
                }
                Data::Int(n) => {
                    out.write_number(r, c, *n as f64).expect("write");
                }
                _ => {}
            }
        }
    }
    let headers: Vec<String> = (0..16)
        .map(|c| {
            [3u32, 2]
                .iter()
                .map(|&r| {
                    ws.get_value((r, c))
                        .map(|v| v.to_string())
                        .unwrap_or_default()
                })
                .find(|t| !t.is_empty() && t != "职工情况")
                .unwrap_or_default()
        })
        .collect();
    let col = |h: &str| headers.iter().position(|x| x == h).expect(h) as u16;
    for i in 0..5u32 {
        let r = 4 + i;
        out.write_string(r, col("是否开工"), "是").expect("write");
        out.write_number(r, col("职工总数(人)"), 30.0 + f64::from(i))
            .expect("write");
        out.write_number(r, col("上岗人数(人)"), 20.0)
            .expect("write");
        out.write_string(r, col("产能恢复率(%)"), "85%")
            .expect("write");
    }
    let rewritten = wb.save_to_buffer().expect("save");
    let outcome = validate_as(
        &rewritten,
        "370102",
        date(2020, 2, 25),
        fugong::read::ReadLimits::default(),
    );
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(outcome.rows.len(), 5);
    assert!(
        outcome
            .rows
            .iter()
            .all(|r| r.values[field("capacity_utilization")] == Some(Value::Ratio(0.85)))
    );
}

#[test]
fn libreoffice_opens_the_template() {
    let p = province();
    published(&p);
    let bytes = template(&p, "370102", "2020-02-25");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("template.xlsx");
    std::fs::write(&path, bytes).expect("write");
    let soffice = ["soffice", "libreoffice"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("LibreOffice (soffice) is missing: run the suite with `bash tests/run.sh`, which installs libreoffice-calc-nogui");
    let o = Command::new(soffice)
        // CSV in UTF-8 (76), comma-separated (44), quoted with " (34).
        .args([
            "--headless",
            "--norestore",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir",
        ])
        .arg(dir.path())
        .arg(&path)
        .env("HOME", dir.path())
        .output()
        .expect("soffice");
    assert!(o.status.success(), "{}", text(&o));
    let csv = std::fs::read(dir.path().join("template.csv")).expect("the converted csv");
    let csv = String::from_utf8_lossy(&csv);
    assert!(
        csv.contains("统一社会信用代码") && csv.contains(&uscc(5)),
        "{csv}"
    );
}

//! Reading what districts really send (contract §8): hostile shared-string counts however they are
//! written, OOXML containers as Excel finds them, the exports that are not workbooks (XML Spreadsheet
//! 2003, HTML tables, CSV), macro sheets, empty workbooks, old and encrypted files, and messages a clerk
//! can act on, in Chinese only.

use std::path::PathBuf;
use std::process::Command;

use fugong::read::ReadLimits;
use fugong::validate::{Code, SubmissionOutcome};

use crate::support::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

fn codes(outcome: &SubmissionOutcome) -> Vec<Code> {
    outcome.findings.iter().map(|f| f.code).collect()
}

/// The report the formats are compared on: a title, a two-row header under 职工情况, full-width digits,
/// percent text, an Excel date, a bad count, a 合计 row and 填表人 notes.
fn source_report() -> Report {
    let mut report = report_for(
        "历下区",
        (1..=6)
            .map(|i| standard_row(i, i != 3, 100 + i64::from(i), 80))
            .collect(),
    );
    report.two_row_header = true;
    report.rows[1][6] = s("１２０");
    report.rows[2][8] = s("45%");
    report.rows[4][7] = s("约80");
    report.total = Some(vec![s("合计"), C::E, C::E, C::E, n(5.0)]);
    report
}

/// An xlsx whose shared-string table claims 3 000 000 000 strings, written by `rewrite`.
fn lying_sst(rewrite: impl Fn(&str) -> String) -> Vec<u8> {
    rezip(
        &report_for("历下区", vec![standard_row(1, true, 10, 8)]).to_xlsx(),
        |name, content| {
            if name == "xl/sharedStrings.xml" {
                let text = String::from_utf8(content).expect("utf8");
                Some((name.to_string(), rewrite(&text).into_bytes()))
            } else {
                Some((name.to_string(), content))
            }
        },
    )
}

/// The `<sst …>` start tag of a rust_xlsxwriter workbook, replaced.
fn with_sst_tag(text: &str, tag: &str) -> String {
    let start = text.find("<sst").expect("sst");
    let end = start + text[start..].find('>').expect(">") + 1;
    format!("{}{tag}{}", &text[..start], &text[end..])
}

const NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";

fn hostile_variants() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "spaces around =",
            lying_sst(|t| {
                with_sst_tag(
                    t,
                    &format!(
                        "<sst xmlns=\"{NS}\" count = \"3000000000\" uniqueCount = \"3000000000\">"
                    ),
                )
            }),
        ),
        (
            "single quotes",
            lying_sst(|t| with_sst_tag(t, &format!("<sst xmlns='{NS}' uniqueCount='3000000000'>"))),
        ),
        (
            "<sst after 4 KB",
            lying_sst(|t| {
                let padding = format!("<!--{}-->", "x".repeat(6000));
                let tagged = with_sst_tag(
                    t,
                    &format!("<sst xmlns=\"{NS}\" uniqueCount=\"3000000000\">"),
                );
                tagged.replacen("<sst", &format!("{padding}<sst"), 1)
            }),
        ),
        (
            "entity-encoded digits",
            lying_sst(|t| {
                with_sst_tag(
                    t,
                    &format!("<sst xmlns=\"{NS}\" uniqueCount=\"&#51;000000000\">"),
                )
            }),
        ),
        (
            "prefixed root",
            lying_sst(|t| {
                with_sst_tag(
                    t,
                    &format!("<x:sst xmlns:x=\"{NS}\" uniqueCount=\"3000000000\">"),
                )
                .replace("</sst>", "</x:sst>")
                .replace("<si>", "<x:si>")
                .replace("</si>", "</x:si>")
                .replace("<t>", "<x:t>")
                .replace("</t>", "</x:t>")
                .replace("<t ", "<x:t ")
            }),
        ),
        (
            "count without uniqueCount",
            lying_sst(|t| with_sst_tag(t, &format!("<sst xmlns=\"{NS}\" count=\"3000000000\">"))),
        ),
        (
            "shared strings under another name",
            rezip(
                &lying_sst(|t| {
                    with_sst_tag(
                        t,
                        &format!("<sst xmlns=\"{NS}\" uniqueCount=\"3000000000\">"),
                    )
                }),
                |name, content| {
                    let name = if name == "xl/sharedStrings.xml" {
                        "xl/SharedStrings.XML".to_string()
                    } else {
                        name.to_string()
                    };
                    Some((name, content))
                },
            ),
        ),
    ]
}

#[test]
fn every_spelling_of_a_lying_shared_string_count_is_read_without_calamine_reserving_it() {
    // However the count is spelled, it is a claim: the workbook is read from a copy whose <sst> tag
    // declares none (so calamine reserves nothing from it), and its one row is accepted.
    for (what, bytes) in hostile_variants() {
        let outcome = validate(&bytes);
        assert_eq!(outcome.rows.len(), 1, "{what}: {:#?}", outcome.findings);
        assert!(
            outcome.findings.is_empty(),
            "{what}: {:#?}",
            outcome.findings
        );
    }
}

/// The hostile variants in a province, run by `fugong run` under an address-space limit of 3 GB: a
/// reserve of 3 000 000 000 strings (72 GB) would abort it. The good districts are published.
#[test]
fn a_run_under_an_address_space_limit_survives_every_hostile_variant() {
    let districts: Vec<(&str, &str, &str)> =
        JINAN.iter().map(|(c, n)| (*c, *n, "济南市")).collect();
    let province = Province::new(&districts);
    let d = report_date();
    province.submit(
        d,
        "370102.xlsx",
        &report_for(
            "历下区",
            (1..=4).map(|i| standard_row(i, true, 10, 8)).collect(),
        )
        .to_xlsx(),
    );
    for ((code, _), (_, bytes)) in JINAN.iter().skip(1).zip(hostile_variants()) {
        province.submit(d, &format!("{code}.xlsx"), &bytes);
    }
    let prlimit = Command::new("prlimit").arg("--version").output();
    let mut cmd = if prlimit.is_ok_and(|o| o.status.success()) {
        let mut c = Command::new("prlimit");
        c.arg("--as=3000000000").arg(env!("CARGO_BIN_EXE_fugong"));
        c
    } else {
        println!("prlimit is not here: running without the address-space limit");
        Command::new(env!("CARGO_BIN_EXE_fugong"))
    };
    let o = cmd
        .args(["run", "--quiet", "--date", "2020-02-24", "--job"])
        .arg(province.job_path())
        .output()
        .expect("fugong");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let m = fugong::publish::read_manifest(&province.warehouse(), d).expect("manifest");
    assert_eq!(m.districts[0].status, "accepted");
    assert_eq!(m.districts[0].rows_accepted, 4);
    // Each hostile variant was read through (its 3 000 000 000 strings never reserved): it says it is
    // 历下区's, so it is rejected as another district's workbook.
    let rejects = read_table(&province.warehouse(), "rejects", d);
    let codes = column::<arrow::array::StringArray>(&rejects, "code");
    for district in &m.districts[1..8] {
        assert_eq!(district.status, "rejected", "{}", district.district_code);
    }
    assert!(
        (0..rejects.num_rows()).all(|i| codes.value(i) == "district-mismatch"),
        "{rejects:?}"
    );
}

/// A workbook rewritten three ways Excel still opens: `\` in part names, the workbook part at the zip
/// root (found through `_rels/.rels`), and a lower-case content-types part.
fn container_variants(xlsx: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let backslashes = rezip(xlsx, |name, content| {
        Some((name.replace('/', "\\"), content))
    });
    let at_root = rezip(xlsx, |name, content| {
        let text = |c: Vec<u8>| String::from_utf8(c).expect("utf8");
        match name {
            "_rels/.rels" => Some((
                name.into(),
                text(content)
                    .replace("xl/workbook.xml", "workbook.xml")
                    .into_bytes(),
            )),
            "[Content_Types].xml" => {
                Some((name.into(), text(content).replace("/xl/", "/").into_bytes()))
            }
            "xl/_rels/workbook.xml.rels" => Some(("_rels/workbook.xml.rels".into(), content)),
            other => Some((
                other.strip_prefix("xl/").unwrap_or(other).to_string(),
                content,
            )),
        }
    });
    let lower_content_types = rezip(xlsx, |name, content| {
        Some((
            name.replace("[Content_Types].xml", "[content_types].xml"),
            content,
        ))
    });
    vec![
        ("backslashes", backslashes),
        ("workbook at the root", at_root),
        ("lower-case [content_types].xml", lower_content_types),
    ]
}

#[test]
fn containers_as_excel_finds_them_are_read_with_their_exact_rows() {
    let xlsx = source_report().to_xlsx();
    let reference = validate(&xlsx);
    assert_eq!(reference.rows.len(), 5);
    for (what, bytes) in container_variants(&xlsx) {
        let outcome = validate(&bytes);
        assert_eq!(
            outcome.rows, reference.rows,
            "{what}: {:#?}",
            outcome.findings
        );
        assert_eq!(outcome.findings, reference.findings, "{what}");
    }
}

#[test]
fn xml_spreadsheet_2003_html_and_csv_exports_read_like_the_workbook() {
    let report = source_report();
    let reference = validate(&report.to_xlsx());
    assert_eq!(codes(&reference), [Code::TypeError, Code::TotalMismatch]);
    let exports: Vec<(&str, Vec<u8>)> = vec![
        ("XML Spreadsheet 2003", report.to_spreadsheetml()),
        ("HTML in GBK", report.to_html(encoding_rs::GBK)),
        ("HTML in UTF-8", report.to_html(encoding_rs::UTF_8)),
    ];
    for (what, bytes) in exports {
        let outcome = validate(&bytes);
        assert_eq!(
            outcome.rows, reference.rows,
            "{what}: {:#?}",
            outcome.findings
        );
        assert_eq!(
            codes(&outcome),
            codes(&reference),
            "{what}: {:#?}",
            outcome.findings
        );
        for (a, b) in outcome.findings.iter().zip(&reference.findings) {
            assert_eq!(
                (a.row, &a.cell, &a.column),
                (b.row, &b.cell, &b.column),
                "{what}"
            );
        }
    }
    // CSV has one header row: the same report without the group header.
    let mut flat = source_report();
    flat.two_row_header = false;
    let reference = validate(&flat.to_xlsx());
    for (what, bytes) in [
        ("CSV in GB18030", flat.to_csv(encoding_rs::GB18030, false)),
        (
            "CSV in UTF-8 with BOM",
            flat.to_csv(encoding_rs::UTF_8, true),
        ),
    ] {
        let outcome = validate(&bytes);
        assert_eq!(
            outcome.rows, reference.rows,
            "{what}: {:#?}",
            outcome.findings
        );
        assert_eq!(codes(&outcome), codes(&reference), "{what}");
        assert_eq!(outcome.sheet.as_deref(), Some("CSV"), "{what}");
    }
}

#[test]
fn an_html_error_page_is_still_unreadable_and_shows_its_title() {
    let page = "<html><head><meta charset=\"gbk\"><title>系统维护中</title></head><body><p>请稍后再试</p></body></html>";
    let (gbk, _, _) = encoding_rs::GBK.encode(page);
    let outcome = validate(&gbk);
    assert_eq!(codes(&outcome), [Code::FileUnreadable]);
    assert!(
        outcome.findings[0].message.contains("系统维护中"),
        "{}",
        outcome.findings[0].message
    );
}

/// A workbook whose first sheet is an Excel 4.0 macro sheet (calamine 0.38 does not know that sheet type).
fn with_macro_sheet() -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let macro_sheet = wb.add_worksheet().set_name("Macro1").expect("name");
    macro_sheet.write_string(0, 0, "=RETURN()").expect("write");
    let report = report_for(
        "历下区",
        (1..=3).map(|i| standard_row(i, true, 10, 8)).collect(),
    );
    let ws = wb.add_worksheet().set_name("复工日报").expect("name");
    ws.set_active(true);
    for (r, row) in std::iter::once(report.headers.iter().map(|h| s(h)).collect::<Vec<_>>())
        .chain(report.rows.clone())
        .enumerate()
    {
        write_row(ws, r as u32, &row);
    }
    let xlsx = wb.save_to_buffer().expect("xlsx");
    rezip(&xlsx, |name, content| {
        let text = || String::from_utf8(content.clone()).expect("utf8");
        match name {
            "xl/_rels/workbook.xml.rels" => Some((
                name.into(),
                text()
                    .replacen(
                        "relationships/worksheet\" Target=\"worksheets/sheet1.xml\"",
                        "relationships/xlMacrosheet\" Target=\"macrosheets/sheet1.xml\"",
                        1,
                    )
                    .into_bytes(),
            )),
            "xl/worksheets/sheet1.xml" => Some(("xl/macrosheets/sheet1.xml".into(), content)),
            "[Content_Types].xml" => Some((
                name.into(),
                text()
                    .replace(
                        "/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"",
                        "/xl/macrosheets/sheet1.xml\" ContentType=\"application/vnd.ms-excel.macrosheet+xml\"",
                    )
                    .into_bytes(),
            )),
            _ => Some((name.to_string(), content)),
        }
    })
}

#[test]
fn a_macro_sheet_before_the_report_is_skipped() {
    let bytes = with_macro_sheet();
    // calamine alone refuses this workbook ("Unrecognized sheet:type"); fugong reads past the macro sheet.
    let alone = calamine::open_workbook_from_rs::<calamine::Xlsx<_>, _>(std::io::Cursor::new(
        bytes.clone(),
    ));
    assert!(
        alone
            .err()
            .is_some_and(|e| e.to_string().contains("sheet:type")),
        "the fixture holds a macro sheet calamine does not know"
    );
    let outcome = validate(&bytes);
    assert_eq!(outcome.rows.len(), 3, "{:#?}", outcome.findings);
    assert_eq!(outcome.sheet.as_deref(), Some("复工日报"));
}

#[test]
fn a_workbook_without_worksheets_gets_one_finding() {
    let xlsx = report_for("历下区", vec![standard_row(1, true, 10, 8)]).to_xlsx();
    let empty = rezip(&xlsx, |name, content| {
        if name == "xl/workbook.xml" {
            let text = String::from_utf8(content).expect("utf8");
            let start = text.find("<sheets>").expect("sheets");
            let end = text.find("</sheets>").expect("/sheets") + "</sheets>".len();
            Some((
                name.into(),
                format!("{}<sheets/>{}", &text[..start], &text[end..]).into_bytes(),
            ))
        } else {
            Some((name.to_string(), content))
        }
    });
    let outcome = validate(&empty);
    assert_eq!(
        codes(&outcome),
        [Code::FileUnreadable],
        "{:#?}",
        outcome.findings
    );
    assert!(
        outcome.findings[0].message.contains("没有工作表"),
        "{}",
        outcome.findings[0].message
    );
}

#[test]
fn an_excel_4_file_is_named_with_how_to_save_it() {
    let outcome = validate(&fixture("formats/excel4.xls"));
    assert_eq!(codes(&outcome), [Code::FileUnreadable]);
    let m = &outcome.findings[0].message;
    assert!(
        m.contains("Excel 4.0") && m.contains("另存为") && m.contains(".xlsx"),
        "{m}"
    );
}

#[test]
fn a_password_is_named_for_every_encryption_form() {
    for (what, bytes) in [
        (
            "xls with FILEPASS (XOR obfuscation)",
            fixture("formats/encrypted.xls"),
        ),
        ("encrypted OOXML package", fixture("encrypted-370102.xlsx")),
    ] {
        let outcome = validate(&bytes);
        assert_eq!(codes(&outcome), [Code::FileUnreadable], "{what}");
        assert!(
            outcome.findings[0].message.contains("设置了密码"),
            "{what}: {}",
            outcome.findings[0].message
        );
    }
}

/// Regenerate the two hand-made fixtures: an Excel 4.0 (BIFF4) worksheet and an xls whose globals hold
/// a FILEPASS record (XOR obfuscation), made from the LibreOffice-written `report.xls`.
#[test]
#[ignore = "writes tests/fixtures/formats/excel4.xls and encrypted.xls"]
fn regenerate_old_and_encrypted_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats");
    let record = |id: u16, body: &[u8]| -> Vec<u8> {
        let mut r = id.to_le_bytes().to_vec();
        r.extend((body.len() as u16).to_le_bytes());
        r.extend(body);
        r
    };
    // BIFF4: BOF (worksheet), DIMENSIONS, one LABEL "企业名称" in the ANSI code page, EOF.
    let mut biff4 = record(0x0409, &[0x00, 0x00, 0x10, 0x00, 0x00, 0x00]);
    biff4.extend(record(0x0200, &[0, 0, 1, 0, 0, 0, 1, 0, 0, 0]));
    let label = encoding_rs::GBK.encode("企业名称").0.into_owned();
    let mut body = vec![0, 0, 0, 0, 0x0F, 0];
    body.extend((label.len() as u16).to_le_bytes());
    body.extend(&label);
    biff4.extend(record(0x0204, &body));
    biff4.extend(record(0x000A, &[]));
    std::fs::write(dir.join("excel4.xls"), biff4).expect("write");

    use std::io::{Read, Write};
    let mut source = cfb::CompoundFile::open(std::io::Cursor::new(
        std::fs::read(dir.join("report.xls")).expect("report.xls"),
    ))
    .expect("cfb");
    let mut stream = Vec::new();
    source
        .open_stream("/Workbook")
        .expect("Workbook")
        .read_to_end(&mut stream)
        .expect("read");
    let bof_len = 4 + usize::from(u16::from_le_bytes([stream[2], stream[3]]));
    let filepass = record(0x002F, &[0x00, 0x00, 0x34, 0x12, 0x78, 0x56]);
    let mut patched = stream[..bof_len].to_vec();
    patched.extend(&filepass);
    patched.extend(&stream[bof_len..]);
    let mut out = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).expect("create");
    out.create_stream("/Workbook")
        .expect("stream")
        .write_all(&patched)
        .expect("write");
    let bytes = out.into_inner().into_inner();
    std::fs::write(dir.join("encrypted.xls"), bytes).expect("write");
}

#[test]
fn values_are_read_right() {
    let mut headers = standard_headers();
    headers[10] = "融资需求万元".into();
    headers[6] = "职工总数人".into();
    headers.push("手机".into());
    let mut rows: Vec<Vec<C>> = (1..=5).map(|i| standard_row(i, true, 10, 8)).collect();
    for r in &mut rows {
        r.push(s("13900000000"));
    }
    rows[0][6] = s("12,5"); // a decimal comma, not 125
    rows[1][5] = n(20_200_210.0); // yyyymmdd as a number
    rows[2][11] = s("\u{00A0}\u{200B} "); // only invisible characters
    rows[3][10] = s("5000元"); // the value's unit beats the header's
    rows[4][6] = s("1,862");
    rows[4][7] = s("1,200");
    let mut report = report_for("历下区", rows);
    report.headers = headers;
    let outcome = validate(&report.to_xlsx());
    // Only the decimal comma is an error; both phone columns are fine (personal data is never checked).
    assert_eq!(
        codes(&outcome),
        [Code::TypeError],
        "{:#?}",
        outcome.findings
    );
    assert_eq!(outcome.findings[0].row, Some(report.excel_row(0)));
    assert_eq!(outcome.findings[0].value.as_deref(), Some("12,5"));
    let schema = fugong::config::Schema::builtin().expect("schema");
    let field = |name: &str| schema.field_index(name).expect(name);
    let row = |i: usize| &outcome.rows[i - 1].values;
    use fugong::validate::Value;
    let day = |y, m, d| {
        fugong::validate::row::epoch_days(chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date"))
    };
    assert_eq!(
        row(1)[field("resumed_on")],
        Some(Value::Date(day(2020, 2, 10)))
    );
    assert_eq!(
        row(2)[field("issues_text")],
        None,
        "invisible-only text is empty"
    );
    assert_eq!(
        row(3)[field("financing_need_cny")],
        Some(Value::Money(500_000))
    );
    assert_eq!(
        row(1)[field("financing_need_cny")],
        Some(Value::Money(100 * 10_000 * 100))
    );
    assert_eq!(row(4)[field("employees_total")], Some(Value::Int(1862)));
}

#[test]
fn validate_without_a_date_takes_the_workbooks_and_says_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let with_date = dir.path().join("with-date.xlsx");
    let mut report = report_for(
        "历下区",
        (1..=3).map(|i| standard_row(i, true, 10, 8)).collect(),
    );
    report.rows[2][5] = C::D(2020, 2, 25); // after 填报日期 2020-02-24
    std::fs::write(&with_date, report.to_xlsx()).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["validate", "--format", "json"])
        .arg(&with_date)
        .output()
        .expect("validate");
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["report_date"], "2020-02-24");
    assert!(
        doc["date_note"]
            .as_str()
            .unwrap_or_default()
            .contains("填报日期"),
        "{doc}"
    );
    let finding = &doc["findings"][0];
    assert_eq!(finding["code"], "constraint-error");
    assert_eq!(finding["cell"], format!("F{}", report.excel_row(2)));
    assert!(
        finding["expected"].is_string() && finding.get("detail").is_some(),
        "{finding}"
    );

    let without = dir.path().join("without-date.xlsx");
    let mut report = report_for(
        "历下区",
        (1..=3).map(|i| standard_row(i, true, 10, 8)).collect(),
    );
    report.date_text = None;
    std::fs::write(&without, report.to_xlsx()).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .arg("validate")
        .arg(&without)
        .output()
        .expect("validate");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("未核对日期") && text.contains("全部 3 行可以接收"),
        "{text}"
    );

    // Over a limit: a file-too-large finding, exit 1 (not a usage error).
    let job_dir = dir.path().join("jobs");
    std::fs::create_dir_all(&job_dir).expect("mkdir");
    std::fs::write(
        job_dir.join("j.toml"),
        "name = \"j\"\noutput = \"../wh\"\n[province]\ncode = \"370000\"\nname = \"山东省\"\n[source]\nkind = \"dir\"\npath = \"../in/{date}/{district_code}.*\"\n[limits]\nmax_file_bytes = 100\n[[districts]]\ncode = \"370102\"\nname = \"历下区\"\ncity = \"济南市\"\n",
    )
    .expect("job");
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .arg("validate")
        .arg(&without)
        .arg("--job")
        .arg(job_dir.join("j.toml"))
        .output()
        .expect("validate");
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("file-too-large"), "{text}");
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .arg("validate")
        .arg(&without)
        .args(["--district", "370199", "--job"])
        .arg(job_dir.join("j.toml"))
        .output()
        .expect("validate");
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every message of the suite's inputs is for a clerk: no English words but the names of formats and
/// programs (text quoted from the file itself aside).
#[test]
fn messages_hold_no_english_words() {
    const ALLOWED: [&str; 16] = [
        "Excel",
        "WPS",
        "xlsx",
        "xls",
        "xlsm",
        "xlsb",
        "ods",
        "CSV",
        "HTML",
        "XML",
        "JSON",
        "BIFF",
        "Word",
        "PowerPoint",
        "docx",
        "zip",
    ];
    let mut inputs: Vec<(String, Vec<u8>)> = vec![
        ("html".into(), b"<html><head><title>x</title></head><body></body></html>".to_vec()),
        ("random".into(), (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect()),
        ("truncated".into(), source_report().to_xlsx()[..2000].to_vec()),
        ("json".into(), b"{\"error\": \"expired\"}".to_vec()),
        ("xml".into(), b"<?xml version=\"1.0\"?><root/>".to_vec()),
        ("empty".into(), Vec::new()),
        ("docx-like zip".into(), rezip(&source_report().to_xlsx(), |n, c| Some((n.replace("xl/", "word/"), c)))),
        ("broken spreadsheetml".into(), b"<?xml version=\"1.0\"?><?mso-application progid=\"Excel.Sheet\"?><Workbook xmlns=\"urn:schemas-microsoft-com:office:spreadsheet\"><Worksheet><Table><Row><Cell>".to_vec()),
        ("broken csv".into(), b"\"unterminated,quote\nx".to_vec()),
    ];
    for (what, bytes) in hostile_variants() {
        inputs.push((what.into(), bytes));
    }
    for entry in
        std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats"))
            .expect("fixtures")
            .flatten()
    {
        inputs.push((
            entry.path().display().to_string(),
            std::fs::read(entry.path()).expect("read"),
        ));
    }
    let mut bad_values = source_report();
    bad_values.rows[0][1] = s("ABC");
    bad_values.rows[1][4] = s("也许");
    bad_values.rows[2][8] = n(900.0);
    bad_values.rows[3][5] = s("下周");
    bad_values.rows[4][10] = s("-5");
    bad_values.rows[5][7] = n(5000.0);
    inputs.push(("bad values".into(), bad_values.to_xlsx()));
    let quoted = regex_free_strip_quotes;
    let mut seen = 0;
    for (what, bytes) in inputs {
        for f in validate(&bytes).findings {
            seen += 1;
            let text = quoted(&f.message);
            for word in text
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|w| w.len() >= 3)
            {
                assert!(
                    ALLOWED.iter().any(|a| a.eq_ignore_ascii_case(word)),
                    "{what}: English `{word}` in the message: {}",
                    f.message
                );
            }
        }
    }
    assert!(seen > 20, "{seen} messages checked");
}

/// A message with its quoted parts (“…”: what the file itself says) taken out.
fn regex_free_strip_quotes(message: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in message.chars() {
        match c {
            '“' => depth += 1,
            '”' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[test]
fn fuzz_regressions_are_read_without_harm() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let limits = ReadLimits {
        max_read_secs: 10,
        ..ReadLimits::default()
    };
    let mut n = 0;
    for entry in std::fs::read_dir(&dir)
        .expect("tests/fixtures/fuzz")
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "md") {
            continue;
        }
        let bytes = std::fs::read(entry.path()).expect("read");
        let outcome = validate_as(&bytes, "370102", report_date(), limits);
        assert!(
            outcome.findings.iter().all(|f| !f.message.is_empty()),
            "{}",
            entry.path().display()
        );
        n += 1;
    }
    println!("{n} fuzz regression case(s)");
}

#[cfg(feature = "failpoints")]
#[test]
fn a_reader_panic_costs_one_submission_and_is_logged_once_without_a_backtrace() {
    let province = Province::new(&[("370102", "历下区", "济南市")]);
    province.submit(
        report_date(),
        "370102.xlsx",
        &report_for("历下区", vec![standard_row(1, true, 10, 8)]).to_xlsx(),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["run", "--quiet", "--date", "2020-02-24", "--job"])
        .arg(province.job_path())
        .env("FAILPOINTS", "read::open=panic(a parser bug)")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("fugong");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(stderr.matches("a reader panicked").count(), 1, "{stderr}");
    assert!(stderr.contains("a parser bug"), "{stderr}");
    assert!(
        !stderr.contains("panicked at") && !stderr.contains("stack backtrace"),
        "the default hook's text: {stderr}"
    );
    let m = fugong::publish::read_manifest(&province.warehouse(), report_date()).expect("m");
    assert_eq!(m.districts[0].status, "rejected");
    let rejects = read_table(&province.warehouse(), "rejects", report_date());
    let detail = column::<arrow::array::StringArray>(&rejects, "detail");
    assert!(
        detail.value(0).contains("a parser bug"),
        "the detail keeps the panic's words"
    );
}

//! Formats rust_xlsxwriter cannot write: small `.xls` (BIFF8) and `.ods` files made once with LibreOffice
//! from `tests/fixtures/formats/report.xlsx` and committed. Each must read exactly like the xlsx.
//!
//! Remake them with `cargo test --test tests -- --ignored formats::regenerate_format_sources`, then
//! `cd tests/fixtures/formats && soffice --headless --convert-to xls report.xlsx && soffice --headless --convert-to ods report.xlsx`.

use std::path::PathBuf;

use fugong::validate::Code;

use crate::support::*;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats")
}

/// Two-row header, a title, full-width digits, percent text, an Excel date, a bad count and a total row.
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

#[test]
#[ignore = "writes tests/fixtures/formats/report.xlsx; convert it with LibreOffice afterwards"]
fn regenerate_format_sources() {
    std::fs::create_dir_all(dir()).expect("mkdir");
    std::fs::write(dir().join("report.xlsx"), source_report().to_xlsx()).expect("write");
}

#[test]
fn xls_and_ods_read_exactly_like_the_xlsx_they_were_made_from() {
    let xlsx = validate(&std::fs::read(dir().join("report.xlsx")).expect("report.xlsx"));
    assert_eq!(xlsx.rows.len(), 5);
    let codes: Vec<Code> = xlsx.findings.iter().map(|f| f.code).collect();
    // 约80 is a type-error; the 合计 row counts 5 resumed, the accepted rows 4.
    assert_eq!(
        codes,
        [Code::TypeError, Code::TotalMismatch],
        "{:#?}",
        xlsx.findings
    );
    assert_eq!(xlsx.findings[0].row, Some(source_report().excel_row(4)));
    for name in ["report.xls", "report.ods"] {
        let other = validate(&std::fs::read(dir().join(name)).expect(name));
        assert_eq!(other.rows, xlsx.rows, "{name}: accepted rows differ");
        assert_eq!(other.findings, xlsx.findings, "{name}: findings differ");
        assert_eq!(other.sheet, xlsx.sheet, "{name}");
    }
}

#[test]
fn the_format_is_sniffed_from_the_bytes_not_the_name() {
    let xls = std::fs::read(dir().join("report.xls")).expect("xls");
    let dir = tempfile::tempdir().expect("tmp");
    let misnamed = dir.path().join("370102.xlsx");
    std::fs::write(&misnamed, &xls).expect("write");
    let outcome = validate(&std::fs::read(&misnamed).expect("read"));
    assert_eq!(outcome.rows.len(), 5, "{:#?}", outcome.findings);
}

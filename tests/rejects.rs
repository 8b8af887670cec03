//! Every reject code of contract §3 produced by a real workbook, with the right row and column.

use fugong::read::ReadLimits;
use fugong::validate::{Code, Finding, Severity, SubmissionOutcome};

use crate::support::*;

fn only(outcome: &SubmissionOutcome, code: Code) -> Finding {
    let found: Vec<&Finding> = outcome.findings.iter().filter(|f| f.code == code).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {code}: {:#?}",
        outcome.findings
    );
    found[0].clone()
}

/// A report whose row `bad` (0-based) has `cell` in column `col`.
fn with_cell(rows: u32, bad: usize, col: usize, cell: C) -> Report {
    let mut report = Report::standard(rows);
    report.rows[bad][col] = cell;
    report
}

#[test]
fn type_error_names_the_cell_the_value_and_what_is_expected() {
    let report = with_cell(4, 2, 6, s("约100"));
    let outcome = validate(&report.to_xlsx());
    let f = only(&outcome, Code::TypeError);
    let row = report.excel_row(2);
    assert_eq!(f.row, Some(row));
    assert_eq!(f.column.as_deref(), Some("职工总数(人)"));
    assert_eq!(f.field.as_deref(), Some("employees_total"));
    assert_eq!(f.value.as_deref(), Some("约100"));
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains(&format!("G{row}")), "{}", f.message);
    assert!(f.message.contains("整数"), "{}", f.message);
    assert_eq!(f.cell, Some(format!("G{row}")));
    assert_eq!(f.expected.as_deref(), Some("不小于0的整数（如 1862）"));
    assert_eq!(outcome.rows.len(), 3);
    assert_eq!(outcome.rows_rejected, 1);
}

#[test]
fn fraction_and_negative_counts_are_type_errors() {
    let mut report = with_cell(3, 0, 6, n(12.5));
    report.rows[1][7] = n(-3.0);
    let outcome = validate(&report.to_xlsx());
    let errors: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.code == Code::TypeError)
        .collect();
    assert_eq!(errors.len(), 2, "{:#?}", outcome.findings);
    assert_eq!(errors[0].row, Some(report.excel_row(0)));
    assert_eq!(errors[1].row, Some(report.excel_row(1)));
    assert_eq!(errors[1].column.as_deref(), Some("上岗人数(人)"));
}

#[test]
fn excel_error_in_required_field_drops_the_row_and_in_optional_is_a_warning() {
    let mut report = with_cell(3, 0, 6, C::Err("#DIV/0!"));
    report.rows[1][8] = C::Err("#N/A");
    let outcome = validate(&report.to_xlsx());
    let type_errors: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.code == Code::TypeError)
        .collect();
    assert_eq!(type_errors.len(), 2, "{:#?}", outcome.findings);
    let required = type_errors[0];
    assert_eq!(required.severity, Severity::Error);
    assert_eq!(required.row, Some(report.excel_row(0)));
    assert!(required.message.contains("#DIV/0!"), "{}", required.message);
    let optional = type_errors[1];
    assert_eq!(optional.severity, Severity::Warning);
    assert_eq!(optional.row, Some(report.excel_row(1)));
    assert_eq!(optional.column.as_deref(), Some("产能恢复率(%)"));
    assert_eq!(outcome.rows.len(), 2, "the optional error keeps its row");
}

#[test]
fn required_missing() {
    let report = with_cell(3, 1, 2, C::E);
    let outcome = validate(&report.to_xlsx());
    let f = only(&outcome, Code::RequiredMissing);
    assert_eq!(f.row, Some(report.excel_row(1)));
    assert_eq!(f.column.as_deref(), Some("企业名称"));
    assert!(
        f.message.contains(&format!("C{}", report.excel_row(1))),
        "{}",
        f.message
    );
}

#[test]
fn constraint_errors_ratio_range_and_date_after_report_date() {
    let mut report = with_cell(3, 0, 8, s("160%"));
    report.rows[2][5] = s("2020-02-25");
    let outcome = validate(&report.to_xlsx());
    let found: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.code == Code::ConstraintError)
        .collect();
    assert_eq!(found.len(), 2, "{:#?}", outcome.findings);
    assert_eq!(found[0].row, Some(report.excel_row(0)));
    assert_eq!(found[0].column.as_deref(), Some("产能恢复率(%)"));
    assert_eq!(found[1].row, Some(report.excel_row(2)));
    assert_eq!(found[1].column.as_deref(), Some("开工日期"));
    assert!(found[1].message.contains("晚于"), "{}", found[1].message);
}

#[test]
fn a_cell_longer_than_the_limit_is_a_constraint_error() {
    let report = with_cell(2, 1, 11, s(&"很".repeat(50)));
    let limits = ReadLimits {
        max_cell_chars: 40,
        ..ReadLimits::default()
    };
    let outcome = validate_as(&report.to_xlsx(), "370102", report_date(), limits);
    let f = only(&outcome, Code::ConstraintError);
    assert_eq!(f.row, Some(report.excel_row(1)));
    assert_eq!(f.column.as_deref(), Some("存在问题及诉求"));
}

#[test]
fn uscc_invalid_check_digit_length_and_charset() {
    let mut bad_check = uscc(2);
    let last = bad_check.pop().expect("char");
    bad_check.push(if last == '0' { '1' } else { '0' });
    let mut report = with_cell(4, 0, 1, s(&bad_check));
    report.rows[1][1] = s("91370102MA0000");
    report.rows[2][1] = s("91370102MA00000I0X");
    let outcome = validate(&report.to_xlsx());
    let found: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.code == Code::UsccInvalid)
        .collect();
    assert_eq!(found.len(), 3, "{:#?}", outcome.findings);
    assert!(found[0].message.contains("校验位"), "{}", found[0].message);
    assert!(found[1].message.contains("18位"), "{}", found[1].message);
    assert!(found[2].message.contains("第16位"), "{}", found[2].message);
    for (f, r) in found.iter().zip(0..) {
        assert_eq!(f.row, Some(report.excel_row(r)));
        assert_eq!(f.column.as_deref(), Some("统一社会信用代码"));
    }
    assert_eq!(outcome.rows.len(), 1);
}

#[test]
fn cross_field_on_duty_over_total() {
    let report = with_cell(3, 1, 7, n(150.0));
    let outcome = validate(&report.to_xlsx());
    let f = only(&outcome, Code::CrossField);
    let row = report.excel_row(1);
    assert_eq!(f.row, Some(row));
    assert_eq!(f.column.as_deref(), Some("上岗人数(人)"));
    assert!(
        f.message.contains(&format!("H{row}")) && f.message.contains(&format!("G{row}")),
        "{}",
        f.message
    );
}

#[test]
fn duplicate_key_reports_every_copy_after_the_first() {
    let mut report = Report::standard(4);
    report.rows[2][1] = s(&uscc(1));
    report.rows[3][1] = s(&uscc(1));
    let outcome = validate(&report.to_xlsx());
    let found: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.code == Code::DuplicateKey)
        .collect();
    assert_eq!(found.len(), 2, "{:#?}", outcome.findings);
    assert_eq!(found[0].row, Some(report.excel_row(2)));
    assert_eq!(found[1].row, Some(report.excel_row(3)));
    assert!(
        found[0]
            .message
            .contains(&format!("第 {} 行", report.excel_row(0))),
        "{}",
        found[0].message
    );
    assert_eq!(outcome.rows.len(), 2);
}

#[test]
fn total_mismatch_compares_only_filled_cells() {
    let mut report = Report::standard(3);
    // 300 employees in total; the clerk wrote 310. 上岗人数 left empty in the total row.
    report.total = Some(vec![s("合计"), C::E, C::E, C::E, C::E, C::E, n(310.0)]);
    let outcome = validate(&report.to_xlsx());
    let f = only(&outcome, Code::TotalMismatch);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.cell,
        Some(format!("G{}", report.excel_row(3))),
        "the 合计 row's cell"
    );
    assert_eq!(f.column.as_deref(), Some("职工总数(人)"));
    assert!(
        f.message.contains("310") && f.message.contains("300"),
        "{}",
        f.message
    );
    assert_eq!(outcome.rows.len(), 3, "a warning never drops data");
}

#[test]
fn header_missing_names_the_column_and_its_aliases() {
    let mut report = Report::standard(2);
    report.headers.remove(7);
    for row in &mut report.rows {
        row.remove(7);
    }
    let outcome = validate(&report.to_xlsx());
    let f = only(&outcome, Code::HeaderMissing);
    assert_eq!(f.field.as_deref(), Some("employees_on_duty"));
    assert!(
        f.message.contains("上岗人数") && f.message.contains("返岗人数"),
        "{}",
        f.message
    );
    assert!(outcome.rows.is_empty());
}

#[test]
fn no_recognisable_header_on_any_sheet_is_header_missing() {
    let mut report = Report::standard(1);
    report.headers = (0..14).map(|i| format!("第{i}列")).collect();
    let outcome = validate(&report.to_xlsx());
    assert!(
        outcome
            .findings
            .iter()
            .all(|f| f.code == Code::HeaderMissing),
        "{:#?}",
        outcome.findings
    );
    assert_eq!(outcome.findings.len(), 5, "one per required field");
}

#[test]
fn header_ambiguous() {
    let mut report = Report::standard(2);
    report.headers.push("职工人数".into());
    for row in &mut report.rows {
        row.push(n(100.0));
    }
    let outcome = validate(&report.to_xlsx());
    let f = only(&outcome, Code::HeaderAmbiguous);
    assert_eq!(f.field.as_deref(), Some("employees_total"));
    assert!(f.message.contains("职工人数"), "{}", f.message);
    assert!(
        outcome.rows.is_empty(),
        "a file-level error rejects the submission"
    );
}

#[test]
fn district_mismatch_rejects_the_submission() {
    let mut report = Report::standard(2);
    report.unit = Some("历城区工业和信息化局".into());
    let outcome = validate(&report.to_xlsx());
    let f = only(&outcome, Code::DistrictMismatch);
    assert!(
        f.message.contains("历城区") && f.message.contains("历下区"),
        "{}",
        f.message
    );
    assert!(outcome.rows.is_empty());
    // The same file is accepted for 历城区.
    let outcome = validate_as(
        &report.to_xlsx(),
        "370112",
        report_date(),
        ReadLimits::default(),
    );
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
}

#[test]
fn date_mismatch_rejects_the_submission() {
    let mut report = Report::standard(2);
    report.date_text = Some("2020年2月23日".into());
    let outcome = validate(&report.to_xlsx());
    let f = only(&outcome, Code::DateMismatch);
    assert!(f.message.contains("2020-02-24"), "{}", f.message);
    assert!(outcome.rows.is_empty());
}

#[test]
fn empty_submission() {
    let report = Report::new(vec![]);
    let outcome = validate(&report.to_xlsx());
    let f = only(&outcome, Code::EmptySubmission);
    assert_eq!(f.row, None);
}

#[test]
fn file_unreadable_and_file_too_large() {
    let outcome = validate(b"<html><body>error</body></html>");
    assert_eq!(only(&outcome, Code::FileUnreadable).row, None);
    let limits = ReadLimits {
        max_cells: 50,
        ..ReadLimits::default()
    };
    let outcome = validate_as(
        &Report::standard(10).to_xlsx(),
        "370102",
        report_date(),
        limits,
    );
    only(&outcome, Code::FileTooLarge);
}

//! Anomaly warnings against the previous published date: a district's 开工率 and enterprise count, an
//! enterprise's 职工总数 and its going back to not resumed. Warnings with both values and both dates;
//! every row is still published.

use std::collections::BTreeSet;

use arrow::array::{Array, Int32Array, StringArray};
use chrono::NaiveDate;
use fugong::run_job;

use crate::support::*;

const A: (&str, &str, &str) = ("370102", "历下区", "济南市");
const B: (&str, &str, &str) = ("370203", "市北区", "青岛市");

fn day(n: u32) -> NaiveDate {
    date(2020, 2, 23 + n)
}

/// Enterprise `k`: resumed or not, its 职工总数.
type Row = (u32, bool, i64);

fn submit(province: &Province, (code, name, _): (&str, &str, &str), on: NaiveDate, rows: &[Row]) {
    let rows = rows
        .iter()
        .enumerate()
        .map(|(i, (k, resumed, employees))| {
            let on_duty = if *resumed { (*employees).min(10) } else { 0 };
            let mut row = standard_row(*k, *resumed, *employees, on_duty);
            row[0] = n(i as f64 + 1.0);
            row[11] = s("无");
            row
        })
        .collect();
    let mut report = report_for(name, rows);
    report.date_text = Some(on.format("%Y年%-m月%-d日").to_string());
    province.submit(on, &format!("{code}.xlsx"), &report.to_xlsx());
}

fn resumed(ks: std::ops::RangeInclusive<u32>) -> Vec<Row> {
    ks.map(|k| (k, true, 100)).collect()
}

/// The second date's anomaly warnings as `district field row value`, and their messages.
fn anomalies(province: &Province) -> (BTreeSet<String>, Vec<String>) {
    let batch = read_table(&province.warehouse(), "rejects", day(2));
    let strings = |n| column::<StringArray>(&batch, n);
    let (code, severity, district, field, value, message) = (
        strings("code"),
        strings("severity"),
        strings("district_code"),
        strings("field"),
        strings("value"),
        strings("message"),
    );
    let row = column::<Int32Array>(&batch, "row");
    let mut found = BTreeSet::new();
    let mut messages = Vec::new();
    for i in (0..batch.num_rows()).filter(|&i| code.value(i) == "anomaly") {
        assert_eq!(severity.value(i), "warning");
        found.insert(format!(
            "{} {} {} {}",
            district.value(i),
            field.value(i),
            if row.is_null(i) {
                "-".to_string()
            } else {
                row.value(i).to_string()
            },
            value.value(i)
        ));
        messages.push(message.value(i).to_string());
    }
    (found, messages)
}

fn scenario(province: &Province) {
    // A: ten resumed, then eight of them and two new ones not resumed: 开工率 100% → 80%, same count.
    submit(province, A, day(1), &resumed(1..=10));
    let mut a2 = resumed(1..=8);
    a2.extend([(11, false, 100), (12, false, 100)]);
    submit(province, A, day(2), &a2);
    // B: ten resumed, then thirteen (+30 %); 21 ×10 staff, 22 under a third, 23 exactly ×3 (not an
    // anomaly), 24 back to not resumed. 开工率 100% → 12/13 = 92.31% (7.69 points: not an anomaly).
    submit(province, B, day(1), &resumed(21..=30));
    let mut b2 = vec![
        (21, true, 1000),
        (22, true, 30),
        (23, true, 300),
        (24, false, 100),
    ];
    b2.extend(resumed(25..=33));
    submit(province, B, day(2), &b2);
    for d in [day(1), day(2)] {
        run_job(&province.job(), d, &fugong::RunOptions::default()).expect("published");
    }
}

fn set(rows: &[&str]) -> BTreeSet<String> {
    rows.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_rule_warns_with_both_values_and_both_dates_and_drops_nothing() {
    let province = Province::new(&[A, B]);
    scenario(&province);
    // Sheet rows: the standard layout has its first data row at sheet row 4 (title, unit, header).
    let first = report_for("市北区", vec![standard_row(1, true, 1, 1)]).excel_row(0);
    let (found, messages) = anomalies(&province);
    assert_eq!(
        found,
        set(&[
            "370102 resumption_rate - 100.00% → 80.00%",
            "370203 enterprises_total - 10 → 13",
            &format!("370203 employees_total {} 100 → 1000", first),
            &format!("370203 employees_total {} 100 → 30", first + 1),
            &format!("370203 resumed {} 是 → 否", first + 3),
        ])
    );
    for m in &messages {
        assert!(
            m.contains("2020-02-24") && m.contains("2020-02-25"),
            "both dates: {m}"
        );
    }
    assert!(
        messages
            .iter()
            .any(|m| m.contains("100.00%") && m.contains("80.00%") && m.contains("20.0 个百分点"))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("10 家") && m.contains("13 家") && m.contains("30.0%"))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("100 人") && m.contains("1000 人"))
    );
    // Warnings drop nothing: every row is published, both districts accepted.
    let enterprises = read_table(&province.warehouse(), "enterprise_daily", day(2));
    assert_eq!(enterprises.num_rows(), 10 + 13);
    let districts = read_table(&province.warehouse(), "district_daily", day(2));
    let status = column::<StringArray>(&districts, "submission_status");
    assert!((0..districts.num_rows()).all(|i| status.value(i) == "accepted"));
}

#[test]
fn the_job_sets_the_thresholds() {
    let province = Province::new(&[A, B]);
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    std::fs::write(
        province.job_path(),
        job.replacen("\n", "\nanomaly_rate_pp = 25\nanomaly_count_pct = 30\n", 1),
    )
    .expect("job");
    scenario(&province);
    let (found, _) = anomalies(&province);
    let fields: BTreeSet<&str> = found
        .iter()
        .map(|f| f.split(' ').nth(1).expect("field"))
        .collect();
    assert_eq!(
        fields,
        ["employees_total", "resumed"].into_iter().collect(),
        "a 20-point move is under 25 and a 30 % change is not over 30: {found:?}"
    );
}

#[test]
fn the_first_published_date_has_nothing_to_compare_with() {
    let province = Province::new(&[A]);
    submit(&province, A, day(2), &resumed(1..=3));
    run_job(&province.job(), day(2), &fugong::RunOptions::default()).expect("published");
    assert!(anomalies(&province).0.is_empty());
}

#[test]
fn republishing_the_previous_date_recomputes_the_next_dates_warnings() {
    let province = Province::new(&[A, B]);
    scenario(&province);
    let first = report_for("市北区", vec![standard_row(1, true, 1, 1)]).excel_row(0);
    // 市北区's workbook of the 24th is corrected: enterprise 21 had 900 staff (so 1000 on the 25th is no
    // longer an anomaly) and 22 had 5 (so 30 on the 25th now is).
    let mut b1 = resumed(21..=30);
    b1[0].2 = 900;
    b1[1].2 = 5;
    submit(&province, B, day(1), &b1);
    run_job(&province.job(), day(1), &fugong::RunOptions::default()).expect("republished");
    let (found, messages) = anomalies(&province);
    assert_eq!(
        found,
        set(&[
            "370102 resumption_rate - 100.00% → 80.00%",
            "370203 enterprises_total - 10 → 13",
            &format!("370203 employees_total {} 5 → 30", first + 1),
            &format!("370203 resumed {} 是 → 否", first + 3),
        ])
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("5 人") && m.contains("30 人"))
    );
    // The 25th's warning counts follow its rejects, in district_daily and in the manifest.
    let rejects = read_table(&province.warehouse(), "rejects", day(2));
    let (district, severity) = (
        column::<StringArray>(&rejects, "district_code"),
        column::<StringArray>(&rejects, "severity"),
    );
    let districts = read_table(&province.warehouse(), "district_daily", day(2));
    let codes = column::<StringArray>(&districts, "district_code");
    let warnings = column::<arrow::array::Int64Array>(&districts, "warnings");
    let manifest = fugong::publish::read_manifest(&province.warehouse(), day(2)).expect("manifest");
    assert_eq!(manifest.trigger.as_deref(), Some("refresh"));
    for i in 0..districts.num_rows() {
        let code = codes.value(i);
        let counted = (0..rejects.num_rows())
            .filter(|&r| district.value(r) == code && severity.value(r) == "warning")
            .count() as i64;
        assert_eq!(warnings.value(i), counted, "{code}");
        let listed = manifest
            .districts
            .iter()
            .find(|d| d.district_code == code)
            .expect("district");
        assert_eq!(listed.warnings as i64, counted, "{code} in the manifest");
    }
    assert_eq!(
        read_table(&province.warehouse(), "enterprise_daily", day(2)).num_rows(),
        23,
        "the 25th's rows are untouched"
    );
}

//! Whole runs over a province on disk: the seed's own figures, statuses, and the codes only a run can
//! produce (ambiguous-submission, duplicate-across-districts).

use arrow::array::{Array, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray};
use arrow::datatypes::DataType;
use fugong::run_job;

use crate::support::*;

fn strings<'a>(batch: &'a arrow::array::RecordBatch, name: &str) -> &'a StringArray {
    column(batch, name)
}
fn floats<'a>(batch: &'a arrow::array::RecordBatch, name: &str) -> &'a Float64Array {
    column(batch, name)
}
fn ints<'a>(batch: &'a arrow::array::RecordBatch, name: &str) -> &'a Int64Array {
    column(batch, name)
}
fn ranks<'a>(batch: &'a arrow::array::RecordBatch, name: &str) -> &'a Int32Array {
    column(batch, name)
}

/// Jinan: 1885 enterprises, 1862 resumed, 409 814 employees, 309 000 on duty over its 12 districts;
/// 口罩日产能 500 000 (five enterprises of 100 000: 50万只) and 430 enterprises needing financing of
/// 1 165 000 万元 in all (116.5亿元: one of 6 700万, 429 of 2 700万).
fn jinan_rows() -> Vec<Vec<Vec<C>>> {
    let per_district = [
        157u32, 157, 157, 157, 157, 157, 157, 157, 157, 157, 157, 158,
    ];
    assert_eq!(per_district.iter().sum::<u32>(), 1885);
    let mut k: u32 = 0;
    let mut out = Vec::new();
    for count in per_district {
        let mut rows = Vec::new();
        for _ in 0..count {
            let resumed = k >= 23; // 23 not resumed
            let employees = 217 + i64::from(k < 769);
            let on_duty = 163 + i64::from(k < 1745);
            let mut row = standard_row(10_000 + k, resumed, employees, on_duty);
            row[0] = n(f64::from(rows.len() as u32 + 1));
            row[9] = n(if k < 5 { 100_000.0 } else { 0.0 });
            row[10] = match k {
                0 => n(6_700.0),
                1..430 => n(2_700.0),
                _ => n(0.0),
            };
            rows.push(row);
            k += 1;
        }
        out.push(rows);
    }
    out
}

pub fn publish_jinan_and_qingdao(province: &Province) {
    let date = report_date();
    for ((code, name), rows) in JINAN.iter().zip(jinan_rows()) {
        province.submit(
            date,
            &format!("{code}.xlsx"),
            &report_for(name, rows).to_xlsx(),
        );
    }
    // Qingdao: 300 enterprises, 280 resumed.
    for (i, (code, name)) in QINGDAO.iter().enumerate() {
        let rows = (0..100u32)
            .map(|j| {
                let k = 50_000 + i as u32 * 100 + j;
                standard_row(k, j >= 7, 100, 70)
            })
            .collect::<Vec<_>>();
        let mut report = report_for(name, rows);
        report.title = Some(format!("青岛市{name}规上工业企业复工复产日报"));
        province.submit(date, &format!("{code}.xlsx"), &report.to_xlsx());
    }
}

#[test]
fn the_seed_figures_jinan_98_78_and_75_4_ranked_first() {
    let province = Province::jinan_qingdao();
    publish_jinan_and_qingdao(&province);
    let report = run_job(&province.job(), report_date(), &subprocess_options()).expect("published");
    assert!(
        report
            .districts
            .iter()
            .all(|d| d.status == fugong::day::SubmissionStatus::Accepted),
        "{:#?}",
        report.districts
    );

    let city = read_table(&province.warehouse(), "city_daily", report_date());
    assert_eq!(city.num_rows(), 2);
    let names = strings(&city, "city_name");
    let jinan = (0..2)
        .find(|&i| names.value(i) == "济南市")
        .expect("济南市");
    let qingdao = 1 - jinan;
    assert_eq!(strings(&city, "city_code").value(jinan), "370100");
    assert_eq!(strings(&city, "province_code").value(jinan), "370000");
    assert_eq!(ints(&city, "enterprises_total").value(jinan), 1885);
    assert_eq!(ints(&city, "enterprises_resumed").value(jinan), 1862);
    assert_eq!(ints(&city, "employees_total").value(jinan), 409_814);
    assert_eq!(ints(&city, "employees_on_duty").value(jinan), 309_000);
    // Stored unrounded: the float64 nearest to 1862/1885, not 0.9878 (contract §7).
    assert_eq!(
        floats(&city, "resumption_rate").value(jinan),
        1862.0 / 1885.0
    );
    assert_eq!(
        floats(&city, "on_duty_rate").value(jinan),
        309_000.0 / 409_814.0
    );
    assert_eq!(ranks(&city, "resumption_rate_rank").value(jinan), 1);
    assert_eq!(ranks(&city, "on_duty_rate_rank").value(jinan), 1);
    assert_eq!(ranks(&city, "resumption_rate_rank").value(qingdao), 2);
    assert_eq!(floats(&city, "resumption_rate").value(qingdao), 0.93);
    assert_eq!(ints(&city, "districts_expected").value(jinan), 12);
    assert_eq!(ints(&city, "districts_reported").value(jinan), 12);
    assert!(
        floats(&city, "resumption_rate_change").is_null(jinan),
        "no earlier snapshot"
    );

    // The seed's supply figures, against the hand sums above: 50万只, 430家, 116.5亿元; Qingdao's 300
    // enterprises each need 100万元 (3亿元) and make no masks.
    assert_eq!(
        ints(&city, "mask_daily_capacity_total").value(jinan),
        500_000
    );
    assert_eq!(
        ints(&city, "enterprises_with_financing_need").value(jinan),
        430
    );
    let money: &arrow::array::Decimal128Array = column(&city, "financing_need_cny_total");
    assert_eq!(money.value(jinan), 1_165_000_000_000, "116.5亿元 in fen");
    assert_eq!(ints(&city, "mask_daily_capacity_total").value(qingdao), 0);
    assert_eq!(
        ints(&city, "enterprises_with_financing_need").value(qingdao),
        300
    );
    assert_eq!(money.value(qingdao), 30_000_000_000);

    let text = fugong::compare::table::render_ranking(&report.comparison.cities, report_date());
    assert!(
        text.contains("济南市规上工业企业开工率98.78%，上岗率75.40%，居全省首位"),
        "{text}"
    );
    for figure in ["50.0万只", "116.5亿元", "3.0亿元", "全省"] {
        assert!(text.contains(figure), "{figure}: {text}");
    }

    let enterprises = read_table(&province.warehouse(), "enterprise_daily", report_date());
    assert_eq!(enterprises.num_rows(), 1885 + 300);
    let districts = strings(&enterprises, "district_code");
    let usccs = strings(&enterprises, "uscc");
    for i in 1..enterprises.num_rows() {
        let a = (districts.value(i - 1), usccs.value(i - 1));
        let b = (districts.value(i), usccs.value(i));
        assert!(a < b, "sorted by district_code, uscc at {i}: {a:?} {b:?}");
    }
}

#[test]
fn tables_have_the_contract_columns_and_types() {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
    ]);
    province.submit(
        report_date(),
        "370102.xlsx",
        &report_for(
            "历下区",
            (1..=3).map(|i| standard_row(i, true, 10, 8)).collect(),
        )
        .to_xlsx(),
    );
    run_job(
        &province.job(),
        report_date(),
        &fugong::RunOptions::default(),
    )
    .expect("published");
    let expect = |table: &str, columns: &[(&str, DataType)]| {
        let batch = read_table(&province.warehouse(), table, report_date());
        let schema = batch.schema();
        let got: Vec<(String, DataType)> = schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect();
        let want: Vec<(String, DataType)> = columns
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone()))
            .collect();
        assert_eq!(got, want, "{table}");
    };
    use DataType::*;
    use arrow::datatypes::TimeUnit;
    expect(
        "enterprise_daily",
        &[
            ("report_date", Date32),
            ("province_code", Utf8),
            ("city_code", Utf8),
            ("city_name", Utf8),
            ("district_code", Utf8),
            ("district_name", Utf8),
            ("uscc", Utf8),
            ("enterprise_name", Utf8),
            ("industry", Utf8),
            ("resumed", Boolean),
            ("resumed_on", Date32),
            ("employees_total", Int64),
            ("employees_on_duty", Int64),
            ("capacity_utilization", Float64),
            ("mask_daily_capacity", Int64),
            ("financing_need_cny", Decimal128(18, 2)),
            ("issues_text", Utf8),
            ("source_file", Utf8),
            ("source_row", Int32),
        ],
    );
    expect(
        "district_daily",
        &[
            ("report_date", Date32),
            ("province_code", Utf8),
            ("city_code", Utf8),
            ("city_name", Utf8),
            ("district_code", Utf8),
            ("district_name", Utf8),
            ("submission_status", Utf8),
            ("enterprises_total", Int64),
            ("enterprises_resumed", Int64),
            ("resumption_rate", Float64),
            ("employees_total", Int64),
            ("employees_on_duty", Int64),
            ("on_duty_rate", Float64),
            ("capacity_utilization_avg", Float64),
            ("rows_rejected", Int64),
            ("warnings", Int64),
            (
                "submitted_at",
                Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ),
            ("on_time", Boolean),
        ],
    );
    expect(
        "city_daily",
        &[
            ("report_date", Date32),
            ("province_code", Utf8),
            ("city_code", Utf8),
            ("city_name", Utf8),
            ("districts_expected", Int64),
            ("districts_reported", Int64),
            ("districts_on_time", Int64),
            ("enterprises_total", Int64),
            ("enterprises_resumed", Int64),
            ("resumption_rate", Float64),
            ("employees_total", Int64),
            ("employees_on_duty", Int64),
            ("on_duty_rate", Float64),
            ("capacity_utilization_avg", Float64),
            ("resumption_rate_rank", Int32),
            ("on_duty_rate_rank", Int32),
            ("capacity_utilization_rank", Int32),
            ("resumption_rate_change", Float64),
            ("mask_daily_capacity_total", Int64),
            ("enterprises_with_financing_need", Int64),
            ("financing_need_cny_total", Decimal128(18, 2)),
        ],
    );
    expect(
        "rejects",
        &[
            ("report_date", Date32),
            ("district_code", Utf8),
            ("source_file", Utf8),
            ("sheet", Utf8),
            ("row", Int32),
            ("column", Utf8),
            ("field", Utf8),
            ("value", Utf8),
            ("code", Utf8),
            ("severity", Utf8),
            ("message", Utf8),
            ("cell", Utf8),
            ("expected", Utf8),
            ("detail", Utf8),
        ],
    );
    // The missing district has a row with null counts.
    let districts = read_table(&province.warehouse(), "district_daily", report_date());
    assert_eq!(strings(&districts, "submission_status").value(1), "missing");
    assert!(ints(&districts, "enterprises_total").is_null(1));
    assert_eq!(ints(&districts, "enterprises_total").value(0), 3);
    // Personal data is nowhere in the warehouse.
    for table in ["enterprise_daily", "rejects"] {
        let dir = fugong::publish::partition_dir(&province.warehouse(), table, report_date());
        for entry in std::fs::read_dir(dir).expect("dir").flatten() {
            let bytes = std::fs::read(entry.path()).expect("read");
            assert!(
                !bytes.windows(11).any(|w| w == b"13800000000"),
                "phone number leaked into {table}"
            );
        }
    }
}

#[test]
fn statuses_partial_rejected_missing_and_rate_nulls() {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
        ("370104", "槐荫区", "济南市"),
        ("370105", "天桥区", "济南市"),
    ]);
    let date = report_date();
    let mut partial = report_for(
        "历下区",
        (1..=4).map(|i| standard_row(i, i != 4, 10, 8)).collect(),
    );
    partial.rows[1][6] = s("约100");
    province.submit(date, "370102.xlsx", &partial.to_xlsx());
    let mut wrong_date = report_for("市中区", vec![standard_row(20, true, 10, 8)]);
    wrong_date.date_text = Some("2020年2月23日".into());
    province.submit(date, "370103.xlsx", &wrong_date.to_xlsx());
    province.submit(
        date,
        "370104.xls",
        b"<html><body>Server error</body></html>",
    );
    run_job(&province.job(), date, &fugong::RunOptions::default()).expect("published");

    let d = read_table(&province.warehouse(), "district_daily", date);
    let status: Vec<&str> = (0..4)
        .map(|i| strings(&d, "submission_status").value(i))
        .collect();
    assert_eq!(status, ["partial", "rejected", "rejected", "missing"]);
    assert_eq!(ints(&d, "enterprises_total").value(0), 3);
    assert_eq!(ints(&d, "enterprises_resumed").value(0), 2);
    assert_eq!(floats(&d, "resumption_rate").value(0), 2.0 / 3.0);
    assert_eq!(ints(&d, "rows_rejected").value(0), 1);
    for i in 1..4 {
        assert!(ints(&d, "enterprises_total").is_null(i));
        assert!(floats(&d, "resumption_rate").is_null(i));
    }
    let c = read_table(&province.warehouse(), "city_daily", date);
    assert_eq!(ints(&c, "districts_expected").value(0), 4);
    assert_eq!(ints(&c, "districts_reported").value(0), 1);

    let rejects = read_table(&province.warehouse(), "rejects", date);
    let codes: Vec<(&str, &str, Option<&str>)> = (0..rejects.num_rows())
        .map(|i| {
            let file = strings(&rejects, "source_file");
            (
                strings(&rejects, "district_code").value(i),
                strings(&rejects, "code").value(i),
                file.is_valid(i).then(|| file.value(i)),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("370102", "type-error", Some("370102.xlsx")),
            ("370103", "date-mismatch", Some("370103.xlsx")),
            ("370104", "file-unreadable", Some("370104.xls")),
        ]
    );
    let row = rejects
        .column_by_name("row")
        .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
        .expect("row");
    assert_eq!(row.value(0) as u32, partial.excel_row(1));
    assert!(row.is_null(1) && row.is_null(2));
    let resumed = read_table(&province.warehouse(), "enterprise_daily", date);
    let resumed = resumed
        .column_by_name("resumed")
        .and_then(|c| c.as_any().downcast_ref::<BooleanArray>())
        .expect("bool");
    assert_eq!(resumed.len(), 3);
}

#[test]
fn ambiguous_submission_and_duplicates_across_districts() {
    let province = Province::new(&[
        ("370102", "历下区", "济南市"),
        ("370103", "市中区", "济南市"),
        ("370104", "槐荫区", "济南市"),
    ]);
    let date = report_date();
    let bytes = report_for("历下区", vec![standard_row(1, true, 10, 8)]).to_xlsx();
    province.submit(date, "370102.xlsx", &bytes);
    province.submit(date, "370102.xls", &bytes);
    // 市中区 and 槐荫区 both list enterprise 5.
    province.submit(
        date,
        "370103.xlsx",
        &report_for(
            "市中区",
            vec![standard_row(5, true, 10, 8), standard_row(6, true, 10, 8)],
        )
        .to_xlsx(),
    );
    province.submit(
        date,
        "370104.xlsx",
        &report_for(
            "槐荫区",
            vec![standard_row(7, true, 10, 8), standard_row(5, true, 10, 8)],
        )
        .to_xlsx(),
    );
    run_job(&province.job(), date, &fugong::RunOptions::default()).expect("published");

    let rejects = read_table(&province.warehouse(), "rejects", date);
    let rows: Vec<(String, String, Option<i32>, String)> = (0..rejects.num_rows())
        .map(|i| {
            let row = rejects
                .column_by_name("row")
                .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
                .expect("row");
            (
                strings(&rejects, "district_code").value(i).to_string(),
                strings(&rejects, "code").value(i).to_string(),
                row.is_valid(i).then(|| row.value(i)),
                strings(&rejects, "severity").value(i).to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "370102".into(),
                "ambiguous-submission".into(),
                None,
                "error".into()
            ),
            (
                "370103".into(),
                "duplicate-across-districts".into(),
                Some(4),
                "warning".into()
            ),
            (
                "370104".into(),
                "duplicate-across-districts".into(),
                Some(5),
                "warning".into()
            ),
        ]
    );
    let message = strings(&rejects, "message").value(1);
    assert!(
        message.contains("槐荫区") && message.contains("第 5 行"),
        "{message}"
    );
    // Warnings keep the rows: both districts publish both enterprises.
    let enterprises = read_table(&province.warehouse(), "enterprise_daily", date);
    assert_eq!(enterprises.num_rows(), 4);
    let d = read_table(&province.warehouse(), "district_daily", date);
    assert_eq!(ints(&d, "warnings").value(1), 1);
    assert_eq!(strings(&d, "submission_status").value(0), "rejected");
}

#[test]
fn resumption_rate_change_uses_the_nearest_earlier_published_date() {
    let province = Province::new(&[("370102", "历下区", "济南市")]);
    let rows = |resumed: u32| {
        (1..=10)
            .map(|i| standard_row(i, i <= resumed, 10, 8))
            .collect::<Vec<_>>()
    };
    let d1 = date(2020, 2, 20);
    let d3 = date(2020, 2, 24);
    let mut r1 = report_for("历下区", rows(5));
    r1.date_text = Some("2020年2月20日".into());
    province.submit(d1, "370102.xlsx", &r1.to_xlsx());
    province.submit(d3, "370102.xlsx", &report_for("历下区", rows(8)).to_xlsx());
    // Process the later date first: it has no earlier snapshot yet.
    run_job(&province.job(), d3, &fugong::RunOptions::default()).expect("d3");
    let c = read_table(&province.warehouse(), "city_daily", d3);
    assert!(floats(&c, "resumption_rate_change").is_null(0));
    // Publishing the earlier date refreshes the later one's change, without re-running it.
    run_job(&province.job(), d1, &fugong::RunOptions::default()).expect("d1");
    let c = read_table(&province.warehouse(), "city_daily", d3);
    // 8/10 − 5/10 computed exactly: 0.3, not 0.8 − 0.5 = 0.30000000000000004.
    assert_eq!(floats(&c, "resumption_rate_change").value(0), 0.3);
    let manifest = fugong::publish::read_manifest(&province.warehouse(), d3).expect("manifest");
    let file = &manifest.tables["city_daily"].files[0];
    assert!(
        fugong::publish::partition_dir(&province.warehouse(), "city_daily", d3)
            .join(file)
            .exists()
    );
    // Re-running d3 gives the same bytes as the refresh did.
    let before = std::fs::read(
        fugong::publish::partition_dir(&province.warehouse(), "city_daily", d3).join(file),
    )
    .expect("read");
    run_job(&province.job(), d3, &fugong::RunOptions::default()).expect("d3 again");
    let after_manifest =
        fugong::publish::read_manifest(&province.warehouse(), d3).expect("manifest");
    assert_eq!(&after_manifest.tables["city_daily"].files[0], file);
    let after = std::fs::read(
        fugong::publish::partition_dir(&province.warehouse(), "city_daily", d3).join(file),
    )
    .expect("read");
    assert_eq!(before, after);
}

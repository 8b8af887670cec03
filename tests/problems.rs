//! The problem ledger over five dates: problems open, stay open while reported, close (销号) on the
//! first report without them or with them solved, reopen as new problems; a missing or rejected
//! district changes nothing; republishing an earlier date refreshes every later ledger.

use std::collections::BTreeSet;

use arrow::array::RecordBatch;
use arrow::util::display::array_value_to_string;
use chrono::NaiveDate;
use fugong::run_job;

use crate::support::*;

const A: (&str, &str, &str) = ("370102", "历下区", "济南市");
const B: (&str, &str, &str) = ("370203", "市北区", "青岛市");

fn day(n: u32) -> NaiveDate {
    date(2020, 2, 23 + n)
}

/// A district's workbook of `date` whose enterprises `k` report `text`.
fn submit(province: &Province, district: (&str, &str, &str), on: NaiveDate, rows: &[(u32, &str)]) {
    submit_dated(province, district, on, on, rows);
}

fn submit_dated(
    province: &Province,
    (code, name, _): (&str, &str, &str),
    on: NaiveDate,
    stated: NaiveDate,
    rows: &[(u32, &str)],
) {
    let rows = rows
        .iter()
        .enumerate()
        .map(|(i, (k, text))| {
            let mut row = standard_row(*k, true, 100, 80);
            row[0] = n(i as f64 + 1.0);
            row[2] = s(&format!("企业{k}有限公司"));
            row[11] = s(text);
            row
        })
        .collect();
    let mut report = report_for(name, rows);
    report.date_text = Some(stated.format("%Y年%-m月%-d日").to_string());
    province.submit(on, &format!("{code}.xlsx"), &report.to_xlsx());
}

fn publish(province: &Province, on: NaiveDate) {
    run_job(&province.job(), on, &fugong::RunOptions::default()).expect("published");
}

fn text_of(batch: &RecordBatch, column: &str, row: usize) -> String {
    let c = batch
        .column_by_name(column)
        .unwrap_or_else(|| panic!("{column}"));
    if c.is_null(row) {
        return "-".into();
    }
    array_value_to_string(c, row).expect("display")
}

/// The ledger of a date as `enterprise category opened closed status days`, one string per problem.
fn ledger(province: &Province, on: NaiveDate) -> BTreeSet<String> {
    ledger_of(&read_table(&province.warehouse(), "problem_ledger", on))
}

fn ledger_of(batch: &RecordBatch) -> BTreeSet<String> {
    let batch = batch.clone();
    (0..batch.num_rows())
        .map(|r| {
            let k = text_of(&batch, "uscc", r);
            let k: u32 = k[10..17].parse().expect("enterprise number");
            format!(
                "{k} {} {} {} {} {}",
                text_of(&batch, "category", r),
                &text_of(&batch, "opened_on", r)[5..],
                text_of(&batch, "closed_on", r).get(5..).unwrap_or("-"),
                text_of(&batch, "status", r),
                text_of(&batch, "days_open", r),
            )
        })
        .collect()
}

fn set(rows: &[&str]) -> BTreeSet<String> {
    rows.iter().map(|s| s.to_string()).collect()
}

/// (city, category) → (opened, closed, open, open over 7 days) of `problem_daily`, non-zero rows only.
fn daily(province: &Province, on: NaiveDate) -> BTreeSet<String> {
    let batch = read_table(&province.warehouse(), "problem_daily", on);
    (0..batch.num_rows())
        .map(|r| {
            format!(
                "{} {} {} {} {} {}",
                text_of(&batch, "city_name", r),
                text_of(&batch, "category", r),
                text_of(&batch, "opened", r),
                text_of(&batch, "closed", r),
                text_of(&batch, "open", r),
                text_of(&batch, "open_over_7_days", r),
            )
        })
        .filter(|s| !s.ends_with(" 0 0 0 0"))
        .collect()
}

#[test]
fn five_dates_open_close_and_reopen_problems_and_a_republish_refreshes_the_later_ledgers() {
    let province = Province::new(&[A, B]);
    // Day 1: one text with two categories, one with none, and one in each city.
    submit(
        &province,
        A,
        day(1),
        &[
            (1, "缺少口罩和消毒液，员工返岗困难"),
            (2, "资金紧张"),
            (3, "无"),
        ],
    );
    submit(&province, B, day(1), &[(4, "物流运输不畅")]);
    // Day 2: 1 still lacks masks (用工 closes), 2 says its money problem is solved, 3 opens one;
    // B sends nothing, so its open problem stays open.
    submit(
        &province,
        A,
        day(2),
        &[
            (1, "缺少口罩"),
            (2, "资金问题已协调解决"),
            (3, "原材料短缺"),
        ],
    );
    // Day 3: 2 opens 用工, 3 reports nothing (原材料 closes); B reports its problem gone.
    submit(
        &province,
        A,
        day(3),
        &[(1, "缺少口罩"), (2, "员工返岗困难"), (3, "暂无")],
    );
    submit(&province, B, day(3), &[(4, "无")]);
    // Day 4: 1's masks arrive; 3's raw materials run short again, and B's logistics: both reopen.
    submit(
        &province,
        A,
        day(4),
        &[(1, "无"), (2, "员工返岗困难"), (3, "原材料短缺")],
    );
    submit(&province, B, day(4), &[(4, "物流运输不畅")]);
    // Day 5: A as before; B's file is stated for another date, so it is rejected and changes nothing.
    submit(
        &province,
        A,
        day(5),
        &[(1, "无"), (2, "员工返岗困难"), (3, "原材料短缺")],
    );
    submit_dated(&province, B, day(5), day(1), &[(4, "无")]);
    for d in 1..=5 {
        publish(&province, day(d));
    }

    assert_eq!(
        ledger(&province, day(1)),
        set(&[
            "1 用工 02-24 - open 1",
            "1 防疫物资 02-24 - open 1",
            "2 资金 02-24 - open 1",
            "4 物流 02-24 - open 1",
        ])
    );
    assert_eq!(
        ledger(&province, day(2)),
        set(&[
            "1 用工 02-24 02-25 closed 1",
            "1 防疫物资 02-24 - open 2",
            "2 资金 02-24 02-25 closed 1",
            "3 原材料 02-25 - open 1",
            "4 物流 02-24 - open 2",
        ]),
        "B was missing: its problem neither closes nor is reported"
    );
    assert_eq!(
        ledger(&province, day(3)),
        set(&[
            "1 用工 02-24 02-25 closed 1",
            "1 防疫物资 02-24 - open 3",
            "2 资金 02-24 02-25 closed 1",
            "2 用工 02-26 - open 1",
            "3 原材料 02-25 02-26 closed 1",
            "4 物流 02-24 02-26 closed 2",
        ])
    );
    let day5 = set(&[
        "1 用工 02-24 02-25 closed 1",
        "1 防疫物资 02-24 02-27 closed 3",
        "2 资金 02-24 02-25 closed 1",
        "2 用工 02-26 - open 3",
        "3 原材料 02-25 02-26 closed 1",
        "3 原材料 02-27 - open 2",
        "4 物流 02-24 02-26 closed 2",
        "4 物流 02-27 - open 2",
    ]);
    assert_eq!(
        ledger(&province, day(5)),
        day5,
        "B was rejected on day 5: its reopened problem stays open, unchanged"
    );
    assert_eq!(
        daily(&province, day(4)),
        set(&[
            "济南市 原材料 1 0 1 0",
            "济南市 用工 0 0 1 0",
            "济南市 防疫物资 0 1 0 0",
            "青岛市 物流 1 0 1 0",
        ])
    );

    // B's day-2 workbook turns up late: republishing day 2 closes its problem a day earlier, and
    // every later ledger follows.
    submit(&province, B, day(2), &[(4, "无")]);
    publish(&province, day(2));
    assert!(ledger(&province, day(2)).contains("4 物流 02-24 02-25 closed 1"));
    let refreshed = ledger(&province, day(5));
    assert!(
        refreshed.contains("4 物流 02-24 02-25 closed 1"),
        "{refreshed:?}"
    );
    assert_eq!(
        refreshed
            .symmetric_difference(&day5)
            .cloned()
            .collect::<BTreeSet<_>>(),
        set(&["4 物流 02-24 02-25 closed 1", "4 物流 02-24 02-26 closed 2"]),
        "only B's first problem changed in the later ledger"
    );
    let manifest =
        fugong::publish::read_manifest(&province.warehouse(), day(5)).expect("manifest of day 5");
    assert_eq!(manifest.trigger.as_deref(), Some("refresh"));
    assert!(manifest.tables.contains_key("problem_ledger"));
    assert!(manifest.tables.contains_key("problem_daily"));
}

#[test]
fn problem_close_days_keeps_a_problem_open_through_a_quiet_report() {
    let province = Province::new(&[A]);
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    std::fs::write(
        province.job_path(),
        job.replacen("\n", "\nproblem_close_days = 2\n", 1),
    )
    .expect("job");
    submit(&province, A, day(1), &[(1, "资金紧张")]);
    submit(&province, A, day(2), &[(1, "无")]);
    submit(&province, A, day(3), &[(1, "无")]);
    for d in 1..=3 {
        publish(&province, day(d));
    }
    assert_eq!(ledger(&province, day(2)), set(&["1 资金 02-24 - open 2"]));
    assert_eq!(
        ledger(&province, day(3)),
        set(&["1 资金 02-24 02-26 closed 2"])
    );
}

#[test]
fn on_delta_lake_closed_problems_are_carried_to_later_dates() {
    let province = Province::new(&[A]);
    let url = format!("file://{}/delta", province.root().display());
    let job = std::fs::read_to_string(province.job_path()).expect("job");
    std::fs::write(
        province.job_path(),
        job.replace(
            "output = \"../warehouse\"",
            &format!("output = \"{url}\"\ntable_format = \"delta\""),
        ),
    )
    .expect("job");
    submit(&province, A, day(1), &[(1, "资金紧张"), (2, "订单减少")]);
    submit(&province, A, day(2), &[(1, "无"), (2, "订单减少")]);
    submit(&province, A, day(3), &[(1, "无"), (2, "无")]);
    for d in 1..=3 {
        publish(&province, day(d));
    }
    let warehouse = fugong::publish::open(&fugong::config::job::Output::Delta {
        url: url::Url::parse(&url).expect("url"),
        storage: fugong::publish::delta::Storage::default(),
    })
    .expect("warehouse");
    let read = |d: NaiveDate| {
        let batches = warehouse.read_table("problem_ledger", d).expect("ledger");
        let all = arrow::compute::concat_batches(&batches[0].schema(), &batches).expect("concat");
        let dates = all
            .column_by_name("report_date")
            .expect("report_date")
            .as_any()
            .downcast_ref::<arrow::array::Date32Array>()
            .expect("date32")
            .clone();
        assert!(
            dates
                .iter()
                .all(|v| v.and_then(NaiveDate::from_epoch_days) == Some(d)),
            "carried rows take the new report_date"
        );
        ledger_of(&all)
    };
    assert_eq!(
        read(day(3)),
        set(&["1 资金 02-24 02-25 closed 1", "2 订单 02-24 02-26 closed 2"])
    );
    assert_eq!(
        read(day(2)),
        set(&["1 资金 02-24 02-25 closed 1", "2 订单 02-24 - open 2"])
    );
}

/// In process, a row's problem text is read on the validating thread as the row is accepted; rows
/// that come from a reader worker are read in the parent. Both must give the same ledger and daily
/// counts, value for value, over two dates on which problems open, stay, are solved and close.
#[test]
fn the_ledger_is_the_same_whether_a_workbook_is_read_in_process_or_in_a_reader_worker() {
    let texts = [
        "缺少口罩和消毒液，员工返岗困难",
        "资金紧张",
        "无",
        "物流运输不畅；原材料短缺",
        "",
        "资金问题已协调解决",
    ];
    let build = || {
        let province = Province::new(&[A, B]);
        for (d, shift) in [(1u32, 0usize), (2, 3)] {
            let rows: Vec<(u32, String)> = (1..=40u32)
                .map(|k| (k, texts[(k as usize + shift) % texts.len()].to_string()))
                .collect();
            let rows: Vec<(u32, &str)> = rows.iter().map(|(k, t)| (*k, t.as_str())).collect();
            submit(&province, A, day(d), &rows);
            submit(&province, B, day(d), &rows[..10]);
        }
        province
    };
    let here = build();
    let there = build();
    let in_worker = fugong::RunOptions {
        isolation: fugong::intake::Isolation::AllInWorkers {
            exe: env!("CARGO_BIN_EXE_fugong").into(),
            memory_bytes: 1 << 30,
        },
        ..fugong::RunOptions::default()
    };
    for d in [day(1), day(2)] {
        let in_process = fugong::RunOptions {
            isolation: fugong::intake::Isolation::InProcess,
            ..fugong::RunOptions::default()
        };
        run_job(&here.job(), d, &in_process).expect("in process");
        run_job(&there.job(), d, &in_worker).expect("in workers");
        let a = read_table(&here.warehouse(), "problem_ledger", d);
        let b = read_table(&there.warehouse(), "problem_ledger", d);
        assert!(a.num_rows() > 10, "{d}: {} problems", a.num_rows());
        assert_eq!(
            a, b,
            "{d}: the ledger depends on where the workbook was read"
        );
        assert_eq!(
            read_table(&here.warehouse(), "problem_daily", d),
            read_table(&there.warehouse(), "problem_daily", d),
            "{d}"
        );
    }
    // Day 2 closed what day 1 opened and was solved or gone.
    assert!(ledger(&here, day(2)).iter().any(|p| p.contains("closed")));
}

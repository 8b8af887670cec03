//! The shipped example (`jobs/example.toml`, `example/inbox/`): how its workbooks were made, and that the
//! README's run command publishes what the README says.
//!
//! Regenerate the workbooks with
//! `cargo test --test tests -- --ignored example_data::regenerate_example_inbox`.

use std::path::{Path, PathBuf};

use fugong::day::SubmissionStatus::{self, *};
use fugong::{RunOptions, run_job};

use crate::support::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What an enterprise writes under 存在问题及诉求 on the 24th (day 0) and the 25th (day 1): most repeat
/// their problem, every third reports it solved, some report a new one; so the example's problem
/// ledger opens, keeps and closes problems.
fn issues_text(k: u32, day: u32) -> &'static str {
    const TEXTS: [&str; 12] = [
        "",
        "无",
        "缺少口罩和消毒液",
        "员工返岗困难",
        "原材料供应不足",
        "物流运输不畅",
        "资金紧张，需要贷款支持",
        "订单减少",
        "缺少口罩和消毒液，员工返岗困难",
        "暂无",
        "希望减免社保",
        "上游供应商未复工",
    ];
    match (day, k % 3, k % 5) {
        (1, 0, _) => "已解决",
        (1, _, 0) => "货车通行证办理难",
        _ => TEXTS[(k % 12) as usize],
    }
}

fn rows(base: u32, count: u32, not_resumed: &[u32], day: u32) -> Vec<Vec<C>> {
    (1..=count)
        .map(|i| {
            let resumed = !not_resumed.contains(&i);
            let employees = 60 + i64::from((base + i * 37) % 340);
            let on_duty = if resumed {
                employees * i64::from(55 + (base + i * 13) % 40) / 100
            } else {
                0
            };
            let mut row = standard_row(base + i, resumed, employees, on_duty);
            row[0] = n(f64::from(i));
            row[2] = s(&format!(
                "{}{}",
                ["山东", "齐鲁", "泉城", "海岱", "鲁中"][(i % 5) as usize],
                [
                    "机械制造有限公司",
                    "食品有限公司",
                    "化工股份有限公司",
                    "纺织有限公司",
                    "电子科技有限公司"
                ][((base + i) % 5) as usize]
            ));
            row[3] = s([
                "通用设备制造业",
                "食品制造业",
                "化学原料和化学制品制造业",
                "纺织业",
                "计算机、通信和其他电子设备制造业",
            ][((base + i) % 5) as usize]);
            row[8] = n(f64::from(50 + (base + i * 7) % 50));
            // 口罩日产能 and 融资需求 are set per city below (the seed's shape); empty here.
            row[9] = C::E;
            row[10] = C::E;
            row[11] = if resumed {
                s(issues_text(base + i, day))
            } else {
                s("员工返岗难，原料供应不足")
            };
            row
        })
        .collect()
}

/// The seed's supply figures in the example's shape: 济南市's 口罩日产能 goes from 7万只 (24th) to 50万只
/// (25th), and 43 of its enterprises need financing of 2 700万元 each (11.6亿元); 青岛市's every fourth
/// enterprise needs 300万元. Rows that a district's errors reject on the 24th are left out.
fn set_supply(rows: &mut [Vec<C>], masks: &[(usize, f64)], financing: usize, each: f64) {
    for (i, amount) in masks {
        rows[*i][9] = n(*amount);
    }
    for row in rows.iter_mut().take(financing) {
        row[10] = n(each);
    }
}

fn total_row(rows: &[Vec<C>]) -> Vec<C> {
    let sum = |col: usize| {
        rows.iter()
            .map(|r| match &r[col] {
                C::N(v) => *v,
                _ => 0.0,
            })
            .sum::<f64>()
    };
    let resumed = rows.iter().filter(|r| r[4] == s("是")).count() as f64;
    vec![
        s("合计"),
        C::E,
        C::E,
        C::E,
        n(resumed),
        C::E,
        n(sum(6)),
        n(sum(7)),
    ]
}

/// Every example workbook: (date, file name, bytes).
fn example_workbooks() -> Vec<(chrono::NaiveDate, &'static str, Vec<u8>)> {
    let d24 = date(2020, 2, 24);
    let d25 = date(2020, 2, 25);
    let mut out = Vec::new();
    for (day, date_text, extra_resumed) in [(d24, "2020年2月24日", 0u32), (d25, "2020年2月25日", 1)]
    {
        // 历下区: a clean report with its 合计 row.
        let mut lixia = report_for(
            "历下区",
            rows(
                100,
                24,
                if extra_resumed == 1 { &[7] } else { &[7, 19] },
                extra_resumed,
            ),
        );
        let lixia_masks: &[(usize, f64)] = if extra_resumed == 0 {
            &[(0, 40_000.0)]
        } else {
            &[(0, 200_000.0)]
        };
        set_supply(&mut lixia.rows, lixia_masks, 18, 2_700.0);
        lixia.total = Some(total_row(&lixia.rows));
        lixia.date_text = Some(date_text.into());
        out.push((day, "370102.xlsx", lixia.to_xlsx()));
        // 市中区: a two-row header; a mistyped credit code and a count written as words.
        let mut shizhong = report_for("市中区", rows(200, 18, &[3], extra_resumed));
        shizhong.two_row_header = true;
        let shizhong_masks: &[(usize, f64)] = if extra_resumed == 0 {
            &[]
        } else {
            &[(1, 150_000.0)]
        };
        set_supply(&mut shizhong.rows, shizhong_masks, 13, 2_700.0);
        shizhong.date_text = Some(date_text.into());
        if extra_resumed == 0 {
            let mut wrong = uscc(205);
            wrong.pop();
            wrong.push('0');
            shizhong.rows[4][1] = s(&wrong);
            shizhong.rows[9][6] = s("约120");
        }
        out.push((day, "370103.xlsx", shizhong.to_xlsx()));
        // 历城区: missing on the 24th; on the 25th an HTML error page saved as .xls.
        if extra_resumed == 1 {
            out.push((day, "370112.xls", b"<!DOCTYPE html><html><head><title>500</title></head><body>Internal Server Error</body></html>".to_vec()));
        }
        // 章丘区: instructions on the first sheet, aliases and shuffled columns on the second.
        let mut zhangqiu = report_for("章丘区", rows(300, 15, &[], extra_resumed));
        zhangqiu.preface_sheet = true;
        let zhangqiu_masks: &[(usize, f64)] = if extra_resumed == 0 {
            &[(0, 30_000.0)]
        } else {
            &[(0, 150_000.0)]
        };
        set_supply(&mut zhangqiu.rows, zhangqiu_masks, 12, 2_700.0);
        zhangqiu.date_text = Some(date_text.into());
        if extra_resumed == 1 {
            // A zero too many in one 职工总数 on the 25th: an `anomaly` warning, the row is kept.
            if let C::N(v) = zhangqiu.rows[2][6] {
                zhangqiu.rows[2][6] = n(v * 10.0);
            }
        }
        zhangqiu.headers[1] = "社会信用代码".into();
        zhangqiu.headers[4] = "复工情况".into();
        zhangqiu.headers[6] = "从业人员".into();
        zhangqiu.headers[7] = "返岗人数".into();
        for row in &mut zhangqiu.rows {
            row[4] = s(if row[4] == s("是") {
                "已复工"
            } else {
                "未复工"
            });
        }
        out.push((day, "370114.xlsx", zhangqiu.to_xlsx()));
        // 市南区: full-width digits and percent text; one on-duty count above the headcount.
        // On the 25th its 6th enterprise is reported not resumed again: an `anomaly` warning.
        let shinan_not_resumed: &[u32] = if extra_resumed == 1 {
            &[2, 6, 11]
        } else {
            &[2, 11]
        };
        let mut shinan = report_for("市南区", rows(400, 20, shinan_not_resumed, extra_resumed));
        shinan.title = Some("青岛市市南区规模以上工业企业复工复产情况日报表".into());
        shinan.date_text = Some(date_text.into());
        for row in shinan.rows.iter_mut().step_by(4) {
            row[10] = n(300.0);
        }
        shinan.rows[0][6] = s("３２０");
        shinan.rows[0][7] = s("２５６");
        shinan.rows[5][8] = s("72%");
        if extra_resumed == 0 {
            shinan.rows[12][7] = n(900.0);
        }
        out.push((day, "370202.xlsx", shinan.to_xlsx()));
        // 市北区: sent yesterday's report on the 24th.
        let mut shibei = report_for("市北区", rows(500, 16, &[4, 8, 9], extra_resumed));
        shibei.title = Some("青岛市市北区规模以上工业企业复工复产情况日报表".into());
        shibei.date_text = Some(if extra_resumed == 0 {
            "2020年2月23日".into()
        } else {
            date_text.into()
        });
        out.push((day, "370203.xlsx", shibei.to_xlsx()));
    }
    out
}

#[test]
#[ignore = "writes example/inbox; run by hand when the example changes"]
fn regenerate_example_inbox() {
    let inbox = repo().join("example").join("inbox");
    let _ = std::fs::remove_dir_all(&inbox);
    for (day, name, bytes) in example_workbooks() {
        let dir = inbox.join(day.to_string());
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(name), bytes).expect("write");
    }
}

fn statuses(report: &fugong::RunReport) -> Vec<(String, SubmissionStatus)> {
    report
        .districts
        .iter()
        .map(|d| (d.district.name.clone(), d.status))
        .collect()
}

fn name_status(list: &[(&str, SubmissionStatus)]) -> Vec<(String, SubmissionStatus)> {
    list.iter().map(|(n, s)| (n.to_string(), *s)).collect()
}

#[test]
fn the_example_job_publishes_both_dates_with_its_documented_errors() {
    let job = fugong::config::Job::load(&repo().join("jobs/example.toml")).expect("example job");
    let out = tempfile::tempdir().expect("tempdir");
    let options = RunOptions {
        output: Some(out.path().to_path_buf()),
        ..subprocess_options()
    };
    let r24 = run_job(&job, date(2020, 2, 24), &options).expect("2020-02-24");
    assert_eq!(
        statuses(&r24),
        name_status(&[
            ("历下区", Accepted),
            ("市中区", Partial),
            ("历城区", Missing),
            ("章丘区", Accepted),
            ("市南区", Partial),
            ("市北区", Rejected)
        ])
    );
    let r25 = run_job(&job, date(2020, 2, 25), &options).expect("2020-02-25");
    assert_eq!(
        statuses(&r25),
        name_status(&[
            ("历下区", Accepted),
            ("市中区", Accepted),
            ("历城区", Rejected),
            ("章丘区", Accepted),
            ("市南区", Accepted),
            ("市北区", Accepted)
        ])
    );
    let jinan = r25
        .comparison
        .cities
        .iter()
        .find(|c| c.city_name == "济南市")
        .expect("济南市");
    assert!(
        jinan.resumption_rate_change.is_some(),
        "the 25th compares with the 24th"
    );
    // The seed's shape: 口罩日产能 from 7万只 to 50万只, 43家 needing 11.6亿元.
    let jinan24 = r24
        .comparison
        .cities
        .iter()
        .find(|c| c.city_name == "济南市")
        .expect("济南市");
    assert_eq!(jinan24.mask_daily_capacity_total, Some(70_000));
    assert_eq!(jinan.mask_daily_capacity_total, Some(500_000));
    assert_eq!(jinan.enterprises_with_financing_need, Some(43));
    assert_eq!(jinan.financing_need_fen_total, Some(43 * 2_700 * 1_000_000));
    let text = fugong::compare::table::render_ranking(&r25.comparison.cities, date(2020, 2, 25));
    assert!(
        text.contains("50.0万只") && text.contains("11.6亿元"),
        "{text}"
    );
    assert_committed_example_matches_generator(&repo().join("example/inbox"));
}

/// The committed workbooks hold what the generator writes (compared cell by cell, since xlsx files
/// carry a creation time).
fn assert_committed_example_matches_generator(inbox: &Path) {
    for (day, name, bytes) in example_workbooks() {
        let committed = std::fs::read(inbox.join(day.to_string()).join(name))
            .expect("committed example workbook");
        let a = validate_as(&committed, &name[..6], day, Default::default());
        let b = validate_as(&bytes, &name[..6], day, Default::default());
        assert_eq!(
            a, b,
            "{day}/{name} differs from the generator; regenerate the example inbox"
        );
    }
}

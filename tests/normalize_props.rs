//! Property tests of value normalization (contract §2): every written form of a value reads back as that
//! value, and no string of any kind makes a parser panic.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};
use fugong::config::schema::MoneyUnit;
use fugong::read::CellValue;
use fugong::validate::normalize::{
    normalize_text, parse_bool, parse_date, parse_int, parse_money, parse_ratio,
};
use proptest::prelude::*;

fn text(s: &str) -> CellValue<'_> {
    CellValue::Text(Cow::Borrowed(s))
}

/// `1234567` → `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// ASCII digits as full-width ones (`１８６２`).
fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c),
            ',' => '，',
            '.' => '．',
            other => other,
        })
        .collect()
}

fn report_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2020, 2, 24).unwrap_or_default()
}

proptest! {
    #[test]
    fn every_integer_form_round_trips(n in 0u64..10_000_000_000) {
        let forms = [
            n.to_string(),
            format!("{n}.0"),
            grouped(n),
            full_width(&n.to_string()),
            full_width(&grouped(n)),
            format!("{n}人"),
            format!(" {n} "),
            format!("{}家", grouped(n)),
        ];
        for form in &forms {
            prop_assert_eq!(parse_int(&text(form)).ok(), Some(n as i64), "{}", form);
        }
        prop_assert_eq!(parse_int(&CellValue::Number(n as f64)).ok(), Some(n as i64));
    }

    #[test]
    fn ten_thousands_round_trip(tenths in 0u64..1_000_000) {
        // "30.9万" = 309000
        let form = format!("{}.{}万", tenths / 10, tenths % 10);
        prop_assert_eq!(parse_int(&text(&form)).ok(), Some((tenths * 1000) as i64), "{}", form);
    }

    #[test]
    fn commas_outside_three_digit_groups_are_type_errors(a in 1u64..1000, b in 0u64..100) {
        // 12,5 or 123,45: a decimal comma, never a thousands separator.
        let form = format!("{a},{b}");
        prop_assert!(parse_int(&text(&form)).is_err(), "{}", form);
    }

    #[test]
    fn every_ratio_form_round_trips(hundredths in 0u32..=15_000) {
        let percent = f64::from(hundredths) / 100.0;
        let want = percent / 100.0;
        let forms = [format!("{percent}%"), format!("{percent}％"), full_width(&format!("{percent}%"))];
        for form in &forms {
            let got = parse_ratio(&text(form), 0.0, 1.5).map_err(|e| format!("{e:?}"));
            prop_assert!(got.as_ref().is_ok_and(|g| (g - want).abs() < 1e-12), "{} → {:?}", form, got);
        }
        if percent > 1.5 {
            // A plain number in (1.5, 150] is a percent.
            let got = parse_ratio(&CellValue::Number(percent), 0.0, 1.5).ok();
            prop_assert!(got.is_some_and(|g| (g - want).abs() < 1e-12));
        }
    }

    #[test]
    fn every_date_form_round_trips(days in 0i64..20_000) {
        let d = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default() + chrono::Days::new(days as u64);
        let (y, m, day) = (d.year(), d.month(), d.day());
        let forms = [
            format!("{y}-{m:02}-{day:02}"),
            format!("{y}/{m}/{day}"),
            format!("{y}.{m}.{day}"),
            format!("{y}年{m}月{day}日"),
            format!("{y}{m:02}{day:02}"),
            full_width(&format!("{y}-{m:02}-{day:02}")),
            format!("{y}-{m:02}-{day:02} 08:00:00"),
        ];
        for form in &forms {
            prop_assert_eq!(parse_date(&text(form), report_date()).ok(), Some(d), "{}", form);
        }
        // Without a year: the report date's.
        let in_report_year = NaiveDate::from_ymd_opt(2020, m, day);
        if let Some(expected) = in_report_year {
            prop_assert_eq!(parse_date(&text(&format!("{m}月{day}日")), report_date()).ok(), Some(expected));
        }
        // As a number typed yyyymmdd, and as an Excel serial.
        let number = f64::from(y) * 10_000.0 + f64::from(m) * 100.0 + f64::from(day);
        prop_assert_eq!(parse_date(&CellValue::Number(number), report_date()).ok(), Some(d));
        let serial = (d - NaiveDate::from_ymd_opt(1899, 12, 30).unwrap_or_default()).num_days() as f64;
        prop_assert_eq!(parse_date(&CellValue::Number(serial), report_date()).ok(), Some(d));
    }

    #[test]
    fn every_money_form_round_trips(fen in 0i64..100_000_000_000) {
        let yuan = format!("{}.{:02}", fen / 100, fen % 100);
        prop_assert_eq!(parse_money(&text(&format!("{yuan}元")), MoneyUnit::TenThousandYuan).ok(), Some(i128::from(fen)));
        prop_assert_eq!(parse_money(&text(&yuan), MoneyUnit::Yuan).ok(), Some(i128::from(fen)));
        // In 万元: shift the point by four.
        let wan = fen as f64 / 1_000_000.0;
        let wan_text = format!("{:.6}", wan);
        let got = parse_money(&text(&format!("{wan_text}万")), MoneyUnit::Yuan).ok();
        prop_assert_eq!(got, Some(i128::from(fen)), "{}", wan_text);
    }

    #[test]
    fn no_string_makes_a_parser_panic(s in ".{0,40}") {
        let v = text(&s);
        let _ = parse_int(&v);
        let _ = parse_ratio(&v, 0.0, 1.5);
        let _ = parse_bool(&v);
        let _ = parse_date(&v, report_date());
        let _ = parse_money(&v, MoneyUnit::TenThousandYuan);
        let _ = normalize_text(&s);
        let _ = fugong::validate::normalize::header_key(&s);
    }

    #[test]
    fn no_number_makes_a_parser_panic(x in proptest::num::f64::ANY) {
        let v = CellValue::Number(x);
        let _ = parse_int(&v);
        let _ = parse_ratio(&v, 0.0, 1.5);
        let _ = parse_date(&v, report_date());
        let _ = parse_money(&v, MoneyUnit::TenThousandYuan);
    }
}

#[test]
fn every_listed_boolean_form() {
    for (forms, want) in [
        (
            [
                "是",
                "Y",
                "yes",
                "TRUE",
                "1",
                "√",
                "✓",
                "已开工",
                "已复工",
                "开工",
                "复工",
            ],
            true,
        ),
        (
            [
                "否",
                "n",
                "NO",
                "false",
                "0",
                "×",
                "✗",
                "未开工",
                "未复工",
                "停产",
                "停工",
            ],
            false,
        ),
    ] {
        for form in forms {
            assert_eq!(parse_bool(&text(form)).ok(), Some(want), "{form}");
            assert_eq!(
                parse_bool(&text(&full_width(form))).ok(),
                Some(want),
                "{form} full-width"
            );
        }
    }
}

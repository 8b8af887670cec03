//! Value normalization (contract §2): text, header keys, integers, ratios, booleans, dates and money, each
//! from any of the forms districts actually type. Parsers return a typed value or a `ValueProblem` that the
//! row validator turns into a finding with the cell's position.

use chrono::{Datelike, NaiveDate};

use crate::config::schema::MoneyUnit;
use crate::read::CellValue;

pub use crate::text::{HeaderKey, header_key, normalize_text};

/// Why a value could not be read as its field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueProblem {
    /// The value is not of the type (type-error); the text says what was expected.
    Type(String),
    /// The value is of the type but outside the rule (constraint-error).
    Constraint(String),
}

/// An exact decimal number: `mantissa × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub mantissa: i128,
    pub scale: u32,
}

impl Decimal {
    /// Parse `-1,234.50` style text. A comma is a thousands separator only between groups of three
    /// digits (`1,862`, `1,234,567`), never a decimal comma (`12,5` is not 125). None for anything else.
    pub fn parse(text: &str) -> Option<Decimal> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        if digits.is_empty() {
            return None;
        }
        let integer_part = digits.split('.').next().unwrap_or(digits);
        if integer_part.contains(',') {
            let mut groups = integer_part.split(',');
            let first = groups.next().unwrap_or_default();
            if first.is_empty() || first.len() > 3 || groups.any(|g| g.len() != 3) {
                return None;
            }
        }
        let mut mantissa: i128 = 0;
        let mut scale = 0u32;
        let mut seen_point = false;
        let mut seen_digit = false;
        let mut prev_was_digit = false;
        for c in digits.chars() {
            match c {
                '0'..='9' => {
                    mantissa = mantissa
                        .checked_mul(10)?
                        .checked_add(i128::from(c as u8 - b'0'))?;
                    if seen_point {
                        scale += 1;
                    }
                    seen_digit = true;
                    prev_was_digit = true;
                }
                '.' if !seen_point => {
                    seen_point = true;
                    prev_was_digit = false;
                }
                ',' if !seen_point && prev_was_digit => prev_was_digit = false,
                _ => return None,
            }
            if scale > 30 {
                return None;
            }
        }
        if !seen_digit || !prev_was_digit && !seen_point {
            return None;
        }
        Some(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale,
        })
    }

    pub fn from_f64(value: f64) -> Option<Decimal> {
        if !value.is_finite() {
            return None;
        }
        // Whole numbers (most cells) need no text round trip.
        if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
            return Some(Decimal {
                mantissa: value as i128,
                scale: 0,
            });
        }
        // Rust prints the shortest text that reads back as the same f64, never in exponent form.
        Decimal::parse(&format!("{value}"))
    }

    /// Multiply by 10^exp.
    pub fn shift(self, exp: u32) -> Option<Decimal> {
        if self.scale >= exp {
            Some(Decimal {
                mantissa: self.mantissa,
                scale: self.scale - exp,
            })
        } else {
            let factor = 10i128.checked_pow(exp - self.scale)?;
            Some(Decimal {
                mantissa: self.mantissa.checked_mul(factor)?,
                scale: 0,
            })
        }
    }

    /// The value as a whole number, if it has no fraction left over.
    pub fn to_integer(self) -> Option<i128> {
        let factor = 10i128.checked_pow(self.scale)?;
        (self.mantissa % factor == 0).then_some(self.mantissa / factor)
    }

    /// Rounded (half away from zero) to `digits` decimals, as an integer count of 10^-digits.
    pub fn rounded_units(self, digits: u32) -> Option<i128> {
        if self.scale <= digits {
            self.mantissa
                .checked_mul(10i128.checked_pow(digits - self.scale)?)
        } else {
            let factor = 10i128.checked_pow(self.scale - digits)?;
            let q = self.mantissa / factor;
            let r = self.mantissa % factor;
            Some(if r.abs() * 2 >= factor {
                q + self.mantissa.signum()
            } else {
                q
            })
        }
    }

    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / 10f64.powi(self.scale as i32)
    }

    pub fn is_negative(self) -> bool {
        self.mantissa < 0
    }
}

/// Text of a cell as shown to a clerk in a finding (`value` column).
pub fn display_value(value: &CellValue<'_>) -> String {
    match value {
        CellValue::Empty => String::new(),
        CellValue::Text(t) => t.to_string(),
        CellValue::Number(n) => format!("{n}"),
        CellValue::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        CellValue::Date(d) => d.format("%Y-%m-%d").to_string(),
        CellValue::Error(e) => e.to_string(),
    }
}

/// Units that may follow a count (`1862人`).
const COUNT_UNITS: [&str; 9] = ["人", "名", "位", "只", "个", "家", "台", "件", "片"];

fn strip_count_unit(text: &str) -> &str {
    for u in COUNT_UNITS {
        if let Some(s) = text.strip_suffix(u) {
            return s.trim_end();
        }
    }
    text
}

/// A number written with an optional 万/亿 multiplier (`30.9万`).
fn parse_scaled_number(text: &str) -> Option<Decimal> {
    let (body, exp) = if let Some(b) = text.strip_suffix('万') {
        (b, 4)
    } else if let Some(b) = text.strip_suffix('亿') {
        (b, 8)
    } else {
        (text, 0)
    };
    Decimal::parse(body.trim_end())?.shift(exp)
}

const INT_EXPECTED: &str = "不小于0的整数（如 1862、1,862、30.9万）";

/// Whole numbers ≥ 0: `1862`, `1862.0`, `"1,862"`, `"１８６２"`, `"1862人"`, `"30.9万"`.
pub fn parse_int(value: &CellValue<'_>) -> Result<i64, ValueProblem> {
    let decimal = match value {
        CellValue::Number(n) => Decimal::from_f64(*n),
        CellValue::Text(t) => {
            let t = normalize_text(t);
            parse_scaled_number(strip_count_unit(&t))
        }
        CellValue::Bool(_) | CellValue::Date(_) | CellValue::Empty => None,
        CellValue::Error(e) => {
            return Err(ValueProblem::Type(format!(
                "单元格是 Excel 错误值 {e}，应为{INT_EXPECTED}"
            )));
        }
    };
    let Some(decimal) = decimal else {
        return Err(ValueProblem::Type(format!("应为{INT_EXPECTED}")));
    };
    if decimal.is_negative() {
        return Err(ValueProblem::Type(format!(
            "不能为负数，应为{INT_EXPECTED}"
        )));
    }
    match decimal.to_integer().and_then(|i| i64::try_from(i).ok()) {
        Some(i) => Ok(i),
        None => Err(ValueProblem::Type(format!(
            "有小数部分，应为{INT_EXPECTED}"
        ))),
    }
}

/// Ratios: `85%` → 0.85; a number ≤ 1.5 is already a ratio; a number in (1.5, 150] is a percent.
pub fn parse_ratio(value: &CellValue<'_>, min: f64, max: f64) -> Result<f64, ValueProblem> {
    let expected = "百分比（如 85%、85 或 0.85）";
    let (decimal, percent) = match value {
        // A number cell is used as it is (no text round trip); `85` and `0.85` both end up 0.85.
        CellValue::Number(n) if n.is_finite() => return ratio_in_range(*n, false, min, max),
        CellValue::Number(_) => (None, false),
        CellValue::Text(t) => {
            let t = normalize_text(t);
            match t.strip_suffix('%') {
                Some(body) => (Decimal::parse(body.trim_end()), true),
                None => (Decimal::parse(&t), false),
            }
        }
        CellValue::Error(e) => {
            return Err(ValueProblem::Type(format!(
                "单元格是 Excel 错误值 {e}，应为{expected}"
            )));
        }
        _ => (None, false),
    };
    let Some(decimal) = decimal else {
        return Err(ValueProblem::Type(format!("应为{expected}")));
    };
    ratio_in_range(decimal.to_f64(), percent, min, max)
}

/// A percent is divided by 100; a plain number ≤ 1.5 is a ratio, one in (1.5, 150] a percent.
fn ratio_in_range(raw: f64, percent: bool, min: f64, max: f64) -> Result<f64, ValueProblem> {
    let ratio = if percent {
        raw / 100.0
    } else if raw <= 1.5 {
        raw
    } else if raw <= 150.0 {
        raw / 100.0
    } else {
        return Err(ValueProblem::Constraint(format!(
            "超出范围：应在 0 到 {}% 之间",
            max * 100.0
        )));
    };
    if ratio < min || ratio > max {
        return Err(ValueProblem::Constraint(format!(
            "超出范围：应在 {}% 到 {}% 之间",
            min * 100.0,
            max * 100.0
        )));
    }
    Ok(ratio)
}

const TRUE_WORDS: [&str; 10] = [
    "是",
    "Y",
    "YES",
    "TRUE",
    "1",
    "√",
    "✓",
    "已开工",
    "已复工",
    "开工",
];
const TRUE_WORDS_MORE: [&str; 1] = ["复工"];
const FALSE_WORDS: [&str; 12] = [
    "否",
    "N",
    "NO",
    "FALSE",
    "0",
    "×",
    "✗",
    "未开工",
    "未复工",
    "停产",
    "停工",
    "X",
];

/// Booleans: 是/否, Y/N, YES/NO, TRUE/FALSE, 1/0, √/×, 已开工/未开工 …, case-insensitive.
pub fn parse_bool(value: &CellValue<'_>) -> Result<bool, ValueProblem> {
    let expected = "“是”或“否”（也可填 Y/N、√/×、已开工/未开工）";
    match value {
        CellValue::Bool(b) => Ok(*b),
        CellValue::Number(n) if *n == 1.0 => Ok(true),
        CellValue::Number(n) if *n == 0.0 => Ok(false),
        CellValue::Text(t) => {
            let normal = normalize_text(t);
            // Only ASCII words (yes, y, true) need upper-casing; 是/否 are compared as they are.
            let upper;
            let t = if normal.bytes().any(|b| b.is_ascii_lowercase()) {
                upper = normal.to_uppercase();
                upper.as_str()
            } else {
                normal.as_ref()
            };
            if TRUE_WORDS.contains(&t) || TRUE_WORDS_MORE.contains(&t) {
                Ok(true)
            } else if FALSE_WORDS.contains(&t) {
                Ok(false)
            } else {
                Err(ValueProblem::Type(format!("应为{expected}")))
            }
        }
        CellValue::Error(e) => Err(ValueProblem::Type(format!(
            "单元格是 Excel 错误值 {e}，应为{expected}"
        ))),
        _ => Err(ValueProblem::Type(format!("应为{expected}"))),
    }
}

/// Excel serial day number → date (1900 date system; serials before 1900-03-01 are not dates we accept).
pub fn excel_serial_to_date(serial: f64) -> Option<NaiveDate> {
    if !(61.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    epoch.checked_add_days(chrono::Days::new(serial.floor() as u64))
}

/// Dates: Excel date cells and serials, `2020-02-24`, `2020/2/24`, `2020.2.24`, `2020年2月24日`,
/// `20200224`, `2月24日` (in the report date's year).
pub fn parse_date(
    value: &CellValue<'_>,
    report_date: NaiveDate,
) -> Result<NaiveDate, ValueProblem> {
    let expected = "日期（如 2020-02-24、2020年2月24日 或 2月24日）";
    let parsed = match value {
        CellValue::Date(d) => Some(*d),
        // The number 20200224 typed into a date column is yyyymmdd, not a serial.
        CellValue::Number(n) if (19_000_101.0..=99_991_231.0).contains(n) && n.fract() == 0.0 => {
            parse_date_text(&format!("{}", *n as u64), report_date.year())
        }
        CellValue::Number(n) => excel_serial_to_date(*n),
        CellValue::Text(t) => parse_date_text(&normalize_text(t), report_date.year()),
        CellValue::Error(e) => {
            return Err(ValueProblem::Type(format!(
                "单元格是 Excel 错误值 {e}，应为{expected}"
            )));
        }
        _ => None,
    };
    parsed.ok_or_else(|| ValueProblem::Type(format!("应为{expected}")))
}

/// Parse date text; `default_year` completes `2月24日`.
pub fn parse_date_text(text: &str, default_year: i32) -> Option<NaiveDate> {
    let text = text.trim();
    // The most common form, `2020-02-24`, without splitting.
    let b = text.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
        if let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) {
            return NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m, d);
        }
    }
    // Drop a time part: "2020-02-24 08:00:00".
    let text = text.split(' ').next().unwrap_or(text);
    if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        let y = text[0..4].parse().ok()?;
        let m = text[4..6].parse().ok()?;
        let d = text[6..8].parse().ok()?;
        return NaiveDate::from_ymd_opt(y, m, d);
    }
    let parts: Vec<&str> = text
        .split(['-', '/', '.', '年', '月', '日', '号'])
        .filter(|p| !p.is_empty())
        .collect();
    if parts
        .iter()
        .any(|p| !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 4)
    {
        return None;
    }
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 => {
            NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
        }
        [m, d] if m.len() <= 2 && d.len() <= 2 => {
            NaiveDate::from_ymd_opt(default_year, m.parse().ok()?, d.parse().ok()?)
        }
        _ => None,
    }
}

/// Money in yuan with two decimals (as a count of fen): a plain number is in `unit` (万元 by default);
/// `"116.5万"`, `"1.165亿"`, `"5000元"` carry their own unit.
pub fn parse_money(value: &CellValue<'_>, unit: MoneyUnit) -> Result<i128, ValueProblem> {
    let expected = "金额（如 116.5 表示116.5万元，或写明单位 116.5万、1.165亿、5000元）";
    let decimal = match value {
        CellValue::Number(n) => Decimal::from_f64(*n).and_then(|d| d.shift(unit.exponent())),
        CellValue::Text(t) => {
            let t = normalize_text(t);
            let t = t.trim_start_matches(['¥', '￥']).trim();
            let (body, own_unit) = [
                ("亿元", MoneyUnit::HundredMillionYuan),
                ("万元", MoneyUnit::TenThousandYuan),
                ("亿", MoneyUnit::HundredMillionYuan),
                ("万", MoneyUnit::TenThousandYuan),
                ("元", MoneyUnit::Yuan),
            ]
            .iter()
            .find_map(|(suffix, u)| t.strip_suffix(suffix).map(|b| (b.trim_end(), *u)))
            .unwrap_or((t, unit));
            Decimal::parse(body).and_then(|d| d.shift(own_unit.exponent()))
        }
        CellValue::Error(e) => {
            return Err(ValueProblem::Type(format!(
                "单元格是 Excel 错误值 {e}，应为{expected}"
            )));
        }
        _ => None,
    };
    let Some(decimal) = decimal else {
        return Err(ValueProblem::Type(format!("应为{expected}")));
    };
    if decimal.is_negative() {
        return Err(ValueProblem::Constraint("金额不能为负数".into()));
    }
    match decimal.rounded_units(2) {
        // decimal(18,2): at most 16 digits before the point.
        Some(fen) if fen < 10i128.pow(18) => Ok(fen),
        _ => Err(ValueProblem::Constraint("金额过大，请核对单位".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn text(s: &str) -> CellValue<'_> {
        CellValue::Text(Cow::Borrowed(s))
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn text_is_nfkc_trimmed_and_collapsed() {
        assert_eq!(normalize_text("１８６２"), "1862");
        assert_eq!(normalize_text("  济南\u{200B}市  历下区 "), "济南市 历下区");
        assert_eq!(normalize_text("a\u{3000}\u{3000}b"), "a b");
        assert_eq!(normalize_text("plain"), "plain");
        assert!(matches!(normalize_text("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn header_keys_drop_units_and_spaces() {
        assert_eq!(
            header_key("职工总数（人）"),
            HeaderKey {
                key: "职工总数".into(),
                unit: Some("人".into())
            }
        );
        assert_eq!(header_key(" 融资需求 (元) ").unit.as_deref(), Some("元"));
        assert_eq!(header_key("产能恢复率(%)").key, "产能恢复率");
        assert_eq!(header_key("*企业 名称").key, "企业名称");
    }

    #[test]
    fn integers_in_all_accepted_forms() {
        assert_eq!(parse_int(&CellValue::Number(1862.0)), Ok(1862));
        assert_eq!(parse_int(&text("1,862")), Ok(1862));
        assert_eq!(parse_int(&text("１８６２")), Ok(1862));
        assert_eq!(parse_int(&text("1862人")), Ok(1862));
        assert_eq!(parse_int(&text("30.9万")), Ok(309_000));
        assert_eq!(parse_int(&text("1862.0")), Ok(1862));
        assert!(matches!(
            parse_int(&text("约100")),
            Err(ValueProblem::Type(_))
        ));
        assert!(matches!(
            parse_int(&CellValue::Number(12.5)),
            Err(ValueProblem::Type(_))
        ));
        assert!(matches!(
            parse_int(&CellValue::Number(-3.0)),
            Err(ValueProblem::Type(_))
        ));
        assert!(matches!(
            parse_int(&text("1,86,2,")),
            Err(ValueProblem::Type(_))
        ));
    }

    #[test]
    fn ratios_percent_and_plain() {
        assert_eq!(parse_ratio(&text("85%"), 0.0, 1.5), Ok(0.85));
        assert_eq!(parse_ratio(&text("85％"), 0.0, 1.5), Ok(0.85));
        assert_eq!(parse_ratio(&CellValue::Number(0.85), 0.0, 1.5), Ok(0.85));
        assert_eq!(parse_ratio(&CellValue::Number(85.0), 0.0, 1.5), Ok(0.85));
        assert_eq!(parse_ratio(&text("0.87"), 0.0, 1.5), Ok(0.87));
        assert_eq!(parse_ratio(&text("89"), 0.0, 1.5), Ok(0.89));
        assert_eq!(parse_ratio(&CellValue::Number(1.5), 0.0, 1.5), Ok(1.5));
        assert!(matches!(
            parse_ratio(&CellValue::Number(151.0), 0.0, 1.5),
            Err(ValueProblem::Constraint(_))
        ));
        assert!(matches!(
            parse_ratio(&text("160%"), 0.0, 1.5),
            Err(ValueProblem::Constraint(_))
        ));
        assert!(matches!(
            parse_ratio(&CellValue::Number(-0.1), 0.0, 1.5),
            Err(ValueProblem::Constraint(_))
        ));
        assert!(matches!(
            parse_ratio(&text("大部分"), 0.0, 1.5),
            Err(ValueProblem::Type(_))
        ));
    }

    #[test]
    fn booleans_every_listed_form() {
        for t in [
            "是",
            "Y",
            "y",
            "yes",
            "TRUE",
            "1",
            "√",
            "✓",
            "已开工",
            "已复工",
            "开工",
            "复工",
        ] {
            assert_eq!(parse_bool(&text(t)), Ok(true), "{t}");
        }
        for f in [
            "否",
            "N",
            "no",
            "False",
            "0",
            "×",
            "✗",
            "未开工",
            "未复工",
            "停产",
            "停工",
        ] {
            assert_eq!(parse_bool(&text(f)), Ok(false), "{f}");
        }
        assert_eq!(parse_bool(&CellValue::Bool(true)), Ok(true));
        assert_eq!(parse_bool(&CellValue::Number(0.0)), Ok(false));
        assert!(parse_bool(&text("部分开工")).is_err());
    }

    #[test]
    fn dates_every_listed_form() {
        let report = date(2020, 2, 24);
        for t in [
            "2020-02-24",
            "2020/2/24",
            "2020.2.24",
            "2020年2月24日",
            "20200224",
            "2月24日",
            "２０２０年２月２４日",
        ] {
            assert_eq!(parse_date(&text(t), report), Ok(report), "{t}");
        }
        assert_eq!(parse_date(&CellValue::Number(43885.0), report), Ok(report));
        assert_eq!(parse_date(&CellValue::Date(report), report), Ok(report));
        assert!(parse_date(&text("2020-02-30"), report).is_err());
        assert!(parse_date(&text("上周"), report).is_err());
    }

    #[test]
    fn money_units() {
        use MoneyUnit::*;
        assert_eq!(
            parse_money(&CellValue::Number(116.5), TenThousandYuan),
            Ok(116_500_000)
        );
        assert_eq!(
            parse_money(&text("116.5万"), TenThousandYuan),
            Ok(116_500_000)
        );
        assert_eq!(
            parse_money(&text("1.165亿"), TenThousandYuan),
            Ok(11_650_000_000)
        );
        assert_eq!(parse_money(&text("5000元"), TenThousandYuan), Ok(500_000));
        assert_eq!(parse_money(&CellValue::Number(5000.0), Yuan), Ok(500_000));
        assert_eq!(parse_money(&CellValue::Number(0.123), Yuan), Ok(12));
        assert!(matches!(
            parse_money(&CellValue::Number(-1.0), Yuan),
            Err(ValueProblem::Constraint(_))
        ));
        assert!(matches!(
            parse_money(&text("若干"), Yuan),
            Err(ValueProblem::Type(_))
        ));
    }

    #[test]
    fn excel_errors_are_named() {
        let e = CellValue::Error(Cow::Borrowed("#DIV/0!"));
        match parse_int(&e) {
            Err(ValueProblem::Type(m)) => assert!(m.contains("#DIV/0!"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}

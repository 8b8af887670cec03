//! Rounding for people (contract §7): rates are stored unrounded and rounded only where a person reads
//! them, always half-up to two decimals of a percent, the same way in `compare`, the report and the
//! feedback workbooks (200010/300021 = 66.6653 % → "66.67%").
//!
//! A rate that is a fraction of counts is rounded from the fraction itself, in integers. A rate that is
//! only known as a float64 (the capacity average, a change) is rounded from its shortest decimal
//! representation, so a float that stands for 0.00005 rounds as 0.00005 does, not as the binary value
//! just below it.

use super::Fraction;

/// A rate in hundredths of a percent (ten-thousandths), rounded half away from zero.
pub fn hundredths_of_fraction(f: Fraction) -> i64 {
    let num = i128::from(f.numerator) * 10_000;
    let den = i128::from(f.denominator);
    let (q, r) = (num / den, num % den);
    let q = if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    };
    i64::try_from(q).unwrap_or(i64::MAX)
}

/// A float64 rate in hundredths of a percent, rounded half away from zero on its shortest decimal form.
pub fn hundredths_of_float(value: f64) -> Option<i64> {
    if !value.is_finite() {
        return None;
    }
    // Rust prints the shortest representation that reads back as the same float, never in exponent form.
    let text = format!("{}", value.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let int: i64 = int.parse().ok()?;
    let mut digits = frac.bytes().map(|b| i64::from(b - b'0'));
    let mut q = int.checked_mul(10_000)?;
    for scale in [1000, 100, 10, 1] {
        q += digits.next().unwrap_or(0) * scale;
    }
    if digits.next().unwrap_or(0) >= 5 {
        q += 1;
    }
    Some(if value < 0.0 { -q } else { q })
}

fn format_hundredths(q: i64, signed: bool) -> String {
    let sign = if q < 0 {
        "-"
    } else if signed && q > 0 {
        "+"
    } else {
        ""
    };
    let a = q.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// "66.67%" for 200010/300021.
pub fn percent_of(f: Fraction) -> String {
    format!("{}%", format_hundredths(hundredths_of_fraction(f), false))
}

/// "85.00%" for a float64 ratio such as the capacity average; "—" when there is none.
pub fn percent(value: Option<f64>) -> String {
    value
        .and_then(hundredths_of_float)
        .map(|q| format!("{}%", format_hundredths(q, false)))
        .unwrap_or_else(|| "—".into())
}

/// A rate given exactly when its counts are known, else from its float; "—" when there is none.
pub fn percent_exact_or(fraction: Option<Fraction>, value: Option<f64>) -> String {
    match fraction {
        Some(f) => percent_of(f),
        None => percent(value),
    }
}

/// A change in percentage points, signed: "+0.30", "-1.25"; "—" when there is none.
pub fn points(change: Option<f64>) -> String {
    change
        .and_then(hundredths_of_float)
        .map(|q| format_hundredths(q, true))
        .unwrap_or_else(|| "—".into())
}

/// What a person sees of a rate, for telling whether two different ranks would look the same.
pub fn shown(fraction: Option<Fraction>, value: Option<f64>) -> Option<i64> {
    match fraction {
        Some(f) => Some(hundredths_of_fraction(f)),
        None => value.and_then(hundredths_of_float),
    }
}

/// An integer divided by `unit` with one decimal, rounded half-up: `tenths(500_000, 10_000)` = "50.0".
fn tenths(value: i64, unit: i64) -> String {
    let v = i128::from(value) * 10;
    let u = i128::from(unit);
    let q = (v + v.signum() * u / 2) / u;
    let sign = if q < 0 { "-" } else { "" };
    let a = q.unsigned_abs();
    format!("{sign}{}.{}", a / 10, a % 10)
}

/// 口罩日产能 as the seed writes it: "50.0万只" (under 10,000: "7000只").
pub fn masks(count: Option<i64>) -> String {
    match count {
        None => "—".into(),
        Some(n) if n.abs() < 10_000 => format!("{n}只"),
        Some(n) => format!("{}万只", tenths(n, 10_000)),
    }
}

/// Money in fen as the seed writes a large sum: "116.5亿元" (under 1亿: "3250.0万元").
pub fn yuan_large(fen: Option<i64>) -> String {
    match fen {
        None => "—".into(),
        Some(f) if f.abs() >= 10_000_000_000 => format!("{}亿元", tenths(f, 10_000_000_000)),
        Some(f) => format!("{}万元", tenths(f, 1_000_000)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: i64, d: i64) -> Fraction {
        Fraction::new(n, d).expect("positive denominator")
    }

    #[test]
    fn half_up_to_two_decimals_of_a_percent() {
        assert_eq!(percent_of(f(200_010, 300_021)), "66.67%");
        assert_eq!(percent_of(f(1862, 1885)), "98.78%");
        assert_eq!(percent_of(f(309_000, 409_814)), "75.40%");
        assert_eq!(percent_of(f(1, 20_000)), "0.01%", "exactly half rounds up");
        assert_eq!(percent_of(f(1, 20_001)), "0.00%");
        assert_eq!(percent_of(f(1, 1)), "100.00%");
        assert_eq!(percent_of(f(0, 7)), "0.00%");
    }

    #[test]
    fn floats_round_like_the_decimals_they_stand_for() {
        assert_eq!(percent(Some(200_010.0 / 300_021.0)), "66.67%");
        assert_eq!(percent(Some(0.00005)), "0.01%");
        assert_eq!(percent(Some(0.85)), "85.00%");
        assert_eq!(percent(Some(1.0)), "100.00%");
        assert_eq!(percent(None), "—");
        assert_eq!(points(Some(0.003)), "+0.30");
        assert_eq!(points(Some(-0.0125)), "-1.25");
        assert_eq!(points(Some(-0.000_049)), "0.00");
        assert_eq!(points(Some(0.0)), "0.00");
    }

    #[test]
    fn exact_and_float_agree_on_ordinary_rates() {
        for (n, d) in [
            (1862, 1885),
            (200_010, 300_021),
            (7, 9),
            (1, 3),
            (2, 3),
            (999, 1000),
        ] {
            let fr = f(n, d);
            assert_eq!(
                Some(hundredths_of_fraction(fr)),
                hundredths_of_float(fr.value()),
                "{n}/{d}"
            );
        }
    }

    #[test]
    fn supply_figures_read_as_the_seed_writes_them() {
        assert_eq!(masks(Some(70_000)), "7.0万只");
        assert_eq!(masks(Some(500_000)), "50.0万只");
        assert_eq!(masks(Some(7_000)), "7000只");
        assert_eq!(masks(None), "—");
        // 116.5亿元 = 11,650,000,000 yuan = 1,165,000,000,000 fen; 116.45亿 rounds half-up.
        assert_eq!(yuan_large(Some(1_165_000_000_000)), "116.5亿元");
        assert_eq!(yuan_large(Some(1_164_500_000_000)), "116.5亿元");
        assert_eq!(yuan_large(Some(1_164_499_999_999)), "116.4亿元");
        assert_eq!(yuan_large(Some(3_250_000_000)), "3250.0万元");
    }
}

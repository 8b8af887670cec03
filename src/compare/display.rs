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
}

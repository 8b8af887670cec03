//! Compare stage: district and city aggregates of one date, the provincial ranking (1,2,2,4 ties), and the
//! day-over-day change against the nearest earlier published date.
//!
//! Rates are stored unrounded (contract §7): the float64 nearest to the exact fraction (1862/1885, not
//! 0.9878). Ranks compare the exact fractions by integer cross-multiplication, so two cities tie only when
//! their fractions are equal. Rounding happens only where a person reads a number (`display`).

pub mod anomaly;
pub mod display;
pub mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::District;
use crate::day::{DayResult, SubmissionStatus};
pub use crate::tally::{Fraction, Tally, tally};

/// One row of `district_daily`.
#[derive(Debug, Clone, PartialEq)]
pub struct DistrictAggregate {
    pub district: District,
    pub status: SubmissionStatus,
    /// None for rejected and missing districts.
    pub tally: Option<Tally>,
    pub rows_rejected: i64,
    pub warnings: i64,
    /// When the submission arrived (UTC); None when missing.
    pub submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Arrived by the deadline; None without a deadline or when missing.
    pub on_time: Option<bool>,
}

/// One row of `city_daily`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CityAggregate {
    pub province_code: String,
    pub city_code: String,
    pub city_name: String,
    pub districts_expected: i64,
    pub districts_reported: i64,
    pub enterprises_total: Option<i64>,
    pub enterprises_resumed: Option<i64>,
    pub resumption_rate: Option<f64>,
    pub employees_total: Option<i64>,
    pub employees_on_duty: Option<i64>,
    pub on_duty_rate: Option<f64>,
    pub capacity_utilization_avg: Option<f64>,
    pub resumption_rate_rank: Option<i32>,
    pub on_duty_rate_rank: Option<i32>,
    pub capacity_utilization_rank: Option<i32>,
    pub resumption_rate_change: Option<f64>,
    /// Σ 口罩日产能 of the reporting enterprises.
    #[serde(default)]
    pub mask_daily_capacity_total: Option<i64>,
    /// Enterprises with a 融资需求 above 0.
    #[serde(default)]
    pub enterprises_with_financing_need: Option<i64>,
    /// Σ 融资需求 in fen (yuan × 100); `city_daily` stores it as decimal(18,2) yuan.
    #[serde(default)]
    pub financing_need_fen_total: Option<i64>,
    /// Reported districts (accepted or partial) whose submission arrived by the deadline; None
    /// without a deadline (contract §13).
    #[serde(default)]
    pub districts_on_time: Option<i64>,
}

/// The comparison of one date.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub districts: Vec<DistrictAggregate>,
    /// In city-code order.
    pub cities: Vec<CityAggregate>,
}

/// Competition ranks (1 = highest; ties share a rank and the next rank skips: 1,2,2,4); None stays None.
/// Rates that are fractions of counts are ranked as `Fraction`s (exact); the capacity average, a
/// weighted mean of reported ratios, as float64.
pub fn competition_ranks<T: PartialOrd + Copy>(values: &[Option<T>]) -> Vec<Option<i32>> {
    values
        .iter()
        .map(|v| {
            v.map(|x| {
                let better = values
                    .iter()
                    .filter(|o| matches!(o, Some(y) if *y > x))
                    .count();
                i32::try_from(better + 1).unwrap_or(i32::MAX)
            })
        })
        .collect()
}

/// city_code → the exact 开工率 of the nearest earlier published date (None when it had none).
pub type PreviousRates = BTreeMap<String, Option<Fraction>>;

/// The day-over-day change of a city's 开工率: exact difference, rounded once.
pub fn resumption_change(now: Option<Fraction>, before: Option<&Option<Fraction>>) -> Option<f64> {
    match (now, before) {
        (Some(now), Some(Some(before))) => Some(now.minus(*before)),
        _ => None,
    }
}

/// A city's exact 开工率 from its published counts.
pub fn city_resumption(c: &CityAggregate) -> Option<Fraction> {
    Fraction::new(c.enterprises_resumed?, c.enterprises_total?)
}

/// A city's exact 上岗率 from its published counts.
pub fn city_on_duty(c: &CityAggregate) -> Option<Fraction> {
    Fraction::new(c.employees_on_duty?, c.employees_total?)
}

/// Aggregate one date from its districts' sealed sums. `previous` holds the nearest earlier published
/// date's city 开工率; `deadline` is when the date's submissions were due (None: no timeliness).
pub fn aggregate(
    day: &DayResult,
    previous: &PreviousRates,
    deadline: Option<chrono::DateTime<chrono::Utc>>,
) -> Comparison {
    let districts: Vec<DistrictAggregate> = day
        .districts
        .iter()
        .map(|d| {
            let status = d.status();
            let submitted_at = d.source.as_ref().and_then(|s| s.submitted_at);
            DistrictAggregate {
                district: d.district.clone(),
                status,
                tally: status.is_reported().then_some(d.tally),
                rows_rejected: i64::from(d.outcome.rows_rejected),
                warnings: i64::from(d.outcome.warnings()),
                submitted_at,
                on_time: on_time(status, submitted_at, deadline),
            }
        })
        .collect();
    let cities = cities_of(&districts, previous, deadline.is_some());
    Comparison { districts, cities }
}

/// Whether a district's submission came by the deadline (contract §13): None without a deadline, for a
/// missing district, or when its arrival is not known.
pub fn on_time(
    status: SubmissionStatus,
    submitted_at: Option<chrono::DateTime<chrono::Utc>>,
    deadline: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<bool> {
    if status == SubmissionStatus::Missing {
        return None;
    }
    Some(submitted_at? <= deadline?)
}

/// Pool the districts into cities (sums of numerators over sums of denominators) and rank them.
/// `timeliness`: the date has a deadline, so every city counts its districts on time.
pub fn cities_of(
    districts: &[DistrictAggregate],
    previous: &PreviousRates,
    timeliness: bool,
) -> Vec<CityAggregate> {
    struct Pool {
        name: String,
        province: String,
        expected: i64,
        reported: i64,
        on_time: Option<i64>,
        tally: Tally,
    }
    let mut by_city: BTreeMap<String, Pool> = BTreeMap::new();
    for d in districts {
        let entry = by_city
            .entry(d.district.city_code.clone())
            .or_insert_with(|| Pool {
                name: d.district.city_name.clone(),
                province: d.district.province_code.clone(),
                expected: 0,
                reported: 0,
                on_time: timeliness.then_some(0),
                tally: Tally::default(),
            });
        entry.expected += 1;
        if let Some(count) = &mut entry.on_time {
            *count += i64::from(d.on_time == Some(true) && d.status.is_reported());
        }
        if let Some(t) = &d.tally {
            entry.reported += 1;
            entry.tally.add(t);
        }
    }
    let mut exact: Vec<(Option<Fraction>, Option<Fraction>)> = Vec::new();
    let mut cities: Vec<CityAggregate> = by_city
        .into_iter()
        .map(|(city_code, p)| {
            let has = p.reported > 0;
            let t = p.tally;
            let resumption = if has { t.resumption() } else { None };
            let on_duty = if has { t.on_duty() } else { None };
            exact.push((resumption, on_duty));
            CityAggregate {
                province_code: p.province,
                city_name: p.name,
                districts_expected: p.expected,
                districts_reported: p.reported,
                enterprises_total: has.then_some(t.enterprises_total),
                enterprises_resumed: has.then_some(t.enterprises_resumed),
                resumption_rate: resumption.map(Fraction::value),
                employees_total: has.then_some(t.employees_total),
                employees_on_duty: has.then_some(t.employees_on_duty),
                on_duty_rate: on_duty.map(Fraction::value),
                capacity_utilization_avg: if has {
                    t.capacity_utilization_avg()
                } else {
                    None
                },
                resumption_rate_rank: None,
                on_duty_rate_rank: None,
                capacity_utilization_rank: None,
                resumption_rate_change: resumption_change(resumption, previous.get(&city_code)),
                mask_daily_capacity_total: has.then_some(t.mask_daily_capacity),
                enterprises_with_financing_need: has.then_some(t.financing_enterprises),
                financing_need_fen_total: has.then_some(t.financing_fen),
                districts_on_time: p.on_time,
                city_code,
            }
        })
        .collect();
    rank(&mut cities);
    cities
}

/// The province pooled from its cities' published counts: Σ numerators over Σ denominators.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProvinceTotal {
    pub districts_expected: i64,
    pub districts_reported: i64,
    pub enterprises_total: i64,
    pub enterprises_resumed: i64,
    pub employees_total: i64,
    pub employees_on_duty: i64,
    pub mask_daily_capacity_total: i64,
    pub enterprises_with_financing_need: i64,
    pub financing_need_fen_total: i64,
    /// None when no city counts timeliness (no deadline).
    pub districts_on_time: Option<i64>,
}

impl ProvinceTotal {
    pub fn of(cities: &[CityAggregate]) -> ProvinceTotal {
        let mut p = ProvinceTotal::default();
        for c in cities {
            p.districts_expected += c.districts_expected;
            p.districts_reported += c.districts_reported;
            p.enterprises_total += c.enterprises_total.unwrap_or(0);
            p.enterprises_resumed += c.enterprises_resumed.unwrap_or(0);
            p.employees_total += c.employees_total.unwrap_or(0);
            p.employees_on_duty += c.employees_on_duty.unwrap_or(0);
            p.mask_daily_capacity_total += c.mask_daily_capacity_total.unwrap_or(0);
            p.enterprises_with_financing_need += c.enterprises_with_financing_need.unwrap_or(0);
            p.financing_need_fen_total += c.financing_need_fen_total.unwrap_or(0);
            if let Some(n) = c.districts_on_time {
                *p.districts_on_time.get_or_insert(0) += n;
            }
        }
        p
    }

    pub fn resumption(&self) -> Option<Fraction> {
        Fraction::new(self.enterprises_resumed, self.enterprises_total)
    }

    pub fn on_duty(&self) -> Option<Fraction> {
        Fraction::new(self.employees_on_duty, self.employees_total)
    }
}

/// Set the three ranks: 开工率 and 上岗率 by exact fractions, 达产率 by its float64 average.
pub fn rank(cities: &mut [CityAggregate]) {
    let r1 = competition_ranks(&cities.iter().map(city_resumption).collect::<Vec<_>>());
    let r2 = competition_ranks(&cities.iter().map(city_on_duty).collect::<Vec<_>>());
    let r3 = competition_ranks(
        &cities
            .iter()
            .map(|c| c.capacity_utilization_avg)
            .collect::<Vec<_>>(),
    );
    for (i, c) in cities.iter_mut().enumerate() {
        c.resumption_rate_rank = r1[i];
        c.on_duty_rate_rank = r2[i];
        c.capacity_utilization_rank = r3[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_a_rank_and_the_next_skips() {
        let ranks = competition_ranks(&[Some(0.9), Some(0.8), Some(0.8), Some(0.7), None]);
        assert_eq!(ranks, vec![Some(1), Some(2), Some(2), Some(4), None]);
    }

    #[test]
    fn fractions_rank_exactly_even_where_floats_are_equal() {
        // Two fractions closer than a float64 can tell apart: (n−1)/n and n/(n+1) differ by 1/(n(n+1)).
        let big = 1_000_000_000i64;
        let a = Fraction::new(big - 1, big).expect("a");
        let b = Fraction::new(big, big + 1).expect("b");
        assert_eq!(a.value(), b.value(), "the floats cannot tell them apart");
        assert!(b > a, "the fractions can");
        assert_eq!(
            competition_ranks(&[Some(a), Some(b), None, Some(a)]),
            vec![Some(2), Some(1), None, Some(2)]
        );
        // Equal fractions written differently tie.
        let c = Fraction::new(2, 4).expect("c");
        let d = Fraction::new(1, 2).expect("d");
        assert_eq!(
            competition_ranks(&[Some(c), Some(d)]),
            vec![Some(1), Some(1)]
        );
    }

    #[test]
    fn the_change_is_the_exact_difference_rounded_once() {
        let now = Fraction::new(3, 10).expect("now");
        let before = Fraction::new(1, 10).expect("before");
        assert_eq!(now.minus(before), 0.2);
        assert_ne!(0.3 - 0.1, 0.2, "float subtraction would not give it");
    }
}

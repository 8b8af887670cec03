//! Compare stage: district and city aggregates of one date, the provincial ranking (1,2,2,4 ties), and the
//! day-over-day change against the nearest earlier published date. Rates are rounded to five decimals
//! (0.001 percentage points), so two cities that show the same percentage share a rank.

pub mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{District, Schema};
use crate::day::{DayResult, SubmissionStatus};
use crate::validate::Value;

/// Decimal places of every published rate.
pub const RATE_DECIMALS: i32 = 5;

pub fn round_rate(value: f64) -> f64 {
    let factor = 10f64.powi(RATE_DECIMALS);
    (value * factor).round() / factor
}

fn rate(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| round_rate(numerator as f64 / denominator as f64))
}

/// Pooled sums over accepted rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub enterprises_total: i64,
    pub enterprises_resumed: i64,
    pub employees_total: i64,
    pub employees_on_duty: i64,
    /// Σ capacity_utilization × employees_total over resumed enterprises that report it.
    pub capacity_weighted: f64,
    /// Σ employees_total over the same enterprises.
    pub capacity_weight: i64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.enterprises_total += other.enterprises_total;
        self.enterprises_resumed += other.enterprises_resumed;
        self.employees_total += other.employees_total;
        self.employees_on_duty += other.employees_on_duty;
        self.capacity_weighted += other.capacity_weighted;
        self.capacity_weight += other.capacity_weight;
    }

    pub fn resumption_rate(&self) -> Option<f64> {
        rate(self.enterprises_resumed, self.enterprises_total)
    }

    pub fn on_duty_rate(&self) -> Option<f64> {
        rate(self.employees_on_duty, self.employees_total)
    }

    pub fn capacity_utilization_avg(&self) -> Option<f64> {
        (self.capacity_weight > 0)
            .then(|| round_rate(self.capacity_weighted / self.capacity_weight as f64))
    }
}

/// One row of `district_daily`.
#[derive(Debug, Clone, PartialEq)]
pub struct DistrictAggregate {
    pub district: District,
    pub status: SubmissionStatus,
    /// None for rejected and missing districts.
    pub tally: Option<Tally>,
    pub rows_rejected: i64,
    pub warnings: i64,
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
}

/// The comparison of one date.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub districts: Vec<DistrictAggregate>,
    /// In city-code order.
    pub cities: Vec<CityAggregate>,
}

/// Field indexes the tally reads.
struct TallyFields {
    resumed: usize,
    employees_total: usize,
    employees_on_duty: usize,
    capacity: usize,
}

fn tally_rows(fields: &TallyFields, rows: &[crate::validate::AcceptedRow]) -> Tally {
    let mut t = Tally::default();
    for row in rows {
        let get_int = |i: usize| match row.values.get(i) {
            Some(Some(Value::Int(v))) => *v,
            _ => 0,
        };
        let resumed = matches!(
            row.values.get(fields.resumed),
            Some(Some(Value::Bool(true)))
        );
        let employees = get_int(fields.employees_total);
        t.enterprises_total += 1;
        t.employees_total += employees;
        t.employees_on_duty += get_int(fields.employees_on_duty);
        if resumed {
            t.enterprises_resumed += 1;
            if let Some(Some(Value::Ratio(cu))) = row.values.get(fields.capacity) {
                t.capacity_weighted += cu * employees as f64;
                t.capacity_weight += employees;
            }
        }
    }
    t
}

/// Competition ranks (1 = highest; ties share a rank and the next rank skips: 1,2,2,4); None stays None.
pub fn competition_ranks(values: &[Option<f64>]) -> Vec<Option<i32>> {
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

/// Aggregate one date. `previous` maps city_code → the nearest earlier published `resumption_rate`.
pub fn aggregate(
    schema: &Schema,
    day: &DayResult,
    previous: &BTreeMap<String, Option<f64>>,
) -> Comparison {
    let fields = TallyFields {
        resumed: schema.comparison_field("resumed"),
        employees_total: schema.comparison_field("employees_total"),
        employees_on_duty: schema.comparison_field("employees_on_duty"),
        capacity: schema.comparison_field("capacity_utilization"),
    };
    let districts: Vec<DistrictAggregate> = day
        .districts
        .iter()
        .map(|d| {
            let status = d.status();
            DistrictAggregate {
                district: d.district.clone(),
                status,
                tally: status
                    .is_reported()
                    .then(|| tally_rows(&fields, &d.outcome.rows)),
                rows_rejected: i64::from(d.outcome.rows_rejected),
                warnings: i64::from(d.outcome.warnings()),
            }
        })
        .collect();

    let mut by_city: BTreeMap<String, (String, String, i64, i64, Tally)> = BTreeMap::new();
    for d in &districts {
        let entry = by_city
            .entry(d.district.city_code.clone())
            .or_insert_with(|| {
                (
                    d.district.city_name.clone(),
                    d.district.province_code.clone(),
                    0,
                    0,
                    Tally::default(),
                )
            });
        entry.2 += 1;
        if let Some(t) = &d.tally {
            entry.3 += 1;
            entry.4.add(t);
        }
    }
    let mut cities: Vec<CityAggregate> = by_city
        .into_iter()
        .map(
            |(city_code, (city_name, province_code, expected, reported, t))| {
                let has = reported > 0;
                let resumption_rate = if has { t.resumption_rate() } else { None };
                let resumption_rate_change = match (resumption_rate, previous.get(&city_code)) {
                    (Some(now), Some(Some(before))) => Some(round_rate(now - before)),
                    _ => None,
                };
                CityAggregate {
                    province_code,
                    city_name,
                    districts_expected: expected,
                    districts_reported: reported,
                    enterprises_total: has.then_some(t.enterprises_total),
                    enterprises_resumed: has.then_some(t.enterprises_resumed),
                    resumption_rate,
                    employees_total: has.then_some(t.employees_total),
                    employees_on_duty: has.then_some(t.employees_on_duty),
                    on_duty_rate: if has { t.on_duty_rate() } else { None },
                    capacity_utilization_avg: if has {
                        t.capacity_utilization_avg()
                    } else {
                        None
                    },
                    resumption_rate_rank: None,
                    on_duty_rate_rank: None,
                    capacity_utilization_rank: None,
                    resumption_rate_change,
                    city_code,
                }
            },
        )
        .collect();
    let ranks = |get: fn(&CityAggregate) -> Option<f64>, cities: &[CityAggregate]| {
        competition_ranks(&cities.iter().map(get).collect::<Vec<_>>())
    };
    let r1 = ranks(|c| c.resumption_rate, &cities);
    let r2 = ranks(|c| c.on_duty_rate, &cities);
    let r3 = ranks(|c| c.capacity_utilization_avg, &cities);
    for (i, c) in cities.iter_mut().enumerate() {
        c.resumption_rate_rank = r1[i];
        c.on_duty_rate_rank = r2[i];
        c.capacity_utilization_rank = r3[i];
    }
    Comparison { districts, cities }
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
    fn rates_round_to_five_decimals() {
        assert_eq!(rate(1862, 1885), Some(0.9878));
        assert_eq!(rate(309_000, 409_814), Some(0.754));
        assert_eq!(rate(1, 0), None);
    }
}

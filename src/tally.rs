//! Running sums and exact rates: what each district's accepted rows add to the comparison, kept as a
//! district is sealed so that its rows can be dropped (bounded memory). `compare` ranks and aggregates
//! them; `records` and `compare::table` write them.

use crate::config::Schema;
use crate::validate::Value;

/// An exact rate `numerator / denominator` (both counts, denominator > 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    pub numerator: i64,
    pub denominator: i64,
}

impl Fraction {
    /// None when the denominator is not positive (a rate of nothing).
    pub fn new(numerator: i64, denominator: i64) -> Option<Fraction> {
        (denominator > 0).then_some(Fraction {
            numerator,
            denominator,
        })
    }

    /// The float64 nearest to the fraction (one correctly rounded division for counts below 2^53).
    pub fn value(self) -> f64 {
        self.numerator as f64 / self.denominator as f64
    }

    /// `self − earlier`, computed exactly in integers and rounded once.
    pub fn minus(self, earlier: Fraction) -> f64 {
        let num = i128::from(self.numerator) * i128::from(earlier.denominator)
            - i128::from(earlier.numerator) * i128::from(self.denominator);
        let den = i128::from(self.denominator) * i128::from(earlier.denominator);
        num as f64 / den as f64
    }
}

impl PartialOrd for Fraction {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Fraction {
    /// Exact comparison by cross-multiplication (denominators are positive).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (i128::from(self.numerator) * i128::from(other.denominator))
            .cmp(&(i128::from(other.numerator) * i128::from(self.denominator)))
    }
}

fn rate(numerator: i64, denominator: i64) -> Option<f64> {
    Fraction::new(numerator, denominator).map(Fraction::value)
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
    /// Σ 口罩日产能 (an empty cell counts 0).
    pub mask_daily_capacity: i64,
    /// Enterprises whose 融资需求 is above 0.
    pub financing_enterprises: i64,
    /// Σ 融资需求, in fen (yuan × 100).
    pub financing_fen: i64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.enterprises_total += other.enterprises_total;
        self.enterprises_resumed += other.enterprises_resumed;
        self.employees_total += other.employees_total;
        self.employees_on_duty += other.employees_on_duty;
        self.capacity_weighted += other.capacity_weighted;
        self.capacity_weight += other.capacity_weight;
        self.mask_daily_capacity += other.mask_daily_capacity;
        self.financing_enterprises += other.financing_enterprises;
        self.financing_fen += other.financing_fen;
    }

    pub fn resumption_rate(&self) -> Option<f64> {
        rate(self.enterprises_resumed, self.enterprises_total)
    }

    pub fn on_duty_rate(&self) -> Option<f64> {
        rate(self.employees_on_duty, self.employees_total)
    }

    pub fn capacity_utilization_avg(&self) -> Option<f64> {
        (self.capacity_weight > 0).then(|| self.capacity_weighted / self.capacity_weight as f64)
    }

    pub fn resumption(&self) -> Option<Fraction> {
        Fraction::new(self.enterprises_resumed, self.enterprises_total)
    }

    pub fn on_duty(&self) -> Option<Fraction> {
        Fraction::new(self.employees_on_duty, self.employees_total)
    }
}

/// Field indexes the tally reads.
struct TallyFields {
    resumed: usize,
    employees_total: usize,
    employees_on_duty: usize,
    capacity: usize,
    /// Supply fields a province's schema may not have.
    mask: Option<usize>,
    financing: Option<usize>,
}

/// Sums over one district's accepted rows.
pub fn tally(schema: &Schema, rows: &[crate::validate::AcceptedRow]) -> Tally {
    let fields = TallyFields {
        resumed: schema.comparison_field("resumed"),
        employees_total: schema.comparison_field("employees_total"),
        employees_on_duty: schema.comparison_field("employees_on_duty"),
        capacity: schema.comparison_field("capacity_utilization"),
        mask: schema.field_index("mask_daily_capacity"),
        financing: schema.field_index("financing_need_cny"),
    };
    tally_rows(&fields, rows)
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
        if let Some(i) = fields.mask {
            t.mask_daily_capacity += get_int(i);
        }
        if let Some(Some(Value::Money(fen))) = fields.financing.and_then(|i| row.values.get(i))
            && *fen > 0
        {
            t.financing_enterprises += 1;
            t.financing_fen += fen;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_the_nearest_float_to_the_exact_fraction() {
        assert_eq!(rate(1862, 1885), Some(1862.0 / 1885.0));
        assert_ne!(rate(1862, 1885), Some(0.9878));
        assert_eq!(rate(200_010, 300_021), Some(200_010.0 / 300_021.0));
        assert_eq!(rate(1, 0), None);
    }
}

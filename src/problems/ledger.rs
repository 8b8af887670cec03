//! The ledger of one date from the ledger of the date before and what enterprises reported: problems
//! open on the first date they are reported, stay open while reported, and close (销号) on the
//! `close_days`-th reporting date without them (or with them reported solved). An enterprise that does
//! not report — its district missing or rejected, or itself absent from the file — changes nothing.
//!
//! A province's ledger keeps every problem ever opened, so it is held compactly: a problem shares its
//! district, category, keyword and texts (`Arc`) with the other problems and reports that name them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;

use super::classify::{Match, Reading, classify};
use crate::config::District;
use crate::config::schema::ProblemRules;
use crate::keys::KeyHasher;

/// One problem: an enterprise and a category, from the date it opened.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub district: Arc<District>,
    pub uscc: Arc<str>,
    pub enterprise_name: Arc<str>,
    pub category: Arc<str>,
    pub keyword: Option<Arc<str>>,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub first_text: Arc<str>,
    pub latest_text: Arc<str>,
    pub last_reported_on: NaiveDate,
    pub reports_without: u32,
}

impl Problem {
    pub fn is_open(&self) -> bool {
        self.closed_on.is_none()
    }

    pub fn status(&self) -> &'static str {
        status_of(self.closed_on)
    }

    pub fn days_open(&self, as_of: NaiveDate) -> i64 {
        days_open(self.opened_on, self.closed_on, as_of)
    }
}

/// `open` or `closed`.
pub fn status_of(closed_on: Option<NaiveDate>) -> &'static str {
    if closed_on.is_none() {
        "open"
    } else {
        "closed"
    }
}

/// Calendar days open: an open problem counts its opening day as day 1 up to the snapshot date; a
/// closed one counts the days before its closing date.
pub fn days_open(opened_on: NaiveDate, closed_on: Option<NaiveDate>, as_of: NaiveDate) -> i64 {
    match closed_on {
        Some(closed) => (closed - opened_on).num_days(),
        None => (as_of - opened_on).num_days() + 1,
    }
}

/// What one enterprise reported as a problem on a date. A large date holds hundreds of thousands, so
/// the credit code, the name and the text share one allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub district: Arc<District>,
    /// The credit code, the enterprise's name and the text, one after the other.
    strings: Box<str>,
    uscc_len: u32,
    name_len: u32,
    pub matches: Box<[Match]>,
}

impl Report {
    pub fn new(
        district: &Arc<District>,
        uscc: &str,
        enterprise_name: &str,
        text: &str,
        matches: Vec<Match>,
    ) -> Report {
        let mut strings = String::with_capacity(uscc.len() + enterprise_name.len() + text.len());
        for s in [uscc, enterprise_name, text] {
            strings.push_str(s);
        }
        Report {
            district: Arc::clone(district),
            strings: strings.into_boxed_str(),
            uscc_len: uscc.len() as u32,
            name_len: enterprise_name.len() as u32,
            matches: matches.into_boxed_slice(),
        }
    }

    fn part(&self, from: u32, to: Option<u32>) -> &str {
        let from = from as usize;
        let to = to.map_or(self.strings.len(), |t| t as usize);
        self.strings.get(from..to).unwrap_or_default()
    }

    pub fn uscc(&self) -> &str {
        self.part(0, Some(self.uscc_len))
    }

    pub fn enterprise_name(&self) -> &str {
        self.part(self.uscc_len, Some(self.uscc_len + self.name_len))
    }

    pub fn text(&self) -> &str {
        self.part(self.uscc_len + self.name_len, None)
    }
}

/// A date's reports: every enterprise that reported (in a district that is `accepted` or `partial`),
/// as key hashes, and the problems of those whose text names some.
#[derive(Debug, Clone, Default)]
pub struct Reports {
    /// Key hashes; sorted and without repeats once `seal`ed (16 bytes an enterprise, no hash table).
    reported: Vec<u128>,
    sealed: bool,
    hasher: KeyHasher,
    pub problems: Vec<Report>,
}

impl Reports {
    /// An enterprise reported on the date.
    pub fn add_reported(&mut self, uscc: &str) {
        let h = self.hasher.of(uscc);
        self.reported.push(h);
        self.sealed = false;
    }

    /// Room for `n` more reporting enterprises.
    pub fn reserve_reported(&mut self, n: usize) {
        self.reported.reserve_exact(n);
    }

    /// Every reporting enterprise added: sort them for lookups.
    pub fn seal(&mut self) {
        self.reported.sort_unstable();
        self.reported.dedup();
        self.reported.shrink_to_fit();
        self.sealed = true;
    }

    pub fn has_reported(&self, uscc: &str) -> bool {
        self.has_reported_hash(self.hasher.of(uscc))
    }

    /// Whether the enterprise of a key hash (`hasher().of(uscc)`) reported.
    pub fn has_reported_hash(&self, uscc: u128) -> bool {
        match self.sealed {
            true => self.reported.binary_search(&uscc).is_ok(),
            false => self.reported.contains(&uscc),
        }
    }

    /// The reporting enterprises' key hashes, sorted, without repeats (a sorted copy when not sealed).
    pub fn reported_sorted(&self) -> std::borrow::Cow<'_, [u128]> {
        match self.sealed {
            true => std::borrow::Cow::Borrowed(&self.reported),
            false => {
                let mut copy = self.reported.clone();
                copy.sort_unstable();
                copy.dedup();
                std::borrow::Cow::Owned(copy)
            }
        }
    }

    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }
}

/// The problem report of one accepted row, if its text names problems.
pub fn report_of(
    rules: &ProblemRules,
    district: &Arc<District>,
    uscc: &str,
    enterprise_name: &str,
    text: &str,
) -> Option<Report> {
    report_from(classify(rules, text), district, uscc, enterprise_name, text)
}

/// The problem report of a row whose text was already read.
pub fn report_from(
    reading: Reading,
    district: &Arc<District>,
    uscc: &str,
    enterprise_name: &str,
    text: &str,
) -> Option<Report> {
    match reading {
        Reading::Problems(matches) => {
            Some(Report::new(district, uscc, enterprise_name, text, matches))
        }
        Reading::Nothing | Reading::Solved => None,
    }
}

/// The ledger of `date`.
pub fn advance(
    previous: &[Problem],
    date: NaiveDate,
    reports: &Reports,
    close_days: u32,
) -> Vec<Problem> {
    advance_owned(previous.to_vec(), date, reports, close_days)
}

/// The ledger of `date`, advanced in place from the previous one (no second copy of a large ledger).
pub fn advance_owned(
    mut ledger: Vec<Problem>,
    date: NaiveDate,
    reports: &Reports,
    close_days: u32,
) -> Vec<Problem> {
    let by_enterprise: HashMap<&str, &Report, ahash::RandomState> =
        reports.problems.iter().map(|r| (r.uscc(), r)).collect();
    // Open problems: kept while reported, closed after close_days reports without them.
    for p in ledger.iter_mut().filter(|p| p.is_open()) {
        if !reports.has_reported(&p.uscc) {
            continue;
        }
        match by_enterprise
            .get(&*p.uscc)
            .filter(|r| r.matches.iter().any(|m| m.category == p.category))
        {
            Some(r) => {
                p.latest_text = r.text().into();
                p.last_reported_on = date;
                p.reports_without = 0;
                p.enterprise_name = r.enterprise_name().into();
            }
            None => {
                p.reports_without += 1;
                if p.reports_without >= close_days.max(1) {
                    p.closed_on = Some(date);
                }
            }
        }
    }
    // New problems (a problem closed before and reported again opens anew). The open ones are known
    // by key hashes, so that new ones go straight into the ledger (no second vector of problems).
    let hasher = &reports.hasher;
    let mut open: HashSet<(u128, u128), ahash::RandomState> = ledger
        .iter()
        .filter(|p| p.is_open())
        .map(|p| (hasher.of(&p.uscc), hasher.of(&p.category)))
        .collect();
    // Which matches open a problem, first (a few bytes each), so that the ledger grows once, by
    // exactly as many problems: most matches are of problems already open, and a ledger reserved for
    // every match, then shrunk, would be copied at its largest.
    let mut new: Vec<(u32, u32)> = Vec::new();
    for (i, r) in reports.problems.iter().enumerate() {
        let uscc = hasher.of(r.uscc());
        for (j, m) in r.matches.iter().enumerate() {
            if open.insert((uscc, hasher.of(&m.category))) {
                new.push((i as u32, j as u32));
            }
        }
    }
    drop(open);
    ledger.reserve_exact(new.len());
    for (i, j) in new {
        let r = &reports.problems[i as usize];
        let m = &r.matches[j as usize];
        let text: Arc<str> = r.text().into();
        ledger.push(Problem {
            district: Arc::clone(&r.district),
            uscc: r.uscc().into(),
            enterprise_name: r.enterprise_name().into(),
            category: Arc::clone(&m.category),
            keyword: m.keyword.clone(),
            opened_on: date,
            closed_on: None,
            first_text: Arc::clone(&text),
            latest_text: text,
            last_reported_on: date,
            reports_without: 0,
        });
    }
    sort(&mut ledger);
    ledger
}

/// The ledger's order: district, enterprise, category, opening date.
pub fn sort(ledger: &mut [Problem]) {
    ledger.sort_unstable_by(|a, b| {
        (&a.district.code, &a.uscc, &a.category, a.opened_on).cmp(&(
            &b.district.code,
            &b.uscc,
            &b.category,
            b.opened_on,
        ))
    });
}

/// One row of `problem_daily`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCount {
    pub province_code: String,
    pub city_code: String,
    pub city_name: String,
    pub category: String,
    pub opened: i64,
    pub closed: i64,
    pub open: i64,
    pub open_over_7_days: i64,
}

/// Per city (every city of the job) and category (every category, the other one last): opened and
/// closed on `date`, open, and open for over 7 days.
pub fn daily_counts(
    ledger: &[Problem],
    date: NaiveDate,
    districts: &[District],
    rules: &ProblemRules,
) -> Vec<DailyCount> {
    let mut counter = DailyCounter::new(date, districts, rules);
    for p in ledger {
        counter.add(&p.district.city_code, &p.category, p.opened_on, p.closed_on);
    }
    counter.finish()
}

/// `problem_daily` counted one problem at a time.
pub struct DailyCounter<'a> {
    date: NaiveDate,
    out: Vec<DailyCount>,
    index: HashMap<(&'a str, &'a str), usize, ahash::RandomState>,
}

impl<'a> DailyCounter<'a> {
    pub fn new(
        date: NaiveDate,
        districts: &'a [District],
        rules: &'a ProblemRules,
    ) -> DailyCounter<'a> {
        let mut categories: Vec<&str> = rules.categories.iter().map(|c| &*c.name).collect();
        categories.push(&rules.other_category);
        let mut cities: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
        for d in districts {
            cities
                .entry(&d.city_code)
                .or_insert((&d.city_name, &d.province_code));
        }
        let mut out = Vec::new();
        let mut index = HashMap::default();
        for (city_code, (city_name, province_code)) in &cities {
            for category in &categories {
                index.insert((*city_code, *category), out.len());
                out.push(DailyCount {
                    province_code: province_code.to_string(),
                    city_code: city_code.to_string(),
                    city_name: city_name.to_string(),
                    category: category.to_string(),
                    opened: 0,
                    closed: 0,
                    open: 0,
                    open_over_7_days: 0,
                });
            }
        }
        DailyCounter { date, out, index }
    }

    /// Count one problem of the ledger (of a city or category outside the job: not counted).
    pub fn add(
        &mut self,
        city_code: &str,
        category: &str,
        opened_on: NaiveDate,
        closed_on: Option<NaiveDate>,
    ) {
        let Some(&i) = self.index.get(&(city_code, category)) else {
            return;
        };
        let c = &mut self.out[i];
        c.opened += i64::from(opened_on == self.date);
        c.closed += i64::from(closed_on == Some(self.date));
        if closed_on.is_none() {
            c.open += 1;
            c.open_over_7_days += i64::from(days_open(opened_on, None, self.date) > 7);
        }
    }

    pub fn finish(self) -> Vec<DailyCount> {
        self.out
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::Schema;

    /// A district of 370000 by its code (its city from the first four digits).
    pub(in crate::problems) fn district(code: &str) -> District {
        District {
            code: code.into(),
            name: format!("区{code}"),
            city_code: format!("{}00", &code[..4]),
            city_name: format!("市{}", &code[..4]),
            province_code: "370000".into(),
        }
    }

    /// A day of February 2020.
    pub(in crate::problems) fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 2, day).expect("date")
    }

    /// Reports of one date: (district, uscc, text) for every enterprise that reported.
    fn reports(rows: &[(&str, &str, &str)]) -> Reports {
        let rules = Schema::builtin().expect("schema").problems;
        let mut r = Reports::default();
        for (dc, uscc, text) in rows {
            r.add_reported(uscc);
            if let Some(report) = report_of(&rules, &Arc::new(district(dc)), uscc, "某公司", text)
            {
                r.problems.push(report);
            }
        }
        r
    }

    fn state(ledger: &[Problem]) -> Vec<(String, String, u32, Option<u32>)> {
        use chrono::Datelike;
        ledger
            .iter()
            .map(|p| {
                (
                    p.uscc.to_string(),
                    p.category.to_string(),
                    p.opened_on.day(),
                    p.closed_on.map(|c| c.day()),
                )
            })
            .collect()
    }

    fn s(u: &str, c: &str, o: u32, closed: Option<u32>) -> (String, String, u32, Option<u32>) {
        (u.into(), c.into(), o, closed)
    }

    #[test]
    fn problems_open_stay_close_and_reopen() {
        let day1 = advance(
            &[],
            d(1),
            &reports(&[
                ("370102", "A", "缺少口罩和消毒液，员工返岗困难"),
                ("370102", "B", "无"),
            ]),
            1,
        );
        assert_eq!(
            state(&day1),
            vec![s("A", "用工", 1, None), s("A", "防疫物资", 1, None)]
        );
        // A still lacks masks; its workers are back (用工 closes on the first report without it).
        let day2 = advance(
            &day1,
            d(2),
            &reports(&[("370102", "A", "口罩不足"), ("370102", "B", "资金紧张")]),
            1,
        );
        assert_eq!(
            state(&day2),
            vec![
                s("A", "用工", 1, Some(2)),
                s("A", "防疫物资", 1, None),
                s("B", "资金", 2, None)
            ]
        );
        assert_eq!(&*day2[1].latest_text, "口罩不足");
        assert_eq!(&*day2[1].first_text, "缺少口罩和消毒液，员工返岗困难");
        assert_eq!(day2[1].keyword.as_deref(), Some("口罩"));
        // A says it is solved; B does not report (its district missing): B's problem stays open.
        let day3 = advance(
            &day2,
            d(3),
            &reports(&[("370102", "A", "口罩问题已协调解决")]),
            1,
        );
        assert_eq!(
            state(&day3),
            vec![
                s("A", "用工", 1, Some(2)),
                s("A", "防疫物资", 1, Some(3)),
                s("B", "资金", 2, None)
            ]
        );
        // A's workers leave again: a new 用工 problem, the closed one kept.
        let day4 = advance(
            &day3,
            d(4),
            &reports(&[("370102", "A", "员工不足"), ("370102", "B", "资金紧张")]),
            1,
        );
        assert_eq!(
            state(&day4),
            vec![
                s("A", "用工", 1, Some(2)),
                s("A", "用工", 4, None),
                s("A", "防疫物资", 1, Some(3)),
                s("B", "资金", 2, None)
            ]
        );
        assert_eq!(day4[1].days_open(d(4)), 1);
        assert_eq!(day4[3].days_open(d(4)), 3);
        assert_eq!(day4[0].days_open(d(4)), 1, "closed the day after it opened");
    }

    #[test]
    fn close_days_counts_reports_without_the_problem() {
        let day1 = advance(&[], d(1), &reports(&[("370102", "A", "订单减少")]), 2);
        let day2 = advance(&day1, d(2), &reports(&[("370102", "A", "无")]), 2);
        assert!(day2[0].is_open(), "one report without it is not enough");
        assert_eq!(day2[0].reports_without, 1);
        let day3 = advance(&day2, d(3), &reports(&[]), 2);
        assert!(
            day3[0].is_open(),
            "not reporting is not a report without it"
        );
        let day4 = advance(&day3, d(4), &reports(&[("370102", "A", "暂无")]), 2);
        assert_eq!(day4[0].closed_on, Some(d(4)));
    }

    #[test]
    fn daily_counts_per_city_and_category() {
        let rules = Schema::builtin().expect("schema").problems;
        let mut day1 = advance(
            &[],
            d(1),
            &reports(&[("370102", "A", "缺少口罩"), ("370102", "B", "订单减少")]),
            1,
        );
        for p in &mut day1 {
            p.opened_on = d(1);
        }
        let day9 = advance(
            &day1,
            d(9),
            &reports(&[
                ("370102", "A", "缺少口罩"),
                ("370102", "B", "无"),
                ("370102", "C", "设备故障"),
            ]),
            1,
        );
        let counts = daily_counts(&day9, d(9), &[district("370102")], &rules);
        assert_eq!(counts.len(), 7, "every category, the other one last");
        let get = |c: &str| {
            counts
                .iter()
                .find(|x| x.category == c)
                .expect("category")
                .clone()
        };
        let masks = get("防疫物资");
        assert_eq!(
            (
                masks.opened,
                masks.closed,
                masks.open,
                masks.open_over_7_days
            ),
            (0, 0, 1, 1)
        );
        let orders = get("订单");
        assert_eq!((orders.opened, orders.closed, orders.open), (0, 1, 0));
        let other = get("其他");
        assert_eq!((other.opened, other.open), (1, 1));
        assert_eq!(counts.last().expect("last").category, "其他");
    }
}

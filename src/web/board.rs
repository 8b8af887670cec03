//! Who has reported for a date (the board, the status API, the district page): each district's state
//! from its uploads (the run ledger) and the date's published manifest, against the deadline.
//!
//! - `taken`: its latest taken upload, or (without one) a published submission that was accepted or
//!   partial; `refused`: it sent something and nothing of it was taken; `waiting`: nothing yet, before
//!   the deadline (or without one); `missing`: nothing, and the deadline has passed.
//! - `late`: it arrived after the deadline (or, missing, the deadline has passed).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::config::{District, Job};
use crate::ledger::Ledger;
use crate::ledger::portal::UploadRecord;
use crate::publish::Manifest;

/// One district's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistrictState {
    pub code: String,
    pub name: String,
    pub city: String,
    /// `waiting`, `taken`, `refused` or `missing`.
    pub state: &'static str,
    pub late: bool,
    pub received_at: Option<String>,
    /// `upload`, `dir` or `http`; None when nothing arrived.
    pub source: Option<String>,
    pub rows_accepted: Option<u64>,
    pub rows_rejected: Option<u64>,
}

/// The board of a date: every district of the job, in code order.
#[derive(Debug, Clone)]
pub struct Board {
    pub date: NaiveDate,
    pub deadline: Option<DateTime<Utc>>,
    pub published: Option<Manifest>,
    pub districts: Vec<DistrictState>,
}

fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One district's state from its uploads (oldest first) and the published manifest.
pub fn state_of(
    district: &District,
    uploads: &[&UploadRecord],
    published: Option<&Manifest>,
    deadline: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DistrictState {
    let after_deadline = |t: DateTime<Utc>| deadline.is_some_and(|d| t > d);
    let mut line = DistrictState {
        code: district.code.clone(),
        name: district.name.clone(),
        city: district.city_name.clone(),
        state: "waiting",
        late: false,
        received_at: None,
        source: None,
        rows_accepted: None,
        rows_rejected: None,
    };
    let upload_line = |line: &mut DistrictState, u: &UploadRecord, state: &'static str| {
        line.state = state;
        line.late = after_deadline(u.received_at);
        line.received_at = Some(time_text(u.received_at));
        line.source = Some("upload".into());
        line.rows_accepted = Some(u.rows_accepted);
        line.rows_rejected = Some(u.rows_rejected);
    };
    if let Some(u) = uploads.iter().rev().find(|u| u.taken) {
        upload_line(&mut line, u, "taken");
        return line;
    }
    let published_line = published.and_then(|m| {
        m.districts
            .iter()
            .find(|d| d.district_code == district.code)
    });
    if let Some(p) = published_line.filter(|p| p.status != "missing") {
        let arrived = p
            .submitted_at
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        line.state = if matches!(p.status.as_str(), "accepted" | "partial") {
            "taken"
        } else {
            "refused"
        };
        line.late = arrived.is_some_and(after_deadline);
        line.received_at = arrived.map(time_text);
        line.source = p.source_kind.clone();
        line.rows_accepted = Some(p.rows_accepted);
        line.rows_rejected = Some(p.rows_rejected);
        // A refused upload after a refused pull: the latest word is the upload's.
        if line.state == "refused"
            && let Some(u) = uploads.last()
        {
            upload_line(&mut line, u, "refused");
        }
        return line;
    }
    if let Some(u) = uploads.last() {
        upload_line(&mut line, u, "refused");
        return line;
    }
    if deadline.is_some_and(|d| now > d) || (published.is_some() && deadline.is_none()) {
        line.state = "missing";
        line.late = deadline.is_some();
    }
    line
}

/// The board of a date for the districts `visible` lets through.
pub fn board(
    job: &Job,
    ledger: &Ledger,
    published: Option<Manifest>,
    date: NaiveDate,
    now: DateTime<Utc>,
    visible: &dyn Fn(&District) -> bool,
) -> Result<Board, crate::ledger::LedgerError> {
    let uploads = ledger.uploads_brief(&job.name, date)?;
    let mut by_district: std::collections::HashMap<&str, Vec<&UploadRecord>> =
        std::collections::HashMap::new();
    for u in &uploads {
        by_district
            .entry(u.district_code.as_str())
            .or_default()
            .push(u);
    }
    let deadline = job.deadline_of(date);
    let districts = job
        .districts
        .iter()
        .filter(|d| visible(d))
        .map(|d| {
            let mine = by_district
                .get(d.code.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            state_of(d, mine, published.as_ref(), deadline, now)
        })
        .collect();
    Ok(Board {
        date,
        deadline,
        published,
        districts,
    })
}

/// Counts of a set of district lines: (expected, reported, on time, waiting or missing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub expected: usize,
    pub taken: usize,
    pub on_time: usize,
    pub refused: usize,
    pub not_submitted: usize,
}

pub fn counts<'a>(lines: impl IntoIterator<Item = &'a DistrictState>) -> Counts {
    let mut c = Counts::default();
    for l in lines {
        c.expected += 1;
        match l.state {
            "taken" => {
                c.taken += 1;
                c.on_time += usize::from(!l.late);
            }
            "refused" => c.refused += 1,
            _ => c.not_submitted += 1,
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn district() -> District {
        District {
            code: "370102".into(),
            name: "历下区".into(),
            city_code: "370100".into(),
            city_name: "济南市".into(),
            province_code: "370000".into(),
        }
    }

    fn upload(taken: bool, at: &str) -> UploadRecord {
        UploadRecord {
            id: 1,
            report_date: NaiveDate::from_ymd_opt(2020, 2, 24).expect("date"),
            district_code: "370102".into(),
            received_at: DateTime::parse_from_rfc3339(at)
                .expect("time")
                .with_timezone(&Utc),
            file_name: "x.xlsx".into(),
            sha256: "ab".into(),
            bytes: 1,
            taken,
            status: if taken { "accepted" } else { "rejected" }.into(),
            rows_accepted: 3,
            rows_rejected: 0,
            findings: Vec::new(),
            on_time: None,
            token_id: None,
        }
    }

    #[test]
    fn states_follow_the_uploads_and_the_deadline() {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("t")
                .with_timezone(&Utc)
        };
        let deadline = Some(t("2020-02-25T01:00:00Z"));
        let before = t("2020-02-25T00:00:00Z");
        let after = t("2020-02-25T02:00:00Z");
        let d = district();
        assert_eq!(state_of(&d, &[], None, deadline, before).state, "waiting");
        let missing = state_of(&d, &[], None, deadline, after);
        assert_eq!((missing.state, missing.late), ("missing", true));
        let refused = upload(false, "2020-02-24T23:00:00Z");
        assert_eq!(
            state_of(&d, &[&refused], None, deadline, before).state,
            "refused"
        );
        let late = upload(true, "2020-02-25T01:30:00Z");
        let s = state_of(&d, &[&refused, &late], None, deadline, after);
        assert_eq!((s.state, s.late), ("taken", true));
        let on_time = upload(true, "2020-02-25T00:59:59Z");
        let s = state_of(&d, &[&on_time, &refused], None, deadline, after);
        assert_eq!(
            (s.state, s.late),
            ("taken", false),
            "a later refused upload replaces nothing"
        );
    }
}

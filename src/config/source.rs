//! Where a job's submissions come from and where its warehouse lives, as the job file says: the path
//! and URL templates, the HTTP settings and the object-store settings. The `pull` and `publish` stages
//! act on them; this module only describes them.

use std::time::Duration;

use chrono::NaiveDate;

/// The placeholders a path or URL template may hold.
pub const PLACEHOLDERS: [&str; 3] = ["date", "yyyymmdd", "district_code"];

/// Every `{name}` of a template must be a known placeholder, and `{district_code}` must be there.
pub fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!(
                "`{template}` has a `{{` without its `}}`; placeholders are {{date}}, {{yyyymmdd}} and {{district_code}}"
            ));
        };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "`{template}` has the unknown placeholder {{{name}}}; the placeholders are {{date}} (YYYY-MM-DD), {{yyyymmdd}} and {{district_code}}"
            ));
        }
        rest = &after[close + 1..];
    }
    if !template.contains("{district_code}") {
        return Err(format!("`{template}` must contain {{district_code}}"));
    }
    Ok(())
}

/// Fill `{date}`, `{yyyymmdd}` and `{district_code}` in a path or URL template.
pub fn expand_template(template: &str, district_code: &str, date: NaiveDate) -> String {
    template
        .replace("{date}", &date.format("%Y-%m-%d").to_string())
        .replace("{yyyymmdd}", &date.format("%Y%m%d").to_string())
        .replace("{district_code}", district_code)
}

/// Settings of the HTTP source, from the job file.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    pub url: String,
    /// Name of the environment variable holding a bearer token.
    pub token_env: Option<String>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub attempts: u32,
    pub base_delay: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            url: String::new(),
            token_env: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            // 1 s, 2 s, 4 s with jitter: about 10 seconds over 4 attempts.
            attempts: 4,
            base_delay: Duration::from_millis(1000),
        }
    }
}

/// `[storage]` of a job: how to reach the object store. Credentials come from the standard `AWS_*`
/// environment variables, never from the job file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Storage {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub allow_http: bool,
}

/// Raw submissions are kept this many days after their last use, unless the job says otherwise.
pub const DEFAULT_KEEP_BLOB_DAYS: u32 = 90;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_hold_only_known_placeholders() {
        assert!(check_template("../inbox/{date}/{district_code}.*").is_ok());
        assert!(check_template("https://r/{yyyymmdd}/{district_code}.xlsx").is_ok());
        let e = check_template("../inbox/{datum}/{district_code}.*").expect_err("unknown");
        assert!(e.contains("{datum}"), "{e}");
        assert!(check_template("../inbox/{date}/x.xlsx").is_err());
        assert!(check_template("../inbox/{date/{district_code}").is_err());
    }
}

/// `deadline = "+1 09:00"`: the report date plus `days`, at `time` in the job's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub days: i64,
    pub time: chrono::NaiveTime,
}

impl Deadline {
    /// `"+1 09:00"`, `"+0 18:30"`, `"09:00"` (the report date itself).
    pub fn parse(text: &str) -> Result<Deadline, String> {
        let wrong = || {
            format!(
                "`{text}` is not a deadline: write the day offset and the local time, e.g. \"+1 09:00\" (9 am the day after the report date)"
            )
        };
        let text = text.trim();
        let (days, time) = match text.split_once(char::is_whitespace) {
            Some((offset, time)) => {
                let offset = offset.trim();
                let days: i64 = offset
                    .strip_prefix('+')
                    .unwrap_or(offset)
                    .parse()
                    .map_err(|_| wrong())?;
                (days, time.trim())
            }
            None => (0, text),
        };
        if !(0..=31).contains(&days) {
            return Err(format!(
                "`{text}`: the day offset must be between +0 and +31"
            ));
        }
        let time = chrono::NaiveTime::parse_from_str(time, "%H:%M").map_err(|_| wrong())?;
        Ok(Deadline { days, time })
    }

    /// The deadline of `date` in UTC (the local time in `zone`; the earlier one if it is ambiguous).
    pub fn at(
        self,
        date: chrono::NaiveDate,
        zone: chrono_tz::Tz,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        use chrono::TimeZone;
        let day = date.checked_add_days(chrono::Days::new(u64::try_from(self.days).ok()?))?;
        zone.from_local_datetime(&day.and_time(self.time))
            .earliest()
            .map(|t| t.with_timezone(&chrono::Utc))
    }
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn deadlines_are_the_report_date_plus_days_at_a_local_time() {
        let d = Deadline::parse("+1 09:00").expect("deadline");
        let date = chrono::NaiveDate::from_ymd_opt(2020, 2, 24).expect("date");
        assert_eq!(
            d.at(date, chrono_tz::Asia::Shanghai)
                .expect("at")
                .to_rfc3339(),
            "2020-02-25T01:00:00+00:00"
        );
        assert_eq!(Deadline::parse("18:30").expect("same day").days, 0);
        assert!(Deadline::parse("tomorrow").is_err());
        assert!(Deadline::parse("+1 25:00").is_err());
        assert!(Deadline::parse("+40 09:00").is_err());
    }
}

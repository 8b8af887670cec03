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

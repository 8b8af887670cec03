//! What a notice says, and how each format writes it.
//!
//! `json` (documented in the README, "Notices"): one object with `event`, `job`, `date` and the event's
//! fields. `wecom`: `{"msgtype": "markdown", "markdown": {"content": …}}`, the content at most 4,096
//! bytes (WeCom's limit); `dingtalk`: `{"msgtype": "markdown", "markdown": {"title": …, "text": …}}`,
//! the text at most 20,000 bytes. A list too long for the limit is cut, saying how many more there are.

use chrono::NaiveDate;
use serde::Serialize;

use super::Event;
use crate::config::job::NotifyEndpoint;

/// WeCom's limit on a markdown message's content, in bytes.
pub const WECOM_MAX_BYTES: usize = 4096;
/// DingTalk's limit on a markdown message's text, in bytes.
pub const DINGTALK_MAX_BYTES: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DistrictRef {
    pub code: String,
    pub name: String,
    pub city: String,
}

impl DistrictRef {
    pub fn of(d: &crate::config::District) -> DistrictRef {
        DistrictRef {
            code: d.code.clone(),
            name: d.name.clone(),
            city: d.city_name.clone(),
        }
    }

    fn words(&self) -> String {
        format!("{}{}", self.city, self.name)
    }
}

/// Districts by status in a published snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub accepted: u32,
    pub partial: u32,
    pub rejected: u32,
    pub missing: u32,
}

/// A finding of a refused upload, briefly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingBrief {
    pub code: String,
    pub cell: Option<String>,
    pub message: String,
}

/// One notice, before it is written in an endpoint's format.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub event: Event,
    pub job: String,
    pub date: NaiveDate,
    /// The deadline, in the job's zone (`2020-02-25 09:00`).
    pub deadline: Option<String>,
    /// remind: how many minutes before the deadline.
    pub minutes_before: Option<u32>,
    /// remind: the districts that have not submitted; published: the missing ones.
    pub districts: Vec<DistrictRef>,
    /// published: the districts that submitted after the deadline.
    pub late: Vec<DistrictRef>,
    pub version: Option<u32>,
    pub headline: Option<String>,
    pub counts: Option<Counts>,
    /// failed: the run's reason.
    pub reason: Option<String>,
    /// refused-upload: whose, what, why.
    pub district: Option<DistrictRef>,
    pub file_name: Option<String>,
    pub findings: Vec<FindingBrief>,
    /// The report (published) or the district's page (remind, refused-upload), with `public_url`.
    pub link: Option<String>,
}

impl Notice {
    pub fn new(event: Event, job: &str, date: NaiveDate) -> Notice {
        Notice {
            event,
            job: job.to_string(),
            date,
            deadline: None,
            minutes_before: None,
            districts: Vec::new(),
            late: Vec::new(),
            version: None,
            headline: None,
            counts: None,
            reason: None,
            district: None,
            file_name: None,
            findings: Vec::new(),
            link: None,
        }
    }

    /// The districts a notice is about, for endpoints that speak for some only.
    pub fn about_districts(&self) -> Option<Vec<String>> {
        match self.event {
            Event::Remind => Some(self.districts.iter().map(|d| d.code.clone()).collect()),
            Event::RefusedUpload => self.district.as_ref().map(|d| vec![d.code.clone()]),
            _ => None,
        }
    }

    /// The notice as one endpoint receives it: a reminder names only the districts it speaks for.
    pub fn for_endpoint(&self, e: &NotifyEndpoint) -> Notice {
        let mut n = self.clone();
        if let (Event::Remind, Some(mine)) = (self.event, &e.districts) {
            n.districts.retain(|d| mine.contains(&d.code));
        }
        n
    }

    /// The `json` format's body.
    pub fn json(&self) -> String {
        let base = serde_json::json!({ "event": self.event.as_str(), "job": self.job, "date": self.date.to_string() });
        let mut doc = base.as_object().cloned().unwrap_or_default();
        let mut put = |k: &str, v: serde_json::Value| {
            doc.insert(k.to_string(), v);
        };
        match self.event {
            Event::Remind => {
                put("deadline", serde_json::json!(self.deadline));
                put("minutes_before", serde_json::json!(self.minutes_before));
                put("not_submitted", serde_json::json!(self.districts));
                put("link", serde_json::json!(self.link));
            }
            Event::Published => {
                put("version", serde_json::json!(self.version));
                put("headline", serde_json::json!(self.headline));
                put("counts", serde_json::json!(self.counts.unwrap_or_default()));
                put("late", serde_json::json!(self.late));
                put("missing", serde_json::json!(self.districts));
                put("report_url", serde_json::json!(self.link));
            }
            Event::Failed => {
                put("reason", serde_json::json!(self.reason));
            }
            Event::RefusedUpload => {
                put("district", serde_json::json!(self.district));
                put("file_name", serde_json::json!(self.file_name));
                put("findings", serde_json::json!(self.findings));
                put("link", serde_json::json!(self.link));
            }
        }
        serde_json::Value::Object(doc).to_string()
    }

    /// The title and the markdown text of the robots' messages, within `max_bytes`.
    pub fn markdown(&self, max_bytes: usize) -> (String, String) {
        let title = match self.event {
            Event::Remind => format!("催报：{} 复工日报", self.date),
            Event::Published => format!("{} 复工日报已汇总发布", self.date),
            Event::Failed => format!("{} 复工日报汇总失败", self.date),
            Event::RefusedUpload => format!("{} 复工日报上传被拒收", self.date),
        };
        // The listed districts are cut until the text fits.
        let mut shown = self.districts.len().max(self.late.len());
        loop {
            let text = self.markdown_with(&title, shown);
            if text.len() <= max_bytes || shown == 0 {
                return (title, truncate_bytes(&text, max_bytes));
            }
            shown /= 2;
        }
    }

    fn markdown_with(&self, title: &str, shown: usize) -> String {
        let list = |ds: &[DistrictRef]| {
            let mut words: Vec<String> = ds.iter().take(shown).map(DistrictRef::words).collect();
            if ds.len() > shown {
                words.push(format!("…等 {} 个区县", ds.len()));
            }
            words.join("、")
        };
        let mut t = format!("### {title}\n");
        match self.event {
            Event::Remind => {
                t.push_str(&format!(
                    "报送截止时间 **{}**（还有 {} 分钟），以下 **{}** 个区县尚未报送：\n\n> {}\n",
                    self.deadline.as_deref().unwrap_or("—"),
                    self.minutes_before.unwrap_or(0),
                    self.districts.len(),
                    list(&self.districts)
                ));
            }
            Event::Published => {
                if let Some(h) = &self.headline {
                    t.push_str(&format!("{h}\n\n"));
                }
                let c = self.counts.unwrap_or_default();
                t.push_str(&format!(
                    "第 {} 版：接收 {}，部分接收 {}，被拒收 {}，未报送 {}。\n",
                    self.version.unwrap_or(1),
                    c.accepted,
                    c.partial,
                    c.rejected,
                    c.missing
                ));
                if !self.late.is_empty() {
                    t.push_str(&format!("\n迟报：{}\n", list(&self.late)));
                }
                if !self.districts.is_empty() {
                    t.push_str(&format!("\n未报送：{}\n", list(&self.districts)));
                }
            }
            Event::Failed => {
                t.push_str(&format!(
                    "没有发布任何数据，已发布的版本保持不变。原因：\n\n> {}\n",
                    self.reason.as_deref().unwrap_or("—")
                ));
            }
            Event::RefusedUpload => {
                if let Some(d) = &self.district {
                    t.push_str(&format!(
                        "{} 上传的 **{}** 未被接收：\n\n",
                        d.words(),
                        self.file_name.as_deref().unwrap_or("")
                    ));
                }
                for f in self.findings.iter().take(5) {
                    t.push_str(&format!(
                        "- {}{}\n",
                        f.cell
                            .as_deref()
                            .map(|c| format!("{c}："))
                            .unwrap_or_default(),
                        f.message
                    ));
                }
            }
        }
        if let Some(link) = &self.link {
            let words = match self.event {
                Event::Published => "查看当日比较报告",
                _ => "打开报送页面",
            };
            t.push_str(&format!("\n[{words}]({link})\n"));
        }
        t
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// WeCom's group robot: a markdown message.
pub fn wecom(n: &Notice) -> String {
    let (_, text) = n.markdown(WECOM_MAX_BYTES);
    serde_json::json!({ "msgtype": "markdown", "markdown": { "content": text } }).to_string()
}

/// DingTalk's group robot: a markdown message.
pub fn dingtalk(n: &Notice) -> String {
    let (title, text) = n.markdown(DINGTALK_MAX_BYTES);
    serde_json::json!({ "msgtype": "markdown", "markdown": { "title": title, "text": text } })
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn many(n: usize) -> Vec<DistrictRef> {
        (0..n)
            .map(|i| DistrictRef {
                code: format!("37{i:04}"),
                name: format!("第{i}区"),
                city: "济南市".into(),
            })
            .collect()
    }

    #[test]
    fn a_long_reminder_fits_the_robots_limits_and_says_how_many() {
        let mut n = Notice::new(
            Event::Remind,
            "j",
            NaiveDate::from_ymd_opt(2020, 2, 24).expect("date"),
        );
        n.districts = many(2850);
        n.minutes_before = Some(60);
        n.deadline = Some("2020-02-25 09:00".into());
        let body: serde_json::Value = serde_json::from_str(&wecom(&n)).expect("json");
        let content = body["markdown"]["content"].as_str().expect("content");
        assert!(content.len() <= WECOM_MAX_BYTES, "{}", content.len());
        assert!(
            content.contains("2850") && content.contains("…等 2850 个区县"),
            "{content}"
        );
        let body: serde_json::Value = serde_json::from_str(&dingtalk(&n)).expect("json");
        assert!(body["markdown"]["text"].as_str().expect("text").len() <= DINGTALK_MAX_BYTES);
        assert_eq!(body["markdown"]["title"], "催报：2020-02-24 复工日报");
        let json: serde_json::Value = serde_json::from_str(&n.json()).expect("json");
        assert_eq!(json["not_submitted"].as_array().map(Vec::len), Some(2850));
    }
}

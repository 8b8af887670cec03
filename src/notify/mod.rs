//! Notices (contract §13): reminders before a date's deadline (催报), the published snapshot, a failed
//! run, a refused upload — to the webhooks of a job's `[[notify]]` tables, as JSON or as the WeCom and
//! DingTalk group robots' `markdown` messages.
//!
//! Delivery is off the run's path (a thread per notice): a 10 s timeout per try, 3 tries with backoff,
//! never delaying or failing a publish. Each delivery is a line of the audit log; a failed one counts in
//! `fugong_notify_failures_total{job}`. A URL is a secret (a robot's key is in it): only its host is
//! logged or audited.

pub mod message;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::config::Job;
use crate::config::job::{NotifyEndpoint, NotifyFormat};
use crate::ledger::Ledger;
use crate::ledger::portal::AuditEntry;

pub use message::{DistrictRef, Notice};

pub use crate::config::job::NotifyEvent as Event;

/// Per try.
pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const TRIES: u32 = 3;

/// The host of a URL, for logs and the audit log (never the path or the query, which hold the keys).
pub fn host_of(url: &url::Url) -> String {
    url.host_str().unwrap_or("?").to_string()
}

/// The endpoints a notice goes to: those subscribed to its event, and for a notice about districts,
/// those speaking for at least one of them (an endpoint without `districts` speaks for all).
pub fn endpoints_for<'j>(job: &'j Job, notice: &Notice) -> Vec<&'j NotifyEndpoint> {
    job.notify
        .iter()
        .filter(|e| e.events.contains(&notice.event))
        .filter(|e| match (&e.districts, notice.about_districts()) {
            (Some(mine), Some(about)) => about.iter().any(|d| mine.contains(d)),
            _ => true,
        })
        .collect()
}

/// Deliver one notice to one endpoint now (blocking): the body in the endpoint's format, up to three
/// tries. Returns whether it was delivered.
pub fn deliver(
    job: &Job,
    ledger: Option<&Ledger>,
    endpoint: &NotifyEndpoint,
    notice: &Notice,
) -> bool {
    let notice = notice.for_endpoint(endpoint);
    let body = match endpoint.format {
        NotifyFormat::Json => notice.json(),
        NotifyFormat::Wecom => message::wecom(&notice),
        NotifyFormat::Dingtalk => message::dingtalk(&notice),
    };
    let host = host_of(&endpoint.url);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::blocking::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(job = %job.name, host = %host, error = %e, "cannot make the notice's HTTP client");
            return false;
        }
    };
    let mut last = String::new();
    let mut delivered = false;
    for attempt in 0..TRIES {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(500 * 2u64.pow(attempt - 1)));
        }
        match client
            .post(endpoint.url.clone())
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body.clone())
            .send()
        {
            Ok(r) if r.status().is_success() => {
                delivered = true;
                break;
            }
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            // reqwest's error names the URL: keep only what kind of failure it was.
            Err(e) if e.is_timeout() => last = "timed out".into(),
            Err(e) if e.is_connect() => last = "cannot connect".into(),
            Err(_) => last = "request failed".into(),
        }
    }
    if delivered {
        tracing::info!(job = %job.name, event = notice.event.as_str(), host = %host, "notice delivered");
    } else {
        tracing::warn!(job = %job.name, event = notice.event.as_str(), host = %host, why = %last, tries = TRIES, "a notice could not be delivered");
        crate::metrics::notify_failed(&job.name);
    }
    if let Some(ledger) = ledger {
        let _ = ledger.audit(
            &job.name,
            &AuditEntry {
                event: "notice",
                report_date: Some(notice.date),
                district_code: notice.district.as_ref().map(|d| d.code.as_str()),
                detail: serde_json::json!({
                    "event": notice.event.as_str(), "host": host, "format": endpoint.format.as_str(),
                    "delivered": delivered, "why": if delivered { None } else { Some(last.as_str()) },
                }),
                ..AuditEntry::default()
            },
        );
    }
    delivered
}

/// Notices being delivered in the background; `wait` lets a command that is about to exit finish them.
#[derive(Default, Clone)]
pub struct Notifier {
    pending: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// Off: `--no-notify`.
    pub off: bool,
}

impl Notifier {
    pub fn off() -> Notifier {
        Notifier {
            off: true,
            ..Notifier::default()
        }
    }

    /// Send `notice` to every endpoint that wants it, each on its own thread.
    pub fn send(&self, job: &Job, ledger: Option<Arc<Ledger>>, notice: Notice) {
        if self.off {
            return;
        }
        let endpoints: Vec<NotifyEndpoint> =
            endpoints_for(job, &notice).into_iter().cloned().collect();
        if endpoints.is_empty() {
            return;
        }
        let job = job.clone();
        let handle = std::thread::spawn(move || {
            for e in &endpoints {
                deliver(&job, ledger.as_deref(), e, &notice);
            }
        });
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|h| !h.is_finished());
        pending.push(handle);
    }

    /// Wait for the notices still being delivered (each is bounded by its tries and timeouts).
    pub fn wait(&self) {
        let handles: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }
}

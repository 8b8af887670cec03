//! `[source] kind = "http"`: one GET per district and date (reqwest, rustls). Retries with exponential
//! backoff and jitter on connection errors, timeouts and 5xx, none on 4xx; 404/410 mean "not submitted";
//! a body over the byte limit is cut off as soon as it passes the limit; conditional GET with the ETag and
//! Last-Modified kept in the ledger, a 304 reusing the stored submission. The bearer token is read from
//! the environment variable the job names and is never printed or logged.

use std::io::Read;
use std::time::Duration;

use chrono::NaiveDate;
use rand::RngExt;
use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{
    AUTHORIZATION, ETAG, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};

use super::blobs::BlobStore;
use super::{Pulled, expand_template, sha256_hex};
use crate::day::SourceInfo;
use crate::ledger::SubmissionRecord;
use crate::validate::{Code, Finding};

pub use crate::config::source::HttpSettings;

/// Why the HTTP source cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum HttpSetupError {
    #[error("the job's token_env names {0}, which is not set in the environment")]
    MissingToken(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A ready HTTP source.
pub struct HttpSource {
    settings: HttpSettings,
    client: Client,
    token: Option<HeaderValue>,
    /// Where pulled submissions are kept (`_state/blobs/<sha256>`): a 304 reuses them.
    blobs: BlobStore,
}

/// What one pull did, beside its result: how many times it retried.
pub struct HttpPull {
    pub pulled: Pulled,
    pub retries: u32,
}

#[allow(clippy::large_enum_variant)] // one value per attempt, returned at once
enum Attempt {
    Done(Pulled),
    NotModified,
    Retry(String),
}

impl HttpSource {
    pub fn new(settings: HttpSettings, blobs: BlobStore) -> Result<HttpSource, HttpSetupError> {
        // reqwest is built without a default crypto provider; use ring's (ignore "already installed").
        let _ = rustls::crypto::ring::default_provider().install_default();
        let token = match &settings.token_env {
            None => None,
            Some(var) => {
                let value =
                    std::env::var(var).map_err(|_| HttpSetupError::MissingToken(var.clone()))?;
                let mut header =
                    HeaderValue::from_str(&format!("Bearer {value}")).map_err(|_| {
                        HttpSetupError::Client(format!(
                            "the token in {var} is not a valid header value"
                        ))
                    })?;
                header.set_sensitive(true);
                Some(header)
            }
        };
        let client = Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .user_agent(concat!("fugong/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpSetupError::Client(e.to_string()))?;
        Ok(HttpSource {
            settings,
            client,
            token,
            blobs,
        })
    }

    /// Pull one district's submission. `previous` is what the ledger holds for this district and date.
    pub fn pull(
        &self,
        district_code: &str,
        date: NaiveDate,
        max_bytes: u64,
        previous: Option<&SubmissionRecord>,
    ) -> HttpPull {
        let url = expand_template(&self.settings.url, district_code, date);
        let stored = previous.and_then(|p| {
            let sha = p.sha256.as_ref()?;
            self.blobs.has(sha).then(|| (p.clone(), sha.clone()))
        });
        let mut retries = 0;
        let mut last_problem = String::new();
        let mut conditional = stored.is_some();
        for attempt in 0..self.settings.attempts.max(1) {
            if attempt > 0 {
                retries += 1;
                std::thread::sleep(self.backoff(attempt));
            }
            let validators = stored.as_ref().filter(|_| conditional).map(|(p, _)| p);
            match self.attempt(&url, max_bytes, validators) {
                Attempt::Done(pulled) => return HttpPull { pulled, retries },
                Attempt::NotModified => {
                    if let Some((record, sha)) = &stored
                        && let Ok(Some(bytes)) = self.blobs.get(sha)
                    {
                        let info = SourceInfo {
                            location: url.clone(),
                            file_name: file_name_of(&url),
                            sha256: sha256_hex(&bytes),
                            bytes: bytes.len() as u64,
                            etag: record.etag.clone(),
                            last_modified: record.last_modified.clone(),
                            submitted_at: arrival(record.last_modified.as_deref(), Some(record)),
                            kind: "http".into(),
                        };
                        tracing::debug!(url = %url, "304 Not Modified: reusing the stored submission");
                        return HttpPull {
                            pulled: Pulled::Found { info, bytes },
                            retries,
                        };
                    }
                    // The kept copy is gone: ask again without validators.
                    conditional = false;
                    last_problem = "服务器返回 304 但本地没有保存的文件".into();
                }
                Attempt::Retry(problem) => {
                    tracing::warn!(url = %url, attempt = attempt + 1, problem = %problem, "pull failed, will retry");
                    last_problem = problem;
                }
            }
        }
        HttpPull {
            pulled: Pulled::Unreachable {
                location: url.clone(),
                finding: Finding::file(
                    Code::FileUnreadable,
                    format!(
                        "无法下载 {url}：{last_problem}（已尝试 {} 次）：请检查报送服务器或网络",
                        self.settings.attempts.max(1)
                    ),
                ),
            },
            retries,
        }
    }

    /// Exponential backoff with jitter: base × 2^(n-1) × a random factor in [0.5, 1.5).
    fn backoff(&self, attempt: u32) -> Duration {
        let base =
            self.settings.base_delay.as_secs_f64() * 2f64.powi(attempt.saturating_sub(1) as i32);
        let jitter: f64 = rand::rng().random_range(0.5..1.5);
        Duration::from_secs_f64(base * jitter)
    }

    fn attempt(&self, url: &str, max_bytes: u64, previous: Option<&SubmissionRecord>) -> Attempt {
        let mut request = self.client.get(url);
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, token.clone());
        }
        if let Some(p) = previous {
            if let Some(etag) = &p.etag {
                request = request.header(IF_NONE_MATCH, etag.as_str());
            }
            if let Some(lm) = &p.last_modified {
                request = request.header(IF_MODIFIED_SINCE, lm.as_str());
            }
        }
        let mut response = match request.send() {
            Ok(r) => r,
            Err(e) if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() => {
                return Attempt::Retry(describe(&e));
            }
            Err(e) => return Attempt::Retry(describe(&e)),
        };
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Attempt::NotModified;
        }
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Attempt::Done(Pulled::Missing);
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Attempt::Done(Pulled::Unreachable {
                location: url.to_string(),
                finding: Finding::file(
                    Code::FileUnreadable,
                    format!(
                        "报送服务器拒绝访问（HTTP {}）：{url}：请检查作业的访问令牌（token_env）是否正确、是否有该区县的权限",
                        status.as_u16()
                    ),
                ),
            });
        }
        if status.is_server_error() {
            return Attempt::Retry(format!("服务器错误 HTTP {}", status.as_u16()));
        }
        if !status.is_success() {
            return Attempt::Done(Pulled::Problem {
                info: None,
                finding: Finding::file(
                    Code::FileUnreadable,
                    format!("下载 {url} 失败：HTTP {}", status.as_u16()),
                ),
            });
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(ETAG);
        let last_modified = header(LAST_MODIFIED);
        let too_large = |len: u64| {
            Attempt::Done(Pulled::Problem {
                info: Some(SourceInfo {
                    location: url.to_string(),
                    file_name: file_name_of(url),
                    sha256: String::new(),
                    bytes: len,
                    etag: None,
                    last_modified: None,
                    submitted_at: None,
                    kind: "http".into(),
                }),
                finding: Finding::over_byte_limit(
                    (len > max_bytes && len != max_bytes + 1).then_some(len),
                    max_bytes,
                ),
            })
        };
        if response.content_length().is_some_and(|len| len > max_bytes) {
            return too_large(response.content_length().unwrap_or(max_bytes + 1));
        }
        // Read at most one byte past the limit, whatever the headers said.
        let mut bytes = Vec::new();
        let read = (&mut response).take(max_bytes + 1).read_to_end(&mut bytes);
        if let Err(e) = read {
            return Attempt::Retry(format!("下载不完整：{e}"));
        }
        if bytes.len() as u64 > max_bytes {
            return too_large(bytes.len() as u64);
        }
        let sha256 = sha256_hex(&bytes);
        // The same bytes as before keep their first arrival; new ones arrive now (unless the server
        // says when they were made).
        let before = previous.filter(|p| p.sha256.as_deref() == Some(sha256.as_str()));
        let info = SourceInfo {
            location: url.to_string(),
            file_name: file_name_of(url),
            sha256,
            bytes: bytes.len() as u64,
            submitted_at: arrival(last_modified.as_deref(), before),
            etag,
            last_modified,
            kind: "http".into(),
        };
        Attempt::Done(Pulled::Found { info, bytes })
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn url_template(&self) -> String {
        self.settings.url.clone()
    }
}

/// The last path segment of a URL, without its query (the tables' `source_file`).
/// When an HTTP submission arrived: its Last-Modified, else when fugong first pulled the same bytes
/// (the previous record's), else now.
fn arrival(
    last_modified: Option<&str>,
    before: Option<&SubmissionRecord>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let parse = |t: &str| {
        chrono::DateTime::parse_from_rfc2822(t)
            .or_else(|_| chrono::DateTime::parse_from_rfc3339(t))
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    last_modified
        .and_then(parse)
        .or_else(|| {
            before
                .and_then(|b| b.submitted_at.as_deref())
                .and_then(parse)
        })
        .or_else(|| Some(chrono::Utc::now()))
        .map(crate::day::arrival_precision)
}

pub fn file_name_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or(path)
        .to_string()
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "连接或下载超时".into()
    } else if e.is_connect() {
        format!("无法连接服务器（{}）", root_cause(e))
    } else {
        root_cause(e)
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_urls() {
        assert_eq!(
            file_name_of("https://r.example/370102/20200224.xlsx"),
            "20200224.xlsx"
        );
        assert_eq!(file_name_of("https://r.example/get?d=370102"), "get");
        assert_eq!(file_name_of("https://r.example/370102/"), "370102");
    }
}

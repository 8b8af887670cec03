//! Job files (`jobs/*.toml`, contract §5): where a province's district workbooks come from, which districts
//! are expected, where the warehouse is, and the limits that protect a run. Paths are relative to the job
//! file's folder.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{ConfigError, Schema};

/// A job file exactly as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// Job name, recorded in every manifest.
    pub name: String,
    /// Schema file; without it the built-in `enterprise_daily` schema applies.
    #[serde(default)]
    pub schema: Option<PathBuf>,
    /// The warehouse: a folder (the plain Hive-partitioned Parquet layout, or Delta Lake tables with
    /// `table_format = "delta"`), or an object-store URL (`s3://bucket/prefix`, `file:///…`) for Delta
    /// Lake tables.
    pub output: String,
    /// `parquet` (default: the plain layout of contract §4) or `delta` (Delta Lake tables, §10).
    #[serde(default)]
    pub table_format: Option<TableFormat>,
    /// How to reach an object store (credentials come from the AWS_* environment variables).
    #[serde(default)]
    pub storage: Option<StorageConfig>,
    /// 6-field cron (seconds first) for `fugong serve`.
    #[serde(default)]
    pub schedule: Option<String>,
    /// IANA time zone of `schedule` and of `target`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Which report date a scheduled run processes.
    #[serde(default)]
    pub target: Option<Target>,
    /// Days before today that the service catches up on at start.
    #[serde(default)]
    pub catchup_days: Option<u32>,
    /// Earlier dates re-checked by every scheduled run for late submissions.
    #[serde(default)]
    pub lookback_days: Option<u32>,
    /// The run ledger (SQLite); default `<output>/_state/ledger.sqlite`.
    #[serde(default)]
    pub ledger: Option<PathBuf>,
    /// How long `serve` lets a run in progress finish after SIGTERM before abandoning it.
    #[serde(default)]
    pub shutdown_timeout_secs: Option<u64>,
    /// Versions of each date kept (the live one included; default 10), for `fugong versions` and
    /// `fugong rollback`.
    #[serde(default)]
    pub keep_versions: Option<u32>,
    /// Days a pulled submission's bytes are kept in `_state/blobs` after their last use (default 90).
    #[serde(default)]
    pub keep_blob_days: Option<u32>,
    /// Reporting dates without a problem (or with it solved) before it is closed (销号; default 1).
    #[serde(default)]
    pub problem_close_days: Option<u32>,
    /// A district's 开工率 moving by more than this many percentage points from its previous published
    /// date is an `anomaly` warning (default 10).
    #[serde(default)]
    pub anomaly_rate_pp: Option<f64>,
    /// A district's enterprise count changing by more than this percentage is an `anomaly` warning
    /// (default 20).
    #[serde(default)]
    pub anomaly_count_pct: Option<f64>,
    /// When a date's submissions are due: the report date plus a day offset, at a local time in the
    /// job's zone (`"+1 09:00"`: 9 am the next day). Without it there is no timeliness.
    #[serde(default)]
    pub deadline: Option<String>,
    /// Uploads for a date more than this many days past its deadline are refused (409); an operator's
    /// `run`/`backfill` still republishes.
    #[serde(default)]
    pub lock_after_days: Option<u32>,
    /// Uploads one token may make per hour (default 60); more are refused with 429.
    #[serde(default)]
    pub uploads_per_hour: Option<u32>,
    /// Minutes before a date's deadline at which reminders (催报) go out (default [60, 15]).
    #[serde(default)]
    pub remind_before_mins: Option<Vec<u32>>,
    /// The portal's address as districts and staff reach it (`https://fugong.example`): notices link
    /// to the report and the upload pages with it.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Webhooks that receive notices (`[[notify]]`).
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
    pub province: ProvinceConfig,
    pub source: SourceConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    pub districts: Vec<DistrictConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableFormat {
    Parquet,
    Delta,
}

/// `[storage]`: the object store of an `s3://` output. Credentials are never here: they come from the
/// standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`) variables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// S3 endpoint, e.g. `https://s3.cn-north-1.amazonaws.com.cn` or a MinIO/SeaweedFS address.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Allow `http://` endpoints (a store on the local network).
    #[serde(default)]
    pub allow_http: bool,
}

/// The limits that protect one run from one submission (contract §7, job table `[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadLimits {
    pub max_file_bytes: u64,
    pub max_inflated_bytes: u64,
    pub max_cells: u64,
    pub max_cell_chars: u32,
    pub max_read_secs: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_file_bytes: 64 * 1024 * 1024,
            max_inflated_bytes: 512 * 1024 * 1024,
            max_cells: 5_000_000,
            max_cell_chars: 32_767,
            max_read_secs: 60,
        }
    }
}

/// Where a job publishes.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The plain layout in a local folder.
    Local(PathBuf),
    /// Delta Lake tables under a URL.
    Delta {
        url: url::Url,
        storage: super::source::Storage,
    },
}

impl Output {
    /// An output as given on a command line: a URL is Delta Lake; a folder holding Delta tables is read
    /// as Delta Lake; any other folder is the plain layout.
    pub fn parse(text: &str) -> Result<Output, String> {
        if text.contains("://") {
            let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
            return Ok(Output::Delta {
                url,
                storage: super::source::Storage::default(),
            });
        }
        let path = PathBuf::from(text);
        if path.join("city_daily").join("_delta_log").is_dir() {
            let absolute = std::path::absolute(&path).unwrap_or(path);
            let url = url::Url::from_directory_path(&absolute)
                .map_err(|_| format!("`{text}` cannot be made a file:// URL"))?;
            return Ok(Output::Delta {
                url,
                storage: super::source::Storage::default(),
            });
        }
        Ok(Output::Local(path))
    }

    /// For messages.
    pub fn describe(&self) -> String {
        match self {
            Output::Local(path) => path.display().to_string(),
            Output::Delta { url, .. } => url.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Yesterday,
    Today,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvinceConfig {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Dir,
    Http,
    /// Uploads through the portal only (nothing is pulled).
    Upload,
}

/// Where submissions come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// dir: a glob with `{date}` (YYYY-MM-DD), `{yyyymmdd}` and `{district_code}`, relative to the job file.
    #[serde(default)]
    pub path: Option<String>,
    /// http: URL template with the same placeholders.
    #[serde(default)]
    pub url: Option<String>,
    /// http: environment variable holding a bearer token (never logged).
    #[serde(default)]
    pub token_env: Option<String>,
    /// http: seconds to wait for a connection.
    #[serde(default)]
    pub connect_timeout_secs: Option<u64>,
    /// http: seconds for a whole request, body included.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// http: attempts per district on connection errors, timeouts and 5xx (default 4).
    #[serde(default)]
    pub retry_attempts: Option<u32>,
    /// http: first retry delay in milliseconds, doubled each time, with jitter (default 1000).
    #[serde(default)]
    pub retry_base_delay_ms: Option<u64>,
}

/// One `[[notify]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The webhook (a secret: a robot's key is in it; only its host is ever logged).
    pub url: String,
    /// `json`, `wecom` or `dingtalk`.
    #[serde(default)]
    pub format: Option<NotifyFormat>,
    /// Any of `remind`, `published`, `failed`, `refused-upload` (default: all).
    #[serde(default)]
    pub events: Option<Vec<NotifyEvent>>,
    /// The district codes this endpoint speaks for (default: all).
    #[serde(default)]
    pub districts: Option<Vec<String>>,
}

/// How a notice is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyFormat {
    Json,
    Wecom,
    Dingtalk,
}

impl NotifyFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyFormat::Json => "json",
            NotifyFormat::Wecom => "wecom",
            NotifyFormat::Dingtalk => "dingtalk",
        }
    }
}

/// What a notice is about (`events` of `[[notify]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyEvent {
    Remind,
    Published,
    Failed,
    RefusedUpload,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 4] = [
        NotifyEvent::Remind,
        NotifyEvent::Published,
        NotifyEvent::Failed,
        NotifyEvent::RefusedUpload,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::Remind => "remind",
            NotifyEvent::Published => "published",
            NotifyEvent::Failed => "failed",
            NotifyEvent::RefusedUpload => "refused-upload",
        }
    }
}

/// A notice endpoint, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyEndpoint {
    pub url: url::Url,
    pub format: NotifyFormat,
    pub events: Vec<NotifyEvent>,
    pub districts: Option<Vec<String>>,
}

/// `[limits]` (contract §7); every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_file_bytes: Option<u64>,
    pub max_inflated_bytes: Option<u64>,
    pub max_cells: Option<u64>,
    pub max_cell_chars: Option<u32>,
    pub max_read_secs: Option<u64>,
    /// Address-space cap of a reader worker process, in bytes (default 2 GiB).
    pub max_reader_memory_bytes: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictConfig {
    pub code: String,
    pub name: String,
    pub city: String,
}

/// Limits in force for a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub read: ReadLimits,
    pub max_reader_memory_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            read: ReadLimits::default(),
            max_reader_memory_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

/// One expected district, with its geography.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District {
    pub code: String,
    pub name: String,
    pub city_code: String,
    pub city_name: String,
    pub province_code: String,
}

/// Where a job's workbooks come from, with paths resolved.
#[derive(Debug, Clone)]
pub enum Source {
    /// `base` is the job file's folder (absolute); `template` the `[source] path` as written.
    Dir {
        base: PathBuf,
        template: String,
    },
    Http(super::source::HttpSettings),
    /// Only what districts upload through the portal.
    Upload,
}

/// Default of `uploads_per_hour`.
pub const DEFAULT_UPLOADS_PER_HOUR: u32 = 60;

/// Default of `keep_versions`.
pub const DEFAULT_KEEP_VERSIONS: u32 = 10;

/// A built job.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub path: PathBuf,
    pub schema: Arc<Schema>,
    pub output: Output,
    pub province_code: String,
    pub province_name: String,
    pub source: Source,
    pub limits: Limits,
    /// Sorted by code.
    pub districts: Vec<District>,
    pub keep_versions: u32,
    pub keep_blob_days: u32,
    pub problem_close_days: u32,
    pub anomaly: AnomalyThresholds,
    /// When a date's submissions are due (`deadline`), if the job says.
    pub deadline: Option<super::source::Deadline>,
    /// Uploads per token and hour (`uploads_per_hour`, default 60).
    pub uploads_per_hour: u32,
    /// Webhooks of notices.
    pub notify: Vec<NotifyEndpoint>,
    /// Minutes before the deadline at which reminders go out.
    pub remind_before_mins: Vec<u32>,
    /// The portal's public address, for links in notices.
    pub public_url: Option<url::Url>,
    pub config: JobConfig,
}

/// When a date's figures look like a copy-paste or unit error (`anomaly` warnings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnomalyThresholds {
    /// Percentage points of a district's 开工率 between its previous published date and this one.
    pub rate_pp: f64,
    /// Percent change of a district's enterprise count.
    pub count_pct: f64,
    /// An enterprise's 职工总数 multiplied or divided by more than this from its previous report.
    pub employees_factor: f64,
}

impl Default for AnomalyThresholds {
    fn default() -> Self {
        AnomalyThresholds {
            rate_pp: 10.0,
            count_pct: 20.0,
            employees_factor: 3.0,
        }
    }
}

impl Job {
    pub fn load(path: &Path) -> Result<Job, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config: JobConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            what: "job",
            message: super::toml_error(&text, &e),
        })?;
        // Every path the job names (inbox, output, schema, ledger) is resolved against the job file's
        // absolute folder, so that the manifests' source paths never depend on the working directory.
        let absolute =
            std::path::absolute(path).map_or_else(|_| path.to_path_buf(), |p| clean_path(&p));
        config.build(&absolute)
    }

    /// The job's time zone (`timezone`, default Asia/Shanghai).
    pub fn timezone(&self) -> Result<chrono_tz::Tz, ConfigError> {
        let zone = self.config.timezone.as_deref().unwrap_or("Asia/Shanghai");
        zone.parse().map_err(|_| ConfigError::Invalid {
            path: self.path.clone(),
            message: format!(
                "timezone `{zone}` is not an IANA time zone name such as Asia/Shanghai"
            ),
        })
    }

    /// Today in the job's time zone.
    pub fn today(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<chrono::NaiveDate, ConfigError> {
        Ok(now.with_timezone(&self.timezone()?).date_naive())
    }

    /// The date a run without `--date` processes: the job's `target` (default yesterday) in its time
    /// zone, as `serve` would.
    pub fn target_date(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<chrono::NaiveDate, ConfigError> {
        let today = self.today(now)?;
        Ok(match self.config.target.unwrap_or(Target::Yesterday) {
            Target::Today => today,
            Target::Yesterday => today.pred_opt().unwrap_or(today),
        })
    }

    /// A page of the portal as `public_url` names it (None without one).
    pub fn public_link(&self, path: &str) -> Option<String> {
        let base = self.public_url.as_ref()?;
        Some(format!("{}{path}", base.as_str().trim_end_matches('/')))
    }

    /// When `date`'s submissions are due, in UTC; None without a `deadline`.
    pub fn deadline_of(&self, date: chrono::NaiveDate) -> Option<chrono::DateTime<chrono::Utc>> {
        let deadline = self.deadline?;
        let zone = self.timezone().ok()?;
        deadline.at(date, zone)
    }

    /// Whether `date` no longer accepts uploads: it is in the future (in the job's zone), or more than
    /// `lock_after_days` days past its deadline.
    pub fn upload_locked(
        &self,
        date: chrono::NaiveDate,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<String> {
        if let Ok(today) = self.today(now)
            && date > today
        {
            return Some(format!("{date} 还没有到：只能报送今天及以前的日报"));
        }
        let days = self.config.lock_after_days?;
        let due = self.deadline_of(date).unwrap_or_else(|| {
            chrono::DateTime::<chrono::Utc>::from_naive_utc_and_offset(
                date.and_hms_opt(0, 0, 0).unwrap_or_default(),
                chrono::Utc,
            )
        });
        (now > due + chrono::Duration::days(i64::from(days))).then(|| {
            format!(
                "{date} 的报送已于截止时间后 {days} 天关闭：如需更正，请联系汇总单位（运维人员可重新发布该日）"
            )
        })
    }

    /// The run ledger's path for a warehouse: the job's `ledger`, else `<output>/_state/ledger.sqlite`
    /// for a local folder, else `<job folder>/.fugong/<job name>.ledger.sqlite` (a ledger is a local
    /// SQLite file; an object store cannot hold one).
    pub fn ledger_path(&self, output: &Output) -> PathBuf {
        let base = self.path.parent().unwrap_or(Path::new("."));
        match (&self.config.ledger, output) {
            (Some(p), _) => clean_path(&base.join(p)),
            (None, Output::Local(dir)) => dir.join("_state").join("ledger.sqlite"),
            (None, Output::Delta { .. }) => base
                .join(".fugong")
                .join(format!("{}.ledger.sqlite", self.name)),
        }
    }

    /// The output a command works on: its `--output` if given, else the job's.
    pub fn output_or(&self, over: Option<&str>) -> Result<Output, ConfigError> {
        match over {
            None => Ok(self.output.clone()),
            Some(text) => {
                let mut output = Output::parse(text).map_err(|message| ConfigError::Invalid {
                    path: self.path.clone(),
                    message: format!("--output: {message}"),
                })?;
                // Storage settings come from the job.
                if let (Output::Delta { storage, .. }, Output::Delta { storage: mine, .. }) =
                    (&self.output, &mut output)
                {
                    *mine = storage.clone();
                }
                Ok(output)
            }
        }
    }

    /// Cities of the job (code → name), in code order.
    pub fn cities(&self) -> BTreeMap<String, String> {
        self.districts
            .iter()
            .map(|d| (d.city_code.clone(), d.city_name.clone()))
            .collect()
    }
}

/// `jobs/../data/warehouse` → `data/warehouse`, lexically (the folder need not exist yet).
pub fn clean_path(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

fn is_code(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

impl JobConfig {
    /// Build the run-time job, checking every key; every problem found is reported, one per line, each
    /// naming its key.
    pub fn build(self, path: &Path) -> Result<Job, ConfigError> {
        let mut problems: Vec<String> = Vec::new();
        let base = path.parent().unwrap_or(Path::new("."));
        let schema = match &self.schema {
            Some(p) => Schema::load(&base.join(p)),
            None => Schema::builtin(),
        };
        let schema = match schema {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(format!("schema: {e}"));
                None
            }
        };
        if !is_code(&self.province.code) || !self.province.code.ends_with("0000") {
            problems.push(format!(
                "[province] code `{}` must be a 6-digit code ending in 0000, e.g. 370000",
                self.province.code
            ));
        }
        if self.districts.is_empty() {
            problems.push("[[districts]]: the job lists no districts".into());
        }
        for (key, value) in [
            ("anomaly_rate_pp", self.anomaly_rate_pp),
            ("anomaly_count_pct", self.anomaly_count_pct),
        ] {
            if let Some(v) = value.filter(|v| !v.is_finite() || *v < 0.0) {
                problems.push(format!(
                    "{key} = {v}: must be a number of 0 or more (the default is {})",
                    if key == "anomaly_rate_pp" { 10 } else { 20 }
                ));
            }
        }
        if self.problem_close_days == Some(0) {
            problems.push(
                "problem_close_days = 0: must be 1 or more (the reporting dates without a problem before it is closed)".into(),
            );
        }
        let mut seen = HashSet::new();
        let mut city_names: BTreeMap<String, String> = BTreeMap::new();
        let mut districts = Vec::with_capacity(self.districts.len());
        for d in &self.districts {
            if !is_code(&d.code) {
                problems.push(format!(
                    "[[districts]] code `{}` ({}): the code must be 6 digits",
                    d.code, d.name
                ));
                continue;
            }
            if !seen.insert(d.code.clone()) {
                problems.push(format!(
                    "[[districts]] code {}: the district is listed twice",
                    d.code
                ));
            }
            if self.province.code.len() >= 2 && d.code[..2] != self.province.code[..2] {
                problems.push(format!(
                    "[[districts]] code {} ({}): not in province {}",
                    d.code, d.name, self.province.code
                ));
            }
            let city_code = format!("{}00", &d.code[..4]);
            if let Some(existing) = city_names.get(&city_code) {
                if existing != &d.city {
                    problems.push(format!(
                        "[[districts]] city: the districts of city {city_code} name it both `{existing}` and `{}`",
                        d.city
                    ));
                }
            } else {
                city_names.insert(city_code.clone(), d.city.clone());
            }
            districts.push(District {
                code: d.code.clone(),
                name: d.name.trim().to_string(),
                city_code,
                city_name: d.city.trim().to_string(),
                province_code: self.province.code.clone(),
            });
        }
        districts.sort_by(|a, b| a.code.cmp(&b.code));
        let source = match self.source.kind {
            SourceKind::Dir => match self.source.path.as_deref() {
                None => {
                    problems.push("[source] path: kind = \"dir\" needs `path`, e.g. \"../inbox/{date}/{district_code}.*\"".into());
                    None
                }
                Some(template) => {
                    if let Err(m) = super::source::check_template(template) {
                        problems.push(format!("[source] path: {m}"));
                    }
                    // Manifests name sources by absolute paths, never relative to the working directory.
                    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
                    Some(Source::Dir {
                        base: clean_path(&base),
                        template: template.to_string(),
                    })
                }
            },
            SourceKind::Http => match self.source.url.clone() {
                None => {
                    problems.push("[source] url: kind = \"http\" needs `url`".into());
                    None
                }
                Some(url) => {
                    if let Err(m) = super::source::check_template(&url) {
                        problems.push(format!("[source] url: {m}"));
                    }
                    let defaults = super::source::HttpSettings::default();
                    let src = &self.source;
                    let secs = std::time::Duration::from_secs;
                    Some(Source::Http(super::source::HttpSettings {
                        url,
                        token_env: src.token_env.clone(),
                        connect_timeout: src
                            .connect_timeout_secs
                            .map(secs)
                            .unwrap_or(defaults.connect_timeout),
                        timeout: src.timeout_secs.map(secs).unwrap_or(defaults.timeout),
                        attempts: src.retry_attempts.unwrap_or(defaults.attempts).max(1),
                        base_delay: src
                            .retry_base_delay_ms
                            .map(std::time::Duration::from_millis)
                            .unwrap_or(defaults.base_delay),
                    }))
                }
            },
            SourceKind::Upload => Some(Source::Upload),
        };
        let deadline = match self.deadline.as_deref().map(super::source::Deadline::parse) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(m)) => {
                problems.push(format!("deadline: {m}"));
                None
            }
        };
        if self.uploads_per_hour == Some(0) {
            problems.push("uploads_per_hour: must be at least 1".into());
        }
        let mut notify = Vec::new();
        for (i, n) in self.notify.iter().enumerate() {
            match url::Url::parse(&n.url) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {
                    if let Some(codes) = &n.districts {
                        for c in codes {
                            if !self.districts.iter().any(|d| &d.code == c) {
                                problems.push(format!(
                                    "[[notify]] #{}: districts: {c} is not a district of this job",
                                    i + 1
                                ));
                            }
                        }
                    }
                    notify.push(NotifyEndpoint {
                        url,
                        format: n.format.unwrap_or(NotifyFormat::Json),
                        events: n
                            .events
                            .clone()
                            .unwrap_or_else(|| NotifyEvent::ALL.to_vec()),
                        districts: n.districts.clone(),
                    });
                }
                // The URL is a secret: the message names the table, not the URL.
                _ => problems.push(format!("[[notify]] #{}: url is not an http(s) URL", i + 1)),
            }
        }
        let public_url = match self.public_url.as_deref().map(url::Url::parse) {
            None => None,
            Some(Ok(u)) => Some(u),
            Some(Err(e)) => {
                problems.push(format!("public_url: not a URL ({e})"));
                None
            }
        };
        let storage = self.storage.clone().unwrap_or_default();
        let storage = super::source::Storage {
            endpoint: storage.endpoint,
            region: storage.region,
            allow_http: storage.allow_http,
        };
        let output = match (self.output.contains("://"), self.table_format) {
            (true, Some(TableFormat::Delta)) => match url::Url::parse(&self.output) {
                Ok(url) if matches!(url.scheme(), "s3" | "s3a" | "file") => {
                    Some(Output::Delta { url, storage })
                }
                Ok(url) => {
                    problems.push(format!(
                        "output: `{}` is not supported; use s3://bucket/prefix or file:///path",
                        url.scheme()
                    ));
                    None
                }
                Err(e) => {
                    problems.push(format!("output: `{}` is not a URL: {e}", self.output));
                    None
                }
            },
            (true, _) => {
                problems.push(format!(
                    "output: `{}` is an object-store URL: add table_format = \"delta\" (object stores hold Delta Lake tables)",
                    self.output
                ));
                None
            }
            (false, Some(TableFormat::Delta)) => {
                let dir = clean_path(&base.join(&self.output));
                let dir = std::path::absolute(&dir).unwrap_or(dir);
                match url::Url::from_directory_path(&dir) {
                    Ok(url) => Some(Output::Delta { url, storage }),
                    Err(()) => {
                        problems.push(format!(
                            "output: `{}` cannot be made a file:// URL",
                            dir.display()
                        ));
                        None
                    }
                }
            }
            (false, _) => Some(Output::Local(clean_path(&base.join(&self.output)))),
        };
        let (Some(schema), Some(source), Some(output), true) =
            (schema, source, output, problems.is_empty())
        else {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: problems.join("\n"),
            });
        };
        let defaults = Limits::default();
        let l = &self.limits;
        let limits = Limits {
            read: ReadLimits {
                max_file_bytes: l.max_file_bytes.unwrap_or(defaults.read.max_file_bytes),
                max_inflated_bytes: l
                    .max_inflated_bytes
                    .unwrap_or(defaults.read.max_inflated_bytes),
                max_cells: l.max_cells.unwrap_or(defaults.read.max_cells),
                max_cell_chars: l.max_cell_chars.unwrap_or(defaults.read.max_cell_chars),
                max_read_secs: l.max_read_secs.unwrap_or(defaults.read.max_read_secs),
            },
            max_reader_memory_bytes: l
                .max_reader_memory_bytes
                .unwrap_or(defaults.max_reader_memory_bytes),
        };
        Ok(Job {
            name: self.name.clone(),
            path: path.to_path_buf(),
            schema: Arc::new(schema),
            output,
            province_code: self.province.code.clone(),
            province_name: self.province.name.clone(),
            source,
            limits,
            districts,
            keep_versions: self.keep_versions.unwrap_or(DEFAULT_KEEP_VERSIONS).max(1),
            keep_blob_days: self
                .keep_blob_days
                .unwrap_or(super::source::DEFAULT_KEEP_BLOB_DAYS),
            problem_close_days: self.problem_close_days.unwrap_or(1).max(1),
            anomaly: AnomalyThresholds {
                rate_pp: self
                    .anomaly_rate_pp
                    .unwrap_or(AnomalyThresholds::default().rate_pp),
                count_pct: self
                    .anomaly_count_pct
                    .unwrap_or(AnomalyThresholds::default().count_pct),
                ..AnomalyThresholds::default()
            },
            deadline,
            uploads_per_hour: self.uploads_per_hour.unwrap_or(DEFAULT_UPLOADS_PER_HOUR),
            notify,
            remind_before_mins: self
                .remind_before_mins
                .clone()
                .unwrap_or_else(|| vec![60, 15]),
            public_url,
            config: self,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: &str = r#"
name = "t"
output = "wh"
[province]
code = "370000"
name = "山东省"
[source]
kind = "dir"
path = "inbox/{date}/{district_code}.*"
[[districts]]
code = "370102"
name = "历下区"
city = "济南市"
"#;

    #[test]
    fn builds_geography_and_resolves_paths() {
        let cfg: JobConfig = toml::from_str(JOB).expect("parse");
        let job = cfg
            .build(Path::new("/etc/fugong/jobs/t.toml"))
            .expect("build");
        assert_eq!(job.districts[0].city_code, "370100");
        assert_eq!(job.districts[0].province_code, "370000");
        assert_eq!(
            job.output,
            Output::Local(PathBuf::from("/etc/fugong/jobs/wh"))
        );
        assert_eq!(
            clean_path(Path::new("jobs/../data/warehouse")),
            PathBuf::from("data/warehouse")
        );
        assert_eq!(clean_path(Path::new("../x/./y")), PathBuf::from("../x/y"));
        assert_eq!(job.limits.read.max_file_bytes, 64 * 1024 * 1024);
    }

    #[test]
    fn an_unknown_placeholder_is_refused_at_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, JOB.replace("{date}", "{datum}")).expect("write");
        let msg = Job::load(&path).expect_err("must fail").to_string();
        assert!(msg.contains("{datum}") && msg.contains("bad.toml"), "{msg}");
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, JOB.replace("[source]", "[source]\npaht = \"x\"")).expect("write");
        let msg = Job::load(&path).expect_err("must fail").to_string();
        assert!(msg.contains("paht") && msg.contains("bad.toml"), "{msg}");
    }

    #[test]
    fn ledger_and_anomaly_keys_are_read_and_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("job.toml");
        let with = |keys: &str| JOB.replacen("[province]", &format!("{keys}\n[province]"), 1);
        std::fs::write(
            &path,
            with("problem_close_days = 2\nanomaly_rate_pp = 15.5"),
        )
        .expect("write");
        let job = Job::load(&path).expect("job");
        assert_eq!(job.problem_close_days, 2);
        assert_eq!(job.anomaly.rate_pp, 15.5);
        assert_eq!(job.anomaly.count_pct, 20.0);
        std::fs::write(&path, JOB).expect("write");
        let job = Job::load(&path).expect("job");
        assert_eq!(
            (job.problem_close_days, job.anomaly),
            (1, AnomalyThresholds::default())
        );
        for bad in [
            "anomaly_rate_pp = -1",
            "anomaly_count_pct = nan",
            "problem_close_days = 0",
        ] {
            std::fs::write(&path, with(bad)).expect("write");
            let msg = Job::load(&path).expect_err(bad).to_string();
            let key = bad.split(' ').next().expect("key");
            assert!(msg.contains(key) && msg.contains("job.toml"), "{msg}");
        }
    }
}

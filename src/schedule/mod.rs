//! `fugong serve --jobs DIR`: the nightly service. Every job file's `schedule` (6-field cron, seconds
//! first) fires in the job's `timezone` through tokio-cron-scheduler and processes the `target` date; at
//! start, **catch-up** processes every date of the last `catchup_days` that has no published run, oldest
//! first; every scheduled run also re-checks the previous `lookback_days` dates and republishes a date whose
//! submissions changed or newly arrived. One job never runs two dates at once; SIGTERM or Ctrl-C stops new
//! runs and gives the run in progress `shutdown_timeout_secs` to finish before it is abandoned (nothing is
//! published half-way; the ledger records which).
//!
//! Time zones: tokio-cron-scheduler 0.15 fixes a job's UTC offset when the job is created, so in a zone with
//! daylight saving a schedule would drift by an hour after the clock change. fugong refuses such zones
//! with a message that says so (the provinces this serves use Asia/Shanghai, which has no DST).

pub mod check;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use tokio::sync::Mutex;
use tracing::{error, info, info_span, warn};

use crate::config::Job;
use crate::config::job::Target;
use crate::intake::Isolation;
use crate::ledger::Trigger;
use crate::pipeline::{RunError, RunOptions, Session};
use crate::pull::{Pulled, Source as _};

/// Defaults of contract §5–§6 and issue #3.
pub const DEFAULT_CATCHUP_DAYS: u32 = 3;
pub const DEFAULT_LOOKBACK_DAYS: u32 = 2;
pub const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 60;

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{path}: {message}")]
    Job { path: PathBuf, message: String },
    #[error("{}", check::render(.0))]
    Invalid(Vec<check::Problem>),
    #[error("no job files (*.toml) in {0}")]
    NoJobs(PathBuf),
    #[error("cannot read the jobs folder {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("the scheduler failed: {0}")]
    Scheduler(String),
    #[error("cannot serve metrics on {addr}: {message}")]
    Metrics { addr: SocketAddr, message: String },
    #[error("cannot start the portal: {0}")]
    Portal(String),
}

/// A job as the service runs it.
pub struct ScheduledJob {
    pub job: Job,
    pub schedule: String,
    pub timezone: Tz,
    pub target: Target,
    pub catchup_days: u32,
    pub lookback_days: u32,
    pub shutdown_timeout: Duration,
    /// Held while the job processes dates: one date at a time per job.
    running: Mutex<()>,
    /// Set at shutdown: no new run or date starts.
    stopping: AtomicBool,
    /// Set when a run in progress must be abandoned at its next checkpoint.
    cancel: Arc<AtomicBool>,
}

/// The six fields of a schedule and the numbers each allows.
const CRON_FIELDS: [(&str, u32, u32); 6] = [
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day", 1, 31),
    ("month", 1, 12),
    ("weekday", 0, 7),
];

/// The first number of a 6-field schedule outside its field's range, said as "hour 25: 0–23"; None when
/// every number is in range (the scheduler's parser then says what else is wrong).
pub fn cron_field_problem(schedule: &str) -> Option<String> {
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 6 {
        return None;
    }
    for (text, (name, low, high)) in fields.iter().zip(CRON_FIELDS) {
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (part, None),
            };
            for number in range.split('-').chain(step) {
                let Ok(n) = number.parse::<u32>() else {
                    continue;
                };
                let bad = if Some(number) == step {
                    n == 0 || n > high
                } else {
                    n < low || n > high
                };
                if bad {
                    return Some(format!("{name} {n}: {low}–{high}"));
                }
            }
        }
    }
    None
}

/// The log target of the service's own start and stop lines, shown at the default level.
pub const SERVICE_LOG: &str = "fugong::service";

/// What the run ledger says of a job, for its metrics at start (zeros when it has none yet).
fn ledger_start(job: &Job) -> crate::metrics::JobStart {
    let Ok(output) = job.output_or(None) else {
        return crate::metrics::JobStart::default();
    };
    let path = job.ledger_path(&output);
    if !path.exists() {
        return crate::metrics::JobStart::default();
    }
    match crate::ledger::Ledger::open(&path).and_then(|l| l.last_success(&job.name)) {
        Ok(Some((at, counts))) => crate::metrics::JobStart {
            last_success_unix: Some(at),
            districts: Some(counts),
        },
        Ok(None) => crate::metrics::JobStart::default(),
        Err(e) => {
            warn!(job = %job.name, error = %e, "cannot read the run ledger for the metrics");
            crate::metrics::JobStart::default()
        }
    }
}

/// Whether a zone changes its UTC offset during the year (daylight saving).
pub fn has_daylight_saving(tz: Tz, year: i32) -> bool {
    let offsets: Vec<i32> = (1..=12)
        .filter_map(|m| tz.with_ymd_and_hms(year, m, 15, 12, 0, 0).single())
        .map(|t| t.offset().fix().local_minus_utc())
        .collect();
    offsets.windows(2).any(|w| w[0] != w[1])
}

impl ScheduledJob {
    /// Check the job's service settings.
    pub fn new(job: Job) -> Result<ScheduledJob, ServeError> {
        let invalid = |message: String| ServeError::Job {
            path: job.path.clone(),
            message,
        };
        let schedule = job
            .config
            .schedule
            .clone()
            .ok_or_else(|| invalid("`schedule` is required for `fugong serve` (6 fields, seconds first, e.g. \"0 30 1 * * *\")".into()))?;
        if schedule.split_whitespace().count() != 6 {
            return Err(invalid(format!(
                "schedule `{schedule}` must have 6 fields: second minute hour day month weekday (e.g. \"0 30 1 * * *\")"
            )));
        }
        let zone = job
            .config
            .timezone
            .clone()
            .unwrap_or_else(|| "Asia/Shanghai".into());
        let timezone: Tz = zone.parse().map_err(|_| {
            invalid(format!(
                "timezone `{zone}` is not an IANA time zone name such as Asia/Shanghai"
            ))
        })?;
        let year = Utc::now().year();
        if has_daylight_saving(timezone, year) || has_daylight_saving(timezone, year + 1) {
            return Err(invalid(format!(
                "timezone `{zone}` has daylight saving: tokio-cron-scheduler fixes a job's UTC offset when the job is created, so the schedule would run an hour off after each clock change. Use a zone without daylight saving (Asia/Shanghai, UTC, or a fixed offset such as Etc/GMT-8) and write the schedule in it"
            )));
        }
        if tokio_cron_scheduler::Job::new_async_tz(schedule.as_str(), timezone, |_, _| {
            Box::pin(async {})
        })
        .is_err()
        {
            // The scheduler says only "ParseSchedule"; its parser, set up the same way, says why.
            let why = cron_field_problem(&schedule).unwrap_or_else(|| {
                croner::parser::CronParser::builder()
                    .seconds(croner::parser::Seconds::Required)
                    .dom_and_dow(true)
                    .build()
                    .parse(&schedule)
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "rejected by the scheduler".into())
            });
            return Err(invalid(format!(
                "schedule `{schedule}` is not a valid cron expression ({why}); write 6 fields: second minute hour day month weekday, e.g. \"0 30 1 * * *\""
            )));
        }
        Ok(ScheduledJob {
            schedule,
            timezone,
            target: job.config.target.unwrap_or(Target::Yesterday),
            catchup_days: job.config.catchup_days.unwrap_or(DEFAULT_CATCHUP_DAYS),
            lookback_days: job.config.lookback_days.unwrap_or(DEFAULT_LOOKBACK_DAYS),
            shutdown_timeout: Duration::from_secs(
                job.config
                    .shutdown_timeout_secs
                    .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT_SECS),
            ),
            running: Mutex::new(()),
            stopping: AtomicBool::new(false),
            cancel: Arc::new(AtomicBool::new(false)),
            job,
        })
    }

    /// When the schedule fires next after `now`, in the job's zone.
    pub fn next_firing(&self, now: chrono::DateTime<Utc>) -> Option<chrono::DateTime<Tz>> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(&self.schedule)
            .ok()?;
        cron.find_next_occurrence(&now.with_timezone(&self.timezone), false)
            .ok()
    }

    /// The report date a run started now processes.
    pub fn target_date(&self) -> NaiveDate {
        let today = Utc::now().with_timezone(&self.timezone).date_naive();
        match self.target {
            Target::Today => today,
            Target::Yesterday => today.pred_opt().unwrap_or(today),
        }
    }
}

/// Load every `*.toml` of a folder as a scheduled job, checking all of them first (`check`): one
/// problem anywhere and the service does not start, so a bad file never half-starts it.
pub fn load_jobs(dir: &Path) -> Result<Vec<ScheduledJob>, ServeError> {
    let paths = check::job_files(dir)?;
    let (jobs, problems) = check::check_files(&paths);
    if !problems.is_empty() {
        return Err(ServeError::Invalid(problems));
    }
    Ok(jobs)
}

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub isolation: Isolation,
    /// Loopback address of `/healthz` and `/metrics`.
    pub metrics_addr: Option<SocketAddr>,
    /// How long a run waits for another writer of its warehouse.
    pub lock_wait: Duration,
    /// The intake portal (contract §12); None to serve none.
    pub portal: Option<PortalOptions>,
}

/// Where and how the portal listens.
#[derive(Debug, Clone)]
pub struct PortalOptions {
    pub listen: SocketAddr,
    /// PEM certificate chain and private key: HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// How long a request body may take to arrive.
    pub body_deadline: Duration,
}

/// What a trigger asks a job to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    CatchUp,
    Scheduled,
}

/// Run the service until SIGTERM or Ctrl-C.
pub fn serve(jobs: Vec<ScheduledJob>, options: ServeOptions) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError::Scheduler(e.to_string()))?;
    let result = runtime.block_on(serve_async(
        jobs.into_iter().map(Arc::new).collect(),
        options,
    ));
    // A blocking run that did not stop in time must not hold the process: the runtime is dropped
    // without waiting for it (the next start repairs whatever it left).
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn serve_async(
    jobs: Vec<Arc<ScheduledJob>>,
    options: ServeOptions,
) -> Result<(), ServeError> {
    // Every schedule is parsed before anything runs: a bad one stops the start, not a run half-way.
    let mut crons = Vec::new();
    for sj in &jobs {
        let for_schedule = Arc::clone(sj);
        let opts = options.clone();
        let cron = tokio_cron_scheduler::Job::new_async_tz(
            sj.schedule.as_str(),
            sj.timezone,
            move |_id, _scheduler| {
                let sj = Arc::clone(&for_schedule);
                let opts = opts.clone();
                Box::pin(async move { run_exclusive(sj, Work::Scheduled, opts).await })
            },
        )
        .map_err(|e| ServeError::Job {
            path: sj.job.path.clone(),
            message: format!("schedule `{}`: {e}", sj.schedule),
        })?;
        crons.push(cron);
    }
    if let Some(p) = &options.portal {
        start_portal(&jobs, p, &options.isolation).await?;
    }
    // Every series exists from the first scrape, the last success read from the ledger.
    for sj in &jobs {
        crate::metrics::register_job(&sj.job.name, ledger_start(&sj.job));
    }
    if let Some(addr) = options.metrics_addr {
        crate::web::health::spawn_metrics(addr)
            .await
            .map_err(|e| ServeError::Metrics {
                addr: e.addr,
                message: e.message,
            })?;
    }
    let mut scheduler = tokio_cron_scheduler::JobScheduler::new()
        .await
        .map_err(|e| ServeError::Scheduler(e.to_string()))?;
    for cron in crons {
        scheduler
            .add(cron)
            .await
            .map_err(|e| ServeError::Scheduler(e.to_string()))?;
    }
    scheduler
        .start()
        .await
        .map_err(|e| ServeError::Scheduler(e.to_string()))?;
    // Reminders (催报) before the deadlines, for the jobs that have somewhere to send them.
    for sj in jobs.iter().filter(|sj| {
        sj.job.deadline.is_some()
            && sj
                .job
                .notify
                .iter()
                .any(|e| e.events.contains(&crate::notify::Event::Remind))
    }) {
        let sj = Arc::clone(sj);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(REMIND_EVERY);
            loop {
                tick.tick().await;
                if sj.stopping.load(Ordering::SeqCst) {
                    return;
                }
                let job = Arc::clone(&sj);
                let _ = tokio::task::spawn_blocking(move || remind_if_due(&job, Utc::now())).await;
            }
        });
    }
    for sj in &jobs {
        let next = sj
            .next_firing(Utc::now())
            .map(|t| t.format("%Y-%m-%d %H:%M:%S %Z").to_string())
            .unwrap_or_else(|| "never".into());
        // Shown at the default log level too (target `fugong::service`): the operator sees each job's
        // next run when the service starts.
        info!(target: SERVICE_LOG, job = %sj.job.name, schedule = %sj.schedule, timezone = %sj.timezone, next_run = %next, "scheduled: next run {next}");
        let for_catch_up = Arc::clone(sj);
        let opts = options.clone();
        tokio::spawn(async move { run_exclusive(for_catch_up, Work::CatchUp, opts).await });
    }
    info!(target: SERVICE_LOG, jobs = jobs.len(), "serving {} job(s)", jobs.len());

    shutdown_signal().await;
    info!(target: SERVICE_LOG, "shutdown requested: no new runs");
    for sj in &jobs {
        sj.stopping.store(true, Ordering::SeqCst);
    }
    let _ = scheduler.shutdown().await;
    // Every job's run in progress gets its shutdown_timeout_secs, all at the same time.
    let mut waits = tokio::task::JoinSet::new();
    for sj in &jobs {
        let sj = Arc::clone(sj);
        waits.spawn(async move {
            let deadline = sj.shutdown_timeout;
            if tokio::time::timeout(deadline, sj.running.lock())
                .await
                .is_err()
            {
                warn!(job = %sj.job.name, timeout_secs = deadline.as_secs(), "the run in progress did not finish in time: abandoning it");
                sj.cancel.store(true, Ordering::SeqCst);
                // The run stops at its next checkpoint and records itself as abandoned; publishing, once
                // begun, is short and atomic.
                if tokio::time::timeout(ABANDON_GRACE, sj.running.lock())
                    .await
                    .is_err()
                {
                    error!(job = %sj.job.name, "the run did not stop; exiting anyway (the next start repairs the warehouse)");
                }
            }
        });
    }
    while waits.join_next().await.is_some() {}
    info!(target: SERVICE_LOG, "stopped");
    Ok(())
}

/// Open the portal over the jobs and listen.
async fn start_portal(
    jobs: &[Arc<ScheduledJob>],
    p: &PortalOptions,
    isolation: &Isolation,
) -> Result<(), ServeError> {
    let tls = match &p.tls {
        Some((cert, key)) => {
            Some(crate::web::tls_config(cert, key).map_err(|e| ServeError::Portal(e.to_string()))?)
        }
        None => None,
    };
    if tls.is_none() && !p.listen.ip().is_loopback() {
        warn!(target: SERVICE_LOG, addr = %p.listen, "the portal listens on a non-loopback address without TLS: tokens and session cookies would cross the network in clear text. Give --tls-cert/--tls-key, or keep --listen on 127.0.0.1 behind the reverse proxy described in the README (\"The portal behind a reverse proxy\")");
    }
    let mut portal = crate::web::Portal::open(
        jobs.iter().map(|sj| sj.job.clone()).collect(),
        isolation,
        tls.is_some(),
    )
    .map_err(|e| ServeError::Portal(e.to_string()))?;
    portal.body_deadline = p.body_deadline;
    crate::web::spawn(Arc::new(portal), p.listen, tls)
        .await
        .map_err(|e| ServeError::Portal(e.to_string()))?;
    Ok(())
}

/// How long an abandoned run has to reach its next checkpoint before the service exits without it.
const ABANDON_GRACE: Duration = Duration::from_secs(5);

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Run one piece of work unless the job is already running (then this trigger is skipped).
async fn run_exclusive(sj: Arc<ScheduledJob>, work: Work, options: ServeOptions) {
    if sj.stopping.load(Ordering::SeqCst) {
        return;
    }
    let Ok(guard) = sj.running.try_lock() else {
        warn!(job = %sj.job.name, ?work, "the previous run of this job is still in progress: skipping this trigger");
        return;
    };
    let worker = Arc::clone(&sj);
    let result = tokio::task::spawn_blocking(move || execute(&worker, work, &options)).await;
    if let Err(e) = result {
        error!(job = %sj.job.name, error = %e, "a run panicked");
    }
    drop(guard);
}

fn run_options(sj: &ScheduledJob, trigger: Trigger, options: &ServeOptions) -> RunOptions {
    RunOptions {
        isolation: options.isolation.clone(),
        lock_wait: options.lock_wait,
        trigger,
        cancel: Some(Arc::clone(&sj.cancel)),
        ..RunOptions::default()
    }
}

fn execute(sj: &ScheduledJob, work: Work, options: &ServeOptions) {
    let _span = info_span!("job", job = %sj.job.name, work = ?work).entered();
    let session = match Session::open(&sj.job, &run_options(sj, Trigger::Schedule, options)) {
        Ok(s) => s,
        Err(e) => {
            error!(error = %e, "cannot open the warehouse");
            return;
        }
    };
    let target = sj.target_date();
    match work {
        Work::CatchUp => {
            let from = target - chrono::Days::new(u64::from(sj.catchup_days));
            let dates = match unpublished_dates(&session, from, target) {
                Ok(d) => d,
                Err(e) => {
                    error!(error = %e, "cannot read the ledger for catch-up");
                    return;
                }
            };
            // Automatic runs never publish a date before its deadline (contract §13).
            let dates: Vec<NaiveDate> = dates
                .into_iter()
                .filter(|d| past_deadline(sj, *d))
                .collect();
            if !dates.is_empty() {
                info!(dates = ?dates, "catching up");
            }
            for date in dates {
                if sj.stopping.load(Ordering::SeqCst) {
                    return;
                }
                report(
                    &sj.job.name,
                    date,
                    session.run_date(date, &run_options(sj, Trigger::CatchUp, options)),
                );
            }
        }
        Work::Scheduled => {
            if past_deadline(sj, target) {
                report(
                    &sj.job.name,
                    target,
                    session.run_date(target, &run_options(sj, Trigger::Schedule, options)),
                );
            }
            // Late districts are the norm: re-check the previous dates.
            for back in (1..=sj.lookback_days).rev() {
                if sj.stopping.load(Ordering::SeqCst) {
                    return;
                }
                let date = target - chrono::Days::new(u64::from(back));
                match needs_republish(&session, date) {
                    Ok(true) => report(
                        &sj.job.name,
                        date,
                        session.run_date(date, &run_options(sj, Trigger::Lookback, options)),
                    ),
                    Ok(false) => {}
                    Err(e) => {
                        warn!(date = %date, error = %e, "cannot check the date for late submissions")
                    }
                }
            }
        }
    }
}

fn report(job: &str, date: NaiveDate, result: Result<crate::pipeline::RunReport, RunError>) {
    crate::metrics::record_run(job, &result);
    match result {
        Ok(r) => info!(date = %date, rows = r.rows_published, "published"),
        Err(RunError::Abandoned { .. }) => warn!(date = %date, "abandoned by shutdown"),
        Err(e) => error!(date = %date, error = %e, "run failed"),
    }
}

/// How often the service looks whether a reminder is due.
const REMIND_EVERY: Duration = Duration::from_secs(15);

/// Send the reminders that are due now: for each date whose deadline is ahead by at most one of
/// `remind_before_mins`, once per date and offset (claimed in the ledger first, so a restart never
/// sends one again), naming the districts that have not submitted.
pub fn remind_if_due(sj: &ScheduledJob, now: chrono::DateTime<Utc>) {
    let job = &sj.job;
    let Ok(today) = job.today(now) else { return };
    let Ok(output) = job.output_or(None) else {
        return;
    };
    // The dates whose deadline can still be ahead: a deadline is at most 31 days after its date.
    let days = job.deadline.map_or(0, |d| d.days.clamp(0, 31) as u64);
    for back in 0..=days {
        let date = today - chrono::Days::new(back);
        let Some(due) = job.deadline_of(date) else {
            continue;
        };
        if now >= due {
            continue;
        }
        let left = (due - now).num_minutes();
        // The nearest offset that has been reached; earlier ones that were missed (the service was
        // down) are not sent late, the nearest one is.
        let Some(&offset) = job
            .remind_before_mins
            .iter()
            .filter(|m| i64::from(**m) >= left)
            .min()
        else {
            continue;
        };
        let Ok(ledger) = crate::ledger::Ledger::open(&job.ledger_path(&output)) else {
            warn!(job = %job.name, "cannot open the run ledger for the reminders");
            return;
        };
        let published = crate::publish::open(&output)
            .ok()
            .and_then(|w| w.manifest(date).ok().flatten());
        let Ok(board) = crate::web::board::board(job, &ledger, published, date, now, &|_| true)
        else {
            return;
        };
        // A file already in a `dir` inbox counts as submitted (an `http` source is not asked).
        let inbox = match &job.source {
            crate::config::job::Source::Dir { base, template } => Some(
                crate::pull::dir::DirSource::new(base.clone(), template.clone()),
            ),
            _ => None,
        };
        let in_inbox = |code: &str| {
            inbox
                .as_ref()
                .is_some_and(|s| s.files(code, date).is_ok_and(|f| !f.is_empty()))
        };
        let waiting: Vec<crate::notify::DistrictRef> = board
            .districts
            .iter()
            .filter(|l| matches!(l.state, "waiting" | "missing"))
            .filter(|l| !in_inbox(&l.code))
            .filter_map(|l| job.districts.iter().find(|d| d.code == l.code))
            .map(crate::notify::DistrictRef::of)
            .collect();
        if waiting.is_empty() {
            continue;
        }
        let codes: Vec<String> = waiting.iter().map(|d| d.code.clone()).collect();
        match ledger.claim_reminder(&job.name, date, offset, &codes) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                warn!(job = %job.name, error = %e, "cannot record a reminder; not sending it");
                continue;
            }
        }
        info!(job = %job.name, date = %date, minutes_before = offset, districts = codes.len(), "sending reminders");
        let mut n = crate::notify::Notice::new(crate::notify::Event::Remind, &job.name, date);
        n.minutes_before = Some(offset);
        n.deadline = job
            .timezone()
            .ok()
            .map(|tz| due.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string());
        n.districts = waiting;
        n.link = job.public_link("/");
        let ledger = Arc::new(ledger);
        // Delivered here, on the blocking thread: the reminder loop waits for it.
        let endpoints: Vec<_> = crate::notify::endpoints_for(job, &n)
            .into_iter()
            .cloned()
            .collect();
        for e in &endpoints {
            crate::notify::deliver(job, Some(&ledger), e, &n);
        }
    }
}

/// Whether `date`'s deadline has passed (always, without a deadline): automatic runs wait for it, so a
/// district that uploads at 08:59 for a 09:00 deadline is in the published snapshot.
fn past_deadline(sj: &ScheduledJob, date: NaiveDate) -> bool {
    match sj.job.deadline_of(date) {
        Some(due) if Utc::now() < due => {
            info!(date = %date, deadline = %due, "not publishing before the date's deadline; a later run (or its lookback) will");
            false
        }
        _ => true,
    }
}

/// Dates in `from..=to` without a published run in the ledger, oldest first.
fn unpublished_dates(
    session: &Session<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NaiveDate>, RunError> {
    let published = session
        .ledger
        .published_dates(&session.job.name, from, to)?;
    Ok(from
        .iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| !published.contains(d))
        .collect())
}

/// A date must be (re)published when it never was, or when a district's submission changed or arrived
/// since its last run (compared by sha256 with the ledger). A failed pull or a vanished file is not a
/// change: it says nothing new about what the district submitted, and a republish would only keep the
/// previous submission.
fn needs_republish(session: &Session<'_>, date: NaiveDate) -> Result<bool, RunError> {
    let job = session.job;
    if session
        .ledger
        .published_dates(&job.name, date, date)?
        .is_empty()
    {
        return Ok(true);
    }
    session.source().check()?;
    for d in &job.districts {
        let previous = session.ledger.submission(&job.name, date, &d.code)?;
        let before = previous.as_ref().and_then(|p| p.sha256.clone());
        let (pulled, _) = session.source().pull(
            &d.code,
            date,
            job.limits.read.max_file_bytes,
            previous.as_ref(),
        )?;
        let now = match pulled {
            Pulled::Found { info, .. } => Some(info.sha256),
            Pulled::Missing if before.is_some() => continue,
            Pulled::Missing => None,
            Pulled::Problem { info, .. } => info.map(|i| i.sha256).filter(|s| !s.is_empty()),
            Pulled::Unreachable { .. } => continue,
        };
        if now != before {
            info!(date = %date, district_code = %d.code, "submission changed or arrived late");
            return Ok(true);
        }
    }
    Ok(false)
}

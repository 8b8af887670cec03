//! Prometheus metrics of the service (`/metrics` in `fugong serve`): runs by status, last success per job,
//! districts by status in the last run, rows published, pull retries, regressions published and source
//! failures. They observe the run reports they are handed. Registered once per process in the default
//! registry.

use std::sync::LazyLock;

use prometheus::{
    IntCounterVec, IntGaugeVec, Opts, register_int_counter_vec, register_int_gauge_vec,
};

use crate::ledger::{RunCounts, RunStatus};
use crate::pipeline::{RunError, RunReport, run_status};

static RUNS: LazyLock<Option<IntCounterVec>> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new("fugong_runs_total", "Runs by job and final status"),
        &["job", "status"]
    )
    .ok()
});
static LAST_SUCCESS: LazyLock<Option<IntGaugeVec>> = LazyLock::new(|| {
    register_int_gauge_vec!(
        Opts::new(
            "fugong_last_success_timestamp_seconds",
            "Unix time of the last successful run per job (published, or its date found unchanged); from the run ledger at start"
        ),
        &["job"]
    )
    .ok()
});
static DISTRICTS: LazyLock<Option<IntGaugeVec>> = LazyLock::new(|| {
    register_int_gauge_vec!(
        Opts::new(
            "fugong_districts",
            "Districts by submission status in the job's last published run"
        ),
        &["job", "status"]
    )
    .ok()
});
static ROWS: LazyLock<Option<IntCounterVec>> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new("fugong_rows_published_total", "Enterprise rows published"),
        &["job"]
    )
    .ok()
});
static REGRESSIONS: LazyLock<Option<IntCounterVec>> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "fugong_regressions_total",
            "Districts published worse than their previous version (a newly pulled, worse file in an automatic run, or allowed by an operator)"
        ),
        &["job"]
    )
    .ok()
});
static SOURCE_FAILURES: LazyLock<Option<IntCounterVec>> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "fugong_source_failures_total",
            "Runs that failed because the source could not be reached as a whole"
        ),
        &["job"]
    )
    .ok()
});
static NOTIFY_FAILURES: LazyLock<Option<IntCounterVec>> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new(
            "fugong_notify_failures_total",
            "Notices that could not be delivered after every try"
        ),
        &["job"]
    )
    .ok()
});

/// Count a notice that could not be delivered.
pub fn notify_failed(job: &str) {
    if let Some(c) = NOTIFY_FAILURES.as_ref() {
        c.with_label_values(&[job]).inc();
    }
}

static RETRIES: LazyLock<Option<IntCounterVec>> = LazyLock::new(|| {
    register_int_counter_vec!(
        Opts::new("fugong_pull_retries_total", "HTTP pull retries"),
        &["job"]
    )
    .ok()
});

/// Count a finished run from what it returned (`serve` hands every run here).
pub fn record_run(job: &str, result: &Result<RunReport, RunError>) {
    let status = run_status(result);
    if let Some(runs) = RUNS.as_ref() {
        runs.with_label_values(&[job, status.as_str()]).inc();
    }
    let report = match result {
        Ok(report) => report,
        Err(RunError::Source(_)) => {
            if let Some(c) = SOURCE_FAILURES.as_ref() {
                c.with_label_values(&[job]).inc();
            }
            return;
        }
        Err(_) => return,
    };
    if !report.regressions.is_empty()
        && let Some(c) = REGRESSIONS.as_ref()
    {
        c.with_label_values(&[job])
            .inc_by(report.regressions.len() as u64);
    }
    if let Some(g) = LAST_SUCCESS.as_ref() {
        g.with_label_values(&[job])
            .set(chrono::Utc::now().timestamp());
    }
    let counts = report.counts();
    if let Some(g) = DISTRICTS.as_ref() {
        for (s, n) in [
            ("accepted", counts.accepted),
            ("partial", counts.partial),
            ("rejected", counts.rejected),
            ("missing", counts.missing),
        ] {
            g.with_label_values(&[job, s]).set(i64::from(n));
        }
    }
    if let Some(c) = ROWS.as_ref()
        && !report.unchanged
    {
        c.with_label_values(&[job]).inc_by(report.rows_published);
    }
    if let Some(c) = RETRIES.as_ref() {
        c.with_label_values(&[job])
            .inc_by(u64::from(report.pull_retries));
    }
}

/// Every run status a run can end with (the `status` label of `fugong_runs_total`).
const RUN_STATUSES: [RunStatus; 5] = [
    RunStatus::Published,
    RunStatus::Unchanged,
    RunStatus::Failed,
    RunStatus::Refused,
    RunStatus::Abandoned,
];

/// What the run ledger says of a job when the service starts, so that `/metrics` is complete from its
/// first scrape: the last successful run and its district counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobStart {
    /// Unix time of the last run that published (or found its date unchanged).
    pub last_success_unix: Option<i64>,
    /// Districts by status in that run.
    pub districts: Option<RunCounts>,
}

/// Make every series of a job exist: counters at zero, the gauges at their ledger values (or zero).
/// An alert on staleness (`time() - fugong_last_success_timestamp_seconds`) then works right after a
/// restart.
pub fn register_job(job: &str, start: JobStart) {
    if let Some(runs) = RUNS.as_ref() {
        for status in RUN_STATUSES {
            runs.with_label_values(&[job, status.as_str()]);
        }
    }
    for counter in [
        &*ROWS,
        &*RETRIES,
        &*REGRESSIONS,
        &*SOURCE_FAILURES,
        &*NOTIFY_FAILURES,
    ]
    .into_iter()
    .flatten()
    {
        counter.with_label_values(&[job]);
    }
    if let Some(g) = LAST_SUCCESS.as_ref() {
        g.with_label_values(&[job])
            .set(start.last_success_unix.unwrap_or(0));
    }
    let counts = start.districts.unwrap_or_default();
    if let Some(g) = DISTRICTS.as_ref() {
        for (s, n) in [
            ("accepted", counts.accepted),
            ("partial", counts.partial),
            ("rejected", counts.rejected),
            ("missing", counts.missing),
        ] {
            g.with_label_values(&[job, s]).set(i64::from(n));
        }
    }
}

/// Every metric in the Prometheus text format.
pub fn render() -> String {
    // Make sure every family exists even before the first run.
    let _ = (
        &*RUNS,
        &*LAST_SUCCESS,
        &*DISTRICTS,
        &*ROWS,
        &*RETRIES,
        &*REGRESSIONS,
        &*SOURCE_FAILURES,
        &*NOTIFY_FAILURES,
    );
    let encoder = prometheus::TextEncoder::new();
    encoder
        .encode_to_string(&prometheus::gather())
        .unwrap_or_default()
}

//! `fugong check`, and what `serve` runs before it does anything: load every job fully, as the service
//! would (schema, cron parsed in its zone, daylight-saving refusal, the source's folder or URL template,
//! the token, an output and a ledger that can be written), and report every problem with its file and
//! key. Nothing is written but a probe file that is removed at once.

use std::path::{Path, PathBuf};

use super::{ScheduledJob, ServeError};
use crate::config::Job;
use crate::config::job::Source;

/// One problem of one job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// Every problem, one per line.
pub fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Can a file be created in `dir`, or in its nearest existing ancestor when it does not exist yet?
fn writable(dir: &Path) -> Result<(), String> {
    let mut probe_dir = dir.to_path_buf();
    while !probe_dir.exists() {
        match probe_dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => probe_dir = p.to_path_buf(),
            _ => probe_dir = PathBuf::from("."),
        }
    }
    if !probe_dir.is_dir() {
        return Err(format!("{} is not a folder", probe_dir.display()));
    }
    let probe = probe_dir.join(format!(".fugong-check-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("cannot create files in {}: {e}", probe_dir.display()))
}

/// Check one job file; returns the job when it is usable, and its problems.
pub fn check_file(path: &Path) -> (Option<ScheduledJob>, Vec<Problem>) {
    let problem = |message: String| Problem {
        file: path.to_path_buf(),
        message,
    };
    let job = match Job::load(path) {
        Ok(job) => job,
        Err(crate::config::ConfigError::Invalid { message, .. }) => {
            return (
                None,
                message.lines().map(|l| problem(l.to_string())).collect(),
            );
        }
        // The file is named once, by the problem line.
        Err(crate::config::ConfigError::Parse { what, message, .. }) => {
            return (
                None,
                vec![problem(format!("not a valid {what} file: {message}"))],
            );
        }
        Err(e) => return (None, vec![problem(e.to_string())]),
    };
    let mut problems = Vec::new();
    match &job.source {
        Source::Dir { base, template } => {
            if let Err(e) = crate::pull::dir::DirSource::new(base.clone(), template.clone()).check()
            {
                problems.push(problem(format!("[source] path: {e}")));
            }
        }
        Source::Http(settings) => {
            let sample = crate::pull::expand_template(
                &settings.url,
                &job.districts
                    .first()
                    .map(|d| d.code.clone())
                    .unwrap_or_default(),
                chrono::Utc::now().date_naive(),
            );
            match reqwest::Url::parse(&sample) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                Ok(url) => problems.push(problem(format!(
                    "[source] url: `{}` is not http or https",
                    url.scheme()
                ))),
                Err(e) => problems.push(problem(format!(
                    "[source] url: `{sample}` is not a URL: {e}"
                ))),
            }
            if let Some(var) = &settings.token_env
                && std::env::var_os(var).is_none()
            {
                problems.push(problem(format!(
                    "[source] token_env: the environment variable {var} is not set"
                )));
            }
        }
        Source::Upload => {}
    }
    match &job.output {
        crate::config::job::Output::Local(dir) => {
            if let Err(m) = writable(dir) {
                problems.push(problem(format!("output: {m}")));
            }
        }
        crate::config::job::Output::Delta { .. } => {
            // Reaching the store is checked by opening it (credentials, endpoint, bucket).
            if let Err(e) =
                crate::publish::open(&job.output).and_then(|w| w.published_dates().map(|_| ()))
            {
                problems.push(problem(format!("output: {e}")));
            }
        }
    }
    let ledger = job.ledger_path(&job.output);
    if let Err(m) = writable(ledger.parent().unwrap_or(Path::new("."))) {
        problems.push(problem(format!("ledger: {m}")));
    }
    match ScheduledJob::new(job) {
        Ok(sj) if problems.is_empty() => (Some(sj), problems),
        Ok(_) => (None, problems),
        Err(ServeError::Job { message, .. }) => {
            problems.push(problem(message));
            (None, problems)
        }
        Err(e) => {
            problems.push(problem(e.to_string()));
            (None, problems)
        }
    }
}

/// The job files of a folder (`*.toml`), sorted.
pub fn job_files(dir: &Path) -> Result<Vec<PathBuf>, ServeError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ServeError::Dir {
            path: dir.to_path_buf(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(ServeError::NoJobs(dir.to_path_buf()));
    }
    Ok(paths)
}

/// Check job files together: each one, and that no two share a name.
pub fn check_files(paths: &[PathBuf]) -> (Vec<ScheduledJob>, Vec<Problem>) {
    let mut jobs: Vec<ScheduledJob> = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let (job, mut found) = check_file(path);
        problems.append(&mut found);
        if let Some(job) = job {
            if let Some(other) = jobs.iter().find(|j| j.job.name == job.job.name) {
                problems.push(Problem {
                    file: path.clone(),
                    message: format!(
                        "name: `{}` is also the name of {}; every job needs its own name (the ledger and the manifests tell jobs apart by it)",
                        job.job.name,
                        other.job.path.display()
                    ),
                });
            } else {
                jobs.push(job);
            }
        }
    }
    (jobs, problems)
}

/// A schedule that fires before its target date's deadline (contract §13): automatic runs wait for the
/// deadline, so such a firing publishes nothing and the date waits for the next day's lookback.
pub fn deadline_warning(sj: &ScheduledJob, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let deadline = sj.job.deadline?;
    let fires = sj.next_firing(now)?;
    let fires_utc = fires.with_timezone(&chrono::Utc);
    let today = fires.date_naive();
    let target = match sj.target {
        crate::config::job::Target::Today => today,
        crate::config::job::Target::Yesterday => today.pred_opt()?,
    };
    let due = deadline.at(target, sj.timezone)?;
    (fires_utc < due).then(|| {
        format!(
            "schedule `{}` fires at {} ({}), before the target date {target}'s deadline {} (deadline = \"+{} {}\"): automatic runs never publish before the deadline, so that firing publishes nothing and {target} waits for the next day's lookback; schedule the run after the deadline",
            sj.schedule,
            fires.format("%H:%M:%S"),
            sj.timezone,
            due.with_timezone(&sj.timezone).format("%Y-%m-%d %H:%M"),
            deadline.days,
            deadline.time.format("%H:%M"),
        )
    })
}

//! Publish stage: one date's four tables become Parquet partitions under the warehouse, atomically.
//!
//! 1. Every table is written to `_staging/<date>.<pid>.<n>/<table>/part-00000-<hash>.parquet`, fsynced.
//! 2. A journal (`_state/journal/<date>.json`, written by rename) records the staging folder and files.
//! 3. The date's old manifest is removed, then each partition is swapped in with one rename
//!    (`renameat2(RENAME_EXCHANGE)` when the partition exists, plain rename when it does not).
//! 4. The manifest is written last; then the journal and the staging folder (holding the old partitions)
//!    are removed. A date whose manifest exists is complete.
//!
//! A crash at any point is repaired by `recover`, which every run calls first (under the output lock): a
//! journal means staging was complete, so the swap is rolled forward; a staging folder without a journal
//! was never complete and is removed (rolled back).

pub mod lock;
pub mod manifest;
pub mod parquet_io;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::records::DayBatches;
pub use lock::OutputLock;
pub use manifest::Manifest;

/// Why a date could not be published. Each says what the operator should check.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "cannot write to the warehouse at {path}: {source} (check that the folder exists, is writable and the disk is not full)"
    )]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode {table} as Parquet: {source}")]
    Parquet {
        table: String,
        source: parquet::errors::ParquetError,
    },
    #[error(
        "the publish journal {path} is unreadable: {message} (move it aside after checking the partitions of that date)"
    )]
    Journal { path: PathBuf, message: String },
    #[error("publish of {date} stopped by an injected failure after {step}")]
    Injected { date: NaiveDate, step: String },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Test hook: stop a publish after this many partition swaps, as a crash would.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailPoint {
    /// Stop after this many tables are written to staging (before the journal).
    pub after_staged_files: Option<usize>,
    /// Stop after this many partition swaps.
    pub after_swaps: Option<usize>,
}

/// The journal of one date's publish in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    report_date: NaiveDate,
    /// Folder name under `_staging`.
    staging: String,
    /// (table, file name) for every table.
    files: Vec<(String, String)>,
    manifest: Manifest,
}

/// `<output>/<table>/snapshot_date=<date>`
pub fn partition_dir(output: &Path, table: &str, date: NaiveDate) -> PathBuf {
    output.join(table).join(format!("snapshot_date={date}"))
}

pub fn manifest_path(output: &Path, date: NaiveDate) -> PathBuf {
    output.join("_manifests").join(format!("{date}.json"))
}

fn journal_dir(output: &Path) -> PathBuf {
    output.join("_state").join("journal")
}

fn staging_root(output: &Path) -> PathBuf {
    output.join("_staging")
}

/// fsync a directory so that the renames in it are durable.
fn sync_dir(path: &Path) -> Result<(), PublishError> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path))
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let mut f = fs::File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Write `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename, fsync folder.
pub fn replace_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    write_durably(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    sync_dir(dir)
}

/// Swap the staged partition into place with one rename.
fn swap_in(staged: &Path, live: &Path) -> Result<(), PublishError> {
    let parent = live.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_err(parent))?;
    if live.exists() {
        exchange(staged, live)?;
    } else {
        fs::rename(staged, live).map_err(io_err(live))?;
    }
    sync_dir(parent)?;
    if let Some(p) = staged.parent() {
        sync_dir(p)?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<(), PublishError> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(|e| PublishError::Io {
        path: b.to_path_buf(),
        source: e.into(),
    })
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> Result<(), PublishError> {
    // Without an atomic exchange: move the live partition aside, then the new one in.
    let aside = a.with_extension("old");
    fs::rename(b, &aside).map_err(io_err(b))?;
    fs::rename(a, b).map_err(io_err(b))?;
    fs::rename(&aside, a).map_err(io_err(a))
}

fn has_file(dir: &Path, file: &str) -> bool {
    dir.join(file).is_file()
}

static STAGING_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Publish one date. The caller holds the output lock.
pub fn publish_day(
    output: &Path,
    date: NaiveDate,
    batches: &DayBatches,
    manifest: &Manifest,
    fail: FailPoint,
) -> Result<(), PublishError> {
    publish_tables(output, date, &batches.tables(), manifest, fail)
}

/// Replace some of a date's partitions (all four for a run; only `city_daily` when a later date's
/// day-over-day change is refreshed), with the same staging, journal and manifest discipline.
pub fn publish_tables(
    output: &Path,
    date: NaiveDate,
    tables: &[(&'static str, Vec<&arrow::array::RecordBatch>)],
    manifest: &Manifest,
    fail: FailPoint,
) -> Result<(), PublishError> {
    use rayon::prelude::*;
    recover(output)?;
    let staging_name = format!(
        "{date}.{}.{}",
        std::process::id(),
        STAGING_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let staging = staging_root(output).join(&staging_name);
    fs::create_dir_all(&staging).map_err(io_err(&staging))?;
    // Encode every file in parallel; write them in order.
    let jobs: Vec<(&'static str, usize, &arrow::array::RecordBatch)> = tables
        .iter()
        .flat_map(|(table, batches)| {
            batches
                .iter()
                .enumerate()
                .map(move |(i, b)| (*table, i, *b))
        })
        .collect();
    let encoded: Vec<(&'static str, usize, Vec<u8>)> = jobs
        .par_iter()
        .map(|&(table, part, batch)| {
            parquet_io::encode(batch)
                .map(|bytes| (table, part, bytes))
                .map_err(|source| PublishError::Parquet {
                    table: table.to_string(),
                    source,
                })
        })
        .collect::<Result<_, _>>()?;
    let mut files: Vec<(String, String)> = Vec::new();
    for (table, part, bytes) in &encoded {
        if fail.after_staged_files == Some(files.len()) {
            return Err(PublishError::Injected {
                date,
                step: format!("{} staged file(s)", files.len()),
            });
        }
        tracing::debug!(table, part, bytes = bytes.len(), "encoded");
        let file = parquet_io::file_name(*part, bytes);
        let dir = staging.join(table);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        write_durably(&dir.join(&file), bytes)?;
        files.push((table.to_string(), file));
    }
    for (table, _) in tables {
        sync_dir(&staging.join(table))?;
    }
    sync_dir(&staging)?;
    tracing::debug!("staged");
    let mut manifest = manifest.clone();
    for (table, batches) in tables {
        manifest.tables.insert(
            table.to_string(),
            manifest::ManifestTable {
                rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
                files: files
                    .iter()
                    .filter(|(t, _)| t == table)
                    .map(|(_, f)| f.clone())
                    .collect(),
            },
        );
    }
    let journal = Journal {
        report_date: date,
        staging: staging_name,
        files,
        manifest,
    };
    let journal_path = journal_dir(output).join(format!("{date}.json"));
    let journal_bytes = serde_json::to_vec_pretty(&journal).map_err(|e| PublishError::Journal {
        path: journal_path.clone(),
        message: e.to_string(),
    })?;
    replace_file_atomically(&journal_path, &journal_bytes)?;
    complete(output, &journal, &journal_path, fail)
}

/// Roll a journalled publish forward: remove the old manifest, swap what is not swapped yet, write the
/// manifest, clean up.
fn complete(
    output: &Path,
    journal: &Journal,
    journal_path: &Path,
    fail: FailPoint,
) -> Result<(), PublishError> {
    let date = journal.report_date;
    let manifest_file = manifest_path(output, date);
    if manifest_file.exists() {
        fs::remove_file(&manifest_file).map_err(io_err(&manifest_file))?;
        if let Some(dir) = manifest_file.parent() {
            sync_dir(dir)?;
        }
    }
    let staging = staging_root(output).join(&journal.staging);
    let mut swaps = 0;
    let mut tables: Vec<&str> = journal.files.iter().map(|(t, _)| t.as_str()).collect();
    tables.dedup();
    for table in tables {
        let live = partition_dir(output, table, date);
        let swapped = journal
            .files
            .iter()
            .filter(|(t, _)| t == table)
            .all(|(_, f)| has_file(&live, f));
        if swapped {
            continue;
        }
        if fail.after_swaps == Some(swaps) {
            return Err(PublishError::Injected {
                date,
                step: format!("{swaps} swap(s)"),
            });
        }
        swap_in(&staging.join(table), &live)?;
        swaps += 1;
    }
    let manifest_bytes = journal.manifest.to_json_bytes();
    replace_file_atomically(&manifest_file, &manifest_bytes)?;
    fs::remove_file(journal_path).map_err(io_err(journal_path))?;
    if let Some(dir) = journal_path.parent() {
        sync_dir(dir)?;
    }
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    Ok(())
}

/// Repair what an interrupted publish left: roll journalled dates forward, remove unjournalled staging.
/// Returns the dates that were rolled forward.
pub fn recover(output: &Path) -> Result<Vec<NaiveDate>, PublishError> {
    let mut rolled = Vec::new();
    let jdir = journal_dir(output);
    let mut referenced = std::collections::HashSet::new();
    if jdir.is_dir() {
        let mut entries: Vec<PathBuf> = fs::read_dir(&jdir)
            .map_err(io_err(&jdir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        entries.sort();
        for path in entries {
            let journal: Journal = match fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_slice(&text).map_err(|e| e.to_string()))
            {
                Ok(j) => j,
                Err(message) => {
                    // Another date's broken journal must not stop this publish; it stays for an operator.
                    tracing::error!(journal = %path.display(), %message, "cannot read a publish journal");
                    continue;
                }
            };
            referenced.insert(journal.staging.clone());
            tracing::warn!(date = %journal.report_date, "rolling forward an interrupted publish");
            match complete(output, &journal, &path, FailPoint::default()) {
                Ok(()) => rolled.push(journal.report_date),
                Err(e) => {
                    tracing::error!(date = %journal.report_date, error = %e, "cannot complete an interrupted publish yet; it will be retried")
                }
            }
        }
    }
    let root = staging_root(output);
    if root.is_dir() {
        for entry in fs::read_dir(&root).map_err(io_err(&root))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !referenced.contains(&name) {
                tracing::info!(staging = %name, "removing an incomplete staging folder");
                fs::remove_dir_all(entry.path()).map_err(io_err(&entry.path()))?;
            }
        }
    }
    Ok(rolled)
}

/// The manifest of a published date.
pub fn read_manifest(output: &Path, date: NaiveDate) -> Result<Manifest, PublishError> {
    let path = manifest_path(output, date);
    let text = fs::read(&path).map_err(io_err(&path))?;
    serde_json::from_slice(&text).map_err(|e| PublishError::Journal {
        path,
        message: e.to_string(),
    })
}

/// Dates with a manifest (complete snapshots), ascending.
pub fn published_dates(output: &Path) -> Vec<NaiveDate> {
    let dir = output.join("_manifests");
    let mut dates: Vec<NaiveDate> = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            NaiveDate::parse_from_str(name.strip_suffix(".json")?, "%Y-%m-%d").ok()
        })
        .collect();
    dates.sort();
    dates
}

//! Versions of a published date (contract §9): the live one (its partitions under the table folders and
//! `_manifests/<date>.json`) and the replaced ones kept whole under `_versions/<date>/<n>/` (each table's
//! partition files and the `manifest.json` they were published with), `keep_versions` in all per date.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use super::fsx::{file_names, remove_dir_durable};
use super::{Manifest, PublishError, manifest_path, partition_dir, read_manifest_file};

/// `<output>/_versions/<date>`
pub fn versions_dir(output: &Path, date: NaiveDate) -> PathBuf {
    output.join("_versions").join(date.to_string())
}

/// The archived version numbers of a date, ascending.
fn archived_numbers(output: &Path, date: NaiveDate) -> Result<Vec<u32>, PublishError> {
    let mut numbers: Vec<u32> = file_names(&versions_dir(output, date))?
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// The number the next publish of `date` gets: one more than any version it ever had.
pub fn next_version(output: &Path, date: NaiveDate) -> Result<u32, PublishError> {
    let live = match std::fs::metadata(manifest_path(output, date)) {
        Ok(_) => read_manifest_file(&manifest_path(output, date))?.effective_version(),
        Err(_) => 0,
    };
    let archived = archived_numbers(output, date)?.last().copied().unwrap_or(0);
    Ok(live.max(archived) + 1)
}

/// One line of `fugong versions`.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: u32,
    pub live: bool,
    pub published_at: Option<String>,
    pub trigger: Option<String>,
    pub restored_version: Option<u32>,
    pub note: Option<String>,
    pub accepted: u32,
    pub partial: u32,
    pub rejected: u32,
    pub missing: u32,
    pub kept_previous: u32,
    /// Rows per table.
    pub rows: std::collections::BTreeMap<String, u64>,
    /// Where the version's partitions are: `<dir>/<table>/` for an archived version; the live one is
    /// under the table folders.
    #[serde(skip)]
    pub dir: Option<PathBuf>,
    #[serde(skip)]
    pub manifest: Manifest,
}

impl VersionInfo {
    pub fn of(manifest: Manifest, live: bool, dir: Option<PathBuf>) -> VersionInfo {
        let [accepted, partial, rejected, missing, kept_previous] = manifest.status_counts();
        VersionInfo {
            version: manifest.effective_version(),
            live,
            published_at: manifest.published_at.clone(),
            trigger: manifest.trigger.clone(),
            restored_version: manifest.restored_version,
            note: manifest.note.clone(),
            accepted,
            partial,
            rejected,
            missing,
            kept_previous,
            rows: manifest
                .tables
                .iter()
                .map(|(t, m)| (t.clone(), m.rows))
                .collect(),
            dir,
            manifest,
        }
    }

    /// The folder holding this version's partition of `table`.
    pub fn partition(&self, output: &Path, table: &str, date: NaiveDate) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.join(table),
            None => partition_dir(output, table, date),
        }
    }
}

/// Every version of a date, oldest first; the live one last.
pub fn list(output: &Path, date: NaiveDate) -> Result<Vec<VersionInfo>, PublishError> {
    let mut out = Vec::new();
    for n in archived_numbers(output, date)? {
        let dir = versions_dir(output, date).join(n.to_string());
        let manifest = read_manifest_file(&dir.join("manifest.json"))?;
        out.push(VersionInfo::of(manifest, false, Some(dir)));
    }
    if let Some(live) = super::read_manifest_if_published(output, date)? {
        out.push(VersionInfo::of(live, true, None));
    }
    out.sort_by_key(|v| (v.version, v.live));
    Ok(out)
}

/// Keep the newest `keep` versions of a date (the live one included); remove older archived ones.
pub fn prune(output: &Path, date: NaiveDate, keep: u32) -> Result<(), PublishError> {
    let archived = archived_numbers(output, date)?;
    let keep_archived = usize::try_from(keep.saturating_sub(1)).unwrap_or(usize::MAX);
    if archived.len() > keep_archived {
        for n in &archived[..archived.len() - keep_archived] {
            let dir = versions_dir(output, date).join(n.to_string());
            tracing::debug!(date = %date, version = n, "removing an old version");
            remove_dir_durable(&dir)?;
        }
    }
    Ok(())
}

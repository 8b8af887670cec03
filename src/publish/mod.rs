//! Publish stage: a date's tables become Parquet partitions under the warehouse, atomically, as a new
//! version of that date (contract §4, §9).
//!
//! A publish is a `Transaction` of one or more dates (a run's date, plus the later date whose
//! day-over-day change it refreshes):
//!
//! 1. **Stage.** Every file is written to `_staging/<id>/<date>/new/<table>/` and fsynced; the live
//!    version of the date (its partitions, hard-linked, and its manifest) is gathered in
//!    `_staging/<id>/<date>/old/`. Nothing a reader sees has changed.
//! 2. **Journal.** `_state/journal/<id>.json` (written atomically) records every date, its new version,
//!    the files of every table and the manifest to write. From here on the publish is rolled forward.
//! 3. **Swap.** Per date: the live manifest is removed, then each partition is swapped in with one
//!    `renameat2(RENAME_EXCHANGE)` (a plain rename when the partition is new). A reader of a table sees the
//!    whole old partition or the whole new one, never a mix.
//! 4. **Manifest.** Written last, atomically: a date whose manifest exists is complete.
//! 5. **Archive.** The replaced version moves to `_versions/<date>/<n>/` (outside the table folders, so
//!    analysts' globs never see it); the oldest archived versions beyond `keep_versions` are removed.
//!
//! `recover`, which every run calls first under the warehouse lock, completes a journalled transaction
//! (every step above is idempotent: a table is taken as swapped only when its live file set equals the
//! journal's) and removes staging folders that no journal names (rolled back).

pub mod delta;
pub mod fsx;
pub mod local;
pub mod lock;
pub mod manifest;
pub mod parquet_io;
pub mod versions;
pub mod warehouse;

pub use local::LocalWarehouse;

/// Open the warehouse a job's `output` names.
pub fn open(
    output: &crate::config::job::Output,
) -> Result<std::sync::Arc<dyn Warehouse>, PublishError> {
    use crate::config::job::Output;
    Ok(match output {
        Output::Local(path) => std::sync::Arc::new(LocalWarehouse::new(path)),
        Output::Delta { url, storage } => {
            std::sync::Arc::new(delta::DeltaWarehouse::open(url, storage)?)
        }
    })
}
pub use warehouse::{Publication, PublishedSchema, Warehouse};

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use fsx::{
    create_dir_durable, file_names, io_err, link_or_copy, remove_dir_durable, remove_file_durable,
    rename_durable, replace_file_atomically, swap_in, sync_dir, write_file_synced,
};
pub use lock::OutputLock;
pub use manifest::Manifest;

/// Why a date could not be published. Each says what the operator should check.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(
        "cannot write to the warehouse at {path}: {source} (check that the folder exists, is writable and the disk is not full; what was published before is unchanged)"
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
        "the publish journal {path} is unusable: {message} (move it aside after checking the partitions of its dates)"
    )]
    Journal { path: PathBuf, message: String },
    #[error("the manifest of {date} cannot be written as JSON: {message}")]
    Manifest { date: NaiveDate, message: String },
    #[error("the manifest {path} is unreadable: {message}")]
    ManifestUnreadable { path: PathBuf, message: String },
    #[error("publish stopped by an injected failure at {step}")]
    Injected { step: String },
    #[error(
        "another writer published {date} while this run was publishing it, and started after this run did, so its snapshot is the live one and this run's is not (nothing of this run is left mixed in); run again if this run's inputs should be published"
    )]
    Superseded { date: NaiveDate },
    #[error(
        "the Delta Lake warehouse failed at {what}: {message} (check the store's address, the AWS_* credentials and that the bucket exists; what was published before is unchanged)"
    )]
    Delta { what: String, message: String },
}

/// A failpoint of the publish protocol (the `fail` crate, compiled in only with the `failpoints`
/// feature, which the test suite enables). Configured as `return(crash)` it kills the process on the
/// spot, as `kill -9` would; as `return(rendezvous:DIR)` it waits there for a test to say go (see
/// [`rendezvous`]); as `return` it makes the step fail with `PublishError::Injected`.
#[cfg(feature = "failpoints")]
macro_rules! failpoint {
    ($name:literal) => {
        if let Some(arg) = fail::eval($name, |arg: Option<String>| arg) {
            match arg.as_deref() {
                Some("crash") => $crate::publish::crash_now($name),
                Some(a) if a.starts_with("rendezvous:") => {
                    $crate::publish::rendezvous($name, &a["rendezvous:".len()..])
                }
                _ => {
                    return Err($crate::publish::PublishError::Injected {
                        step: $name.to_string(),
                    }
                    .into());
                }
            }
        }
    };
}
#[cfg(not(feature = "failpoints"))]
macro_rules! failpoint {
    ($name:literal) => {};
}
#[allow(unused_imports)] // used in this module by textual scope; exported for the other stages
pub(crate) use failpoint;

/// Die at once, as a `kill -9` would: no destructor, no cleanup, no flush.
#[cfg(feature = "failpoints")]
pub fn crash_now(step: &str) -> ! {
    eprintln!("failpoint {step}: killing this process");
    let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    std::process::abort()
}

/// Stop at a failpoint until another process says go: write `<dir>/waiting` (naming the step), then
/// wait for `<dir>/go` (at most two minutes). Lets a test order two real processes exactly, where a
/// sleep would only make an interleaving likely.
#[cfg(feature = "failpoints")]
pub fn rendezvous(step: &str, dir: &str) {
    let dir = Path::new(dir);
    let _ = std::fs::write(dir.join("waiting"), step);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !dir.join("go").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
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

/// The bytes of one file to publish.
#[derive(Debug)]
pub enum FileContent {
    /// Encoded now.
    Bytes(Vec<u8>),
    /// An already published file (a rollback restores an archived version's files as they are).
    Existing(PathBuf),
    /// Already written to this transaction's staging with `Transaction::write_part`.
    InStaging,
    /// A file a Delta table already holds (a rollback adds it again as it is).
    Published {
        path: String,
        size: i64,
        rows: u64,
        stats: Option<String>,
    },
}

#[derive(Debug)]
pub struct StagedFile {
    pub name: String,
    pub content: FileContent,
}

/// One table's new partition.
#[derive(Debug)]
pub struct StagedTable {
    pub table: String,
    pub files: Vec<StagedFile>,
    pub rows: u64,
}

/// One table of a journalled date: the exact set of files its partition holds once swapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct JournalTable {
    table: String,
    files: Vec<String>,
}

/// One date of a journalled transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JournalDate {
    date: NaiveDate,
    /// The version this publish creates.
    version: u32,
    /// The live version it replaces (archived to `_versions/<date>/<n>`), if any.
    replaced: Option<u32>,
    tables: Vec<JournalTable>,
    manifest: Manifest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    /// The staging folder under `_staging`.
    id: String,
    dates: Vec<JournalDate>,
}

static TRANSACTION_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A publish in preparation: stage dates, then `commit`. Dropped without a commit, its staging folder is
/// removed (and a crash leaves it for `recover` to remove).
pub struct Transaction {
    output: PathBuf,
    id: String,
    staging: PathBuf,
    dates: Vec<JournalDate>,
    keep_versions: u32,
    published_at: String,
    committed: bool,
}

impl Transaction {
    /// Start a transaction. The caller holds the warehouse lock and has called `recover`.
    pub fn begin(output: &Path, keep_versions: u32) -> Result<Transaction, PublishError> {
        let now = chrono::Utc::now();
        let id = format!(
            "{}-{}-{}",
            now.format("%Y%m%dT%H%M%S%3f"),
            std::process::id(),
            TRANSACTION_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let staging = staging_root(output).join(&id);
        create_dir_durable(&staging)?;
        Ok(Transaction {
            output: output.to_path_buf(),
            id,
            staging,
            dates: Vec::new(),
            keep_versions: keep_versions.max(1),
            published_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            committed: false,
        })
    }

    /// The dates staged so far.
    pub fn dates(&self) -> Vec<NaiveDate> {
        self.dates.iter().map(|d| d.date).collect()
    }

    /// Write one file of a table of `date` to staging now (a large table is written part by part as it
    /// is built); name it in `stage` with `FileContent::InStaging`.
    pub fn write_part(
        &mut self,
        date: NaiveDate,
        table: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), PublishError> {
        let dir = self.staging.join(date.to_string()).join("new").join(table);
        create_dir_durable(&dir)?;
        write_file_synced(&dir.join(name), bytes)
    }

    /// Stage a new version of `date` made of `tables` (the date's other tables stay as they are live).
    /// `manifest` describes the new version; its version, time and table entries are filled in here.
    /// Returns the new version number.
    pub fn stage(
        &mut self,
        date: NaiveDate,
        tables: Vec<StagedTable>,
        mut manifest: Manifest,
    ) -> Result<u32, PublishError> {
        let date_dir = self.staging.join(date.to_string());
        let new_dir = date_dir.join("new");
        create_dir_durable(&new_dir)?;
        let mut journal_tables = Vec::new();
        for t in &tables {
            let dir = new_dir.join(&t.table);
            create_dir_durable(&dir)?;
            for f in &t.files {
                let path = dir.join(&f.name);
                match &f.content {
                    FileContent::Bytes(bytes) => write_file_synced(&path, bytes)?,
                    FileContent::Existing(from) => link_or_copy(from, &path)?,
                    FileContent::InStaging if path.is_file() => {}
                    FileContent::InStaging => {
                        return Err(PublishError::Journal {
                            path,
                            message: "a part written to staging is gone".into(),
                        });
                    }
                    FileContent::Published { .. } => {
                        return Err(PublishError::Journal {
                            path,
                            message: "a Delta file cannot be published to a local warehouse".into(),
                        });
                    }
                }
            }
            sync_dir(&dir)?;
            journal_tables.push(JournalTable {
                table: t.table.clone(),
                files: t.files.iter().map(|f| f.name.clone()).collect(),
            });
            manifest.tables.insert(
                t.table.clone(),
                manifest::ManifestTable {
                    rows: t.rows,
                    files: t.files.iter().map(|f| f.name.clone()).collect(),
                    delta_version: None,
                },
            );
        }
        sync_dir(&new_dir)?;
        let live = read_manifest_if_published(&self.output, date)?;
        let replaced = live.as_ref().map(Manifest::effective_version);
        if let Some(live) = &live {
            self.gather_old(date, live, &date_dir.join("old"))?;
        }
        let version = versions::next_version(&self.output, date)?;
        manifest.version = version;
        manifest.published_at = Some(self.published_at.clone());
        // Proven serialisable before anything is swapped: a manifest is never written empty.
        manifest
            .to_json_bytes()
            .map_err(|e| PublishError::Manifest {
                date,
                message: e.to_string(),
            })?;
        sync_dir(&date_dir)?;
        self.dates.push(JournalDate {
            date,
            version,
            replaced,
            tables: journal_tables,
            manifest,
        });
        Ok(version)
    }

    /// Hard-link the live version's partitions and copy its manifest into `old`, so that version is
    /// complete in `_versions/<date>/<n>/` once replaced.
    fn gather_old(&self, date: NaiveDate, live: &Manifest, old: &Path) -> Result<(), PublishError> {
        create_dir_durable(old)?;
        for table in live.tables.keys() {
            let from = partition_dir(&self.output, table, date);
            let to = old.join(table);
            create_dir_durable(&to)?;
            for name in file_names(&from)? {
                link_or_copy(&from.join(&name), &to.join(&name))?;
            }
            sync_dir(&to)?;
        }
        let manifest = manifest_path(&self.output, date);
        let bytes = fs::read(&manifest).map_err(io_err(&manifest))?;
        write_file_synced(&old.join("manifest.json"), &bytes)?;
        sync_dir(old)
    }

    /// Write the journal and carry the transaction through. Returns each date with its new version.
    pub fn commit(mut self) -> Result<Vec<(NaiveDate, u32)>, PublishError> {
        sync_dir(&self.staging)?;
        sync_dir(&staging_root(&self.output))?;
        failpoint!("publish::after-staging");
        let journal = Journal {
            id: self.id.clone(),
            dates: std::mem::take(&mut self.dates),
        };
        let path = journal_dir(&self.output).join(format!("{}.json", self.id));
        let bytes = serde_json::to_vec_pretty(&journal).map_err(|e| PublishError::Journal {
            path: path.clone(),
            message: e.to_string(),
        })?;
        replace_file_atomically(&path, &bytes)?;
        self.committed = true;
        failpoint!("publish::after-journal");
        complete(&self.output, &journal, &path, Some(self.keep_versions))?;
        Ok(journal.dates.iter().map(|d| (d.date, d.version)).collect())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// Carry a journalled transaction through; every step is idempotent, so this is also how `recover`
/// rolls an interrupted one forward.
fn complete(
    output: &Path,
    journal: &Journal,
    journal_path: &Path,
    keep_versions: Option<u32>,
) -> Result<(), PublishError> {
    let staging = staging_root(output).join(&journal.id);
    for (i, d) in journal.dates.iter().enumerate() {
        if i > 0 {
            failpoint!("publish::before-next-date");
        }
        let date_dir = staging.join(d.date.to_string());
        let manifest_file = manifest_path(output, d.date);
        let live_version = read_manifest_if_published(output, d.date)?.map(|m| m.version);
        if live_version != Some(d.version) {
            remove_file_durable(&manifest_file)?;
            for t in &d.tables {
                let live = partition_dir(output, &t.table, d.date);
                let wanted: BTreeSet<String> = t.files.iter().cloned().collect();
                if file_names(&live)? == wanted {
                    continue;
                }
                let staged = date_dir.join("new").join(&t.table);
                if file_names(&staged)? != wanted {
                    return Err(PublishError::Journal {
                        path: journal_path.to_path_buf(),
                        message: format!(
                            "the staged {} partition of {} is not the one journalled",
                            t.table, d.date
                        ),
                    });
                }
                swap_in(&staged, &live)?;
                failpoint!("publish::after-swap");
            }
            failpoint!("publish::before-manifest");
            let bytes = d
                .manifest
                .to_json_bytes()
                .map_err(|e| PublishError::Manifest {
                    date: d.date,
                    message: e.to_string(),
                })?;
            replace_file_atomically(&manifest_file, &bytes)?;
            failpoint!("publish::after-manifest");
        }
        if let Some(old_version) = d.replaced {
            let old = date_dir.join("old");
            if old.is_dir() {
                let target = versions::versions_dir(output, d.date).join(old_version.to_string());
                if target.exists() {
                    remove_dir_durable(&old)?;
                } else {
                    rename_durable(&old, &target)?;
                }
            }
            failpoint!("publish::after-archive");
        }
    }
    remove_file_durable(journal_path)?;
    remove_dir_durable(&staging)?;
    if let Some(keep) = keep_versions {
        for d in &journal.dates {
            // The publish is complete; a version that cannot be pruned now is pruned next time.
            if let Err(e) = versions::prune(output, d.date, keep) {
                tracing::warn!(date = %d.date, error = %e, "cannot prune old versions");
            }
        }
    }
    Ok(())
}

/// Repair what an interrupted publish left: roll journalled transactions forward, remove staging that
/// no journal names and temporary files of interrupted atomic writes. Returns the dates rolled forward.
pub fn recover(output: &Path) -> Result<Vec<NaiveDate>, PublishError> {
    let mut rolled = Vec::new();
    let jdir = journal_dir(output);
    let mut referenced = std::collections::HashSet::new();
    let mut journals: Vec<PathBuf> = Vec::new();
    for name in file_names(&jdir)? {
        let path = jdir.join(&name);
        if name.starts_with('.') && name.contains(".tmp.") {
            remove_file_durable(&path)?;
        } else if let Some(id) = name.strip_suffix(".json") {
            referenced.insert(id.to_string());
            journals.push(path);
        }
    }
    for path in journals {
        let journal: Journal = match fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_slice(&text).map_err(|e| e.to_string()))
        {
            Ok(j) => j,
            Err(message) => {
                // Its staging folder is kept; another date's publish is not blocked by it.
                tracing::error!(journal = %path.display(), %message, "cannot read a publish journal");
                continue;
            }
        };
        let dates: Vec<NaiveDate> = journal.dates.iter().map(|d| d.date).collect();
        tracing::warn!(dates = ?dates, "rolling forward an interrupted publish");
        match complete(output, &journal, &path, None) {
            Ok(()) => rolled.extend(dates),
            Err(e) => {
                tracing::error!(dates = ?dates, error = %e, "cannot complete an interrupted publish yet; it will be retried");
            }
        }
    }
    let root = staging_root(output);
    for name in file_names(&root)? {
        if !referenced.contains(&name) {
            tracing::info!(staging = %name, "removing an incomplete staging folder");
            remove_dir_durable(&root.join(&name))?;
        }
    }
    let manifests = output.join("_manifests");
    for name in file_names(&manifests)? {
        if name.starts_with('.') && name.contains(".tmp.") {
            remove_file_durable(&manifests.join(&name))?;
        }
    }
    Ok(rolled)
}

/// The manifest of a published date.
pub fn read_manifest(output: &Path, date: NaiveDate) -> Result<Manifest, PublishError> {
    read_manifest_file(&manifest_path(output, date))
}

pub fn read_manifest_file(path: &Path) -> Result<Manifest, PublishError> {
    let text = fs::read(path).map_err(io_err(path))?;
    serde_json::from_slice(&text).map_err(|e| PublishError::ManifestUnreadable {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The manifest of a date, or None when the date is not published.
pub fn read_manifest_if_published(
    output: &Path,
    date: NaiveDate,
) -> Result<Option<Manifest>, PublishError> {
    let path = manifest_path(output, date);
    match fs::metadata(&path) {
        Ok(_) => read_manifest_file(&path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&path)(e)),
    }
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

/// Encode record batches as the files of one table (in parallel), named after their content.
/// Encode a table made chunk by chunk, one part file per chunk, holding one chunk's Arrow arrays at a
/// time (the problem ledger of a large province). An empty table is one part with no rows.
pub fn encode_table_chunks<I>(table: &str, chunks: I) -> Result<StagedTable, PublishError>
where
    I: IntoIterator<Item = Result<arrow::array::RecordBatch, arrow::error::ArrowError>>,
{
    let mut files = Vec::new();
    let mut rows = 0u64;
    for (part, batch) in chunks.into_iter().enumerate() {
        let batch = batch.map_err(|e| PublishError::Parquet {
            table: table.to_string(),
            source: parquet::errors::ParquetError::ArrowError(e.to_string()),
        })?;
        rows += batch.num_rows() as u64;
        let bytes = parquet_io::encode(&batch).map_err(|source| PublishError::Parquet {
            table: table.to_string(),
            source,
        })?;
        files.push(StagedFile {
            name: parquet_io::file_name(part, &bytes),
            content: FileContent::Bytes(bytes),
        });
    }
    Ok(StagedTable {
        table: table.to_string(),
        files,
        rows,
    })
}

pub fn encode_table(
    table: &str,
    batches: &[&arrow::array::RecordBatch],
) -> Result<StagedTable, PublishError> {
    use rayon::prelude::*;
    let files = batches
        .par_iter()
        .enumerate()
        .map(|(part, batch)| {
            parquet_io::encode(batch)
                .map(|bytes| StagedFile {
                    name: parquet_io::file_name(part, &bytes),
                    content: FileContent::Bytes(bytes),
                })
                .map_err(|source| PublishError::Parquet {
                    table: table.to_string(),
                    source,
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StagedTable {
        table: table.to_string(),
        files,
        rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
    })
}

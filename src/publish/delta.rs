//! Delta Lake tables on an object store (contract §10): `output = "s3://bucket/prefix"` or
//! `"file:///…"` with `table_format = "delta"`.
//!
//! Each of the tables is a Delta table `<root>/<table>` partitioned by `snapshot_date`. Publishing a date
//! writes its Parquet files under `<table>/snapshot_date=<date>/` (invisible until committed), then makes
//! one Delta commit per table that removes the date's old files and adds the new ones. Commits are the
//! store's conditional writes (`If-None-Match: *` on the next `_delta_log` entry), so writers on many
//! hosts need no lock: two jobs publishing different dates both land (delta-rs rebases a commit that
//! lost the race), two publishing the same date are serialised (each commit carries an application
//! transaction `fugong:<date>`, so the later one conflicts, re-reads the partition and replaces what the
//! winner wrote). The manifest `<root>/_manifests/<date>.json` is written last.
//!
//! Versions of a date are `<root>/_versions/<date>/<n>.json` (created with a conditional write, so two
//! writers never take the same number), each naming the Delta version of every table; a rollback re-adds
//! the files of those table versions.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Once};
use std::time::Duration;

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use deltalake_core::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake_core::kernel::{
    Action, Add, MetadataExt, Remove, StructField, StructType, Transaction,
};
use deltalake_core::logstore::{
    LogStore, LogStoreFactory, ObjectStoreFactory, ObjectStoreRef, StorageConfig, default_logstore,
    logstore_factories, object_store_factories,
};
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use deltalake_core::{DeltaResult, DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures_util::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use url::Url;

use super::lock::{LockError, OutputLock};
use super::manifest::ManifestTable;
use super::versions::VersionInfo;
use super::warehouse::PublishedSchema;
use super::warehouse::{Publication, Warehouse};
use super::{FileContent, Manifest, PublishError, StagedFile, StagedTable, failpoint, parquet_io};
use crate::pull::blobs::BlobStore;

/// The partition column of every table.
pub const PARTITION: &str = "snapshot_date";

pub use crate::config::source::Storage;

/// Options for the object store (and delta-rs) from a job's `[storage]`, credentials from the
/// environment.
fn storage_options(storage: &Storage) -> HashMap<String, String> {
    let mut options = HashMap::new();
    for (env, key) in [
        ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
        ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
        ("AWS_SESSION_TOKEN", "aws_session_token"),
        ("AWS_REGION", "aws_region"),
        ("AWS_DEFAULT_REGION", "aws_region"),
        ("AWS_ENDPOINT_URL", "aws_endpoint"),
        ("AWS_ENDPOINT", "aws_endpoint"),
        ("AWS_ALLOW_HTTP", "aws_allow_http"),
    ] {
        if let Ok(value) = std::env::var(env)
            && !options.contains_key(key)
        {
            options.insert(key.to_string(), value);
        }
    }
    if let Some(endpoint) = &storage.endpoint {
        options.insert("aws_endpoint".into(), endpoint.clone());
    }
    if let Some(region) = &storage.region {
        options.insert("aws_region".into(), region.clone());
    }
    if storage.allow_http {
        options.insert("aws_allow_http".into(), "true".into());
    }
    options
        .entry("aws_region".into())
        .or_insert_with(|| "us-east-1".into());
    // Commits are `PutMode::Create`: `If-None-Match: *` on S3.
    options.insert("aws_conditional_put".into(), "etag".into());
    options
}

/// Build an S3 store for a URL from options (`aws_*` keys).
fn s3_store(url: &Url, options: &HashMap<String, String>) -> DeltaResult<ObjectStoreRef> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    let mut builder = AmazonS3Builder::new().with_url(url.as_str());
    for (key, value) in options {
        if let Ok(k) = key.parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(k, value.clone());
        }
    }
    let store = builder
        .build()
        .map_err(|e| DeltaTableError::generic(e.to_string()))?;
    Ok(Arc::new(store))
}

struct S3Factory;

impl ObjectStoreFactory for S3Factory {
    fn parse_url_opts(
        &self,
        url: &Url,
        config: &StorageConfig,
    ) -> DeltaResult<(ObjectStoreRef, StorePath)> {
        let options: HashMap<String, String> =
            config.raw().map(|(k, v)| (k.clone(), v.clone())).collect();
        let root = Url::parse(&format!("s3://{}/", url.host_str().unwrap_or_default()))
            .map_err(|e| DeltaTableError::generic(e.to_string()))?;
        let store = s3_store(&root, &options)?;
        Ok((store, StorePath::from(url.path())))
    }
}

struct DefaultLogs;

impl LogStoreFactory for DefaultLogs {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

static REGISTER: Once = Once::new();

/// delta-rs knows `file://` itself; `s3://` is an S3 store whose commits are conditional writes.
fn register_s3() {
    REGISTER.call_once(|| {
        if let Ok(url) = Url::parse("s3://") {
            object_store_factories().insert(url.clone(), Arc::new(S3Factory));
            logstore_factories().insert(url, Arc::new(DefaultLogs));
        }
    });
}

fn delta_err(what: &str, e: impl std::fmt::Display) -> PublishError {
    PublishError::Delta {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// A Delta Lake warehouse.
pub struct DeltaWarehouse {
    root: Url,
    options: HashMap<String, String>,
    /// `<root>` itself, for manifests, versions and blobs.
    store: Arc<dyn ObjectStore>,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for DeltaWarehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaWarehouse")
            .field("root", &self.root.as_str())
            .finish()
    }
}

impl DeltaWarehouse {
    pub fn open(root: &Url, storage: &Storage) -> Result<DeltaWarehouse, PublishError> {
        register_s3();
        let root = Url::parse(&format!("{}/", root.as_str().trim_end_matches('/')))
            .map_err(|e| delta_err("the warehouse URL", e))?;
        let options = match root.scheme() {
            "s3" | "s3a" => storage_options(storage),
            _ => HashMap::new(),
        };
        let store: Arc<dyn ObjectStore> = match root.scheme() {
            "s3" | "s3a" => {
                let bucket = Url::parse(&format!("s3://{}/", root.host_str().unwrap_or_default()))
                    .map_err(|e| delta_err("the warehouse URL", e))?;
                let s3 =
                    s3_store(&bucket, &options).map_err(|e| delta_err("the object store", e))?;
                Arc::new(object_store::prefix::PrefixStore::new(
                    s3,
                    StorePath::from(root.path()),
                ))
            }
            "file" => {
                let path = root
                    .to_file_path()
                    .map_err(|_| delta_err("the warehouse URL", "not a local path"))?;
                std::fs::create_dir_all(&path).map_err(|e| delta_err("the warehouse folder", e))?;
                Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(&path)
                        .map_err(|e| delta_err("the warehouse folder", e))?,
                )
            }
            other => {
                return Err(delta_err(
                    "the warehouse URL",
                    format!("`{other}://` is not supported: use s3:// or file://"),
                ));
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| delta_err("the async runtime", e))?;
        Ok(DeltaWarehouse {
            root,
            options,
            store,
            runtime: Arc::new(runtime),
        })
    }

    /// Run a future on this warehouse's runtime from any thread (also from inside another runtime's
    /// blocking task, where `block_on` itself would refuse).
    fn block_on<F: std::future::Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        let runtime = Arc::clone(&self.runtime);
        std::thread::scope(|s| {
            s.spawn(move || runtime.block_on(future))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    fn table_url(&self, table: &str) -> Result<Url, PublishError> {
        self.root
            .join(&format!("{table}/"))
            .map_err(|e| delta_err("a table URL", e))
    }

    /// A table handle (not loaded).
    fn table(&self, table: &str) -> Result<DeltaTable, PublishError> {
        DeltaTableBuilder::from_url(self.table_url(table)?)
            .map_err(|e| delta_err(table, e))?
            .with_storage_options(self.options.clone())
            .build()
            .map_err(|e| delta_err(table, e))
    }

    /// A table at its latest version, or None when it does not exist yet.
    async fn load(
        &self,
        table: &str,
        version: Option<i64>,
    ) -> Result<Option<DeltaTable>, PublishError> {
        let mut t = self.table(table)?;
        let loaded = match version {
            Some(v) => t.load_version(u64::try_from(v).unwrap_or_default()).await,
            None => t.load().await,
        };
        match loaded {
            Ok(()) => Ok(Some(t)),
            Err(DeltaTableError::NotATable(_)) => Ok(None),
            Err(e) => Err(delta_err(table, e)),
        }
    }

    async fn get(&self, path: &str) -> Result<Option<Vec<u8>>, PublishError> {
        match self.store.get(&StorePath::from(path)).await {
            Ok(r) => Ok(Some(
                r.bytes().await.map_err(|e| delta_err(path, e))?.to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(delta_err(path, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, PublishError> {
        let entries: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&StorePath::from(prefix)))
            .try_collect()
            .await
            .map_err(|e| delta_err(prefix, e))?;
        Ok(entries
            .into_iter()
            .map(|m| m.location.to_string())
            .collect())
    }

    /// The live files of a date's partition in a loaded table: (path relative to the table, size, stats).
    fn partition_files(
        t: &DeltaTable,
        date: NaiveDate,
    ) -> Result<Vec<(String, i64, Option<String>)>, PublishError> {
        let snapshot = t.snapshot().map_err(|e| delta_err("a table snapshot", e))?;
        let wanted = date.to_string();
        let mut files: Vec<(String, i64, Option<String>)> = snapshot
            .log_data()
            .iter()
            .filter(|f| {
                f.partition_values_map()
                    .get(PARTITION)
                    .and_then(|v| v.as_deref())
                    == Some(wanted.as_str())
            })
            .map(|f| (f.path().into_owned(), f.size(), f.stats()))
            .collect();
        files.sort();
        Ok(files)
    }

    async fn read_files(
        &self,
        t: &DeltaTable,
        date: NaiveDate,
    ) -> Result<Vec<RecordBatch>, PublishError> {
        self.read_files_columns(t, date, None).await
    }

    async fn read_files_columns(
        &self,
        t: &DeltaTable,
        date: NaiveDate,
        columns: Option<&[&str]>,
    ) -> Result<Vec<RecordBatch>, PublishError> {
        let store = t.log_store().object_store(None);
        let mut batches = Vec::new();
        for (path, _, _) in Self::partition_files(t, date)? {
            let bytes = store
                .get(&StorePath::from(path.as_str()))
                .await
                .map_err(|e| delta_err(&path, e))?
                .bytes()
                .await
                .map_err(|e| delta_err(&path, e))?;
            batches.extend(
                parquet_io::read_bytes_columns(bytes, columns).map_err(|e| delta_err(&path, e))?,
            );
        }
        Ok(batches)
    }

    fn manifest_key(date: NaiveDate) -> String {
        format!("_manifests/{date}.json")
    }

    fn version_prefix(date: NaiveDate) -> String {
        format!("_versions/{date}/")
    }

    async fn version_records(&self, date: NaiveDate) -> Result<Vec<Manifest>, PublishError> {
        let mut out = Vec::new();
        for key in self.list(&Self::version_prefix(date)).await? {
            if let Some(bytes) = self.get(&key).await? {
                let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| delta_err(&key, e))?;
                out.push(m);
            }
        }
        out.sort_by_key(|m| m.version);
        Ok(out)
    }
}

/// The Delta schema of a table: its columns and the partition column.
fn delta_schema(schema: &arrow::datatypes::Schema) -> Result<Vec<StructField>, PublishError> {
    use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel;
    let mut fields = schema.fields().to_vec();
    fields.push(Arc::new(arrow::datatypes::Field::new(
        PARTITION,
        arrow::datatypes::DataType::Date32,
        true,
    )));
    let with_partition = arrow::datatypes::Schema::new(fields);
    let kernel: StructType = (&with_partition)
        .try_into_kernel()
        .map_err(|e| delta_err("a table schema", e))?;
    Ok(kernel.fields().cloned().collect())
}

/// The table's schema with the columns of `file` it lacks (nullable) and any column `file` makes
/// nullable relaxed; None when nothing changes. A column whose type changed is an error: the job's
/// schema check refuses that before anything is read.
fn merged_schema(
    table: &str,
    current: &StructType,
    file: &arrow::datatypes::Schema,
) -> Result<Option<StructType>, PublishError> {
    let mut fields: Vec<StructField> = current.fields().cloned().collect();
    let mut changed = false;
    for new in delta_schema(file)? {
        match fields.iter_mut().find(|f| f.name() == new.name()) {
            None => {
                fields.push(StructField::nullable(
                    new.name().clone(),
                    new.data_type().clone(),
                ));
                changed = true;
            }
            Some(old) if old.data_type() != new.data_type() => {
                return Err(delta_err(
                    table,
                    format!(
                        "column {} is {:?} in the table and {:?} in the new files; a published column's type cannot change",
                        new.name(),
                        old.data_type(),
                        new.data_type()
                    ),
                ));
            }
            Some(old) if !old.is_nullable() && new.is_nullable() => {
                *old = StructField::nullable(old.name().clone(), old.data_type().clone());
                changed = true;
            }
            Some(_) => {}
        }
    }
    if !changed {
        return Ok(None);
    }
    StructType::try_new(fields)
        .map(Some)
        .map_err(|e| delta_err(table, e))
}

/// One staged file of a Delta publish.
#[derive(Debug, Clone)]
struct DeltaFile {
    /// Relative to the table root: `snapshot_date=<date>/<name>`.
    path: String,
    size: i64,
    stats: Option<String>,
}

#[derive(Debug, Clone)]
struct DeltaDate {
    date: NaiveDate,
    tables: BTreeMap<String, Vec<DeltaFile>>,
    manifest: Manifest,
}

/// A Delta publish: files written first, commits at `commit`.
pub struct DeltaPublication<'w> {
    warehouse: &'w DeltaWarehouse,
    /// Appended to every file name, so that a republish never reuses a path the log still names.
    suffix: String,
    written: BTreeMap<(NaiveDate, String), Vec<DeltaFile>>,
    dates: Vec<DeltaDate>,
    schemas: HashMap<String, arrow::datatypes::SchemaRef>,
    published_at: String,
    /// When this publish started, in microseconds (random low digits): the order of two publishes of
    /// one date at once. It is each commit's application-transaction version, so a table never goes
    /// back to an earlier-started publish.
    stamp: i64,
}

impl DeltaPublication<'_> {
    fn path_for(&self, date: NaiveDate, name: &str) -> String {
        let stem = name.strip_suffix(".parquet").unwrap_or(name);
        format!("{PARTITION}={date}/{stem}-{}.parquet", self.suffix)
    }

    fn put_file(
        &mut self,
        date: NaiveDate,
        table: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<DeltaFile, PublishError> {
        let path = self.path_for(date, name);
        let rows = parquet_io::row_count(bytes).map_err(|e| delta_err(&path, e))?;
        if let Some(schema) = parquet_io::arrow_schema(bytes) {
            self.schemas.entry(table.to_string()).or_insert(schema);
        }
        let t = self.warehouse.table(table)?;
        let store = t.log_store().object_store(None);
        let payload = PutPayload::from(bytes.to_vec());
        let location = StorePath::from(path.as_str());
        self.warehouse
            .block_on(async move { store.put(&location, payload).await })
            .map_err(|e| delta_err(&path, e))?;
        Ok(DeltaFile {
            size: bytes.len() as i64,
            stats: Some(format!("{{\"numRecords\":{rows}}}")),
            path,
        })
    }
}

impl Publication for DeltaPublication<'_> {
    fn write_part(
        &mut self,
        date: NaiveDate,
        table: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), PublishError> {
        let file = self.put_file(date, table, name, bytes)?;
        self.written
            .entry((date, table.to_string()))
            .or_default()
            .push(file);
        Ok(())
    }

    fn discard(self: Box<Self>) {
        for ((_, table), files) in &self.written {
            let Ok(t) = self.warehouse.table(table) else {
                continue;
            };
            let store = t.log_store().object_store(None);
            for f in files {
                let location = StorePath::from(f.path.as_str());
                let store = store.clone();
                if let Err(e) = self
                    .warehouse
                    .block_on(async move { store.delete(&location).await })
                {
                    tracing::debug!(path = %f.path, error = %e, "cannot remove an uncommitted file");
                }
            }
        }
    }

    fn stage(
        &mut self,
        date: NaiveDate,
        tables: Vec<StagedTable>,
        mut manifest: Manifest,
    ) -> Result<u32, PublishError> {
        let mut staged: BTreeMap<String, Vec<DeltaFile>> = BTreeMap::new();
        for t in tables {
            let mut files = Vec::new();
            for f in &t.files {
                match &f.content {
                    FileContent::Bytes(bytes) => {
                        files.push(self.put_file(date, &t.table, &f.name, bytes)?)
                    }
                    FileContent::InStaging => {
                        let written = self
                            .written
                            .get(&(date, t.table.clone()))
                            .and_then(|w| w.iter().find(|d| d.path == self.path_for(date, &f.name)))
                            .cloned()
                            .ok_or_else(|| {
                                delta_err(&f.name, "a part written earlier is not known")
                            })?;
                        files.push(written);
                    }
                    FileContent::Published {
                        path, size, stats, ..
                    } => files.push(DeltaFile {
                        path: path.clone(),
                        size: *size,
                        stats: stats.clone(),
                    }),
                    FileContent::Existing(_) => {
                        return Err(delta_err(
                            &f.name,
                            "a local file cannot be republished to Delta",
                        ));
                    }
                }
            }
            manifest.tables.insert(
                t.table.clone(),
                ManifestTable {
                    rows: t.rows,
                    files: files
                        .iter()
                        .map(|f| f.path.rsplit('/').next().unwrap_or(&f.path).to_string())
                        .collect(),
                    delta_version: None,
                },
            );
            staged.insert(t.table, files);
        }
        manifest.published_at = Some(self.published_at.clone());
        let version = self
            .warehouse
            .block_on(self.warehouse.version_records(date))?
            .last()
            .map_or(0, |m| m.version)
            + 1;
        manifest.version = version;
        self.dates.push(DeltaDate {
            date,
            tables: staged,
            manifest,
        });
        Ok(version)
    }

    fn commit(self: Box<Self>) -> Result<Vec<(NaiveDate, u32)>, PublishError> {
        let warehouse = self.warehouse;
        let schemas = self.schemas.clone();
        let mut out = Vec::new();
        for d in self.dates {
            let mut manifest = d.manifest.clone();
            manifest.publish_stamp = Some(self.stamp);
            let mut superseded = false;
            for (table, files) in &d.tables {
                failpoint!("delta::before-table-commit");
                let schema = schemas.get(table).cloned();
                match warehouse.block_on(commit_partition(
                    warehouse, table, d.date, files, schema, self.stamp,
                ))? {
                    Committed::Version(version) => {
                        if let Some(entry) = manifest.tables.get_mut(table) {
                            entry.delta_version = Some(version);
                        }
                    }
                    Committed::Superseded => {
                        superseded = true;
                        break;
                    }
                }
            }
            if superseded {
                // A refresh of a later date's change is moot: that date was published again since.
                if manifest.trigger.as_deref() == Some("refresh") {
                    tracing::warn!(date = %d.date, "not refreshing the change: the date was published again meanwhile");
                    continue;
                }
                return Err(PublishError::Superseded { date: d.date });
            }
            // Tables not in this publish keep their live version.
            if let Some(live) = warehouse.manifest(d.date)? {
                for (table, entry) in live.tables {
                    manifest.tables.entry(table).or_insert(entry);
                }
            }
            let version = warehouse.block_on(record_version(warehouse, d.date, &mut manifest))?;
            warehouse.block_on(settle_manifest(warehouse, d.date))?;
            out.push((d.date, version));
        }
        Ok(out)
    }
}

/// Write the date's manifest last: the version record of the latest-started publish, which is the one
/// live on every table. Every writer does this after its own record and checks again after its write,
/// so that when two publishes of a date end together the manifest settles on the later-started one
/// whichever write lands last.
async fn settle_manifest(warehouse: &DeltaWarehouse, date: NaiveDate) -> Result<(), PublishError> {
    let key = StorePath::from(DeltaWarehouse::manifest_key(date));
    for _ in 0..5 {
        let records = warehouse.version_records(date).await?;
        let Some(latest) = records
            .iter()
            .max_by_key(|m| (m.publish_stamp.unwrap_or(0), m.version))
        else {
            return Ok(());
        };
        let current: Option<Manifest> = warehouse
            .get(&DeltaWarehouse::manifest_key(date))
            .await?
            .and_then(|b| serde_json::from_slice(&b).ok());
        if current.as_ref() == Some(latest) {
            return Ok(());
        }
        let bytes = latest
            .to_json_bytes()
            .map_err(|e| delta_err("a manifest", e))?;
        warehouse
            .store
            .put(&key, PutPayload::from(bytes))
            .await
            .map_err(|e| delta_err("a manifest", e))?;
    }
    Ok(())
}

/// The `_versions/<date>/<n>.json` record, created with a conditional write: two writers never take
/// the same number.
async fn record_version(
    warehouse: &DeltaWarehouse,
    date: NaiveDate,
    manifest: &mut Manifest,
) -> Result<u32, PublishError> {
    let mut version = warehouse
        .version_records(date)
        .await?
        .last()
        .map_or(0, |m| m.version)
        + 1;
    for _ in 0..64 {
        manifest.version = version;
        let bytes = manifest
            .to_json_bytes()
            .map_err(|e| delta_err("a version record", e))?;
        let key = StorePath::from(format!(
            "{}{version:06}.json",
            DeltaWarehouse::version_prefix(date)
        ));
        let put = warehouse
            .store
            .put_opts(
                &key,
                PutPayload::from(bytes),
                PutOptions::from(PutMode::Create),
            )
            .await;
        match put {
            Ok(_) => return Ok(version),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => {
                version += 1;
            }
            Err(e) => return Err(delta_err("a version record", e)),
        }
    }
    Err(delta_err(
        "a version record",
        "64 writers took the next number at once",
    ))
}

/// What committing a date's partition of a table gave.
enum Committed {
    /// The table's new Delta version.
    Version(i64),
    /// A publish of the same date that started later has already replaced this partition: it stays.
    Superseded,
}

/// Replace one date's partition of one table in one commit. Same-date writers conflict on the
/// application transaction `fugong:snapshot_date=<date>` and are serialised (the later committer reads
/// the table again); a partition is never replaced by a publish that started before the live one.
async fn commit_partition(
    warehouse: &DeltaWarehouse,
    table: &str,
    date: NaiveDate,
    files: &[DeltaFile],
    schema: Option<arrow::datatypes::SchemaRef>,
    stamp: i64,
) -> Result<Committed, PublishError> {
    let app_id = format!("fugong:{PARTITION}={date}");
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let t = match warehouse.load(table, None).await? {
            Some(t) => t,
            None => create_table(warehouse, table, schema.clone()).await?,
        };
        let live_stamp = t
            .snapshot()
            .map_err(|e| delta_err(table, e))?
            .transaction_version(t.log_store().as_ref(), &app_id)
            .await
            .map_err(|e| delta_err(table, e))?;
        if live_stamp.is_some_and(|live| live > stamp) {
            tracing::warn!(table, date = %date, "a publish of this date that started later is already live");
            return Ok(Committed::Superseded);
        }
        let now = chrono::Utc::now().timestamp_millis();
        let partition: HashMap<String, Option<String>> =
            HashMap::from([(PARTITION.to_string(), Some(date.to_string()))]);
        let mut actions: Vec<Action> = Vec::new();
        // A column the table does not have yet (a field added to the schema) is merged in, nullable, so
        // that the dates before it read it as null.
        if let Some(schema) = &schema {
            let snapshot = t.snapshot().map_err(|e| delta_err(table, e))?;
            if let Some(merged) = merged_schema(table, &snapshot.schema(), schema)? {
                tracing::info!(table, "adding the schema's new columns to the Delta table");
                let metadata = snapshot
                    .metadata()
                    .clone()
                    .with_schema(&merged)
                    .map_err(|e| delta_err(table, e))?;
                actions.push(Action::Metadata(metadata));
            }
        }
        for (path, size, _) in DeltaWarehouse::partition_files(&t, date)? {
            if files.iter().any(|f| f.path == path) {
                continue;
            }
            actions.push(Action::Remove(Remove {
                path,
                data_change: true,
                deletion_timestamp: Some(now),
                extended_file_metadata: Some(true),
                partition_values: Some(partition.clone()),
                size: Some(size),
                tags: None,
                deletion_vector: None,
                base_row_id: None,
                default_row_commit_version: None,
            }));
        }
        let live: Vec<String> = DeltaWarehouse::partition_files(&t, date)?
            .into_iter()
            .map(|(p, _, _)| p)
            .collect();
        for f in files {
            if live.contains(&f.path) {
                continue;
            }
            actions.push(Action::Add(Add {
                path: f.path.clone(),
                partition_values: partition.clone(),
                size: f.size,
                modification_time: now,
                data_change: true,
                stats: f.stats.clone(),
                tags: None,
                deletion_vector: None,
                base_row_id: None,
                default_row_commit_version: None,
                clustering_provider: None,
            }));
        }
        // Same-date writers conflict on this application transaction and are serialised.
        actions.push(Action::Txn(Transaction {
            app_id: app_id.clone(),
            version: stamp,
            last_updated: Some(now),
        }));
        let operation = DeltaOperation::Write {
            mode: SaveMode::Overwrite,
            partition_by: Some(vec![PARTITION.to_string()]),
            predicate: Some(format!("{PARTITION} = '{date}'")),
        };
        let snapshot = t.snapshot().map_err(|e| delta_err(table, e))?;
        let committed = CommitBuilder::from(CommitProperties::default())
            .with_actions(actions)
            .with_max_retries(10)
            .build(Some(snapshot), t.log_store(), operation)
            .await;
        match committed {
            Ok(done) => return Ok(Committed::Version(done.version() as i64)),
            Err(e) if attempt < 20 && is_conflict(&e) => {
                tracing::info!(table, date = %date, attempt, error = %e, "another writer committed first; reading the table again");
                let jitter = rand::random::<u64>() % 200;
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt) + jitter)).await;
            }
            Err(e) => return Err(delta_err(table, e)),
        }
    }
}

/// Another writer committed first: read the table again and retry. A metadata change (another
/// writer's schema merge) is one too: after reading again there is nothing left to merge.
fn is_conflict(e: &DeltaTableError) -> bool {
    let text = e.to_string().to_lowercase();
    text.contains("conflict")
        || text.contains("concurrent")
        || text.contains("already exists")
        || text.contains("metadata changed")
}

/// Create a table (version 0) with the columns of its first file and the partition column: one
/// conditional write of the first log entry. When another writer creates the table first, its table is
/// used. (delta-rs's own `CreateBuilder` would commit the creation again as version 1 in that race, a
/// second table definition that then fails every writer who read version 0 with "metadata changed".)
async fn create_table(
    warehouse: &DeltaWarehouse,
    table: &str,
    schema: Option<arrow::datatypes::SchemaRef>,
) -> Result<DeltaTable, PublishError> {
    let schema =
        schema.ok_or_else(|| delta_err(table, "no file to take the table's columns from"))?;
    failpoint!("delta::before-create");
    let t = warehouse.table(table)?;
    let columns = StructType::try_new(delta_schema(&schema)?).map_err(|e| delta_err(table, e))?;
    let protocol: deltalake_core::kernel::Protocol = serde_json::from_value(serde_json::json!({
        "minReaderVersion": 1,
        "minWriterVersion": 2
    }))
    .map_err(|e| delta_err(table, e))?;
    let metadata = deltalake_core::kernel::new_metadata(
        &columns,
        [PARTITION],
        std::iter::empty::<(String, String)>(),
    )
    .map_err(|e| delta_err(table, e))?;
    let operation = DeltaOperation::Create {
        mode: SaveMode::ErrorIfExists,
        location: warehouse.table_url(table)?,
        protocol: protocol.clone(),
        metadata: metadata.clone(),
    };
    let created = CommitBuilder::from(CommitProperties::default().with_max_retries(0))
        .with_actions(vec![Action::Protocol(protocol), Action::Metadata(metadata)])
        .build(None, t.log_store(), operation)
        .await;
    match (created, warehouse.load(table, None).await?) {
        (_, Some(t)) => Ok(t),
        (Err(e), None) => Err(delta_err(table, e)),
        (Ok(_), None) => Err(delta_err(
            table,
            "the table was created but cannot be read back",
        )),
    }
}

impl Warehouse for DeltaWarehouse {
    fn location(&self) -> String {
        self.root.to_string()
    }

    fn lock(&self, _wait: Duration) -> Result<Option<OutputLock>, LockError> {
        Ok(None)
    }

    fn recover(&self) -> Result<Vec<NaiveDate>, PublishError> {
        // Nothing is ever half-committed: a table's commit is one conditional write.
        Ok(Vec::new())
    }

    fn manifest(&self, date: NaiveDate) -> Result<Option<Manifest>, PublishError> {
        let key = Self::manifest_key(date);
        match self.block_on(self.get(&key))? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| delta_err(&key, e)),
            None => Ok(None),
        }
    }

    fn published_dates(&self) -> Result<Vec<NaiveDate>, PublishError> {
        let mut dates: Vec<NaiveDate> = self
            .block_on(self.list("_manifests/"))?
            .iter()
            .filter_map(|k| {
                let name = k.rsplit('/').next()?;
                NaiveDate::parse_from_str(name.strip_suffix(".json")?, "%Y-%m-%d").ok()
            })
            .collect();
        dates.sort();
        Ok(dates)
    }

    fn read_table(&self, table: &str, date: NaiveDate) -> Result<Vec<RecordBatch>, PublishError> {
        self.block_on(async {
            match self.load(table, None).await? {
                Some(t) => self.read_files(&t, date).await,
                None => Ok(Vec::new()),
            }
        })
    }

    fn each_batch_of(
        &self,
        table: &str,
        date: NaiveDate,
        columns: Option<&[&str]>,
        f: &mut dyn FnMut(RecordBatch) -> Result<(), PublishError>,
    ) -> Result<(), PublishError> {
        let Some(t) = self.block_on(self.load(table, None))? else {
            return Ok(());
        };
        let store = t.log_store().object_store(None);
        for (path, _, _) in Self::partition_files(&t, date)? {
            let bytes = self.block_on(async {
                store
                    .get(&StorePath::from(path.as_str()))
                    .await
                    .map_err(|e| delta_err(&path, e))?
                    .bytes()
                    .await
                    .map_err(|e| delta_err(&path, e))
            })?;
            for batch in
                parquet_io::read_bytes_columns(bytes, columns).map_err(|e| delta_err(&path, e))?
            {
                f(batch)?;
            }
        }
        Ok(())
    }

    fn read_columns(
        &self,
        table: &str,
        date: NaiveDate,
        columns: &[&str],
    ) -> Result<Vec<RecordBatch>, PublishError> {
        self.block_on(async {
            match self.load(table, None).await? {
                Some(t) => self.read_files_columns(&t, date, Some(columns)).await,
                None => Ok(Vec::new()),
            }
        })
    }

    fn begin(&self, _keep_versions: u32) -> Result<Box<dyn Publication + '_>, PublishError> {
        Ok(Box::new(DeltaPublication {
            warehouse: self,
            suffix: format!("{:016x}", rand::random::<u64>()),
            written: BTreeMap::new(),
            dates: Vec::new(),
            schemas: HashMap::new(),
            published_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            stamp: chrono::Utc::now().timestamp_millis() * 1000
                + i64::from(rand::random::<u16>() % 1000),
        }))
    }

    fn versions(&self, date: NaiveDate) -> Result<Vec<VersionInfo>, PublishError> {
        let live = self.manifest(date)?.map(|m| m.version);
        let records = self.block_on(self.version_records(date))?;
        Ok(records
            .into_iter()
            .map(|m| {
                let is_live = Some(m.version) == live;
                VersionInfo::of(m, is_live, None)
            })
            .collect())
    }

    fn version_tables(
        &self,
        date: NaiveDate,
        version: &VersionInfo,
    ) -> Result<Vec<StagedTable>, PublishError> {
        let mut out = Vec::new();
        for (table, entry) in &version.manifest.tables {
            let files = self.block_on(async {
                let t = self
                    .load(table, entry.delta_version)
                    .await?
                    .ok_or_else(|| delta_err(table, "the table is gone"))?;
                Self::partition_files(&t, date)
            })?;
            out.push(StagedTable {
                table: table.clone(),
                files: files
                    .into_iter()
                    .map(|(path, size, stats)| StagedFile {
                        name: path.rsplit('/').next().unwrap_or(&path).to_string(),
                        content: FileContent::Published {
                            rows: entry.rows,
                            path,
                            size,
                            stats,
                        },
                    })
                    .collect(),
                rows: entry.rows,
            });
        }
        Ok(out)
    }

    fn read_version_table(
        &self,
        date: NaiveDate,
        version: &VersionInfo,
        table: &str,
    ) -> Result<Vec<RecordBatch>, PublishError> {
        let delta_version = version
            .manifest
            .tables
            .get(table)
            .and_then(|e| e.delta_version);
        self.block_on(async {
            match self.load(table, delta_version).await? {
                Some(t) => self.read_files(&t, date).await,
                None => Ok(Vec::new()),
            }
        })
    }

    fn blobs(&self) -> BlobStore {
        BlobStore::object(
            Arc::clone(&self.store),
            "_state/blobs".into(),
            Arc::clone(&self.runtime),
        )
    }

    /// The table's own schema (merged over every version it was written with) and the highest schema
    /// version among the manifests.
    fn published_schema(&self) -> Result<Option<PublishedSchema>, PublishError> {
        use deltalake_core::kernel::engine::arrow_conversion::TryIntoArrow;
        let dates = self.published_dates()?;
        let Some((version, _)) = super::warehouse::highest_schema_version(self, &dates)? else {
            return Ok(None);
        };
        let Some(t) = self.block_on(self.load("enterprise_daily", None))? else {
            return Ok(None);
        };
        let kernel = t
            .snapshot()
            .map_err(|e| delta_err("enterprise_daily", e))?
            .schema();
        let columns: arrow::datatypes::Schema = kernel
            .as_ref()
            .try_into_arrow()
            .map_err(|e| delta_err("enterprise_daily", e))?;
        Ok(Some(PublishedSchema {
            version,
            columns: Arc::new(columns),
        }))
    }
}

//! The warehouse a job publishes to, behind one trait with two implementations:
//!
//! - `local::LocalWarehouse`: the plain Hive-partitioned Parquet layout of contract §4 in a local folder,
//!   one writer at a time (a lock file), partitions swapped in with `renameat2` under a journal;
//! - `delta::DeltaWarehouse`: Delta Lake tables on an object store (`s3://…`, `file:///…`, contract
//!   §10), many writers on many hosts, each table's publish one Delta commit made safe by the store's
//!   conditional writes.
//!
//! The pipeline, `compare`, `report`, `feedback`, `versions` and `rollback` see only this trait.

use std::time::Duration;

use arrow::array::RecordBatch;
use chrono::NaiveDate;

use super::lock::{LockError, OutputLock};
use super::versions::VersionInfo;
use super::{Manifest, PublishError, StagedTable};
use crate::pull::blobs::BlobStore;

/// The `enterprise_daily` columns a warehouse holds: from the date published with the highest schema
/// version (or the Delta table's own, merged schema).
#[derive(Debug, Clone)]
pub struct PublishedSchema {
    /// The highest `schema_version` in the warehouse's manifests.
    pub version: u32,
    pub columns: arrow::datatypes::SchemaRef,
}

/// A publish in preparation: parts written as they are built, dates staged, then one commit.
pub trait Publication: Send {
    /// Write one file of a table of `date` now (a large table is written part by part as it is
    /// built); it is named in `stage` with `FileContent::InStaging`.
    fn write_part(
        &mut self,
        date: NaiveDate,
        table: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), PublishError>;

    /// Stage a new version of `date` made of `tables` (the date's other tables stay as they are).
    /// Returns the new version number.
    fn stage(
        &mut self,
        date: NaiveDate,
        tables: Vec<StagedTable>,
        manifest: Manifest,
    ) -> Result<u32, PublishError>;

    /// Make every staged date visible; the manifests are written last. Returns each date with its new
    /// version.
    fn commit(self: Box<Self>) -> Result<Vec<(NaiveDate, u32)>, PublishError>;

    /// Publish nothing: remove what was written for this publication (a local transaction's staging
    /// goes with it when dropped; an object store's uncommitted files are deleted here, best effort).
    fn discard(self: Box<Self>) {}
}

/// Where a job's snapshots live.
pub trait Warehouse: Send + Sync {
    /// A path or URL, for messages.
    fn location(&self) -> String;

    /// One writer at a time where the store cannot arbitrate itself (a local folder); None where every
    /// commit is a conditional write (Delta Lake on an object store).
    fn lock(&self, wait: Duration) -> Result<Option<OutputLock>, LockError>;

    /// Repair what an interrupted publish left; returns the dates completed.
    fn recover(&self) -> Result<Vec<NaiveDate>, PublishError>;

    /// The manifest of a date, or None when the date is not published.
    fn manifest(&self, date: NaiveDate) -> Result<Option<Manifest>, PublishError>;

    /// Dates with a manifest (complete snapshots), ascending.
    fn published_dates(&self) -> Result<Vec<NaiveDate>, PublishError>;

    /// The nearest published date before `date`: the one a publish of `date` follows (its change, its
    /// ledger and its anomaly warnings compare with it).
    fn published_before(&self, date: NaiveDate) -> Result<Option<NaiveDate>, PublishError> {
        Ok(self
            .published_dates()?
            .into_iter()
            .rev()
            .find(|d| *d < date))
    }

    /// One table's partition of a published date.
    fn read_table(&self, table: &str, date: NaiveDate) -> Result<Vec<RecordBatch>, PublishError>;

    /// A table's partition handed over a few thousand rows at a time, file by file, so that reading a
    /// large partition never holds it whole.
    fn each_batch(
        &self,
        table: &str,
        date: NaiveDate,
        f: &mut dyn FnMut(RecordBatch) -> Result<(), PublishError>,
    ) -> Result<(), PublishError> {
        self.each_batch_of(table, date, None, f)
    }

    /// `each_batch` with only the named columns (those the files have; all of them for None), the
    /// others never decoded.
    fn each_batch_of(
        &self,
        table: &str,
        date: NaiveDate,
        columns: Option<&[&str]>,
        f: &mut dyn FnMut(RecordBatch) -> Result<(), PublishError>,
    ) -> Result<(), PublishError>;

    /// Only the named columns of a table's partition (a column the files lack is left out).
    fn read_columns(
        &self,
        table: &str,
        date: NaiveDate,
        columns: &[&str],
    ) -> Result<Vec<RecordBatch>, PublishError>;

    /// Start a publish.
    fn begin(&self, keep_versions: u32) -> Result<Box<dyn Publication + '_>, PublishError>;

    /// Every version of a date, oldest first; the live one marked.
    fn versions(&self, date: NaiveDate) -> Result<Vec<VersionInfo>, PublishError>;

    /// The tables of a kept version, to publish again as they are (a rollback).
    fn version_tables(
        &self,
        date: NaiveDate,
        version: &VersionInfo,
    ) -> Result<Vec<StagedTable>, PublishError>;

    /// One table of a kept version.
    fn read_version_table(
        &self,
        date: NaiveDate,
        version: &VersionInfo,
        table: &str,
    ) -> Result<Vec<RecordBatch>, PublishError>;

    /// Where pulled submissions are kept.
    fn blobs(&self) -> BlobStore;

    /// The `enterprise_daily` columns already published and the highest schema version they were
    /// published with; None for a warehouse with no date yet.
    fn published_schema(&self) -> Result<Option<PublishedSchema>, PublishError>;
}

/// The highest `schema_version` among the manifests of `dates`, and the latest date published with it.
pub fn highest_schema_version(
    warehouse: &dyn Warehouse,
    dates: &[NaiveDate],
) -> Result<Option<(u32, NaiveDate)>, PublishError> {
    let mut best: Option<(u32, NaiveDate)> = None;
    for &date in dates {
        if let Some(m) = warehouse.manifest(date)? {
            best = best.max(Some((m.schema_version, date)));
        }
    }
    Ok(best)
}

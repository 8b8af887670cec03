//! The plain layout of contract §4 in a local folder: Hive-partitioned Parquet per table, one writer at
//! a time (`_state/lock`), publishes as journalled transactions of `renameat2` swaps (`Transaction`),
//! replaced versions kept whole in `_versions/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::RecordBatch;
use chrono::NaiveDate;

use super::lock::{LockError, OutputLock};
use super::versions::{self, VersionInfo};
use super::warehouse::PublishedSchema;
use super::warehouse::{Publication, Warehouse};
use super::{
    FileContent, Manifest, PublishError, StagedFile, StagedTable, Transaction, parquet_io,
    partition_dir,
};
use crate::pull::blobs::BlobStore;

/// A local warehouse folder.
#[derive(Debug, Clone)]
pub struct LocalWarehouse {
    root: PathBuf,
}

impl LocalWarehouse {
    pub fn new(root: impl Into<PathBuf>) -> LocalWarehouse {
        LocalWarehouse { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn read_dir_batches(dir: &Path) -> Result<Vec<RecordBatch>, PublishError> {
    parquet_io::read_partition(dir).map_err(|e| PublishError::Io {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

impl Publication for Transaction {
    fn write_part(
        &mut self,
        date: NaiveDate,
        table: &str,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), PublishError> {
        Transaction::write_part(self, date, table, name, bytes)
    }

    fn stage(
        &mut self,
        date: NaiveDate,
        tables: Vec<StagedTable>,
        manifest: Manifest,
    ) -> Result<u32, PublishError> {
        Transaction::stage(self, date, tables, manifest)
    }

    fn commit(self: Box<Self>) -> Result<Vec<(NaiveDate, u32)>, PublishError> {
        Transaction::commit(*self)
    }
}

impl Warehouse for LocalWarehouse {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn lock(&self, wait: Duration) -> Result<Option<OutputLock>, LockError> {
        OutputLock::acquire(&self.root, wait).map(Some)
    }

    fn recover(&self) -> Result<Vec<NaiveDate>, PublishError> {
        super::recover(&self.root)
    }

    fn manifest(&self, date: NaiveDate) -> Result<Option<Manifest>, PublishError> {
        super::read_manifest_if_published(&self.root, date)
    }

    fn published_dates(&self) -> Result<Vec<NaiveDate>, PublishError> {
        Ok(super::published_dates(&self.root))
    }

    fn read_table(&self, table: &str, date: NaiveDate) -> Result<Vec<RecordBatch>, PublishError> {
        read_dir_batches(&partition_dir(&self.root, table, date))
    }

    fn each_batch_of(
        &self,
        table: &str,
        date: NaiveDate,
        columns: Option<&[&str]>,
        f: &mut dyn FnMut(RecordBatch) -> Result<(), PublishError>,
    ) -> Result<(), PublishError> {
        let dir = partition_dir(&self.root, table, date);
        let mut failed: Option<PublishError> = None;
        let read = parquet_io::each_batch_in(&dir, columns, &mut |batch| {
            f(batch).map_err(|e| {
                let message = e.to_string();
                failed = Some(e);
                parquet::errors::ParquetError::General(message)
            })
        });
        match (failed, read) {
            (Some(e), _) => Err(e),
            (None, Ok(())) => Ok(()),
            (None, Err(e)) => Err(PublishError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }

    fn read_columns(
        &self,
        table: &str,
        date: NaiveDate,
        columns: &[&str],
    ) -> Result<Vec<RecordBatch>, PublishError> {
        let dir = partition_dir(&self.root, table, date);
        parquet_io::read_partition_columns(&dir, Some(columns)).map_err(|e| PublishError::Io {
            path: dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })
    }

    fn begin(&self, keep_versions: u32) -> Result<Box<dyn Publication + '_>, PublishError> {
        Ok(Box::new(Transaction::begin(&self.root, keep_versions)?))
    }

    fn versions(&self, date: NaiveDate) -> Result<Vec<VersionInfo>, PublishError> {
        versions::list(&self.root, date)
    }

    fn version_tables(
        &self,
        date: NaiveDate,
        version: &VersionInfo,
    ) -> Result<Vec<StagedTable>, PublishError> {
        Ok(version
            .manifest
            .tables
            .iter()
            .map(|(table, entry)| {
                let dir = version.partition(&self.root, table, date);
                StagedTable {
                    table: table.clone(),
                    files: entry
                        .files
                        .iter()
                        .map(|name| StagedFile {
                            name: name.clone(),
                            content: FileContent::Existing(dir.join(name)),
                        })
                        .collect(),
                    rows: entry.rows,
                }
            })
            .collect())
    }

    fn read_version_table(
        &self,
        date: NaiveDate,
        version: &VersionInfo,
        table: &str,
    ) -> Result<Vec<RecordBatch>, PublishError> {
        read_dir_batches(&version.partition(&self.root, table, date))
    }

    fn blobs(&self) -> BlobStore {
        BlobStore::for_output(&self.root)
    }

    /// The footer of a part of the latest date published with the highest schema version: dates before
    /// a field was added lack its column, so that date has every column.
    fn published_schema(&self) -> Result<Option<PublishedSchema>, PublishError> {
        let dates = self.published_dates()?;
        let Some((version, date)) = super::warehouse::highest_schema_version(self, &dates)? else {
            return Ok(None);
        };
        let manifest = self.manifest(date)?;
        let dir = partition_dir(&self.root, "enterprise_daily", date);
        let first = manifest
            .as_ref()
            .and_then(|m| m.tables.get("enterprise_daily"))
            .and_then(|t| t.files.first())
            .map(|name| dir.join(name));
        let columns = match first {
            Some(path) => parquet_io::file_schema(&path).map_err(|e| PublishError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?,
            // A date with no enterprise row has no part to read: its schema is the job's own.
            None => return Ok(None),
        };
        Ok(Some(PublishedSchema { version, columns }))
    }
}

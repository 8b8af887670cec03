//! `_manifests/<date>.json`: what a published date is made of (contract §4). Written last; a date whose
//! manifest exists is complete. Holds no wall-clock time, so re-running a date rewrites it identically.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One district's line in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestDistrict {
    pub district_code: String,
    pub district_name: String,
    pub city_name: String,
    /// Full path or URL as pulled; None when missing.
    pub source: Option<String>,
    pub sha256: Option<String>,
    pub bytes: Option<u64>,
    pub status: String,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub warnings: u64,
}

/// Per-table totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestTable {
    pub rows: u64,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub job: String,
    pub report_date: NaiveDate,
    pub tool_version: String,
    pub schema_id: String,
    pub schema_version: u32,
    pub districts: Vec<ManifestDistrict>,
    pub tables: BTreeMap<String, ManifestTable>,
}

impl Manifest {
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

//! `_manifests/<date>.json`: what a published date is made of (contract §4, §9). Written last and
//! atomically; a date whose manifest exists is complete. It names its version, when and why it was
//! published, and, per district, whether the submission was pulled now or kept from the previous version.

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
    /// `pulled` (read from the source by this version's run), `kept-previous` (the pull failed or the
    /// file vanished, so an automatic run kept the previous version's submission, re-read from its blob)
    /// or `none` (nothing was submitted).
    #[serde(default = "pulled")]
    pub submission: String,
    /// Why the previous submission was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_reason: Option<String>,
    /// For a missing district: the path or URL that was looked for (its 未报送 notice names the file
    /// name it expects, never the path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looked_for: Option<String>,
    /// The sheet the report was read from (the feedback workbook names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// The submitted file's name as the district gave it (data, never a path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file: Option<String>,
    /// When it arrived (RFC 3339, UTC; contract §13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    /// How: `upload`, `dir` or `http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kind: Option<String>,
}

fn pulled() -> String {
    SUBMISSION_PULLED.to_string()
}

pub const SUBMISSION_PULLED: &str = "pulled";
pub const SUBMISSION_KEPT_PREVIOUS: &str = "kept-previous";
pub const SUBMISSION_NONE: &str = "none";

/// Per-table totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestTable {
    pub rows: u64,
    pub files: Vec<String>,
    /// Delta Lake: the table's version this date's partition is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub job: String,
    pub report_date: NaiveDate,
    /// 1 for a date's first publish, then 2, 3, … (a manifest written before versions existed reads as 0
    /// and counts as version 1).
    #[serde(default)]
    pub version: u32,
    /// When this version was published (UTC, RFC 3339). Parquet files never hold a time; this does.
    #[serde(default)]
    pub published_at: Option<String>,
    /// What published it: `manual`, `backfill`, `schedule`, `catch-up`, `lookback`, `rollback`, or
    /// `refresh` (a later date whose day-over-day change was recomputed when an earlier one changed).
    #[serde(default)]
    pub trigger: Option<String>,
    /// For a rollback: the version whose files this one restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_version: Option<u32>,
    /// For a refresh: what caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Delta Lake: when this publish started (microseconds since 1970, random low digits). Of two
    /// publishes of one date at once, the later-started one is live on every table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_stamp: Option<i64>,
    pub tool_version: String,
    pub schema_id: String,
    pub schema_version: u32,
    pub districts: Vec<ManifestDistrict>,
    pub tables: BTreeMap<String, ManifestTable>,
}

impl Manifest {
    /// The manifest as written: pretty JSON with a final newline. An error here stops the publish before
    /// anything is swapped; a manifest is never written empty.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// The version number, counting a manifest from before versions existed as version 1.
    pub fn effective_version(&self) -> u32 {
        self.version.max(1)
    }

    /// Districts by status: (accepted, partial, rejected, missing, kept-previous).
    pub fn status_counts(&self) -> [u32; 5] {
        let mut c = [0u32; 5];
        for d in &self.districts {
            match d.status.as_str() {
                "accepted" => c[0] += 1,
                "partial" => c[1] += 1,
                "rejected" => c[2] += 1,
                _ => c[3] += 1,
            }
            if d.submission == SUBMISSION_KEPT_PREVIOUS {
                c[4] += 1;
            }
        }
        c
    }
}

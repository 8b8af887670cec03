//! `upload`: what a district handed in through the portal. The latest upload that was taken (not
//! refused) for a district and date is its submission; its bytes are in the blob store under their
//! sha256, its receipt in the ledger.

use std::sync::Arc;

use chrono::NaiveDate;

use super::{Pulled, SourceError};
use crate::day::SourceInfo;
use crate::ledger::Ledger;
use crate::pull::blobs::BlobStore;
use crate::validate::{Code, Finding};

/// The uploads of one job.
pub struct UploadSource {
    job: String,
    ledger: Arc<Ledger>,
    blobs: BlobStore,
}

/// A manifest's source for an upload: `upload:<receipt id>` (the file name is data, kept apart).
pub fn location_of(receipt: i64) -> String {
    format!("upload:{receipt}")
}

impl UploadSource {
    pub fn new(job: String, ledger: Arc<Ledger>, blobs: BlobStore) -> UploadSource {
        UploadSource { job, ledger, blobs }
    }
}

impl super::Source for UploadSource {
    fn kind(&self) -> &'static str {
        "upload"
    }

    fn pull(
        &self,
        district_code: &str,
        date: NaiveDate,
        _max_bytes: u64,
        _previous: Option<&crate::ledger::SubmissionRecord>,
    ) -> Result<(Pulled, u32), SourceError> {
        let Some(upload) = self
            .ledger
            .latest_taken_upload(&self.job, date, district_code)
            .map_err(|e| SourceError::Uploads {
                reason: e.to_string(),
            })?
        else {
            return Ok((Pulled::Missing, 0));
        };
        let location = location_of(upload.id);
        let bytes = match self.blobs.get(&upload.sha256) {
            Ok(Some(bytes)) => bytes,
            Ok(None) | Err(_) => {
                tracing::warn!(district_code, %date, receipt = upload.id, "the bytes of a taken upload are not in the blob store");
                return Ok((
                    Pulled::Unreachable {
                        location,
                        finding: Finding::file(
                            Code::FileUnreadable,
                            "已接收的上传文件在服务器上找不到了：请联系运维人员，或重新上传",
                        ),
                    },
                    0,
                ));
            }
        };
        let info = SourceInfo {
            location,
            file_name: upload.file_name.clone(),
            sha256: upload.sha256.clone(),
            bytes: bytes.len() as u64,
            etag: None,
            last_modified: None,
            submitted_at: Some(upload.received_at),
            kind: "upload".into(),
        };
        Ok((Pulled::Found { info, bytes }, 0))
    }

    fn describe(&self, district_code: &str, date: NaiveDate) -> String {
        format!("upload: {district_code} {date}")
    }
}

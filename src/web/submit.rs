//! Receiving one upload (contract §12): checked exactly as a run reads it (`Intake::take`, the job's
//! district and date), taken when no file-level error rejects it, refused otherwise; the bytes kept in
//! the blob store, the outcome in the ledger (a receipt), a line in the audit log.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::PortalJob;
use crate::config::District;
use crate::ledger::portal::{AuditEntry, UploadRecord};
use crate::pull::Pulled;
use crate::validate::Finding;

/// A finding as the API and the pages show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingView {
    pub code: String,
    pub severity: String,
    pub cell: Option<String>,
    pub column: Option<String>,
    pub value: Option<String>,
    pub message: String,
    pub expected: Option<String>,
    pub row: Option<u32>,
}

impl From<&Finding> for FindingView {
    fn from(f: &Finding) -> FindingView {
        FindingView {
            code: f.code.as_str().to_string(),
            severity: f.severity.as_str().to_string(),
            cell: f.cell.clone(),
            column: f.column.clone(),
            value: f.value.clone(),
            message: f.message.clone(),
            expected: f.expected.clone(),
            row: f.row,
        }
    }
}

/// The receipt of a taken upload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Receipt {
    pub id: i64,
    pub sha256: String,
    pub bytes: u64,
    pub file_name: String,
    pub received_at: String,
    pub on_time: Option<bool>,
}

/// What became of an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub taken: bool,
    pub receipt: Receipt,
    /// `accepted`, `partial` or `rejected`.
    pub status: String,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub findings: Vec<FindingView>,
}

/// Why an upload could not be received at all.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Intake(#[from] crate::intake::IntakeError),
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
}

/// A file name as data: kept verbatim but for control characters (never used to build a path), at most
/// 255 characters.
pub fn clean_file_name(name: &str) -> String {
    let cleaned: String = name.chars().filter(|c| !c.is_control()).take(255).collect();
    if cleaned.trim().is_empty() {
        "（未命名）".into()
    } else {
        cleaned
    }
}

/// Receive `bytes` as `district`'s submission for `date` (blocking: it reads the workbook).
#[allow(clippy::too_many_arguments)]
pub fn receive(
    pj: &PortalJob,
    district: &District,
    date: NaiveDate,
    file_name: &str,
    bytes: Vec<u8>,
    token_id: Option<i64>,
    client: Option<&str>,
    received_at: DateTime<Utc>,
) -> Result<Outcome, SubmitError> {
    let job = pj.job;
    let file_name = clean_file_name(file_name);
    let info = crate::intake::source_info(
        crate::pull::upload::location_of(0),
        file_name.clone(),
        &bytes,
    );
    let (sha256, size) = (info.sha256.clone(), info.bytes);
    let result = pj
        .intake
        .take(district, date, Pulled::Found { info, bytes })?;
    let status = result.status();
    let taken = status.is_reported();
    let on_time = job.deadline_of(date).map(|d| received_at <= d);
    let record = UploadRecord {
        id: 0,
        report_date: date,
        district_code: district.code.clone(),
        received_at,
        file_name: file_name.clone(),
        sha256: sha256.clone(),
        bytes: size,
        taken,
        status: status.as_str().to_string(),
        rows_accepted: result.outcome.rows.len() as u64,
        rows_rejected: u64::from(result.outcome.rows_rejected),
        findings: result.outcome.findings.clone(),
        on_time,
        token_id,
    };
    let id = pj.ledger.record_upload(&job.name, &record)?;
    pj.forget_board(date);
    let _ = pj.ledger.audit(
        &job.name,
        &AuditEntry {
            event: "upload",
            token_id,
            client,
            district_code: Some(&district.code),
            report_date: Some(date),
            detail: serde_json::json!({
                "receipt": id, "bytes": size, "sha256": sha256, "taken": taken,
                "status": status.as_str(), "file_name": file_name,
            }),
        },
    );
    tracing::info!(job = %job.name, district_code = %district.code, %date, receipt = id, taken, status = status.as_str(), bytes = size, "upload received");
    if !taken {
        let mut n =
            crate::notify::Notice::new(crate::notify::Event::RefusedUpload, &job.name, date);
        n.district = Some(crate::notify::DistrictRef::of(district));
        n.file_name = Some(file_name.clone());
        n.findings = record
            .findings
            .iter()
            .filter(|f| f.is_error())
            .take(5)
            .map(|f| crate::notify::message::FindingBrief {
                code: f.code.as_str().to_string(),
                cell: f.cell.clone(),
                message: f.message.clone(),
            })
            .collect();
        n.link = job.public_link(&format!(
            "/jobs/{}/districts/{}?date={date}",
            job.name, district.code
        ));
        crate::notify::Notifier::default().send(job, Some(std::sync::Arc::clone(&pj.ledger)), n);
    }
    Ok(Outcome {
        taken,
        receipt: Receipt {
            id,
            sha256,
            bytes: size,
            file_name,
            received_at: received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            on_time,
        },
        status: status.as_str().to_string(),
        rows_accepted: record.rows_accepted,
        rows_rejected: record.rows_rejected,
        findings: record.findings.iter().map(FindingView::from).collect(),
    })
}

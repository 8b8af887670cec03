//! The portal's records in the run ledger: every upload with its outcome (the latest one taken is the
//! district's submission for the date), the tokens (argon2id hashes only, never the secret), and the
//! audit log of sign-ins, uploads, token changes and notices.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Ledger, LedgerError, now};
use crate::validate::Finding;

/// One upload as received and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadRecord {
    pub id: i64,
    pub report_date: NaiveDate,
    pub district_code: String,
    pub received_at: DateTime<Utc>,
    /// The client's file name, verbatim (data, never a path).
    pub file_name: String,
    pub sha256: String,
    pub bytes: u64,
    /// Taken (accepted or partial) or refused (a file-level error).
    pub taken: bool,
    /// `accepted`, `partial` or `rejected`.
    pub status: String,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub findings: Vec<Finding>,
    /// Received by the deadline; None without one.
    pub on_time: Option<bool>,
    pub token_id: Option<i64>,
}

/// What role a token has and what it may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    District,
    City,
    Province,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::District => "district",
            Role::City => "city",
            Role::Province => "province",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "district" => Role::District,
            "city" => Role::City,
            "province" => Role::Province,
            _ => return None,
        })
    }
}

/// A token as stored: its hash, never the secret.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: i64,
    pub role: Role,
    /// The district code, the city code, or the province code.
    pub scope: String,
    pub name: Option<String>,
    /// The argon2id PHC string of the secret.
    pub hash: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    pub event: String,
    pub token_id: Option<i64>,
    pub client: Option<String>,
    pub district_code: Option<String>,
    pub report_date: Option<String>,
    pub detail: serde_json::Value,
}

/// What an audit line is about.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    pub event: &'a str,
    pub token_id: Option<i64>,
    pub client: Option<&'a str>,
    pub district_code: Option<&'a str>,
    pub report_date: Option<NaiveDate>,
    pub detail: serde_json::Value,
}

fn time_of(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn upload_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<UploadRecord> {
    let date: String = r.get(1)?;
    let received: String = r.get(3)?;
    let findings: String = r.get(11)?;
    Ok(UploadRecord {
        id: r.get(0)?,
        report_date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap_or_default(),
        district_code: r.get(2)?,
        received_at: time_of(&received),
        file_name: r.get(4)?,
        sha256: r.get(5)?,
        bytes: r.get::<_, i64>(6)? as u64,
        taken: r.get::<_, i64>(7)? != 0,
        status: r.get(8)?,
        rows_accepted: r.get::<_, i64>(9)? as u64,
        rows_rejected: r.get::<_, i64>(10)? as u64,
        findings: serde_json::from_str(&findings).unwrap_or_default(),
        on_time: r.get::<_, Option<i64>>(12)?.map(|v| v != 0),
        token_id: r.get(13)?,
    })
}

const UPLOAD_COLUMNS: &str = "id, report_date, district_code, received_at, file_name, sha256, bytes, taken, status, rows_accepted, rows_rejected, findings, on_time, token_id";

fn token_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let role: String = r.get(1)?;
    Ok(TokenRecord {
        id: r.get(0)?,
        role: Role::parse(&role).unwrap_or(Role::District),
        scope: r.get(2)?,
        name: r.get(3)?,
        hash: r.get(4)?,
        created_at: r.get(5)?,
        last_used_at: r.get(6)?,
        revoked_at: r.get(7)?,
    })
}

const TOKEN_COLUMNS: &str = "id, role, scope, name, hash, created_at, last_used_at, revoked_at";

impl Ledger {
    /// Record an upload with its outcome; returns its id (the receipt's).
    pub fn record_upload(&self, job: &str, u: &UploadRecord) -> Result<i64, LedgerError> {
        let findings = serde_json::to_string(&u.findings).unwrap_or_else(|_| "[]".into());
        self.with(|c| {
            c.execute(
                "INSERT INTO uploads (job, report_date, district_code, received_at, file_name, sha256, bytes, taken, status,
                   rows_accepted, rows_rejected, findings, on_time, token_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    job,
                    u.report_date.to_string(),
                    u.district_code,
                    u.received_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    u.file_name,
                    u.sha256,
                    u.bytes as i64,
                    i64::from(u.taken),
                    u.status,
                    u.rows_accepted as i64,
                    u.rows_rejected as i64,
                    findings,
                    u.on_time.map(i64::from),
                    u.token_id,
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// The uploads of a date (of one district, or of all), oldest first.
    pub fn uploads(
        &self,
        job: &str,
        date: NaiveDate,
        district: Option<&str>,
    ) -> Result<Vec<UploadRecord>, LedgerError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE job = ?1 AND report_date = ?2
                 AND (?3 IS NULL OR district_code = ?3) ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![job, date.to_string(), district], upload_of)?;
            rows.collect()
        })
    }

    /// The uploads of a date without their findings (what the board needs), oldest first.
    pub fn uploads_brief(
        &self,
        job: &str,
        date: NaiveDate,
    ) -> Result<Vec<UploadRecord>, LedgerError> {
        self.with(|c| {
            let columns = UPLOAD_COLUMNS.replace("findings", "'[]'");
            let mut stmt = c.prepare(&format!(
                "SELECT {columns} FROM uploads WHERE job = ?1 AND report_date = ?2 ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![job, date.to_string()], upload_of)?;
            rows.collect()
        })
    }

    /// The latest taken upload of a district for a date: its submission, winning over a pull.
    pub fn latest_taken_upload(
        &self,
        job: &str,
        date: NaiveDate,
        district: &str,
    ) -> Result<Option<UploadRecord>, LedgerError> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE job = ?1 AND report_date = ?2
                     AND district_code = ?3 AND taken = 1 ORDER BY id DESC LIMIT 1"
                ),
                params![job, date.to_string(), district],
                upload_of,
            )
            .optional()
        })
    }

    /// Uploads a token made since `since` (for `uploads_per_hour`).
    pub fn uploads_by_token_since(
        &self,
        token_id: i64,
        since: DateTime<Utc>,
    ) -> Result<u64, LedgerError> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM uploads WHERE token_id = ?1 AND received_at >= ?2",
                params![
                    token_id,
                    since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                ],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
        })
    }

    /// Store a new token's hash; returns its id.
    pub fn insert_token(
        &self,
        job: &str,
        role: Role,
        scope: &str,
        name: Option<&str>,
        hash: &str,
    ) -> Result<i64, LedgerError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO tokens (job, role, scope, name, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![job, role.as_str(), scope, name, hash, now()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// A token of the job by id (revoked ones too; the caller checks).
    pub fn token(&self, job: &str, id: i64) -> Result<Option<TokenRecord>, LedgerError> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE job = ?1 AND id = ?2"),
                params![job, id],
                token_of,
            )
            .optional()
        })
    }

    /// Every token of the job, oldest first.
    pub fn tokens(&self, job: &str) -> Result<Vec<TokenRecord>, LedgerError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE job = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![job], token_of)?;
            rows.collect()
        })
    }

    /// Revoke a token; false when the job has no such token or it was revoked already.
    pub fn revoke_token(&self, job: &str, id: i64) -> Result<bool, LedgerError> {
        self.with(|c| {
            c.execute(
                "UPDATE tokens SET revoked_at = ?3 WHERE job = ?1 AND id = ?2 AND revoked_at IS NULL",
                params![job, id, now()],
            )
            .map(|n| n > 0)
        })
    }

    /// Note a token's use.
    pub fn touch_token(&self, id: i64) -> Result<(), LedgerError> {
        self.with(|c| {
            c.execute(
                "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1",
                params![id, now()],
            )
            .map(|_| ())
        })
    }

    /// Claim a reminder (job, date, minutes before the deadline): true the first time, false when it
    /// was sent already (by this process or an earlier one).
    pub fn claim_reminder(
        &self,
        job: &str,
        date: NaiveDate,
        minutes_before: u32,
        districts: &[String],
    ) -> Result<bool, LedgerError> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO reminders (job, report_date, minutes_before, sent_at, districts)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    job,
                    date.to_string(),
                    minutes_before,
                    now(),
                    districts.join(",")
                ],
            )
            .map(|n| n > 0)
        })
    }

    /// The reminders sent for a date: (minutes before the deadline, when, how many districts).
    pub fn reminders(
        &self,
        job: &str,
        date: NaiveDate,
    ) -> Result<Vec<(u32, String, usize)>, LedgerError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT minutes_before, sent_at, districts FROM reminders WHERE job = ?1 AND report_date = ?2
                 ORDER BY minutes_before DESC",
            )?;
            let rows = stmt.query_map(params![job, date.to_string()], |r| {
                let districts: String = r.get(2)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    districts.split(',').filter(|d| !d.is_empty()).count(),
                ))
            })?;
            rows.collect()
        })
    }

    /// Add a line to the audit log.
    pub fn audit(&self, job: &str, e: &AuditEntry<'_>) -> Result<(), LedgerError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO audit (job, at, event, token_id, client, district_code, report_date, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    job,
                    now(),
                    e.event,
                    e.token_id,
                    e.client,
                    e.district_code,
                    e.report_date.map(|d| d.to_string()),
                    e.detail.to_string(),
                ],
            )
            .map(|_| ())
        })
    }

    /// The audit log of a job, oldest first; `from`/`to` bound the day of the entry (UTC).
    pub fn audit_log(
        &self,
        job: &str,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Vec<AuditRecord>, LedgerError> {
        let from = from.map(|d| d.to_string()).unwrap_or_else(|| "0000".into());
        let to = to
            .map(|d| format!("{d}T99"))
            .unwrap_or_else(|| "9999".into());
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, at, event, token_id, client, district_code, report_date, detail FROM audit
                 WHERE job = ?1 AND at >= ?2 AND at <= ?3 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![job, from, to], |r| {
                let detail: String = r.get(7)?;
                Ok(AuditRecord {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    event: r.get(2)?,
                    token_id: r.get(3)?,
                    client: r.get(4)?,
                    district_code: r.get(5)?,
                    report_date: r.get(6)?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                })
            })?;
            rows.collect()
        })
    }
}

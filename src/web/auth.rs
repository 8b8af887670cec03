//! Who may do what in the portal (contract §12): tokens, sign-in sessions, and the one authorization
//! helper every handler asks.
//!
//! A token is `fg_<job key>_<id>_<secret>`: the job key (8 hex digits of the job name's sha256) and the
//! id find the token's record in that job's ledger, where only the argon2id hash of the 256-bit secret is
//! kept; the secret is shown once, when issued, and never logged. A verified token is remembered in
//! memory by the sha256 of the whole token for a minute, so an API client's every request does not pay
//! argon2's cost. Sign-in sets the `fugong_session` cookie to a random 256-bit session id kept in memory
//! (a restart signs everyone out).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::config::Job;
use crate::ledger::portal::{Role, TokenRecord};

/// A session lasts this long (contract §12: 12 h).
pub const SESSION_SECS: u64 = 12 * 3600;
/// Failed sign-ins from one client address allowed per window before 429.
pub const SIGNIN_FAILURES_ALLOWED: u32 = 5;
pub const SIGNIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long a verified token is remembered without checking its hash again.
const VERIFIED_FOR: Duration = Duration::from_secs(60);

/// The 8 hex digits a job's tokens start with.
pub fn job_key(job_name: &str) -> String {
    Sha256::digest(job_name.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random secret: 32 bytes, URL-safe base64 without padding (43 characters).
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The argon2id hash (PHC string) of a secret.
pub fn hash_secret(secret: &str) -> Result<String, String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_secret(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A token's parts.
struct Parsed<'t> {
    job_key: &'t str,
    id: i64,
    secret: &'t str,
}

fn parse(token: &str) -> Option<Parsed<'_>> {
    let rest = token.trim().strip_prefix("fg_")?;
    let mut parts = rest.splitn(3, '_');
    let job_key = parts.next()?;
    let id = parts.next()?.parse().ok()?;
    let secret = parts.next()?;
    (job_key.len() == 8 && secret.len() >= 32).then_some(Parsed {
        job_key,
        id,
        secret,
    })
}

/// Make a new token's secret and hash; the caller stores the hash and gets the id, then `finish`
/// writes the token with it.
pub fn new_token() -> Result<(String, String), String> {
    let secret = new_secret();
    let hash = hash_secret(&secret)?;
    Ok((secret, hash))
}

/// The whole token of a stored record.
pub fn token_text(job_name: &str, id: i64, secret: &str) -> String {
    format!("fg_{}_{id}_{secret}", job_key(job_name))
}

/// Who is calling: a verified, unrevoked token of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The job's name.
    pub job: String,
    pub token_id: i64,
    pub role: Role,
    pub scope: String,
    pub name: Option<String>,
}

impl Caller {
    /// Whether the caller may see a district of the job: its own (district), its city's (city), any
    /// (province). The one place the portal decides it.
    pub fn may_see(&self, job: &Job, district_code: &str) -> bool {
        if job.name != self.job {
            return false;
        }
        // The job's districts are sorted by code.
        let Ok(i) = job
            .districts
            .binary_search_by(|d| d.code.as_str().cmp(district_code))
        else {
            return false;
        };
        let d = &job.districts[i];
        match self.role {
            Role::District => d.code == self.scope,
            Role::City => d.city_code == self.scope,
            Role::Province => true,
        }
    }

    /// Whether the caller may hand in a district's workbook: a district token for its own district.
    /// (City and province staff see, they do not submit for a district.)
    pub fn may_upload(&self, job: &Job, district_code: &str) -> bool {
        self.role == Role::District && self.may_see(job, district_code)
    }

    /// Whether the caller may see the job's board (city and province tokens).
    pub fn may_see_board(&self, job: &Job) -> bool {
        job.name == self.job && self.role != Role::District
    }
}

/// What the portal knows of who is signed in, and of failed sign-ins.
#[derive(Default)]
pub struct Sessions {
    /// session id → (caller, expiry).
    sessions: Mutex<HashMap<String, (Caller, Instant)>>,
    /// sha256 of a verified token → (caller, until).
    verified: Mutex<HashMap<[u8; 32], (Caller, Instant)>>,
    /// client address → (failures, window start).
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

/// Finds a token's record by its job key and id: the job's name and the record.
pub type Lookup<'a> = dyn Fn(&str, i64) -> Option<(String, TokenRecord)> + 'a;

/// Why a token is not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed, unknown, wrong secret, or revoked: 401.
    Unknown,
}

impl Sessions {
    /// Verify a token against the jobs' ledgers (`lookup` finds a job's token record by job key and
    /// id). The verdict is remembered for a minute; a revoked token stops working within that time.
    pub fn verify(&self, token: &str, lookup: &Lookup<'_>) -> Result<Caller, Refusal> {
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        if let Some((caller, until)) = self.lock_verified().get(&digest).cloned()
            && Instant::now() < until
        {
            return Ok(caller);
        }
        let parsed = parse(token).ok_or(Refusal::Unknown)?;
        let (job, record) = lookup(parsed.job_key, parsed.id).ok_or(Refusal::Unknown)?;
        if record.revoked_at.is_some() || !verify_secret(parsed.secret, &record.hash) {
            return Err(Refusal::Unknown);
        }
        let caller = Caller {
            job,
            token_id: record.id,
            role: record.role,
            scope: record.scope,
            name: record.name,
        };
        self.lock_verified()
            .insert(digest, (caller.clone(), Instant::now() + VERIFIED_FOR));
        Ok(caller)
    }

    /// Forget what was remembered of a token (when it is revoked through this process).
    pub fn forget_token(&self, token_id: i64) {
        self.lock_verified()
            .retain(|_, (c, _)| c.token_id != token_id);
        self.lock_sessions()
            .retain(|_, (c, _)| c.token_id != token_id);
    }

    fn lock_verified(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (Caller, Instant)>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Caller, Instant)>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open a session for a caller; returns its id (the cookie's value).
    pub fn open(&self, caller: Caller) -> String {
        let id = new_secret();
        let mut sessions = self.lock_sessions();
        let now = Instant::now();
        sessions.retain(|_, (_, until)| *until > now);
        sessions.insert(
            id.clone(),
            (caller, now + Duration::from_secs(SESSION_SECS)),
        );
        id
    }

    /// The caller of a session, while it lasts.
    pub fn session(&self, id: &str) -> Option<Caller> {
        let sessions = self.lock_sessions();
        let (caller, until) = sessions.get(id)?;
        (Instant::now() < *until).then(|| caller.clone())
    }

    pub fn close(&self, id: &str) {
        self.lock_sessions().remove(id);
    }

    /// Whether a client address has failed to sign in too often lately (429).
    pub fn too_many_failures(&self, client: IpAddr) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.get(&client).is_some_and(|(n, since)| {
            *n >= SIGNIN_FAILURES_ALLOWED && since.elapsed() < SIGNIN_WINDOW
        })
    }

    /// Count a failed sign-in.
    pub fn failed(&self, client: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let entry = failures.entry(client).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= SIGNIN_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_with_its_secret_and_never_when_revoked() {
        let (secret, hash) = new_token().expect("token");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains(&secret));
        let token = token_text("shandong-daily", 7, &secret);
        assert!(token.starts_with(&format!("fg_{}_7_", job_key("shandong-daily"))));
        let record = |revoked: bool| TokenRecord {
            id: 7,
            role: Role::District,
            scope: "370102".into(),
            name: None,
            hash: hash.clone(),
            created_at: String::new(),
            last_used_at: None,
            revoked_at: revoked.then(|| "now".into()),
        };
        let sessions = Sessions::default();
        let lookup = |key: &str, id: i64| {
            (key == job_key("shandong-daily") && id == 7)
                .then(|| ("shandong-daily".to_string(), record(false)))
        };
        let caller = sessions.verify(&token, &lookup).expect("verified");
        assert_eq!(caller.scope, "370102");
        let wrong = token_text("shandong-daily", 7, &new_secret());
        assert_eq!(sessions.verify(&wrong, &lookup), Err(Refusal::Unknown));
        assert_eq!(
            sessions.verify("fg_nonsense", &lookup),
            Err(Refusal::Unknown)
        );
        let revoked_sessions = Sessions::default();
        let revoked = |_: &str, _: i64| Some(("shandong-daily".to_string(), record(true)));
        assert_eq!(
            revoked_sessions.verify(&token, &revoked),
            Err(Refusal::Unknown)
        );
    }
}

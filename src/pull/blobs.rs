//! Raw submissions, kept content-addressed (`<output>/_state/blobs/<sha256>`, contract §9) whatever the
//! source, so that every published version can be explained and rebuilt, an automatic run can keep a
//! district's previous submission when its pull fails, and an HTTP 304 can reuse what was downloaded.
//! A blob's modification time is its last use; blobs unused for `keep_blob_days` are removed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::sha256_hex;

pub const DEFAULT_KEEP_BLOB_DAYS: u32 = 90;

const PRUNE_MARKER: &str = ".last-pruned";

/// The blob folder of a warehouse.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    pub fn new(dir: PathBuf) -> BlobStore {
        BlobStore { dir }
    }

    pub fn for_output(output: &Path) -> BlobStore {
        BlobStore::new(output.join("_state").join("blobs"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, sha256: &str) -> Option<PathBuf> {
        // Only a hex digest names a blob: a value read from a manifest is never used as a path otherwise.
        (sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.dir.join(sha256))
    }

    /// Keep `bytes` under their digest, durably (written, fsynced, renamed into place, folder fsynced).
    /// An existing blob only has its time refreshed.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self
            .path(sha256)
            .ok_or_else(|| std::io::Error::other(format!("`{sha256}` is not a sha256 digest")))?;
        if path.is_file() {
            let _ = fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(SystemTime::now()));
            return Ok(());
        }
        fs::create_dir_all(&self.dir)?;
        let tmp = self.dir.join(format!(
            ".{sha256}.{}.{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let written = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(&self.dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// The bytes of a blob, if it is there and still has its digest.
    pub fn get(&self, sha256: &str) -> std::io::Result<Option<Vec<u8>>> {
        let Some(path) = self.path(sha256) else {
            return Ok(None);
        };
        match fs::read(&path) {
            Ok(bytes) if sha256_hex(&bytes) == sha256 => Ok(Some(bytes)),
            Ok(_) => {
                tracing::error!(blob = %path.display(), "a kept submission no longer matches its digest");
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `prune`, at most once a day (a marker file remembers the last time).
    pub fn prune_if_due(&self, keep_days: u32) -> std::io::Result<Option<usize>> {
        let marker = self.dir.join(PRUNE_MARKER);
        let due = match fs::metadata(&marker).and_then(|m| m.modified()) {
            Ok(t) => SystemTime::now()
                .duration_since(t)
                .is_ok_and(|age| age > Duration::from_secs(86_400)),
            Err(_) => true,
        };
        if !due || !self.dir.is_dir() {
            return Ok(None);
        }
        let removed = self.prune(keep_days)?;
        fs::write(&marker, b"")?;
        Ok(Some(removed))
    }

    /// Remove blobs unused for more than `keep_days` days (and temporary files of interrupted writes).
    /// Returns how many were removed.
    pub fn prune(&self, keep_days: u32) -> std::io::Result<usize> {
        let horizon = Duration::from_secs(u64::from(keep_days) * 86_400);
        let now = SystemTime::now();
        let mut removed = 0;
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_name() == PRUNE_MARKER {
                continue;
            }
            let modified = entry.metadata()?.modified()?;
            let age = now.duration_since(modified).unwrap_or_default();
            let stale_tmp = entry.file_name().to_string_lossy().starts_with('.')
                && age > Duration::from_secs(86_400);
            if age > horizon || stale_tmp {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_and_prune_by_last_use() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = BlobStore::new(dir.path().join("blobs"));
        let sha = sha256_hex(b"abc");
        store.put(&sha, b"abc").expect("put");
        store.put(&sha, b"abc").expect("put again");
        assert_eq!(store.get(&sha).expect("get"), Some(b"abc".to_vec()));
        assert_eq!(store.get(&sha256_hex(b"other")).expect("get"), None);
        assert_eq!(store.get("../../etc/passwd").expect("get"), None);
        // Not used for 91 days: removed; a fresh one stays.
        let old = SystemTime::now() - Duration::from_secs(91 * 86_400);
        fs::File::options()
            .write(true)
            .open(store.path(&sha).expect("path"))
            .and_then(|f| f.set_modified(old))
            .expect("age it");
        let fresh = sha256_hex(b"new");
        store.put(&fresh, b"new").expect("put");
        assert_eq!(store.prune(90).expect("prune"), 1);
        assert_eq!(store.get(&sha).expect("get"), None);
        assert!(store.get(&fresh).expect("get").is_some());
    }
}

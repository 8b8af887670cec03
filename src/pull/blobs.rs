//! Raw submissions, kept content-addressed (`<output>/_state/blobs/<sha256>`, contract §9) whatever the
//! source, so that every published version can be explained and rebuilt, an automatic run can keep a
//! district's previous submission when its pull fails, and an HTTP 304 can reuse what was downloaded.
//! A blob's modification time is its last use; blobs unused for `keep_blob_days` are removed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use object_store::ObjectStoreExt;

use super::sha256_hex;

pub use crate::config::source::DEFAULT_KEEP_BLOB_DAYS;

const PRUNE_MARKER: &str = ".last-pruned";

/// Where a warehouse keeps its blobs: a local folder, or a prefix of its object store.
#[derive(Clone)]
pub enum BlobStore {
    Local {
        dir: PathBuf,
    },
    Object {
        store: std::sync::Arc<dyn object_store::ObjectStore>,
        prefix: String,
        runtime: std::sync::Arc<tokio::runtime::Runtime>,
    },
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlobStore({})", self.describe())
    }
}

/// The blobs of one run, made durable together: each new blob is written under a temporary name with
/// no flush; `seal` flushes the file system once (`syncfs`), renames every blob into place and flushes
/// the folder once. A blob is under its digest's name only once its bytes are durable, as with
/// `BlobStore::put`, so a crash before `seal` leaves only temporary files (removed by `prune`) and never
/// a digest name over missing bytes. A run seals its batch before it commits a version naming the blobs.
/// Blobs on an object store are durable when put.
pub struct BlobBatch {
    store: BlobStore,
    /// Digest → temporary file, written and not yet sealed.
    pending: std::sync::Mutex<std::collections::HashMap<String, PathBuf>>,
}

impl BlobBatch {
    pub fn new(store: BlobStore) -> BlobBatch {
        BlobBatch {
            store,
            pending: std::sync::Mutex::default(),
        }
    }

    pub fn describe(&self) -> String {
        self.store.describe()
    }

    /// Keep `bytes` under their digest once the batch is sealed.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        let BlobStore::Local { dir } = &self.store else {
            return self.store.put(sha256, bytes);
        };
        if !is_digest(sha256) {
            return Err(std::io::Error::other(format!(
                "`{sha256}` is not a sha256 digest"
            )));
        }
        let path = dir.join(sha256);
        if path.is_file() {
            return self.store.put(sha256, bytes);
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.contains_key(sha256) {
            return Ok(());
        }
        fs::create_dir_all(dir)?;
        // Unique to this batch: two runs of one process (a backfill's dates) may hold the same bytes.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{sha256}.{}.{n}.batch", std::process::id()));
        let written = fs::File::create(&tmp).and_then(|mut f| f.write_all(bytes));
        match written {
            Ok(()) => {
                pending.insert(sha256.to_string(), tmp);
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Make every blob of the batch durable under its digest: one file-system flush, the renames, one
    /// folder flush. Returns how many blobs were sealed.
    pub fn seal(&self) -> std::io::Result<usize> {
        let BlobStore::Local { dir } = &self.store else {
            return Ok(0);
        };
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.is_empty() {
            return Ok(0);
        }
        let folder = fs::File::open(dir)?;
        rustix::fs::syncfs(&folder)?;
        failpoint("blobs::after-flush")?;
        let sealed = pending.len();
        for (sha256, tmp) in pending.drain() {
            fs::rename(&tmp, dir.join(&sha256))?;
            failpoint("blobs::after-rename")?;
        }
        folder.sync_all()?;
        Ok(sealed)
    }
}

/// A failpoint of the seal (tests only): `return(crash)` kills the process as `kill -9` would, `return`
/// makes the step fail.
fn failpoint(name: &str) -> std::io::Result<()> {
    #[cfg(feature = "failpoints")]
    if let Some(arg) = fail::eval(name, |arg: Option<String>| arg) {
        if arg.as_deref() == Some("crash") {
            crate::publish::crash_now(name);
        }
        return Err(std::io::Error::other(format!("failpoint {name}")));
    }
    let _ = name;
    Ok(())
}

impl Drop for BlobBatch {
    /// Blobs of a run that did not seal its batch are not kept.
    fn drop(&mut self) {
        let pending = self.pending.get_mut().unwrap_or_else(|p| p.into_inner());
        for tmp in pending.values() {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Only a hex digest names a blob: a value read from a manifest is never used as a path otherwise.
fn is_digest(sha256: &str) -> bool {
    sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit())
}

impl BlobStore {
    pub fn new(dir: PathBuf) -> BlobStore {
        BlobStore::Local { dir }
    }

    pub fn for_output(output: &Path) -> BlobStore {
        BlobStore::new(output.join("_state").join("blobs"))
    }

    pub fn object(
        store: std::sync::Arc<dyn object_store::ObjectStore>,
        prefix: String,
        runtime: std::sync::Arc<tokio::runtime::Runtime>,
    ) -> BlobStore {
        BlobStore::Object {
            store,
            prefix,
            runtime,
        }
    }

    /// Where the blobs are, for messages.
    pub fn describe(&self) -> String {
        match self {
            BlobStore::Local { dir } => dir.display().to_string(),
            BlobStore::Object { prefix, .. } => format!("{prefix}/ in the object store"),
        }
    }

    pub fn dir(&self) -> PathBuf {
        match self {
            BlobStore::Local { dir } => dir.clone(),
            BlobStore::Object { prefix, .. } => PathBuf::from(prefix),
        }
    }

    /// Whether a blob is kept.
    pub fn has(&self, sha256: &str) -> bool {
        if !is_digest(sha256) {
            return false;
        }
        match self {
            BlobStore::Local { dir } => dir.join(sha256).is_file(),
            BlobStore::Object { .. } => self.object_get(sha256).is_ok_and(|b| b.is_some()),
        }
    }

    /// Run an object-store call from any thread (a fresh thread, so that no runtime is entered twice).
    fn run<T: Send>(
        runtime: &tokio::runtime::Runtime,
        f: impl std::future::Future<Output = T> + Send,
    ) -> T {
        std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(f))
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    fn object_get(&self, sha256: &str) -> std::io::Result<Option<Vec<u8>>> {
        let BlobStore::Object {
            store,
            prefix,
            runtime,
        } = self
        else {
            return Ok(None);
        };
        let path = object_store::path::Path::from(format!("{prefix}/{sha256}"));
        Self::run(runtime, async {
            match store.get(&path).await {
                Ok(r) => r
                    .bytes()
                    .await
                    .map(|b| Some(b.to_vec()))
                    .map_err(std::io::Error::other),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(std::io::Error::other(e)),
            }
        })
    }

    /// Keep `bytes` under their digest, durably (written, fsynced, renamed into place, folder fsynced).
    /// An existing blob only has its time refreshed.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> std::io::Result<()> {
        if !is_digest(sha256) {
            return Err(std::io::Error::other(format!(
                "`{sha256}` is not a sha256 digest"
            )));
        }
        let dir = match self {
            BlobStore::Local { dir } => dir,
            BlobStore::Object {
                store,
                prefix,
                runtime,
            } => {
                let path = object_store::path::Path::from(format!("{prefix}/{sha256}"));
                let payload = object_store::PutPayload::from(bytes.to_vec());
                return Self::run(runtime, async { store.put(&path, payload).await })
                    .map(|_| ())
                    .map_err(std::io::Error::other);
            }
        };
        let path = dir.join(sha256);
        if path.is_file() {
            let _ = fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(SystemTime::now()));
            return Ok(());
        }
        fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(
            ".{sha256}.{}.{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let written = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            fs::File::open(dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// The bytes of a blob, if it is there and still has its digest.
    pub fn get(&self, sha256: &str) -> std::io::Result<Option<Vec<u8>>> {
        if !is_digest(sha256) {
            return Ok(None);
        }
        let dir = match self {
            BlobStore::Local { dir } => dir,
            BlobStore::Object { .. } => {
                return Ok(self.object_get(sha256)?.filter(|b| sha256_hex(b) == sha256));
            }
        };
        let path = dir.join(sha256);
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

    /// `prune`, at most once a day (a marker file remembers the last time). Blobs on an object store
    /// are left to the bucket's lifecycle rules.
    pub fn prune_if_due(&self, keep_days: u32) -> std::io::Result<Option<usize>> {
        let BlobStore::Local { dir } = self else {
            return Ok(None);
        };
        let marker = dir.join(PRUNE_MARKER);
        let due = match fs::metadata(&marker).and_then(|m| m.modified()) {
            Ok(t) => SystemTime::now()
                .duration_since(t)
                .is_ok_and(|age| age > Duration::from_secs(86_400)),
            Err(_) => true,
        };
        if !due || !dir.is_dir() {
            return Ok(None);
        }
        let removed = self.prune(keep_days)?;
        fs::write(&marker, b"")?;
        Ok(Some(removed))
    }

    /// Remove blobs unused for more than `keep_days` days (and temporary files of interrupted writes).
    /// Returns how many were removed.
    pub fn prune(&self, keep_days: u32) -> std::io::Result<usize> {
        let BlobStore::Local { dir } = self else {
            return Ok(0);
        };
        let horizon = Duration::from_secs(u64::from(keep_days) * 86_400);
        let now = SystemTime::now();
        let mut removed = 0;
        let entries = match fs::read_dir(dir) {
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
            .open(dir.path().join("blobs").join(&sha))
            .and_then(|f| f.set_modified(old))
            .expect("age it");
        let fresh = sha256_hex(b"new");
        store.put(&fresh, b"new").expect("put");
        assert_eq!(store.prune(90).expect("prune"), 1);
        assert_eq!(store.get(&sha).expect("get"), None);
        assert!(store.get(&fresh).expect("get").is_some());
    }

    #[test]
    fn a_batch_names_its_blobs_only_once_sealed_and_drops_what_it_did_not_seal() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = BlobStore::new(dir.path().join("blobs"));
        let (a, b) = (sha256_hex(b"a"), sha256_hex(b"b"));
        store.put(&a, b"a").expect("put");
        let batch = BlobBatch::new(store.clone());
        batch.put(&a, b"a").expect("an existing blob");
        batch.put(&b, b"b").expect("a new blob");
        batch.put(&b, b"b").expect("the same blob twice");
        assert_eq!(
            store.get(&b).expect("get"),
            None,
            "not named before the seal"
        );
        assert_eq!(batch.seal().expect("seal"), 1);
        assert_eq!(store.get(&b).expect("get"), Some(b"b".to_vec()));
        assert_eq!(batch.seal().expect("nothing left"), 0);
        // A batch dropped unsealed leaves nothing behind.
        let c = sha256_hex(b"c");
        let unsealed = BlobBatch::new(store.clone());
        unsealed.put(&c, b"c").expect("put");
        drop(unsealed);
        assert_eq!(store.get(&c).expect("get"), None);
        let names: Vec<String> = fs::read_dir(dir.path().join("blobs"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    }

    #[test]
    fn two_batches_of_one_process_holding_the_same_bytes_both_seal() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = BlobStore::new(dir.path().join("blobs"));
        let d = sha256_hex(b"d");
        let (first, second) = (BlobBatch::new(store.clone()), BlobBatch::new(store.clone()));
        first.put(&d, b"d").expect("put in the first");
        second.put(&d, b"d").expect("put in the second");
        assert_eq!(first.seal().expect("the first seals"), 1);
        assert_eq!(second.seal().expect("the second seals"), 1);
        assert_eq!(store.get(&d).expect("get"), Some(b"d".to_vec()));
    }
}

//! Durable filesystem steps of the publish protocol: every new file and folder is fsynced together with
//! the folder that names it, so that what a journal says happened has happened on disk, after a power
//! cut as after a kill.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::PublishError;

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// fsync a directory so that the names created, renamed or removed in it are durable.
pub fn sync_dir(path: &Path) -> Result<(), PublishError> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err(path))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Create a folder and every missing ancestor, fsyncing each new folder and the folder that holds it.
pub fn create_dir_durable(path: &Path) -> Result<(), PublishError> {
    if path.is_dir() {
        return Ok(());
    }
    let mut missing: Vec<PathBuf> = Vec::new();
    let mut cursor = path.to_path_buf();
    while !cursor.as_os_str().is_empty() && !cursor.exists() {
        missing.push(cursor.clone());
        match cursor.parent() {
            Some(p) => cursor = p.to_path_buf(),
            None => break,
        }
    }
    for dir in missing.iter().rev() {
        match fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
            Err(e) => return Err(io_err(dir)(e)),
        }
        sync_dir(dir)?;
        sync_dir(parent_of(dir))?;
    }
    Ok(())
}

/// Write a new file and fsync it (the caller fsyncs the folder once all its files are written).
pub fn write_file_synced(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    let mut f = fs::File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Write `bytes` to `path` atomically: a temporary file in the same folder, fsync, rename, fsync the
/// folder. A reader sees the old file or the new one, never a part. Refuses to write nothing.
pub fn replace_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    if bytes.is_empty() {
        return Err(PublishError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "refusing to replace a file with nothing",
            ),
        });
    }
    let dir = parent_of(path);
    create_dir_durable(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let written = write_file_synced(&tmp, bytes).and_then(|()| {
        fs::rename(&tmp, path).map_err(io_err(path))?;
        sync_dir(dir)
    });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Remove a file if it exists, durably.
pub fn remove_file_durable(path: &Path) -> Result<(), PublishError> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent_of(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Remove a folder tree if it exists, durably.
pub fn remove_dir_durable(path: &Path) -> Result<(), PublishError> {
    match fs::remove_dir_all(path) {
        Ok(()) => sync_dir(parent_of(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Rename within one filesystem, durably (both folders fsynced).
pub fn rename_durable(from: &Path, to: &Path) -> Result<(), PublishError> {
    create_dir_durable(parent_of(to))?;
    fs::rename(from, to).map_err(io_err(to))?;
    sync_dir(parent_of(to))?;
    if parent_of(from) != parent_of(to) {
        sync_dir(parent_of(from))?;
    }
    Ok(())
}

/// Swap the staged partition into place with one rename: `renameat2(RENAME_EXCHANGE)` when the live
/// partition exists (afterwards `staged` holds the old partition), a plain rename when it does not.
pub fn swap_in(staged: &Path, live: &Path) -> Result<(), PublishError> {
    create_dir_durable(parent_of(live))?;
    if live.exists() {
        exchange(staged, live)?;
    } else {
        fs::rename(staged, live).map_err(io_err(live))?;
    }
    sync_dir(parent_of(live))?;
    sync_dir(parent_of(staged))
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<(), PublishError> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(|e| PublishError::Io {
        path: b.to_path_buf(),
        source: e.into(),
    })
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> Result<(), PublishError> {
    // Without an atomic exchange: move the live partition aside, then the new one in.
    let aside = a.with_extension("old");
    fs::rename(b, &aside).map_err(io_err(b))?;
    fs::rename(a, b).map_err(io_err(b))?;
    fs::rename(&aside, a).map_err(io_err(a))
}

/// Give `to` the same bytes as `from`: a hard link (published files are never modified, only
/// replaced), or a synced copy where links are not possible.
pub fn link_or_copy(from: &Path, to: &Path) -> Result<(), PublishError> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(_) => {
            let bytes = fs::read(from).map_err(io_err(from))?;
            write_file_synced(to, &bytes)
        }
    }
}

/// The names of the files in a folder (empty when it does not exist).
pub fn file_names(dir: &Path) -> Result<BTreeSet<String>, PublishError> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            let mut names = BTreeSet::new();
            for entry in entries {
                let entry = entry.map_err(io_err(dir))?;
                names.insert(entry.file_name().to_string_lossy().into_owned());
            }
            Ok(names)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(io_err(dir)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_replace_refuses_empty_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("a").join("b.json");
        replace_file_atomically(&path, b"{}").expect("write");
        assert!(replace_file_atomically(&path, b"").is_err());
        assert_eq!(fs::read(&path).expect("read"), b"{}");
        let names = file_names(&dir.path().join("a")).expect("names");
        assert_eq!(names.into_iter().collect::<Vec<_>>(), vec!["b.json"]);
    }

    #[test]
    fn exchange_swaps_two_folders() {
        let dir = tempfile::tempdir().expect("tmp");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        create_dir_durable(&a).expect("a");
        create_dir_durable(&b).expect("b");
        write_file_synced(&a.join("new"), b"1").expect("w");
        write_file_synced(&b.join("old"), b"2").expect("w");
        swap_in(&a, &b).expect("swap");
        assert!(b.join("new").is_file() && a.join("old").is_file());
    }
}

//! `[source] kind = "dir"`: a glob per district and date in a local inbox folder.
//!
//! The template's part before its first placeholder is the source's fixed folder: when it does not
//! exist or cannot be read, the whole source is unavailable (an unmounted share, a renamed folder), and
//! so is any folder the listing cannot read. Only a listing that works and finds nothing is `missing`.
//!
//! A date's folder holds every district's file, so it is listed once and the listing matched against
//! each district's pattern: a run over 2,850 districts reads the folder once, not 2,850 times. A
//! listing is reused only while the folder's modification time is the one it had when listed, and only
//! when that time was well before the listing (a file added in the same clock tick as the listing would
//! not move the time): a folder still being written to is listed afresh for every district.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::NaiveDate;

use super::{Pulled, SourceError, expand_template, sha256_hex};
use crate::day::SourceInfo;
use crate::validate::{Code, Finding};

/// Office lock files (`~$x.xlsx`) and hidden files are never submissions.
fn is_candidate(path: &std::path::Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy()) else {
        return false;
    };
    !name.starts_with("~$") && !name.starts_with('.') && path.is_file()
}

fn info(path: &std::path::Path, bytes: &[u8], len: u64) -> SourceInfo {
    // A file's arrival is its modification time (contract §13).
    let submitted_at = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(chrono::DateTime::<chrono::Utc>::from)
        .map(crate::day::arrival_precision);
    SourceInfo {
        location: path.to_string_lossy().into_owned(),
        file_name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256: if bytes.is_empty() && len > 0 {
            String::new()
        } else {
            sha256_hex(bytes)
        },
        bytes: len,
        etag: None,
        last_modified: None,
        submitted_at,
        kind: "dir".into(),
    }
}

/// A dir source: the job file's folder and the path template as written, and the folders listed.
#[derive(Debug, Clone)]
pub struct DirSource {
    base: PathBuf,
    template: String,
    listings: Arc<Mutex<HashMap<PathBuf, Listing>>>,
}

/// One folder's entries (file names, sorted) and the folder's modification time when they were read.
#[derive(Debug)]
struct Listing {
    modified: SystemTime,
    names: Arc<Vec<String>>,
}

/// How long before a listing a folder must have been last changed for the listing to be kept: more than
/// any file system's time granularity and any clock step between two calls.
const QUIET_BEFORE_LISTING: Duration = Duration::from_secs(2);

/// Folders whose listings are kept at most (a job reads one or a few per date).
const MAX_LISTINGS: usize = 64;

/// Glob metacharacters.
const META: [char; 3] = ['*', '?', '['];

impl DirSource {
    /// `base` is the job file's folder; `template` is checked by `super::check_template` at load.
    pub fn new(base: PathBuf, template: String) -> DirSource {
        // The template's leading literal folders (`../example/inbox/`) join the base, normalised, so
        // that the paths found (and written to manifests) read `/srv/example/inbox/…`, not
        // `/srv/jobs/../example/inbox/…`.
        let listings = Arc::default();
        if Path::new(&template).is_absolute() {
            return DirSource {
                base,
                template,
                listings,
            };
        }
        let parts: Vec<&str> = template.split('/').collect();
        let literal = parts
            .iter()
            .take(parts.len().saturating_sub(1))
            .take_while(|p| !p.contains(['{', '*', '?', '[']))
            .count();
        let mut folder = base;
        for part in &parts[..literal] {
            folder.push(part);
        }
        DirSource {
            base: crate::config::job::clean_path(&folder),
            template: parts[literal..].join("/"),
            listings,
        }
    }

    /// The folder every submission lies under: the template's part before its first placeholder or
    /// wildcard, up to its last `/`.
    pub fn fixed_folder(&self) -> PathBuf {
        let cut = self
            .template
            .find(['{', '*', '?', '['])
            .unwrap_or(self.template.len());
        let fixed = &self.template[..cut];
        match fixed.rfind('/') {
            Some(i) => self.base.join(&fixed[..i.max(1)]),
            None => self.base.clone(),
        }
    }

    /// The fixed folder must exist and be readable.
    pub fn check(&self) -> Result<(), SourceError> {
        let folder = self.fixed_folder();
        let unavailable = |reason: String| SourceError::DirUnavailable {
            folder: folder.clone(),
            reason,
        };
        match std::fs::read_dir(&folder) {
            Ok(mut entries) => match entries.next() {
                Some(Err(e)) => Err(unavailable(e.to_string())),
                _ => Ok(()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(unavailable("it does not exist".into()))
            }
            Err(e) => Err(unavailable(e.to_string())),
        }
    }

    /// The glob for a district and date: the base folder literally, then the expanded template.
    fn pattern(&self, district_code: &str, date: NaiveDate) -> String {
        let expanded = expand_template(&self.template, district_code, date);
        if Path::new(&expanded).is_absolute() {
            return expanded;
        }
        let base = glob::Pattern::escape(&self.base.to_string_lossy());
        let base = if base.is_empty() {
            ".".to_string()
        } else {
            base
        };
        format!("{base}/{expanded}")
    }

    /// Where a district's file is looked for.
    pub fn describe(&self, district_code: &str, date: NaiveDate) -> String {
        let expanded = expand_template(&self.template, district_code, date);
        self.base.join(expanded).to_string_lossy().into_owned()
    }

    /// The files a district's pattern matches for the date, without reading them (`backfill
    /// --dry-run`).
    pub fn files(&self, district_code: &str, date: NaiveDate) -> Result<Vec<PathBuf>, SourceError> {
        self.matching(district_code, date)
    }

    /// Find and read the district's file for the date.
    pub fn pull(
        &self,
        district_code: &str,
        date: NaiveDate,
        max_file_bytes: u64,
    ) -> Result<Pulled, SourceError> {
        let matches = self.matching(district_code, date)?;
        pull(matches, max_file_bytes)
    }

    /// The submissions a district's pattern names for the date (office lock files and hidden files left
    /// out), sorted. When only the file name has wildcards, they are matched against the folder's
    /// listing (shared by all districts); otherwise the whole pattern is globbed.
    fn matching(&self, district_code: &str, date: NaiveDate) -> Result<Vec<PathBuf>, SourceError> {
        let pattern = self.pattern(district_code, date);
        let expanded = expand_template(&self.template, district_code, date);
        let (folder, file) = match expanded.rsplit_once('/') {
            Some((folder, file)) => (Some(folder), file),
            None => (None, expanded.as_str()),
        };
        if folder.is_some_and(|f| f.contains(META)) {
            return glob_matching(&pattern);
        }
        let folder = match folder {
            Some("") => PathBuf::from("/"),
            Some(f) if Path::new(f).is_absolute() => PathBuf::from(f),
            Some(f) => self.base.join(f),
            None => self.base.clone(),
        };
        let listing = |reason: String| SourceError::Listing {
            pattern: pattern.clone(),
            reason,
        };
        let wanted = glob::Pattern::new(file).map_err(|e| listing(e.to_string()))?;
        let names = self
            .listing(&folder)
            .map_err(|e| listing(format!("{}: {e}", folder.display())))?;
        let mut matches: Vec<PathBuf> = named_by(&names, file, &wanted)
            .map(|name| folder.join(name))
            .filter(|path| is_candidate(path))
            .collect();
        matches.sort();
        Ok(matches)
    }

    /// A folder's file names: kept from an earlier call while the folder is unchanged, else read. A
    /// folder that does not exist (or is not a folder) has none, as for a glob.
    fn listing(&self, folder: &Path) -> std::io::Result<Arc<Vec<String>>> {
        let listed_at = SystemTime::now();
        let modified = match std::fs::metadata(folder) {
            Ok(m) if m.is_dir() => m.modified()?,
            Ok(_) => return Ok(Arc::default()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::default()),
            Err(e) => return Err(e),
        };
        let mut listings = self.listings.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kept) = listings.get(folder).filter(|l| l.modified == modified) {
            return Ok(Arc::clone(&kept.names));
        }
        let mut names: Vec<String> = Vec::new();
        for entry in std::fs::read_dir(folder)? {
            // Names that are not UTF-8 match no pattern (as for a glob).
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        names.sort();
        let names = Arc::new(names);
        let quiet = listed_at
            .duration_since(modified)
            .is_ok_and(|d| d > QUIET_BEFORE_LISTING);
        if quiet {
            if listings.len() >= MAX_LISTINGS {
                listings.clear();
            }
            listings.insert(
                folder.to_path_buf(),
                Listing {
                    modified,
                    names: Arc::clone(&names),
                },
            );
        } else {
            listings.remove(folder);
        }
        Ok(names)
    }
}

/// The names of a sorted listing that a file name pattern matches. Only names that begin with the
/// pattern's literal part (up to its first wildcard) can match it (the match is case-sensitive), and
/// those lie together in the listing: they are found by a binary search, so matching every district of
/// a national day against its date's folder is not quadratic.
fn named_by<'n>(
    names: &'n [String],
    file: &'n str,
    wanted: &'n glob::Pattern,
) -> impl Iterator<Item = &'n String> + 'n {
    let literal = &file[..file.find(META).unwrap_or(file.len())];
    let first = names.partition_point(|name| name.as_str() < literal);
    names[first..]
        .iter()
        .take_while(move |name| name.starts_with(literal))
        .filter(move |name| wanted.matches_with(name, glob::MatchOptions::new()))
}

/// The submissions a glob names (office lock files and hidden files left out), sorted.
fn glob_matching(pattern: &str) -> Result<Vec<PathBuf>, SourceError> {
    let listing = |reason: String| SourceError::Listing {
        pattern: pattern.to_string(),
        reason,
    };
    let mut matches: Vec<PathBuf> = Vec::new();
    for entry in glob::glob(pattern).map_err(|e| listing(e.to_string()))? {
        let path = entry.map_err(|e| listing(e.to_string()))?;
        if is_candidate(&path) {
            matches.push(path);
        }
    }
    matches.sort();
    Ok(matches)
}

/// Read the one file a district's pattern names.
fn pull(matches: Vec<PathBuf>, max_file_bytes: u64) -> Result<Pulled, SourceError> {
    match matches.len() {
        0 => return Ok(Pulled::Missing),
        1 => {}
        _ => {
            let names: Vec<String> = matches
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            return Ok(Pulled::Problem {
                info: None,
                finding: Finding::file(
                    Code::AmbiguousSubmission,
                    format!(
                        "本区县当天有 {} 个文件：{}，无法确定以哪个为准：请只保留一个后重新报送",
                        names.len(),
                        names.join("、")
                    ),
                )
                .expecting("每个区县每天只报送一个文件"),
            });
        }
    }
    let path = &matches[0];
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => return Ok(unreadable(path, &e)),
    };
    if len > max_file_bytes {
        return Ok(Pulled::Problem {
            info: Some(info(path, &[], len)),
            finding: Finding::over_byte_limit(Some(len), max_file_bytes),
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len.min(max_file_bytes)).unwrap_or(0));
    let read =
        std::fs::File::open(path).and_then(|f| f.take(max_file_bytes + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Ok(unreadable(path, &e));
    }
    let len = bytes.len() as u64;
    Ok(Pulled::Found {
        info: info(path, &bytes, len),
        bytes,
    })
}

/// A file that is listed but cannot be read (permissions, I/O): the pull failed, nothing is known of
/// the submission.
fn unreadable(path: &Path, e: &std::io::Error) -> Pulled {
    tracing::warn!(path = %path.display(), error = %e, "cannot read a submission");
    Pulled::Unreachable {
        location: path.to_string_lossy().into_owned(),
        finding: Finding::file(
            Code::FileUnreadable,
            "收件箱中的文件无法读取（权限或磁盘错误）：请联系运维人员检查收件目录",
        )
        .with_detail(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_folder_is_the_template_before_its_first_placeholder() {
        let s = |t: &str| DirSource::new(PathBuf::from("/etc/fugong/jobs"), t.into());
        assert_eq!(
            s("../inbox/{date}/{district_code}.*").fixed_folder(),
            PathBuf::from("/etc/fugong/inbox")
        );
        assert_eq!(
            s("../inbox/{date}/{district_code}.*").describe("370102", chrono::NaiveDate::default()),
            "/etc/fugong/inbox/1970-01-01/370102.*"
        );
        assert_eq!(
            s("/srv/inbox/d{yyyymmdd}/{district_code}.xlsx").fixed_folder(),
            PathBuf::from("/srv/inbox")
        );
        assert_eq!(
            s("{district_code}.xlsx").fixed_folder(),
            PathBuf::from("/etc/fugong/jobs")
        );
    }

    #[test]
    fn a_listing_searched_by_the_literal_part_matches_as_the_whole_listing_does() {
        let mut names: Vec<String> = [
            "370102.xlsx",
            "370102.xls",
            "3701020.xlsx",
            "370102-old.xlsx",
            "37010.xlsx",
            "370103.xlsx",
            "~$370102.xlsx",
            ".370102.xlsx",
            "a370102.xlsx",
            "370102.XLSX",
            "[370102].xlsx",
            "报送370102.xlsx",
            "",
        ]
        .map(String::from)
        .to_vec();
        names.sort();
        for file in [
            "370102.*",
            "370102.xlsx",
            "370102*",
            "*370102*",
            "3701?2.xls*",
            "[[]370102].xlsx",
            "报送{370102}.xlsx",
            "报送370102.xlsx",
            "*",
            "37010[23].xlsx",
            "nothing.xlsx",
        ] {
            let wanted = glob::Pattern::new(file).expect("pattern");
            let all: Vec<&String> = names
                .iter()
                .filter(|n| wanted.matches_with(n, glob::MatchOptions::new()))
                .collect();
            let searched: Vec<&String> = named_by(&names, file, &wanted).collect();
            assert_eq!(searched, all, "{file}");
        }
        let wanted = glob::Pattern::new("370102.*").expect("pattern");
        assert_eq!(
            named_by(&names, "370102.*", &wanted).collect::<Vec<_>>(),
            ["370102.XLSX", "370102.xls", "370102.xlsx"]
        );
    }

    #[test]
    fn a_missing_fixed_folder_is_a_source_error_not_missing_districts() {
        let dir = tempfile::tempdir().expect("tmp");
        let source = DirSource::new(dir.path().into(), "inbox/{date}/{district_code}.*".into());
        assert!(matches!(
            source.check(),
            Err(SourceError::DirUnavailable { .. })
        ));
        std::fs::create_dir(dir.path().join("inbox")).expect("mkdir");
        assert!(source.check().is_ok());
        let date = NaiveDate::from_ymd_opt(2020, 2, 24).expect("date");
        assert!(matches!(
            source.pull("370102", date, 1 << 20),
            Ok(Pulled::Missing)
        ));
    }
}

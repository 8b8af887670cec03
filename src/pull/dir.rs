//! `[source] kind = "dir"`: a glob per district and date in a local inbox folder.

use std::io::Read;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::{Pulled, expand_template, sha256_hex};
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
    }
}

/// Find and read the district's file for the date.
pub fn pull(pattern: &str, district_code: &str, date: NaiveDate, max_file_bytes: u64) -> Pulled {
    let expanded = expand_template(pattern, district_code, date);
    let mut matches: Vec<PathBuf> = match glob::glob(&expanded) {
        Ok(paths) => paths.flatten().filter(|p| is_candidate(p)).collect(),
        Err(e) => {
            return Pulled::Problem {
                info: None,
                finding: Finding::file(
                    Code::FileUnreadable,
                    format!("收件路径模式“{expanded}”无效：{e}（请检查作业文件的 [source] path）"),
                ),
            };
        }
    };
    matches.sort();
    match matches.len() {
        0 => return Pulled::Missing,
        1 => {}
        _ => {
            let names: Vec<String> = matches
                .iter()
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            return Pulled::Problem {
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
            };
        }
    }
    let path = &matches[0];
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if len > max_file_bytes {
        return Pulled::Problem {
            info: Some(info(path, &[], len)),
            finding: Finding::file(
                Code::FileTooLarge,
                format!(
                    "文件大小 {len} 字节，超过 {max_file_bytes} 字节的上限：请只报送本区县的日报表，删除图片和多余工作表后重新报送"
                ),
            )
            .expecting(format!("不超过 {max_file_bytes} 字节的工作簿")),
        };
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    let read =
        std::fs::File::open(path).and_then(|f| f.take(max_file_bytes + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Pulled::Problem {
            info: Some(info(path, &[], len)),
            finding: Finding::file(Code::FileUnreadable, format!("文件无法读取：{e}")),
        };
    }
    let len = bytes.len() as u64;
    Pulled::Found {
        info: info(path, &bytes, len),
        bytes,
    }
}

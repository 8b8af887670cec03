//! Before calamine sees a submission: sniff its real format from its first bytes (a `.xls` that is really
//! HTML or CSV is named as such), and for zip-based workbooks inflate every part once, counting the bytes
//! as they come out (declared sizes are never trusted), so that a zip bomb or a lying shared-string count
//! costs this submission a clear error instead of the run its memory.

use std::io::{Cursor, Read};

use super::{ReadError, ReadLimits};

/// The container formats fugong reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Format {
    Xlsx,
    Xlsb,
    Xls,
    Ods,
}

impl Format {
    pub fn label(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Xlsb => "xlsb",
            Format::Xls => "xls",
            Format::Ods => "ods",
        }
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const ZIP_EMPTY_MAGIC: &[u8] = b"PK\x05\x06";
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// The largest expansion deflate can achieve (zlib's documented limit is about 1032:1).
const MAX_DEFLATE_RATIO: u64 = 1032;
/// More parts than any real workbook has; a central directory this long is hostile.
const MAX_ZIP_ENTRIES: usize = 10_000;

/// Sniff the format and check the byte limits. Returns the format calamine should open.
pub fn inspect(bytes: &[u8], limits: &ReadLimits) -> Result<Format, ReadError> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large_file(bytes.len() as u64, limits));
    }
    if bytes.is_empty() {
        return Err(ReadError::Unreadable(
            "文件是空的（0 字节）：请确认上传的是填好的日报表".into(),
        ));
    }
    if bytes.starts_with(ZIP_MAGIC) || bytes.starts_with(ZIP_EMPTY_MAGIC) {
        return inspect_zip(bytes, limits);
    }
    if bytes.starts_with(CFB_MAGIC) {
        if contains_utf16(bytes, "EncryptedPackage") || contains_utf16(bytes, "EncryptionInfo") {
            return Err(ReadError::Unreadable(
                "工作簿设置了打开密码（已加密），无法读取：请取消密码保护后重新报送".into(),
            ));
        }
        return Ok(Format::Xls);
    }
    Err(ReadError::Unreadable(describe_non_workbook(bytes)))
}

/// Whether the bytes are an xlsx/xlsm workbook (a zip with `xl/workbook.xml`), from the zip directory
/// alone. Used to decide where a submission is read (see `crate::worker`).
pub fn is_xlsx(bytes: &[u8]) -> bool {
    bytes.starts_with(ZIP_MAGIC)
        && zip::ZipArchive::new(Cursor::new(bytes))
            .map(|archive| archive.index_for_name("xl/workbook.xml").is_some())
            .unwrap_or(false)
}

/// Message for bytes that are not a workbook at all, showing how they start.
pub fn describe_non_workbook(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(head);
    let lower = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_lowercase();
    let shown = first_bytes(bytes);
    if lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || lower.contains("<table")
        || lower.contains("<head")
    {
        format!(
            "文件是网页（HTML），不是 Excel 工作簿（开头为 {shown}）：请在 Excel/WPS 中打开后“另存为” .xlsx 再报送"
        )
    } else if lower.starts_with('{') || lower.starts_with('[') {
        format!("文件是 JSON 文本，不是 Excel 工作簿（开头为 {shown}）")
    } else if lower.starts_with("<?xml") || lower.starts_with('<') {
        format!("文件是 XML 文本，不是 Excel 工作簿（开头为 {shown}）：请另存为 .xlsx 再报送")
    } else if std::str::from_utf8(head).is_ok() || head.iter().all(|b| *b >= 0x09) {
        format!(
            "文件是纯文本或 CSV，不是 Excel 工作簿（开头为 {shown}）：请在 Excel/WPS 中打开后“另存为” .xlsx 再报送"
        )
    } else {
        format!("文件不是 Excel 工作簿（开头的字节为 {shown}）：请确认上传的是 .xlsx/.xls 日报表")
    }
}

/// The first bytes of a file, as text when they are text, else as hex.
pub fn first_bytes(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(40)];
    match std::str::from_utf8(head) {
        Ok(t) if !t.chars().any(|c| c.is_control() && !c.is_whitespace()) => {
            format!("“{}”", t.replace(['\r', '\n'], " ").trim())
        }
        _ => head
            .iter()
            .take(16)
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn too_large_file(len: u64, limits: &ReadLimits) -> ReadError {
    ReadError::TooLarge(format!(
        "文件大小 {} 字节，超过 {} 字节的上限：请只报送本区县的日报表，删除图片和多余工作表后重新报送",
        len, limits.max_file_bytes
    ))
}

fn contains_utf16(bytes: &[u8], needle: &str) -> bool {
    let pattern: Vec<u8> = needle
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    bytes
        .windows(pattern.len())
        .any(|w| w == pattern.as_slice())
}

fn inspect_zip(bytes: &[u8], limits: &ReadLimits) -> Result<Format, ReadError> {
    let corrupt = |detail: String| {
        ReadError::Unreadable(format!(
            "文件已损坏或未完整上传（{detail}）：请在 Excel/WPS 中打开确认后重新报送"
        ))
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| corrupt(format!("zip 结构错误：{e}")))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(ReadError::TooLarge(format!(
            "工作簿包含 {} 个部件，超过 {MAX_ZIP_ENTRIES} 个的上限",
            archive.len()
        )));
    }
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|name| name.ok().map(|n| n.into_owned()))
        .collect();
    let format = if names.iter().any(|n| n == "xl/workbook.xml") {
        Format::Xlsx
    } else if names.iter().any(|n| n == "xl/workbook.bin") {
        Format::Xlsb
    } else if names.iter().any(|n| n == "content.xml") {
        Format::Ods
    } else {
        return Err(ReadError::Unreadable(
            "文件是 zip 压缩包，但不是 Excel 工作簿（找不到工作簿部件）：请报送 .xlsx 日报表"
                .into(),
        ));
    };
    // Deflate expands at most ~1032:1, and no part can be larger than the file, so when even every part
    // inflating to the maximum stays under the limit, counting cannot find a bomb: only the shared
    // strings are inflated then (their count is checked against their size).
    let bound = (archive.len() as u64)
        .saturating_mul(MAX_DEFLATE_RATIO)
        .saturating_mul(bytes.len() as u64);
    let count_every_part = bound > limits.max_inflated_bytes;
    let mut inflated_total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| corrupt(format!("部件 {i} 无法解压：{e}")))?;
        let entry_name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
        let is_shared_strings = entry_name.ends_with("sharedStrings.xml");
        if !count_every_part && !is_shared_strings {
            continue;
        }
        let mut entry_bytes: u64 = 0;
        let mut declared_unique: Option<u64> = None;
        let mut head: Vec<u8> = Vec::new();
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| corrupt(format!("部件“{entry_name}”解压失败：{e}")))?;
            if n == 0 {
                break;
            }
            entry_bytes += n as u64;
            inflated_total += n as u64;
            if inflated_total > limits.max_inflated_bytes {
                return Err(ReadError::TooLarge(format!(
                    "工作簿解压后超过 {} 字节的上限（疑似压缩炸弹或含大量无关内容）：请只保留日报表后重新报送",
                    limits.max_inflated_bytes
                )));
            }
            if is_shared_strings && declared_unique.is_none() && head.len() < 4096 {
                head.extend_from_slice(&buf[..n.min(4096)]);
                declared_unique = declared_count(&head);
            }
        }
        if let Some(count) = declared_unique {
            // Every shared string takes at least `<si/>` (5 bytes) of XML.
            if count > entry_bytes / 5 + 1 {
                return Err(ReadError::Unreadable(format!(
                    "工作簿的共享字符串表声明有 {count} 个字符串，但内容只有 {entry_bytes} 字节：文件已损坏或被篡改，请重新导出后报送"
                )));
            }
            if count > limits.max_cells {
                return Err(ReadError::TooLarge(format!(
                    "工作簿含 {count} 个不同的文本，超过 {} 个的上限",
                    limits.max_cells
                )));
            }
        }
    }
    Ok(format)
}

/// `uniqueCount` (or `count`) of the `<sst …>` start tag, if it is within `head`.
fn declared_count(head: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(head);
    let start = text.find("<sst")?;
    let tag_end = text[start..].find('>')? + start;
    let tag = &text[start..tag_end];
    for attr in ["uniqueCount=\"", "uniqueCount='"] {
        if let Some(p) = tag.find(attr) {
            let digits: String = tag[p + attr.len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            // A number too long for u64 is certainly a lie.
            return Some(digits.parse().unwrap_or(u64::MAX));
        }
    }
    Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_csv_and_empty_are_named() {
        let limits = ReadLimits::default();
        let html = inspect(b"<!DOCTYPE html><html><body>404</body></html>", &limits);
        assert!(
            matches!(&html, Err(ReadError::Unreadable(m)) if m.contains("HTML")),
            "{html:?}"
        );
        let csv = inspect("统一社会信用代码,企业名称\n1,2\n".as_bytes(), &limits);
        assert!(
            matches!(&csv, Err(ReadError::Unreadable(m)) if m.contains("CSV")),
            "{csv:?}"
        );
        let empty = inspect(b"", &limits);
        assert!(
            matches!(&empty, Err(ReadError::Unreadable(m)) if m.contains("空")),
            "{empty:?}"
        );
    }

    #[test]
    fn over_the_byte_limit_is_too_large() {
        let limits = ReadLimits {
            max_file_bytes: 10,
            ..ReadLimits::default()
        };
        assert!(matches!(
            inspect(&[0u8; 11], &limits),
            Err(ReadError::TooLarge(_))
        ));
    }

    #[test]
    fn declared_count_reads_the_sst_tag() {
        let xml = br#"<?xml version="1.0"?><sst xmlns="x" count="9" uniqueCount="7"><si>"#;
        assert_eq!(declared_count(xml), Some(7));
        let huge = br#"<sst uniqueCount="999999999999999999999999">"#;
        assert_eq!(declared_count(huge), Some(u64::MAX));
    }
}

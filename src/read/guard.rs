//! Before any reader sees a submission: sniff its real format from its bytes (never the file name), check
//! the byte limits, and decide whether it may be read in the publishing process.
//!
//! - zip: an OOXML workbook found the way Excel finds it (`ooxml`), or an ODS; every part is inflated once
//!   while counting when the deflate ratio cannot prove the limit safe (a zip bomb is `file-too-large`),
//!   and the shared strings' declared count is proven against their real size.
//! - OLE compound file: xls, unless it is an encrypted OOXML package or an xls with a password (FILEPASS).
//! - BIFF2–4 streams (Excel 2.1–4.0): named, with how to save them as .xlsx.
//! - XML Spreadsheet 2003, HTML tables and CSV: the "Excel" exports of report systems and WPS.
//!
//! `Inspection::in_process` is true only for what is proven safe to read here: an xlsx whose one
//! declared allocation size is checked, and the formats fugong reads itself with bounded memory (CSV,
//! XML Spreadsheet 2003). Everything else is read in a reader worker (`read::boundary`).

use std::io::Cursor;

use super::ooxml::{self, Budget, PartError, PartNames};
use super::{ReadError, ReadLimits};

/// The formats fugong reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Format {
    Xlsx,
    Xlsb,
    Xls,
    Ods,
    /// XML Spreadsheet 2003 (`<?mso-application progid="Excel.Sheet"?>`).
    SpreadsheetMl,
    /// An HTML page of `<table>`s saved as `.xls`.
    Html,
    Csv,
}

impl Format {
    pub fn label(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Xlsb => "xlsb",
            Format::Xls => "xls",
            Format::Ods => "ods",
            Format::SpreadsheetMl => "XML 电子表格 2003",
            Format::Html => "网页表格（HTML）",
            Format::Csv => "CSV",
        }
    }
}

/// What the bytes are, and where they may be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspection {
    pub format: Format,
    /// Proven safe to read in the publishing process (see the module's comment).
    pub in_process: bool,
    /// An xlsx whose shared-string table declares a count its content cannot hold (larger than the
    /// part could have, or over the cell limit): the count is a claim calamine would allocate from, so
    /// the workbook is opened from a copy whose `<sst>` tag declares none (`ooxml::uncounted_strings`).
    pub uncount_shared_strings: bool,
    /// An xlsx whose worksheet parts are still to be counted for the zip-bomb check, with the budget
    /// the other parts left: calamine opens a workbook without touching its worksheets, so they are
    /// counted while it opens and before any of them is read (`count_worksheets`).
    pub worksheets_uncounted: Option<u64>,
}

impl Inspection {
    fn of(format: Format, in_process: bool) -> Inspection {
        Inspection {
            format,
            in_process,
            uncount_shared_strings: false,
            worksheets_uncounted: None,
        }
    }
}

/// A worksheet part of an xlsx, as Excel names them (`xl/worksheets/sheet1.xml`).
fn is_worksheet_part(name: &str) -> bool {
    let name = ooxml::normalise(name);
    name.starts_with("xl/worksheets/") && !name.contains("/_rels/") && name.ends_with(".xml")
}

/// The zip-bomb check of the worksheet parts `inspect` left to count (`worksheets_uncounted`), with
/// what the other parts left of the budget. The workbook must not be read before this passes.
pub fn count_worksheets(bytes: &[u8], left: u64, limits: &ReadLimits) -> Result<(), ReadError> {
    let mut archive = ooxml::open(bytes).map_err(corrupt_zip)?;
    let mut budget = Budget { left };
    for i in 0..archive.len() {
        let is_sheet = archive
            .name_for_index(i)
            .and_then(Result::ok)
            .is_some_and(|n| is_worksheet_part(&n));
        if !is_sheet {
            continue;
        }
        ooxml::count_part(&mut archive, i, &mut budget).map_err(|e| match e {
            PartError::OverBudget => over_inflated(limits),
            PartError::Unreadable(detail) => corrupt_zip(detail),
        })?;
    }
    Ok(())
}

/// A zip container that does not open: the clerk's words, the library's in `detail`.
fn corrupt_zip(detail: String) -> ReadError {
    ReadError::Unreadable {
        message: "文件已损坏或未完整上传（压缩结构错误）：请在 Excel/WPS 中打开确认后重新报送"
            .into(),
        detail: Some(detail),
    }
}

fn over_inflated(limits: &ReadLimits) -> ReadError {
    too_large(format!(
        "工作簿解压后超过 {} 字节的上限（疑似压缩炸弹或含大量无关内容）：请只保留日报表后重新报送",
        limits.max_inflated_bytes
    ))
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const ZIP_EMPTY_MAGIC: &[u8] = b"PK\x05\x06";
const CFB_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// The largest expansion deflate can achieve (zlib's documented limit is about 1032:1).
const MAX_DEFLATE_RATIO: u64 = 1032;
/// More parts than any real workbook has; a central directory this long is hostile.
const MAX_ZIP_ENTRIES: usize = 10_000;

fn unreadable(message: impl Into<String>) -> ReadError {
    ReadError::Unreadable {
        message: message.into(),
        detail: None,
    }
}

fn too_large(message: impl Into<String>) -> ReadError {
    ReadError::TooLarge {
        message: message.into(),
        detail: None,
    }
}

/// The clerk's message for a submission over `max_file_bytes` (its size when known): the one wording of
/// the byte limit, wherever it bites (the guard, a dir or HTTP pull, `validate`, an upload).
pub fn over_byte_limit(bytes: Option<u64>, max_file_bytes: u64) -> String {
    let size = match bytes {
        Some(b) => format!("文件大小 {b} 字节，"),
        None => "文件".to_string(),
    };
    format!(
        "{size}超过 {max_file_bytes} 字节的上限：请只报送本区县的日报表，删除图片和多余工作表后重新报送"
    )
}

/// Sniff the format and check the byte limits.
pub fn inspect(bytes: &[u8], limits: &ReadLimits) -> Result<Inspection, ReadError> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_large(over_byte_limit(
            Some(bytes.len() as u64),
            limits.max_file_bytes,
        )));
    }
    if bytes.is_empty() {
        return Err(unreadable(
            "文件是空的（0 字节）：请确认上传的是填好的日报表",
        ));
    }
    if let Some(what) = not_a_spreadsheet(bytes) {
        return Err(unreadable(what));
    }
    if bytes.starts_with(ZIP_MAGIC) || bytes.starts_with(ZIP_EMPTY_MAGIC) {
        return inspect_zip(bytes, limits);
    }
    if bytes.starts_with(CFB_MAGIC) {
        return inspect_cfb(bytes);
    }
    if let Some(version) = old_biff_version(bytes) {
        return Err(unreadable(format!(
            "文件是 {version} 格式的工作簿（上世纪的旧版本，现在的程序已不能可靠读取）：请在 Excel 或 WPS 中打开，“另存为” Excel 工作簿（.xlsx）后重新报送"
        )));
    }
    let text = text_kind(bytes);
    match text {
        TextKind::SpreadsheetMl => Ok(Inspection::of(Format::SpreadsheetMl, true)),
        TextKind::Html => Ok(Inspection::of(Format::Html, false)),
        TextKind::Json => Err(unreadable(format!(
            "文件是 JSON 文本，不是 Excel 工作簿（开头为 {}）：请报送日报表工作簿",
            first_bytes(bytes)
        ))),
        TextKind::Xml => Err(unreadable(format!(
            "文件是 XML 文本，不是 Excel 工作簿（开头为 {}）：请在 Excel/WPS 中打开后“另存为” .xlsx 再报送",
            first_bytes(bytes)
        ))),
        TextKind::Email => Err(unreadable(
            "文件是一封电子邮件（.eml），不是 Excel 工作簿：请把邮件里附带的日报表工作簿单独保存后报送",
        )),
        TextKind::Rtf => Err(unreadable(
            "文件是 Word 文档（RTF 格式），不是 Excel 工作簿：请把日报表填在 Excel/WPS 表格中，保存为 .xlsx 后报送",
        )),
        TextKind::Csv => Ok(Inspection::of(Format::Csv, true)),
        TextKind::Binary => Err(unreadable(format!(
            "文件不是 Excel 工作簿，也不是网页表格或 CSV（开头的字节为 {}）：请确认上传的是 .xlsx/.xls 日报表",
            first_bytes(bytes)
        ))),
    }
}

/// Excel 2.1–4.0 files are bare BIFF streams starting with their BOF record.
fn old_biff_version(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 8 || bytes[0] != 0x09 {
        return None;
    }
    let size = u16::from_le_bytes([bytes[2], bytes[3]]);
    if !(4..=20).contains(&size) {
        return None;
    }
    match bytes[1] {
        0x00 => Some("Excel 2.1"),
        0x02 => Some("Excel 3.0"),
        0x04 => Some("Excel 4.0"),
        0x08 => Some("Excel 5.0/95"),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    SpreadsheetMl,
    Html,
    Json,
    Xml,
    Email,
    Rtf,
    Csv,
    Binary,
}

/// Files that are certainly not spreadsheets, told by their signature: what the clerk sent, in the
/// clerk's words, and what to send instead.
fn not_a_spreadsheet(bytes: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| bytes.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"%PDF-") {
        return Some(
            "文件是 PDF 文档，不是 Excel 工作簿（PDF 无法读出表格数据）：请报送 Excel/WPS 表格格式（.xlsx 或 .xls）的日报表原件，不要打印或导出为 PDF",
        );
    }
    let image = "文件是一张图片（照片或扫描件），不是 Excel 工作簿：图片无法读出表格数据，请报送 Excel/WPS 表格格式（.xlsx 或 .xls）的日报表原件";
    let heic_brands: [&[u8]; 8] = [
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
    ];
    if at(0, &[0xFF, 0xD8, 0xFF])
        || at(0, b"\x89PNG\r\n\x1a\n")
        || at(0, b"GIF87a")
        || at(0, b"GIF89a")
        || at(0, b"II*\0")
        || at(0, b"MM\0*")
        || (at(0, b"RIFF") && at(8, b"WEBP"))
        || (at(4, b"ftyp") && (heic_brands.iter().any(|b| at(8, b)) || at(8, b"avif")))
        || (at(0, b"BM") && bytes.len() >= 26 && at(6, &[0, 0, 0, 0]))
    {
        return Some(image);
    }
    if at(0, b"Rar!\x1a\x07") {
        return Some(
            "文件是 RAR 压缩包，不是 Excel 工作簿：请解压后直接报送其中的日报表工作簿（.xlsx 或 .xls）",
        );
    }
    if at(0, &[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) {
        return Some(
            "文件是 7z 压缩包，不是 Excel 工作簿：请解压后直接报送其中的日报表工作簿（.xlsx 或 .xls）",
        );
    }
    if at(0, &[0x1F, 0x8B]) {
        return Some(
            "文件是 gz 压缩包，不是 Excel 工作簿：请解压后直接报送其中的日报表工作簿（.xlsx 或 .xls）",
        );
    }
    None
}

/// Whether text starts like an e-mail message saved to a file: header lines (`Name: value`), at least
/// two of them the ones every message has.
fn looks_like_email(text: &str) -> bool {
    const NAMES: [&str; 9] = [
        "from",
        "to",
        "subject",
        "date",
        "received",
        "return-path",
        "message-id",
        "mime-version",
        "delivered-to",
    ];
    let mut known = 0;
    for line in text.lines().take(30) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return false;
        }
        if NAMES.contains(&name.to_ascii_lowercase().as_str()) {
            known += 1;
        }
    }
    known >= 2
}

fn text_kind(bytes: &[u8]) -> TextKind {
    let head = &bytes[..bytes.len().min(4096)];
    let lower: String = String::from_utf8_lossy(head)
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    if (lower.starts_with("<?xml") || lower.starts_with("<workbook"))
        && (lower.contains("urn:schemas-microsoft-com:office:spreadsheet")
            || lower.contains("progid=\"excel.sheet\""))
    {
        return TextKind::SpreadsheetMl;
    }
    if lower.starts_with("<!doctype html")
        || lower.starts_with("<html")
        || lower.starts_with("<table")
        || lower.contains("<table")
        || lower.contains("<head")
        || lower.contains("<body")
    {
        return TextKind::Html;
    }
    if lower.starts_with("{\\rtf") {
        return TextKind::Rtf;
    }
    if lower.starts_with('{') || lower.starts_with('[') {
        return TextKind::Json;
    }
    if looks_like_email(&lower) {
        return TextKind::Email;
    }
    if lower.starts_with('<') {
        return TextKind::Xml;
    }
    // Text: no NUL and few control characters (UTF-8 or a legacy Chinese encoding alike).
    let controls = head
        .iter()
        .filter(|b| **b < 0x09 || (**b > 0x0d && **b < 0x20))
        .count();
    if !head.contains(&0) && controls * 100 <= head.len() {
        TextKind::Csv
    } else {
        TextKind::Binary
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

const PASSWORD: &str = "工作簿设置了密码（已加密），无法读取：请在 Excel/WPS 中取消密码保护（文件 → 信息 → 保护工作簿 → 删除密码）后重新报送";

fn inspect_cfb(bytes: &[u8]) -> Result<Inspection, ReadError> {
    // The `cfb` crate is stricter than Excel (and than calamine's own reader) about a compound file's
    // header fields. A file it refuses is not refused here: calamine reads it in a reader worker, and
    // only a failure there is the submission's.
    let mut compound = match cfb::CompoundFile::open(Cursor::new(bytes)) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "a compound file the strict parser refuses; read in a worker");
            return Ok(Inspection::of(Format::Xls, false));
        }
    };
    // An encrypted OOXML workbook is a compound file holding the encrypted package (agile or standard).
    if compound.exists("/EncryptedPackage") || compound.exists("/EncryptionInfo") {
        return Err(unreadable(PASSWORD));
    }
    let stream = ["/Workbook", "/Book"]
        .into_iter()
        .find(|name| compound.is_stream(name));
    let Some(stream) = stream else {
        return Err(unreadable(other_office_file(&compound)));
    };
    if stream == "/Book" {
        tracing::debug!("an Excel 5.0/95 (BIFF5) workbook");
    }
    // A password (XOR obfuscation or RC4) puts a FILEPASS record in the globals, before any sheet.
    let mut globals = Vec::new();
    if let Ok(mut s) = compound.open_stream(stream) {
        use std::io::Read;
        let _ = (&mut s).take(64 * 1024).read_to_end(&mut globals);
    }
    if has_filepass(&globals) {
        return Err(unreadable(PASSWORD));
    }
    Ok(Inspection::of(Format::Xls, false))
}

/// What an old-format Office file that holds no workbook is, in the clerk's words.
fn other_office_file<F>(compound: &cfb::CompoundFile<F>) -> &'static str {
    let root: Vec<String> = compound
        .read_root_storage()
        .map(|e| e.name().to_string())
        .collect();
    let has = |name: &str| root.iter().any(|n| n == name);
    if has("WordDocument") {
        "文件是 Word 文档（.doc），不是 Excel 工作簿：请把日报表填在 Excel/WPS 表格中，保存为 .xlsx 后报送"
    } else if has("PowerPoint Document") {
        "文件是 PowerPoint 演示文稿（.ppt），不是 Excel 工作簿：请报送 Excel/WPS 表格格式（.xlsx 或 .xls）的日报表"
    } else if root
        .iter()
        .any(|n| n.starts_with("__substg1.0_") || n == "__properties_version1.0")
    {
        "文件是一封 Outlook 邮件（.msg），不是 Excel 工作簿：请把邮件里附带的日报表工作簿单独保存后报送"
    } else {
        "文件是 Office 文件，但其中没有 Excel 工作簿（可能是 Word、PowerPoint 或其他程序的文件）：请报送 Excel/WPS 表格格式（.xlsx 或 .xls）的日报表"
    }
}

/// Walk the BIFF records of the workbook globals until the first BOUNDSHEET or EOF, looking for
/// FILEPASS (0x002F).
fn has_filepass(stream: &[u8]) -> bool {
    let mut at = 0usize;
    while at + 4 <= stream.len() {
        let id = u16::from_le_bytes([stream[at], stream[at + 1]]);
        let len = usize::from(u16::from_le_bytes([stream[at + 2], stream[at + 3]]));
        match id {
            0x002F => return true,
            0x0085 | 0x000A => return false,
            _ => {}
        }
        at += 4 + len;
    }
    false
}

fn inspect_zip(bytes: &[u8], limits: &ReadLimits) -> Result<Inspection, ReadError> {
    let mut archive = ooxml::open(bytes).map_err(corrupt_zip)?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(too_large(format!(
            "工作簿包含 {} 个部件，超过 {MAX_ZIP_ENTRIES} 个的上限",
            archive.len()
        )));
    }
    let names = PartNames::of(&archive);
    let mut budget = Budget {
        left: limits.max_inflated_bytes,
    };
    let over = || over_inflated(limits);
    let part_error = |e: PartError| match e {
        PartError::OverBudget => over(),
        PartError::Unreadable(detail) => corrupt_zip(detail),
    };
    let document = ooxml::office_document(&mut archive, &names, &mut budget).map_err(part_error)?;
    let (format, workbook_part) = match &document {
        Some(part) if names.contains(part) && part.ends_with(".bin") => {
            (Format::Xlsb, part.clone())
        }
        Some(part) if names.contains(part) => (Format::Xlsx, part.clone()),
        _ if names.contains("xl/workbook.xml") => (Format::Xlsx, "xl/workbook.xml".into()),
        _ if names.contains("xl/workbook.bin") => (Format::Xlsb, "xl/workbook.bin".into()),
        _ if names.contains("content.xml") => (Format::Ods, "content.xml".into()),
        _ if names.contains("word/document.xml") => {
            return Err(unreadable(
                "文件是 Word 文档（.docx），不是 Excel 工作簿：请报送 .xlsx 日报表",
            ));
        }
        _ if names.contains("ppt/presentation.xml") => {
            return Err(unreadable(
                "文件是 PowerPoint 演示文稿，不是 Excel 工作簿：请报送 .xlsx 日报表",
            ));
        }
        _ => {
            return Err(unreadable(
                "文件是 zip 压缩包，不是 Excel 工作簿：请解压后直接报送其中的日报表工作簿（.xlsx 或 .xls）",
            ));
        }
    };
    // Deflate expands at most ~1032:1, and no part can be larger than the file, so when even every part
    // inflating to the maximum stays under the limit, counting cannot find a bomb.
    let bound = (archive.len() as u64)
        .saturating_mul(MAX_DEFLATE_RATIO)
        .saturating_mul(bytes.len() as u64);
    // Where calamine looks for an xlsx's shared strings: beside the workbook part. They are measured
    // once, by the proof of their declared count below, and counted there against the same budget.
    let sst = (format == Format::Xlsx).then(|| {
        let folder = match workbook_part.rfind('/') {
            Some(i) => &workbook_part[..=i],
            None => "",
        };
        let name = format!("{folder}sharedstrings.xml");
        names.get(&name).map(str::to_string)
    });
    let sst_stored = sst.as_ref().and_then(Option::as_deref);
    let mut counted = None;
    let mut deferred = false;
    if bound > limits.max_inflated_bytes {
        let mut every = Budget {
            left: limits.max_inflated_bytes,
        };
        // An xlsx's worksheets are counted later, while calamine opens the rest (`count_worksheets`).
        let defer = format == Format::Xlsx;
        for i in 0..archive.len() {
            let name = archive.name_for_index(i).and_then(Result::ok);
            if defer && name.as_deref().is_some_and(is_worksheet_part) {
                deferred = true;
                continue;
            }
            if sst_stored.is_some() && name.as_deref() == sst_stored {
                continue;
            }
            ooxml::count_part(&mut archive, i, &mut every).map_err(part_error)?;
        }
        counted = Some(every);
    }
    let mut in_process = false;
    let mut uncount_shared_strings = false;
    if let Some(sst) = sst {
        in_process = match sst {
            None => true,
            Some(stored) => {
                let mut fresh = Budget {
                    left: limits.max_inflated_bytes,
                };
                let left_before = counted.as_ref().map(|every| every.left);
                let budget = counted.as_mut().unwrap_or(&mut fresh);
                match ooxml::shared_strings(&mut archive, &stored, budget) {
                    Ok(table) => {
                        uncount_shared_strings = !count_is_credible(table, limits);
                        true
                    }
                    Err(PartError::OverBudget) => return Err(over()),
                    // Not proven: a reader worker will find out. A part that does not even inflate
                    // is a corrupt container, as when it is counted with the others.
                    Err(PartError::Unreadable(e)) => {
                        tracing::debug!(error = %e, "shared strings not proven safe");
                        if let (Some(every), Some(left)) = (counted.as_mut(), left_before)
                            && let Some(i) = archive.index_for_name(&stored)
                        {
                            every.left = left;
                            ooxml::count_part(&mut archive, i, every).map_err(part_error)?;
                        }
                        false
                    }
                }
            }
        };
    }
    let worksheets_uncounted = counted.filter(|_| deferred).map(|every| every.left);
    Ok(Inspection {
        format,
        in_process,
        uncount_shared_strings,
        worksheets_uncounted,
    })
}

/// Whether the shared strings' declared count is one calamine may allocate from: no more strings than
/// the part's size could hold (every one takes at least `<si/>`, 5 bytes) and no more than the cell
/// limit. A count that is not is only a claim (Excel ignores it too): the workbook is read from a copy
/// that declares none, never refused for it.
fn count_is_credible(table: ooxml::SharedStrings, limits: &ReadLimits) -> bool {
    match table.declared {
        None => true,
        Some(count) => count <= table.bytes / 5 + 1 && count <= limits.max_cells,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_csv_json_and_empty_are_told_apart() {
        let limits = ReadLimits::default();
        let kind = |b: &[u8]| inspect(b, &limits).map(|i| i.format);
        assert_eq!(
            kind(b"<!DOCTYPE html><html><body>404</body></html>").ok(),
            Some(Format::Html)
        );
        assert_eq!(
            kind("统一社会信用代码,企业名称\n1,2\n".as_bytes()).ok(),
            Some(Format::Csv)
        );
        assert!(
            matches!(kind(b"{\"a\": 1}"), Err(ReadError::Unreadable { message, .. }) if message.contains("JSON"))
        );
        assert!(
            matches!(kind(b""), Err(ReadError::Unreadable { message, .. }) if message.contains("空"))
        );
        let xml2003 = br#"<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">"#;
        assert_eq!(kind(xml2003).ok(), Some(Format::SpreadsheetMl));
    }

    #[test]
    fn old_excel_versions_are_named() {
        let limits = ReadLimits::default();
        let biff4 = [0x09, 0x04, 0x06, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00];
        match inspect(&biff4, &limits) {
            Err(ReadError::Unreadable { message, .. }) => {
                assert!(
                    message.contains("Excel 4.0") && message.contains(".xlsx"),
                    "{message}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn over_the_byte_limit_is_too_large() {
        let limits = ReadLimits {
            max_file_bytes: 10,
            ..ReadLimits::default()
        };
        assert!(matches!(
            inspect(&[0u8; 11], &limits),
            Err(ReadError::TooLarge { .. })
        ));
    }

    #[test]
    fn filepass_is_found_before_the_first_sheet() {
        let bof = [0x09, 0x08, 0x02, 0x00, 0x00, 0x06];
        let filepass = [0x2F, 0x00, 0x02, 0x00, 0x00, 0x00];
        let sheet = [0x85, 0x00, 0x00, 0x00];
        assert!(has_filepass(&[&bof[..], &filepass[..]].concat()));
        assert!(!has_filepass(
            &[&bof[..], &sheet[..], &filepass[..]].concat()
        ));
    }
}

//! Files nobody here wrote: what a clerk really attaches instead of the workbook (a PDF, a photo, a Word
//! document, an archive, the e-mail itself), and workbooks Excel opens whose inner bookkeeping is off.
//! Each non-spreadsheet is `file-unreadable` with a message that says what the file is, in the clerk's
//! words (never a library's: no BIFF, CFB, OLE, sst); each readable workbook is read.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use fugong::validate::Code;

use crate::support::*;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

fn valid_xlsx() -> Vec<u8> {
    report_for(
        "历下区",
        (1..=5).map(|i| standard_row(i, true, 10, 8)).collect(),
    )
    .to_xlsx()
}

/// A small PDF as a scanner or "print to PDF" writes it: text objects, few control bytes up front (the
/// kind of file that used to pass for a CSV and come out as 找不到表头).
fn pdf() -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    for i in 1..=40 {
        out.extend_from_slice(
            format!(
                "{i} 0 obj\n<< /Type /Page /Parent 2 0 R /Contents {} 0 R >>\nendobj\n",
                i + 40
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
    out
}

fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in parts {
        out.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("start");
        out.write_all(content).expect("write");
    }
    out.finish().expect("finish").into_inner()
}

/// An old-format Office file (a compound file) holding the given streams.
fn compound(streams: &[&str]) -> Vec<u8> {
    let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).expect("cfb");
    for name in streams {
        let mut s = file.create_stream(format!("/{name}")).expect("stream");
        s.write_all(&[0u8; 600]).expect("write");
    }
    file.flush().expect("flush");
    file.into_inner().into_inner()
}

/// The workbook with its only sheet taken out of workbook.xml (and its part dropped).
fn no_worksheet() -> Vec<u8> {
    rezip(&valid_xlsx(), |name, content| {
        if name.starts_with("xl/worksheets/") {
            return None;
        }
        if name == "xl/workbook.xml" {
            let text = String::from_utf8(content).expect("utf8");
            let start = text.find("<sheets>").expect("sheets");
            let end = text.find("</sheets>").expect("sheets end") + "</sheets>".len();
            return Some((
                name.into(),
                format!("{}{}", &text[..start], &text[end..]).into_bytes(),
            ));
        }
        Some((name.into(), content))
    })
}

fn email() -> Vec<u8> {
    "Return-Path: <lixia@example.cn>\r\nReceived: from mail.example.cn\r\nFrom: 历下区工信局 <lixia@example.cn>\r\nTo: report@example.cn\r\nSubject: =?UTF-8?B?5pel5oql6KGo?=\r\nDate: Mon, 24 Feb 2020 09:12:00 +0800\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n请查收附件。\r\n"
        .as_bytes()
        .to_vec()
}

/// Every kind of file that is not a spreadsheet, with a word its message must contain.
fn not_spreadsheets() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    jpeg.extend_from_slice(b"JFIF\0");
    jpeg.resize(2048, 0x41);
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.resize(512, 0);
    let mut heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    heic.resize(512, 0x20);
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&4000u32.to_le_bytes());
    bmp.extend_from_slice(&[0, 0, 0, 0, 54, 0, 0, 0]);
    bmp.resize(600, 0x7F);
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.resize(512, 0x33);
    let mut rar = b"Rar!\x1a\x07\x01\0".to_vec();
    rar.resize(300, 0x10);
    let mut seven = vec![0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C, 0x00, 0x04];
    seven.resize(300, 0x10);
    vec![
        ("PDF", pdf(), "PDF"),
        ("JPEG photo", jpeg, "图片"),
        ("PNG scan", png, "图片"),
        ("HEIC photo", heic, "图片"),
        ("BMP", bmp, "图片"),
        ("TIFF scan", tiff, "图片"),
        (
            "docx",
            zip_of(&[
                ("[Content_Types].xml", b"<Types/>"),
                ("word/document.xml", b"<w:document/>"),
            ]),
            "Word",
        ),
        ("doc", compound(&["WordDocument", "1Table"]), "Word"),
        (
            "zip of workbooks",
            zip_of(&[("370102.xlsx", &valid_xlsx()), ("说明.txt", b"hello")]),
            "压缩包",
        ),
        ("rar", rar, "RAR"),
        ("7z", seven, "7z"),
        ("eml", email(), "邮件"),
        (
            "msg",
            compound(&["__properties_version1.0", "__substg1.0_0037001F"]),
            "邮件",
        ),
        ("rtf", b"{\\rtf1\\ansi\\deff0 {\\fonttbl}}".to_vec(), "Word"),
        ("no worksheet", no_worksheet(), "工作表"),
        ("encrypted xlsx", fixture("encrypted-370102.xlsx"), "密码"),
        ("encrypted xls", fixture("formats/encrypted.xls"), "密码"),
    ]
}

/// Words of a library, never of a clerk.
const LIBRARY_WORDS: [&str; 6] = ["BIFF", "CFB", "OLE", "sst", "calamine", "zip::"];

#[test]
fn what_is_not_a_spreadsheet_is_named_in_the_clerks_words() {
    for (what, bytes, word) in not_spreadsheets() {
        let outcome = validate(&bytes);
        let codes: Vec<Code> = outcome.findings.iter().map(|f| f.code).collect();
        assert_eq!(
            codes,
            [Code::FileUnreadable],
            "{what}: {:#?}",
            outcome.findings
        );
        let message = &outcome.findings[0].message;
        assert!(message.contains(word), "{what}: {message}");
        for w in LIBRARY_WORDS {
            assert!(
                !message.contains(w),
                "{what}: library word {w} in {message}"
            );
        }
    }
}

#[test]
fn old_excel_versions_keep_their_plain_names() {
    for (version, name) in [
        (0x00u8, "Excel 2.1"),
        (0x04, "Excel 4.0"),
        (0x08, "Excel 5.0/95"),
    ] {
        let biff = [
            0x09, version, 0x06, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
        ];
        let outcome = validate(&biff);
        let message = &outcome.findings[0].message;
        assert_eq!(outcome.findings[0].code, Code::FileUnreadable);
        assert!(message.contains(name), "{message}");
        for w in LIBRARY_WORDS {
            assert!(!message.contains(w), "library word {w} in {message}");
        }
    }
    let excel4 = validate(&fixture("formats/excel4.xls"));
    assert!(
        !excel4.findings[0].message.contains("BIFF"),
        "{:?}",
        excel4.findings
    );
}

/// The shared-string table's `uniqueCount` rewritten to `count`.
fn with_unique_count(count: &str) -> Vec<u8> {
    rezip(&valid_xlsx(), |name, content| {
        if name != "xl/sharedStrings.xml" {
            return Some((name.into(), content));
        }
        let text = String::from_utf8(content).expect("utf8");
        let start = text.find("uniqueCount=\"").expect("uniqueCount") + "uniqueCount=\"".len();
        let end = start + text[start..].find('"').expect("quote");
        Some((
            name.into(),
            format!("{}{count}{}", &text[..start], &text[end..]).into_bytes(),
        ))
    })
}

#[test]
fn a_shared_string_count_that_disagrees_with_the_content_is_read_not_refused() {
    // Larger than the part could hold, far larger than the cell limit, and smaller than the content:
    // Excel opens all three; so does fugong, in process and in a reader worker.
    for count in ["4000000000000", "999999", "2"] {
        let bytes = with_unique_count(count);
        let outcome = validate(&bytes);
        assert_eq!(
            outcome.rows.len(),
            5,
            "count {count}: {:#?}",
            outcome.findings
        );
        assert!(
            outcome.findings.is_empty(),
            "count {count}: {:#?}",
            outcome.findings
        );
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("370102.xlsx");
        std::fs::write(&path, &bytes).expect("write");
        let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
            .args(["validate", "--format", "json", "--date", "2020-02-24"])
            .arg(&path)
            .output()
            .expect("fugong validate");
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(doc["rows_accepted"], 5, "count {count}: {doc}");
        assert_eq!(o.status.code(), Some(0), "count {count}: {doc}");
    }
}

/// The LibreOffice xls with header fields the strict compound-file parser refuses and Excel (and
/// calamine) ignore: the byte-order mark and the mini-stream cutoff.
fn slightly_off_xls(offset: usize, value: &[u8]) -> Vec<u8> {
    let mut bytes = fixture("formats/report.xls");
    bytes[offset..offset + value.len()].copy_from_slice(value);
    assert!(cfb::CompoundFile::open(std::io::Cursor::new(&bytes)).is_err());
    bytes
}

#[test]
fn a_compound_file_with_a_slightly_off_header_is_read_in_a_worker() {
    let good = validate(&fixture("formats/report.xls"));
    assert_eq!(good.rows.len(), 5);
    for (what, bytes) in [
        ("byte-order mark", slightly_off_xls(28, &[0xFF, 0xFF])),
        (
            "mini-stream cutoff",
            slightly_off_xls(56, &0x2000u32.to_le_bytes()),
        ),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("370102.xls");
        std::fs::write(&path, &bytes).expect("write");
        let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
            .args(["validate", "--format", "json", "--date", "2020-02-24"])
            .arg(&path)
            .output()
            .expect("fugong validate");
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(doc["rows_accepted"], 5, "{what}: {doc}");
        let codes: Vec<&str> = doc["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        let expected: Vec<&str> = good.findings.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, expected, "{what}: {doc}");
    }
}

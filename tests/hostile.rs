//! Corrupt and hostile submissions: each costs its own district a `file-unreadable` or `file-too-large`
//! while the others are published, and memory stays bounded (measured: `fugong run` reports the peak
//! RSS of itself and of its largest reader worker).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

use fugong::read::ReadLimits;
use fugong::validate::Code;

use crate::support::*;

pub fn valid_xlsx(name: &str) -> Vec<u8> {
    report_for(
        name,
        (1..=5).map(|i| standard_row(i, true, 10, 8)).collect(),
    )
    .to_xlsx()
}

/// Copy a zip, letting `edit` change each part (name → new bytes), and appending `padding` bytes of
/// spaces inside the worksheet XML (written in chunks, so a bomb costs the test no memory).
fn rewrite_zip(bytes: &[u8], edit: impl Fn(&str, Vec<u8>) -> Vec<u8>, padding: u64) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let name = entry.name().expect("name").to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        let data = edit(&name, data);
        out.start_file(name.as_str(), options).expect("start");
        if padding > 0 && name == "xl/worksheets/sheet1.xml" {
            let text = String::from_utf8(data).expect("utf8");
            let split = text.find("<sheetData>").expect("sheetData") + "<sheetData>".len();
            out.write_all(&text.as_bytes()[..split]).expect("write");
            let chunk = vec![b' '; 1 << 20];
            let mut left = padding;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                out.write_all(&chunk[..n]).expect("write");
                left -= n as u64;
            }
            out.write_all(&text.as_bytes()[split..]).expect("write");
        } else {
            out.write_all(&data).expect("write");
        }
    }
    out.finish().expect("finish").into_inner()
}

pub fn zip_bomb(inflated: u64) -> Vec<u8> {
    rewrite_zip(&valid_xlsx("历下区"), |_, d| d, inflated)
}

fn lying_shared_strings(district_name: &str) -> Vec<u8> {
    rewrite_zip(
        &valid_xlsx(district_name),
        |name, data| {
            if name != "xl/sharedStrings.xml" {
                return data;
            }
            let text = String::from_utf8(data).expect("utf8");
            let start = text.find("uniqueCount=\"").expect("uniqueCount") + "uniqueCount=\"".len();
            let end = start + text[start..].find('"').expect("quote");
            format!("{}4000000000000{}", &text[..start], &text[end..]).into_bytes()
        },
        0,
    )
}

/// 200 000 nested elements inside the sheet data: a recursive parser would overflow its stack.
fn deeply_nested() -> Vec<u8> {
    rewrite_zip(
        &valid_xlsx("历下区"),
        |name, data| {
            if name != "xl/worksheets/sheet1.xml" {
                return data;
            }
            let text = String::from_utf8(data).expect("utf8");
            let split = text.find("<sheetData>").expect("sheetData") + "<sheetData>".len();
            format!(
                "{}{}{}{}",
                &text[..split],
                "<x>".repeat(200_000),
                "</x>".repeat(200_000),
                &text[split..]
            )
            .into_bytes()
        },
        0,
    )
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

fn code_of(bytes: &[u8], limits: ReadLimits) -> Vec<Code> {
    validate_as(bytes, "370102", report_date(), limits)
        .findings
        .iter()
        .map(|f| f.code)
        .collect()
}

#[test]
fn each_hostile_input_gets_its_code_in_process() {
    let xlsx = valid_xlsx("历下区");
    let limits = ReadLimits {
        max_inflated_bytes: 4 << 20,
        ..ReadLimits::default()
    };
    assert_eq!(
        code_of(&xlsx[..xlsx.len() / 2], limits),
        [Code::FileUnreadable],
        "truncated zip"
    );
    assert_eq!(
        code_of(b"<html><body>403</body></html>", limits),
        [Code::FileUnreadable],
        "html"
    );
    // A CSV is read (contract §8); one without the template's columns lacks them.
    assert!(
        code_of("统一社会信用代码,企业名称\n".as_bytes(), limits)
            .iter()
            .all(|c| *c == Code::HeaderMissing),
        "csv"
    );
    assert_eq!(code_of(b"", limits), [Code::FileUnreadable], "empty");
    assert_eq!(
        code_of(&random_bytes(4096), limits),
        [Code::FileUnreadable],
        "random"
    );
    assert_eq!(
        code_of(&fixture("encrypted-370102.xlsx"), limits),
        [Code::FileUnreadable],
        "encrypted"
    );
    assert_eq!(
        code_of(&zip_bomb(16 << 20), limits),
        [Code::FileTooLarge],
        "zip bomb"
    );
    // A lying shared-string count is a claim, never a reason to refuse (or to allocate): read.
    let lying = validate_as(
        &lying_shared_strings("历下区"),
        "370102",
        report_date(),
        limits,
    );
    assert_eq!(
        lying.rows.len(),
        5,
        "lying sst count: {:#?}",
        lying.findings
    );
    // Deep nesting neither crashes nor hides the rows after it.
    let nested = validate_as(&deeply_nested(), "370102", report_date(), limits);
    assert_eq!(nested.rows.len(), 5, "{:#?}", nested.findings);
    assert!(nested.findings.is_empty(), "{:#?}", nested.findings);
    let encrypted = validate(&fixture("encrypted-370102.xlsx"));
    assert!(
        encrypted.findings[0].message.contains("密码"),
        "{}",
        encrypted.findings[0].message
    );
    let html = validate(b"<!DOCTYPE html><html><body>403 Forbidden</body></html>");
    assert!(
        html.findings[0].message.contains("HTML") && html.findings[0].message.contains("<!DOCTYPE"),
        "{}",
        html.findings[0].message
    );
}

#[test]
fn a_province_with_hostile_submissions_still_publishes_the_good_districts() {
    let districts: Vec<(&str, &str, &str)> =
        JINAN.iter().map(|(c, n)| (*c, *n, "济南市")).collect();
    let province = Province::new(&districts);
    province
        .write_job("[limits]\nmax_inflated_bytes = 4194304\nmax_reader_memory_bytes = 536870912\n");
    let d = report_date();
    let good = valid_xlsx("历下区");
    province.submit(d, "370102.xlsx", &good);
    province.submit(d, "370103.xlsx", &good[..good.len() / 2]);
    province.submit(
        d,
        "370104.xls",
        b"<!DOCTYPE html><html><body>Server Error</body></html>",
    );
    province.submit(
        d,
        "370105.xlsx",
        "序号,统一社会信用代码,企业名称\n1,91370102MA0000001X,某公司\n".as_bytes(),
    );
    province.submit(d, "370112.xlsx", b"");
    province.submit(d, "370113.xlsx", &random_bytes(8192));
    province.submit(d, "370114.xlsx", &fixture("encrypted-370102.xlsx"));
    province.submit(d, "370115.xlsx", &zip_bomb(64 << 20));
    province.submit(d, "370116.xlsx", &lying_shared_strings("莱芜区"));
    if let Some(xls) = hostile_dimensions_xls() {
        province.submit(d, "370117.xls", &xls);
    }
    province.submit(d, "370124.xlsx", &valid_xlsx("平阴县"));

    let output = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["run", "--job"])
        .arg(province.job_path())
        .args(["--date", "2020-02-24", "--quiet"])
        .output()
        .expect("fugong runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fugong::publish::manifest_path(&province.warehouse(), d)).expect("manifest"),
    )
    .expect("json");
    let status = |code: &str| {
        manifest["districts"]
            .as_array()
            .expect("districts")
            .iter()
            .find(|x| x["district_code"] == code)
            .expect(code)["status"]
            .as_str()
            .expect("status")
            .to_string()
    };
    assert_eq!(status("370102"), "accepted");
    assert_eq!(status("370124"), "accepted");
    // A lying shared-string count is only a claim: the workbook is read (from a copy without it).
    assert_eq!(status("370116"), "accepted");
    for code in [
        "370103", "370104", "370105", "370112", "370113", "370114", "370115", "370117",
    ] {
        let want = if code == "370117" && hostile_dimensions_xls().is_none() {
            "missing"
        } else {
            "rejected"
        };
        assert_eq!(status(code), want, "{code}");
    }
    let rejects = read_table(&province.warehouse(), "rejects", d);
    let codes = rejects.column_by_name("code").expect("code");
    let codes = codes
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .expect("utf8");
    let districts = rejects.column_by_name("district_code").expect("district");
    let districts = districts
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .expect("utf8");
    let by_district: std::collections::BTreeMap<&str, &str> = (0..rejects.num_rows())
        .map(|i| (districts.value(i), codes.value(i)))
        .collect();
    assert_eq!(
        by_district.get("370115"),
        Some(&"file-too-large"),
        "zip bomb"
    );
    // Its only findings: the same enterprises as 历下区's and 平阴县's (the same generated rows).
    assert_eq!(
        by_district.get("370116"),
        Some(&"duplicate-across-districts"),
        "lying shared-string count"
    );
    if hostile_dimensions_xls().is_some() {
        assert_eq!(
            by_district.get("370117"),
            Some(&"file-too-large"),
            "xls whose DIMENSIONS make calamine reserve terabytes"
        );
    }
    for code in ["370103", "370104", "370112", "370113", "370114"] {
        assert_eq!(by_district.get(code), Some(&"file-unreadable"), "{code}");
    }
    // A CSV named .xlsx is read as the CSV it is: it lacks the template's required columns.
    assert_eq!(by_district.get("370105"), Some(&"header-missing"));
    assert_eq!(
        read_table(&province.warehouse(), "enterprise_daily", d).num_rows(),
        15
    );

    // Peak memory, as fugong measured it: bounded for itself and for every reader worker.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("peak memory:"))
        .expect("peak memory line");
    let numbers: Vec<f64> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter_map(|t| t.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 2, "{line}");
    assert!(numbers[0] < 150.0, "fugong peak {line}");
    assert!(numbers[1] > 0.0 && numbers[1] < 150.0, "reader peak {line}");
}

/// A small xls made by LibreOffice, with its sheet's DIMENSIONS record rewritten to claim 4 294 967 295
/// rows × 65 535 columns: calamine reserves room for that many cells before reading any, which would abort
/// a process that read it in-process. Only ever read in a worker process.
pub fn hostile_dimensions_xls() -> Option<Vec<u8>> {
    let mut bytes = fixture("formats/report.xls");
    let mut patched = 0;
    let mut i = 0;
    while i + 4 + 14 <= bytes.len() {
        if bytes[i..i + 4] == [0x00, 0x02, 0x0E, 0x00] {
            let body = i + 4;
            bytes[body..body + 4].copy_from_slice(&0u32.to_le_bytes());
            bytes[body + 4..body + 8].copy_from_slice(&u32::MAX.to_le_bytes());
            bytes[body + 8..body + 10].copy_from_slice(&0u16.to_le_bytes());
            bytes[body + 10..body + 12].copy_from_slice(&u16::MAX.to_le_bytes());
            patched += 1;
            i = body + 14;
        } else {
            i += 1;
        }
    }
    (patched > 0).then_some(bytes)
}

#[test]
fn validate_reads_a_hostile_file_in_a_worker_and_reports_it() {
    let xls = hostile_dimensions_xls().expect("the xls fixture has a DIMENSIONS record");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("370102.xls");
    std::fs::write(&path, xls).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_fugong"))
        .args(["validate", "--format", "json", "--date", "2020-02-24"])
        .arg(&path)
        .output()
        .expect("fugong validate");
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["findings"][0]["code"], "file-too-large", "{doc}");
}

//! OOXML containers as Excel (and calamine 0.38) find their parts: part names compared
//! case-insensitively with `\` taken as `/`, the workbook part found through `_rels/.rels` (its
//! `officeDocument` relationship), and the shared strings at `<workbook folder>/sharedStrings.xml`.
//!
//! It also proves, with a real XML parser (quick-xml, the one calamine uses), that the only size calamine
//! takes from an xlsx to allocate memory — the shared-string table's `uniqueCount`, which it `reserve`s
//! — cannot be a lie: however the attribute is written (spacing, quoting, entities, a namespace prefix on
//! the root element), the declared count must fit the part's real, inflated bytes. Calamine's streaming
//! cell reader allocates nothing else from declared values (checked for calamine 0.38: no dense range,
//! no formula tables on `next_cell`). A workbook whose declared sizes cannot be read this way is not
//! proven safe, and is read in a reader worker.

use std::collections::HashMap;
use std::io::{BufReader, Cursor, Read};

use quick_xml::Reader as XmlReader;
use quick_xml::events::Event;

/// Part names of a zip: normalised (lower case, `/`) → as stored.
pub struct PartNames(HashMap<String, String>);

pub fn normalise(name: &str) -> String {
    name.replace('\\', "/")
        .trim_start_matches('/')
        .to_ascii_lowercase()
}

impl PartNames {
    pub fn of<R: Read + std::io::Seek>(archive: &zip::ZipArchive<R>) -> PartNames {
        PartNames(
            archive
                .file_names()
                .filter_map(|n| n.ok())
                .map(|n| (normalise(&n), n.to_string()))
                .collect(),
        )
    }

    /// The stored name of a part, looked up as Excel would.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&normalise(name)).map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether the parts were stored under names calamine's own lookup does not find as they are.
    pub fn unusual(&self) -> bool {
        self.0.iter().any(|(k, v)| k != v)
    }
}

/// An XML part, inflated while counting against a budget (declared sizes are never trusted).
pub struct Budget {
    pub left: u64,
}

struct Counting<'a, R> {
    inner: R,
    budget: &'a mut Budget,
    read: u64,
    over: bool,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if n as u64 > self.budget.left {
            self.over = true;
            return Err(std::io::Error::other("over the inflated-bytes limit"));
        }
        self.budget.left -= n as u64;
        Ok(n)
    }
}

/// Why a part could not be checked.
#[derive(Debug)]
pub enum PartError {
    /// Inflating it passed the limit.
    OverBudget,
    /// It cannot be read (corrupt zip entry, broken XML).
    Unreadable(String),
}

fn xml_reader<R: Read>(r: R) -> XmlReader<BufReader<R>> {
    let mut xml = XmlReader::from_reader(BufReader::new(r));
    let config = xml.config_mut();
    // As calamine reads them.
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    xml
}

/// The workbook part named by `_rels/.rels` (normalised), if any.
pub fn office_document<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    names: &PartNames,
    budget: &mut Budget,
) -> Result<Option<String>, PartError> {
    let Some(stored) = names.get("_rels/.rels") else {
        return Ok(None);
    };
    let entry = archive
        .by_name(stored)
        .map_err(|e| PartError::Unreadable(e.to_string()))?;
    let mut counting = Counting {
        inner: entry,
        budget,
        read: 0,
        over: false,
    };
    let mut target = None;
    let mut failure = None;
    {
        let mut xml = xml_reader(&mut counting);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match xml.read_event_into(&mut buf) {
                Ok(Event::Start(e)) if e.local_name().as_ref() == "Relationship" => {
                    let mut rel_type = None;
                    let mut rel_target = None;
                    for attr in e.attributes().with_checks(false).flatten() {
                        let value = attr
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map(|v| v.into_owned())
                            .unwrap_or_else(|_| attr.value.to_string());
                        match attr.key.local_name().as_ref() {
                            "Type" => rel_type = Some(value),
                            "Target" => rel_target = Some(value),
                            _ => {}
                        }
                    }
                    if rel_type.is_some_and(|t| t.ends_with("/relationships/officeDocument")) {
                        target = rel_target;
                        break;
                    }
                }
                Ok(Event::Eof) => break,
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
                _ => {}
            }
        }
    }
    if counting.over {
        return Err(PartError::OverBudget);
    }
    if let Some(message) = failure {
        return Err(PartError::Unreadable(message));
    }
    Ok(target.map(|t| normalise(&t)))
}

/// What the shared-string table declares and holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedStrings {
    /// The largest count the `<sst>` start tag declares, read every way it could be meant (the raw
    /// digits calamine parses, the value with entities decoded, `count` as well as `uniqueCount`); None
    /// when it declares none.
    pub declared: Option<u64>,
    /// The part's real size once inflated.
    pub bytes: u64,
}

/// A declared count: ASCII digits only; more digits than a u64 holds read as u64::MAX (certainly a lie).
fn parse_count(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(u64::MAX))
}

/// Read the `<sst>` start tag of a shared-string part and measure the whole part.
pub fn shared_strings<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    stored_name: &str,
    budget: &mut Budget,
) -> Result<SharedStrings, PartError> {
    let entry = archive
        .by_name(stored_name)
        .map_err(|e| PartError::Unreadable(e.to_string()))?;
    let mut counting = Counting {
        inner: entry,
        budget,
        read: 0,
        over: false,
    };
    let mut declared = None;
    let mut failure = None;
    {
        let mut xml = xml_reader(&mut counting);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match xml.read_event_into(&mut buf) {
                Ok(Event::Start(e)) if e.local_name().as_ref() == "sst" => {
                    for attr in e.attributes().with_checks(false).flatten() {
                        if !matches!(attr.key.local_name().as_ref(), "uniqueCount" | "count") {
                            continue;
                        }
                        let raw = attr.value.to_string();
                        let unescaped = attr
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map(|v| v.into_owned())
                            .unwrap_or_default();
                        for value in [raw, unescaped] {
                            if let Some(n) = parse_count(&value) {
                                declared = Some(declared.unwrap_or(0).max(n));
                            } else if value.bytes().any(|b| b.is_ascii_digit()) && value.len() > 18
                            {
                                // Digits hidden among other characters, too many for any real table.
                                declared = Some(u64::MAX);
                            }
                        }
                    }
                    break;
                }
                Ok(Event::Eof) => break,
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
                _ => {}
            }
        }
        if failure.is_none() {
            // The rest of the part, counted.
            let mut rest = xml.into_inner();
            let mut sink = [0u8; 64 * 1024];
            loop {
                match rest.read(&mut sink) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        failure = Some(e.to_string());
                        break;
                    }
                }
            }
        }
    }
    if counting.over {
        return Err(PartError::OverBudget);
    }
    if let Some(message) = failure {
        return Err(PartError::Unreadable(message));
    }
    Ok(SharedStrings {
        declared,
        bytes: counting.read,
    })
}

/// Inflate a part entirely while counting (for the zip-bomb check of the other parts).
pub fn count_part<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    index: usize,
    budget: &mut Budget,
) -> Result<u64, PartError> {
    let entry = archive
        .by_index(index)
        .map_err(|e| PartError::Unreadable(e.to_string()))?;
    let mut counting = Counting {
        inner: entry,
        budget,
        read: 0,
        over: false,
    };
    let mut sink = [0u8; 64 * 1024];
    loop {
        match counting.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                if counting.over {
                    return Err(PartError::OverBudget);
                }
                return Err(PartError::Unreadable(e.to_string()));
            }
        }
    }
    Ok(counting.read)
}

/// Relationship types of sheets calamine 0.38 does not know (Excel 4.0 macro sheets), and the type it
/// knows that never holds a report.
const MACRO_SHEET_TYPES: [&[u8]; 2] = [
    b"/relationships/xlMacrosheet",
    b"/relationships/xlIntlMacrosheet",
];
const NOT_A_REPORT: &[u8] = b"/relationships/dialogsheet";

/// A copy of an xlsx container that calamine can open: every part under a `/`-separated name and macro
/// sheets typed as dialog sheets (which are never the report). Parts are copied without recompressing.
/// None when nothing needed changing or the copy cannot be made.
pub fn normalise_container(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut archive = open(bytes).ok()?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut changed = false;
    for i in 0..archive.len() {
        let name = archive.by_index_raw(i).ok()?.name().ok()?.to_string();
        let canonical = name.replace('\\', "/");
        changed |= canonical != name;
        if normalise(&name).ends_with(".rels") {
            let mut entry = archive.by_index(i).ok()?;
            let mut content = Vec::new();
            // A relationships part is small; a huge one is not a workbook calamine should see.
            (&mut entry)
                .take(16 * 1024 * 1024)
                .read_to_end(&mut content)
                .ok()?;
            drop(entry);
            let mut patched = content.clone();
            for t in MACRO_SHEET_TYPES {
                patched = replace_all(&patched, t, NOT_A_REPORT);
            }
            changed |= patched != content;
            out.start_file(canonical, zip::write::SimpleFileOptions::default())
                .ok()?;
            out.write_all(&patched).ok()?;
        } else {
            let entry = archive.by_index_raw(i).ok()?;
            out.raw_copy_file_rename(entry, canonical).ok()?;
        }
    }
    if !changed {
        return None;
    }
    Some(out.finish().ok()?.into_inner())
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

/// A copy of an xlsx container whose shared-string parts declare no count: the `count` and
/// `uniqueCount` attributes of their `<sst>` tag are dropped, everything else is kept byte for byte
/// (other parts are copied without recompressing). calamine then allocates as it reads the strings, not
/// from the claim. Inflating the part is bounded by `budget`. None when the copy cannot be made.
pub fn uncounted_strings(bytes: &[u8], budget: &mut Budget) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut archive = open(bytes).ok()?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let name = archive.by_index_raw(i).ok()?.name().ok()?.to_string();
        if normalise(&name).ends_with("sharedstrings.xml") {
            let entry = archive.by_index(i).ok()?;
            let mut counting = Counting {
                inner: entry,
                budget: &mut *budget,
                read: 0,
                over: false,
            };
            let mut content = Vec::new();
            counting.read_to_end(&mut content).ok()?;
            drop(counting);
            let content = without_sst_counts(&content).unwrap_or(content);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            out.start_file(name, options).ok()?;
            out.write_all(&content).ok()?;
        } else {
            let entry = archive.by_index_raw(i).ok()?;
            out.raw_copy_file(entry).ok()?;
        }
    }
    Some(out.finish().ok()?.into_inner())
}

/// The part with its `<sst>` start tag rewritten without `count`/`uniqueCount` (any prefix); None when
/// it has no such tag.
fn without_sst_counts(xml_bytes: &[u8]) -> Option<Vec<u8>> {
    let mut xml = XmlReader::from_reader(xml_bytes);
    let config = xml.config_mut();
    config.check_end_names = false;
    config.check_comments = false;
    let mut buf = Vec::new();
    loop {
        let before = usize::try_from(xml.buffer_position()).ok()?;
        buf.clear();
        let (tag, empty) = match xml.read_event_into(&mut buf).ok()? {
            Event::Start(e) if e.local_name().as_ref() == "sst" => (e.into_owned(), false),
            Event::Empty(e) if e.local_name().as_ref() == "sst" => (e.into_owned(), true),
            Event::Eof => return None,
            _ => continue,
        };
        let after = usize::try_from(xml.buffer_position()).ok()?;
        let mut rewritten = Vec::with_capacity(after - before);
        rewritten.push(b'<');
        rewritten.extend_from_slice(tag.name().as_ref().as_bytes());
        for attr in tag.attributes().with_checks(false).flatten() {
            if matches!(attr.key.local_name().as_ref(), "count" | "uniqueCount") {
                continue;
            }
            let value: &str = &attr.value;
            let quote = if value.contains('"') { b'\'' } else { b'"' };
            rewritten.push(b' ');
            rewritten.extend_from_slice(attr.key.as_ref().as_bytes());
            rewritten.push(b'=');
            rewritten.push(quote);
            rewritten.extend_from_slice(value.as_bytes());
            rewritten.push(quote);
        }
        rewritten.extend_from_slice(if empty { b"/>" } else { b">" });
        let mut out = Vec::with_capacity(xml_bytes.len());
        out.extend_from_slice(xml_bytes.get(..before)?);
        out.extend_from_slice(&rewritten);
        out.extend_from_slice(xml_bytes.get(after..)?);
        return Some(out);
    }
}

/// Open a zip over borrowed bytes.
pub fn open(bytes: &[u8]) -> Result<zip::ZipArchive<Cursor<&[u8]>>, String> {
    zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_every_way_they_could_be_meant() {
        assert_eq!(parse_count(" 3000000000 "), Some(3_000_000_000));
        assert_eq!(parse_count("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_count("3e9"), None);
        assert_eq!(parse_count(""), None);
        assert_eq!(normalise("xl\\Workbook.XML"), "xl/workbook.xml");
        assert_eq!(normalise("/xl/workbook.xml"), "xl/workbook.xml");
        let sst = br#"<?xml version="1.0"?><x:sst xmlns:x="urn:x" count = '9999999999' uniqueCount="&#52;2"><x:si><x:t>a</x:t></x:si></x:sst>"#;
        assert_eq!(
            String::from_utf8(without_sst_counts(sst).expect("rewritten")).expect("utf8"),
            r#"<?xml version="1.0"?><x:sst xmlns:x="urn:x"><x:si><x:t>a</x:t></x:si></x:sst>"#
        );
    }
}

//! CSV exports (one sheet): the encoding is detected — a byte-order mark (UTF-8, UTF-16), else valid
//! UTF-8, else GB18030 (which covers GBK and GB2312) — and the delimiter (comma, tab or semicolon) from
//! the first lines. Records are streamed with the `csv` crate; every field is text, which the validator
//! reads as the number, date or flag it holds.

use std::borrow::Cow;

use super::{CellValue, EmitCell, Flow, ReadError, SheetInfo, SheetKind, SheetSource};

/// The name of a CSV file's one sheet, as findings and `rejects.sheet` show it.
pub const SHEET: &str = "CSV";

/// Decode text the way an Excel user's file is most likely written.
pub fn decode(bytes: &[u8]) -> (Cow<'_, str>, &'static encoding_rs::Encoding) {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom..]);
        return (text, encoding);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), encoding_rs::UTF_8),
        Err(_) => {
            let (text, _, _) = encoding_rs::GB18030.decode(bytes);
            (text, encoding_rs::GB18030)
        }
    }
}

fn delimiter(text: &str) -> u8 {
    let head: String = text.lines().take(20).collect::<Vec<_>>().join("\n");
    let count = |c: char| head.matches(c).count();
    [(b'\t', count('\t')), (b';', count(';')), (b',', count(','))]
        .into_iter()
        .max_by_key(|(d, n)| (*n, *d == b','))
        .map(|(d, _)| d)
        .unwrap_or(b',')
}

/// A CSV file, decoded, streamed as its one sheet.
pub struct CsvSource<'b> {
    text: Cow<'b, str>,
}

impl<'b> CsvSource<'b> {
    pub fn new(bytes: &'b [u8]) -> Result<CsvSource<'b>, ReadError> {
        let (text, encoding) = decode(bytes);
        tracing::debug!(encoding = encoding.name(), "CSV decoded");
        Ok(CsvSource { text })
    }
}

impl SheetSource for CsvSource<'_> {
    fn sheets(&self) -> Vec<SheetInfo> {
        vec![SheetInfo {
            name: SHEET.into(),
            kind: SheetKind::Worksheet,
            visible: true,
        }]
    }

    fn stream<'a>(
        &'a mut self,
        _sheet: &str,
        emit: &mut EmitCell<'_, 'a>,
    ) -> Result<(), ReadError> {
        let text: &'a str = &self.text;
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter(text))
            .from_reader(text.as_bytes());
        let mut record = ::csv::StringRecord::new();
        let mut row: u32 = 0;
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    return Err(ReadError::Unreadable {
                        message: format!(
                            "CSV 文件第 {} 行无法读取（引号不配对或编码错误）：请在 Excel/WPS 中打开确认后另存为 .xlsx 再报送",
                            row + 1
                        ),
                        detail: Some(e.to_string()),
                    });
                }
            }
            for (col, field) in record.iter().enumerate() {
                if field.trim().is_empty() {
                    continue;
                }
                let col = u32::try_from(col).unwrap_or(u32::MAX);
                if emit(row, col, CellValue::Text(Cow::Owned(field.to_string())))? == Flow::Stop {
                    return Ok(());
                }
            }
            row = row.saturating_add(1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_and_delimiters_are_detected() {
        let (text, enc) = decode("\u{feff}企业名称,职工总数".as_bytes());
        assert_eq!((text.as_ref(), enc.name()), ("企业名称,职工总数", "UTF-8"));
        let (gbk, _, _) = encoding_rs::GBK.encode("企业名称\t职工总数");
        let (text, enc) = decode(&gbk);
        assert_eq!(
            (text.as_ref(), enc.name()),
            ("企业名称\t职工总数", "gb18030")
        );
        assert_eq!(delimiter("a\tb\tc\n1\t2\t3"), b'\t');
        assert_eq!(delimiter("a,b,c\n1,2,3"), b',');
        assert_eq!(delimiter("a;b;c"), b';');
    }
}

//! XML Spreadsheet 2003 (`<?mso-application progid="Excel.Sheet"?>`, namespace
//! `urn:schemas-microsoft-com:office:spreadsheet`), as report systems export it and Excel opens it: each
//! `Worksheet` is a sheet; `Row`/`Cell` positions follow `ss:Index` (1-based, gaps allowed); a merged
//! cell (`ss:MergeAcross`, `ss:MergeDown`) keeps its value in its first cell and the cells it covers are
//! skipped; `Data` is typed by `ss:Type` (Number, String, DateTime, Boolean, Error). Parsed with quick-xml
//! as a stream, keeping only non-empty cells.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use quick_xml::Reader as XmlReader;
use quick_xml::events::{BytesStart, Event};

use super::parsed::ParsedSheets;
use super::{CellValue, ReadError, ReadLimits};

fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .map(|a| {
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_else(|_| a.value.to_string())
        })
}

fn index(e: &BytesStart<'_>) -> Option<u32> {
    attr(e, "Index")?.trim().parse::<u32>().ok()?.checked_sub(1)
}

fn span(e: &BytesStart<'_>, name: &str) -> u32 {
    attr(e, name)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0)
        .min(16_384)
}

fn typed(kind: &str, text: String) -> CellValue<'static> {
    match kind {
        "Number" => match text.trim().parse::<f64>() {
            Ok(n) => CellValue::Number(n),
            Err(_) => CellValue::Text(Cow::Owned(text)),
        },
        "DateTime" => {
            let date_part = text.trim().split('T').next().unwrap_or_default();
            match chrono::NaiveDate::parse_from_str(date_part, "%Y-%m-%d") {
                Ok(d) => CellValue::Date(d),
                Err(_) => CellValue::Text(Cow::Owned(text)),
            }
        }
        "Boolean" => match text.trim() {
            "1" => CellValue::Bool(true),
            "0" => CellValue::Bool(false),
            _ => CellValue::Text(Cow::Owned(text)),
        },
        "Error" => CellValue::Error(Cow::Owned(text.trim().to_string())),
        _ => CellValue::Text(Cow::Owned(text)),
    }
}

/// Parse a whole XML Spreadsheet 2003 document.
pub fn parse(bytes: &[u8], limits: &ReadLimits) -> Result<ParsedSheets, ReadError> {
    let broken = |e: &dyn std::fmt::Display| {
        ReadError::Unreadable {
        message: "XML 电子表格（Excel 2003 XML）文件结构错误，无法读取：请在 Excel/WPS 中打开后另存为 .xlsx 再报送".into(),
        detail: Some(e.to_string()),
    }
    };
    let mut xml = XmlReader::from_reader(bytes);
    xml.config_mut().trim_text(false);
    xml.config_mut().check_end_names = false;
    let mut sheets = ParsedSheets::new(limits);
    let mut buf = Vec::new();
    // Position state of the current sheet.
    let mut row: u32 = 0;
    let mut row_started = false;
    let mut col: u32 = 0;
    // Cells covered by a MergeDown from an earlier row: row → columns.
    let mut covered: HashMap<u32, BTreeSet<u32>> = HashMap::new();
    // The cell being read: (row, col, type, text).
    let mut cell: Option<(u32, u32, String, String)> = None;
    let mut in_data = false;
    let mut in_options = false;
    let mut visible_text = String::new();
    let mut in_visible = false;
    loop {
        buf.clear();
        let event = xml.read_event_into(&mut buf).map_err(|e| broken(&e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                match e.local_name().as_ref() {
                    "Worksheet" => {
                        let name = attr(e, "Name")
                            .unwrap_or_else(|| format!("Sheet{}", sheets.sheets.len() + 1));
                        sheets.start_sheet(name, true);
                        row = 0;
                        row_started = false;
                        covered.clear();
                    }
                    "Row" => {
                        row = match index(e) {
                            Some(i) => i,
                            None if row_started => row.saturating_add(1),
                            None => 0,
                        };
                        row_started = true;
                        col = 0;
                        if empty {
                            // An empty row still takes its place.
                        }
                    }
                    "Cell" => {
                        col = index(e).unwrap_or(col);
                        if let Some(cols) = covered.get(&row) {
                            while cols.contains(&col) {
                                col += 1;
                            }
                        }
                        let across = span(e, "MergeAcross");
                        let down = span(e, "MergeDown");
                        for r in 1..=down {
                            let set = covered.entry(row.saturating_add(r)).or_default();
                            for c in col..=col.saturating_add(across) {
                                set.insert(c);
                            }
                        }
                        if !empty {
                            cell = Some((row, col, String::new(), String::new()));
                        }
                        col = col.saturating_add(across).saturating_add(1);
                    }
                    "Data" => {
                        if let Some(c) = cell.as_mut() {
                            c.2 = attr(e, "Type").unwrap_or_default();
                        }
                        in_data = !empty;
                    }
                    "WorksheetOptions" => in_options = !empty,
                    "Visible" if in_options => {
                        in_visible = !empty;
                        visible_text.clear();
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                if in_data && let Some(c) = cell.as_mut() {
                    c.3.push_str(&t.xml10_content());
                } else if in_visible {
                    visible_text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let target = if in_data {
                    cell.as_mut().map(|c| &mut c.3)
                } else {
                    None
                };
                if let Some(text) = target {
                    match r.resolve_char_ref() {
                        Ok(Some(ch)) => text.push(ch),
                        _ => {
                            let name = r.xml10_content();
                            let decoded = quick_xml::escape::unescape(&format!("&{name};"))
                                .map(|c| c.into_owned())
                                .unwrap_or_default();
                            text.push_str(&decoded);
                        }
                    }
                }
            }
            Event::CData(t) => {
                if in_data && let Some(c) = cell.as_mut() {
                    c.3.push_str(&t.into_inner());
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "Data" => in_data = false,
                "Cell" => {
                    if let Some((r, c, kind, text)) = cell.take() {
                        sheets.push(r, c, typed(&kind, text))?;
                    }
                }
                "Visible" if in_visible => {
                    in_visible = false;
                    let hidden = visible_text.trim().to_ascii_lowercase().contains("hidden");
                    if hidden && let Some(sheet) = sheets.sheets.last_mut() {
                        sheet.visible = false;
                    }
                }
                "WorksheetOptions" => in_options = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(sheets.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_index_and_merges() {
        let xml = r#"<?xml version="1.0"?>
<?mso-application progid="Excel.Sheet"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
 <Worksheet ss:Name="日报">
  <Table>
   <Row><Cell ss:MergeAcross="2"><Data ss:Type="String">标题 &amp; 说明</Data></Cell></Row>
   <Row ss:Index="3"><Cell ss:MergeDown="1"><Data ss:Type="String">序号</Data></Cell><Cell><Data ss:Type="Number">12.5</Data></Cell></Row>
   <Row><Cell><Data ss:Type="DateTime">2020-02-24T00:00:00.000</Data></Cell><Cell ss:Index="5"><Data ss:Type="Boolean">1</Data></Cell></Row>
  </Table>
 </Worksheet>
 <Worksheet ss:Name="旧表"><Table/><WorksheetOptions xmlns="urn:schemas-microsoft-com:office:excel"><Visible>SheetHidden</Visible></WorksheetOptions></Worksheet>
</Workbook>"#;
        let parsed = parse(xml.as_bytes(), &ReadLimits::default()).expect("parsed");
        let s = &parsed.sheets[0];
        assert_eq!(s.name, "日报");
        let cells: Vec<(u32, u32, CellValue<'static>)> = s.cells.clone();
        assert_eq!(
            cells,
            vec![
                (0, 0, CellValue::Text(Cow::Owned("标题 & 说明".into()))),
                (2, 0, CellValue::Text(Cow::Owned("序号".into()))),
                (2, 1, CellValue::Number(12.5)),
                // Column 0 of row 4 is covered by 序号's MergeDown.
                (
                    3,
                    1,
                    CellValue::Date(chrono::NaiveDate::from_ymd_opt(2020, 2, 24).expect("d"))
                ),
                (3, 4, CellValue::Bool(true)),
            ]
        );
        assert!(!parsed.sheets[1].visible);
    }
}

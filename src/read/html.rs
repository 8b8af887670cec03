//! HTML pages of `<table>`s saved as `.xls` (WPS, and report systems' "导出Excel" buttons): the page's
//! charset (a `<meta charset>` or `http-equiv` content type: GB2312/GBK/GB18030/UTF-8; else a byte-order
//! mark, valid UTF-8 or GB18030) is honoured with encoding_rs, the page is parsed by html5ever (scraper),
//! each `<table>` is a sheet, and `colspan`/`rowspan` keep their value in their first cell while the
//! cells they cover are skipped. A page without a table is not a report: `file-unreadable`, with its
//! title.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use scraper::{ElementRef, Html, Selector};

use super::parsed::ParsedSheets;
use super::{CellValue, ReadError, ReadLimits};

/// The charset a page declares in its first bytes, if any.
fn declared_charset(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).to_ascii_lowercase();
    let at = head.find("charset")?;
    let rest = head[at + "charset".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let rest = rest.trim_start_matches(['"', '\'']);
    let label: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    encoding_rs::Encoding::for_label(label.as_bytes())
}

/// Decode a page: its declared charset, else as CSV text is decoded.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        return encoding.decode_without_bom_handling(&bytes[bom..]).0;
    }
    match declared_charset(bytes) {
        // A page that says GB2312 is decoded as GB18030, its superset (as browsers do).
        Some(encoding) => encoding.decode_without_bom_handling(bytes).0,
        None => super::csv::decode(bytes).0,
    }
}

fn text_of(cell: ElementRef<'_>) -> String {
    let mut text = String::new();
    for piece in cell.text() {
        text.push_str(piece);
    }
    text
}

fn span(cell: ElementRef<'_>, name: &str) -> u32 {
    cell.value()
        .attr(name)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .clamp(1, 1000)
}

fn selector(css: &str) -> Result<Selector, ReadError> {
    Selector::parse(css).map_err(|e| ReadError::Unreadable {
        message: "网页表格无法解析：请在 Excel/WPS 中打开后另存为 .xlsx 再报送".into(),
        detail: Some(format!("{e:?}")),
    })
}

/// Parse a page: one sheet per `<table>` (tables nested in a cell are part of that cell's text).
pub fn parse(bytes: &[u8], limits: &ReadLimits) -> Result<ParsedSheets, ReadError> {
    let text = decode(bytes);
    let page = Html::parse_document(&text);
    let tables = selector("table")?;
    let rows = selector("tr")?;
    let cells = selector("td, th")?;
    let title_sel = selector("title")?;
    let mut sheets = ParsedSheets::new(limits);
    let mut n = 0;
    for table in page.select(&tables) {
        // Skip tables nested inside another table's cell.
        if table
            .ancestors()
            .filter_map(ElementRef::wrap)
            .any(|a| a.value().name() == "table")
        {
            continue;
        }
        n += 1;
        sheets.start_sheet(format!("表格{n}"), true);
        let mut covered: HashMap<u32, BTreeSet<u32>> = HashMap::new();
        let mut r: u32 = 0;
        for tr in table.select(&rows) {
            // Only this table's own rows.
            let owner = tr
                .ancestors()
                .filter_map(ElementRef::wrap)
                .find(|a| a.value().name() == "table");
            if owner.map(|o| o.id()) != Some(table.id()) {
                continue;
            }
            let mut c: u32 = 0;
            for cell in tr.select(&cells) {
                let owner_row = cell
                    .ancestors()
                    .filter_map(ElementRef::wrap)
                    .find(|a| a.value().name() == "tr");
                if owner_row.map(|o| o.id()) != Some(tr.id()) {
                    continue;
                }
                if let Some(cols) = covered.get(&r) {
                    while cols.contains(&c) {
                        c += 1;
                    }
                }
                let (across, down) = (span(cell, "colspan"), span(cell, "rowspan"));
                for dr in 1..down {
                    let set = covered.entry(r + dr).or_default();
                    for dc in 0..across {
                        set.insert(c + dc);
                    }
                }
                sheets.push(r, c, CellValue::Text(Cow::Owned(text_of(cell))))?;
                c += across;
            }
            r += 1;
        }
    }
    if n == 0 {
        let title = page
            .select(&title_sel)
            .next()
            .map(|t| t.text().collect::<String>().trim().to_string())
            .filter(|t| !t.is_empty());
        let shown = match title {
            Some(title) => format!("标题“{title}”"),
            None => format!("开头为 {}", super::guard::first_bytes(bytes)),
        };
        return Err(ReadError::unreadable(format!(
            "文件是网页（HTML，{shown}），不是日报表，也不含表格：请确认下载或导出的是日报表后重新报送"
        )));
    }
    Ok(sheets.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_page_with_spans_and_a_page_without_a_table() {
        let page = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"><title>日报</title></head><body><table>\
            <tr><td colspan=\"3\">标题</td></tr>\
            <tr><td rowspan=\"2\">序号</td><td colspan=\"2\">职工情况</td></tr>\
            <tr><td>职工总数</td><td>上岗人数</td></tr></table></body></html>";
        let (gbk, _, _) = encoding_rs::GBK.encode(page);
        let parsed = parse(&gbk, &ReadLimits::default()).expect("parsed");
        let cells: Vec<(u32, u32, String)> = parsed.sheets[0]
            .cells
            .iter()
            .map(|(r, c, v)| match v {
                CellValue::Text(t) => (*r, *c, t.to_string()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            cells,
            vec![
                (0, 0, "标题".to_string()),
                (1, 0, "序号".to_string()),
                (1, 1, "职工情况".to_string()),
                (2, 1, "职工总数".to_string()),
                (2, 2, "上岗人数".to_string()),
            ]
        );
        let err = parse(
            "<html><head><title>404 Not Found</title></head><body>nothing</body></html>".as_bytes(),
            &ReadLimits::default(),
        )
        .expect_err("no table");
        assert!(err.message().contains("404 Not Found"), "{err}");
    }
}

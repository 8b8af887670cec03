//! Finding the header block: the header row (or the two-row header under a merged group cell such as
//! 职工情况) among the first rows of a sheet, which column holds which field, and the 填报单位/填报日期
//! lines above the table.

use std::collections::BTreeMap;

use crate::config::schema::{HeaderMatch, Schema};
use crate::read::{CellValue, RawRow, column_letters};

use super::normalize::{header_key, normalize_text};

/// One column bound to a canonical field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundColumn {
    /// 0-based sheet column.
    pub col: u32,
    pub field: usize,
    /// Header text as the district wrote it (normalised whitespace).
    pub written: String,
    /// Unit named in the header's brackets, e.g. `元` in `融资需求(元)`.
    pub unit: Option<String>,
}

/// A header cell that means nothing to the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownHeader {
    pub row: u32,
    pub col: u32,
    pub written: String,
}

/// The table layout found in a sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderLayout {
    /// 0-based sheet rows of the header (one, or two for a merged group header).
    pub header_rows: Vec<u32>,
    /// First 0-based row after the header.
    pub data_start: u32,
    /// Bound columns, in column order.
    pub columns: Vec<BoundColumn>,
    pub unknown: Vec<UnknownHeader>,
    /// Fields bound to more than one column: field → the columns.
    pub ambiguous: BTreeMap<usize, Vec<BoundColumn>>,
    /// Required fields without a column.
    pub missing: Vec<usize>,
}

/// Of the headers that map to nothing, the one most like a field's name or aliases (an edit distance
/// of at most half the name, on the header keys, units dropped): "职工数(人)" for 职工总数.
pub fn nearest_unknown<'u>(
    field: &crate::config::schema::Field,
    unknown: &'u [UnknownHeader],
) -> Option<&'u UnknownHeader> {
    let names: Vec<String> = std::iter::once(field.label.as_str())
        .chain(field.aliases.iter().map(String::as_str))
        .map(|n| header_key(n).key)
        .collect();
    unknown
        .iter()
        .filter_map(|u| {
            let written = header_key(&u.written).key;
            let wlen = written.chars().count();
            names
                .iter()
                .map(|n| {
                    let d = strsim::levenshtein(n, &written);
                    let longest = n.chars().count().max(wlen);
                    (d, longest)
                })
                .filter(|(d, longest)| *d * 2 <= *longest && *d < *longest)
                .min()
                .map(|(d, _)| (d, u))
        })
        .min_by_key(|(d, u)| (*d, u.col))
        .map(|(_, u)| u)
}

fn cell_text(value: &CellValue<'_>) -> Option<String> {
    match value {
        CellValue::Text(t) => {
            let t = normalize_text(t);
            (!t.is_empty()).then(|| t.into_owned())
        }
        _ => None,
    }
}

/// Units written straight after a header's words, without brackets: `融资需求万元`, `职工总数人`,
/// `产能恢复率%`. Only taken off when what is left names a field (so 联系人 stays 联系人).
const GLUED_UNITS: [&str; 9] = ["亿元", "万元", "元", "人", "%", "只", "个", "家", "户"];

fn classify(
    schema: &Schema,
    value: &CellValue<'_>,
) -> Option<(HeaderMatch, String, Option<String>)> {
    let written = cell_text(value)?;
    let key = header_key(&written);
    let matched = schema.match_header(&key.key);
    if matches!(matched, HeaderMatch::Unknown) {
        for unit in GLUED_UNITS {
            if let Some(words) = key.key.strip_suffix(unit)
                && !words.is_empty()
                && let HeaderMatch::Field(f) = schema.match_header(words)
            {
                let unit = key.unit.clone().unwrap_or_else(|| unit.to_string());
                return Some((HeaderMatch::Field(f), written, Some(unit)));
            }
        }
    }
    Some((matched, written, key.unit))
}

fn fields_in_row(schema: &Schema, row: &RawRow<'_>) -> Vec<usize> {
    let mut fields: Vec<usize> = row
        .cells
        .iter()
        .filter_map(|(_, v)| match classify(schema, v) {
            Some((HeaderMatch::Field(f), _, _)) => Some(f),
            _ => None,
        })
        .collect();
    fields.sort_unstable();
    fields.dedup();
    fields
}

/// Find the header among `rows` (the first rows of a sheet). None when no row names at least two fields:
/// the sheet does not hold the report.
pub fn detect(schema: &Schema, rows: &[RawRow<'_>]) -> Option<HeaderLayout> {
    let scores: Vec<usize> = rows
        .iter()
        .map(|r| fields_in_row(schema, r).len())
        .collect();
    let best = scores.iter().copied().max()?;
    if best < 2 {
        return None;
    }
    let best_row = scores.iter().position(|&s| s == best)?;
    // The row naming the most fields may be the lower row of a two-row header whose upper row holds
    // group cells (企业基本情况, 复工情况) and vertically merged headers.
    let h = match best_row.checked_sub(1) {
        Some(above)
            if rows[above].row + 1 == rows[best_row].row
                && is_group_row(schema, &rows[above], &rows[best_row]) =>
        {
            above
        }
        _ => best_row,
    };
    let top = &rows[h];
    let below = rows
        .get(h + 1)
        .filter(|r| r.row == top.row + 1 && is_sub_header(schema, r));

    let mut columns: Vec<BoundColumn> = Vec::new();
    let mut unknown = Vec::new();
    let mut all_cols: Vec<u32> = top.cells.iter().map(|(c, _)| *c).collect();
    if let Some(b) = below {
        all_cols.extend(b.cells.iter().map(|(c, _)| *c));
    }
    all_cols.sort_unstable();
    all_cols.dedup();

    for &col in &all_cols {
        let sub = below
            .and_then(|b| b.get(col))
            .and_then(|v| classify(schema, v));
        let (matched, written, unit, row) = match sub {
            Some((m, w, u)) => (m, w, u, top.row + 1),
            None => match top.get(col).and_then(|v| classify(schema, v)) {
                Some((m, w, u)) => {
                    // In a two-row header, a top cell with sub-headers under its span is a group header.
                    if below.is_some()
                        && !matches!(m, HeaderMatch::Field(_))
                        && has_sub_headers(top, below, col)
                    {
                        continue;
                    }
                    (m, w, u, top.row)
                }
                None => continue,
            },
        };
        match matched {
            HeaderMatch::Field(field) => columns.push(BoundColumn {
                col,
                field,
                written,
                unit,
            }),
            HeaderMatch::Ignored | HeaderMatch::Group => {}
            HeaderMatch::Unknown => unknown.push(UnknownHeader { row, col, written }),
        }
    }

    // Personal fields (联系电话 and 手机 side by side) are never validated: the later column is ignored,
    // never an ambiguity.
    let mut seen_personal = std::collections::BTreeSet::new();
    columns.retain(|c| !schema.fields[c.field].personal || seen_personal.insert(c.field));
    let mut by_field: BTreeMap<usize, Vec<BoundColumn>> = BTreeMap::new();
    for c in &columns {
        by_field.entry(c.field).or_default().push(c.clone());
    }
    let ambiguous: BTreeMap<usize, Vec<BoundColumn>> = by_field
        .iter()
        .filter(|(_, cs)| cs.len() > 1)
        .map(|(f, cs)| (*f, cs.clone()))
        .collect();
    let missing = schema
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| f.required && !by_field.contains_key(i))
        .map(|(i, _)| i)
        .collect();
    let header_rows = match below {
        Some(b) => vec![top.row, b.row],
        None => vec![top.row],
    };
    Some(HeaderLayout {
        data_start: header_rows[header_rows.len() - 1] + 1,
        header_rows,
        columns,
        unknown,
        ambiguous,
        missing,
    })
}

/// A row under the header is a second header row when it names at least one field and at least half of
/// its cells are header words.
fn is_sub_header(schema: &Schema, row: &RawRow<'_>) -> bool {
    let mut fields = 0;
    let mut headerish = 0;
    for (_, v) in &row.cells {
        match classify(schema, v) {
            Some((HeaderMatch::Field(_), _, _)) => {
                fields += 1;
                headerish += 1;
            }
            Some((HeaderMatch::Ignored | HeaderMatch::Group, _, _)) => headerish += 1,
            _ => {}
        }
    }
    fields >= 1 && headerish * 2 >= row.cells.len()
}

/// Whether `upper` is the upper row of a two-row header over `lower`: it holds a group header, or a field
/// in a column where `lower` is empty (a header merged over both rows).
fn is_group_row(schema: &Schema, upper: &RawRow<'_>, lower: &RawRow<'_>) -> bool {
    upper
        .cells
        .iter()
        .any(|(col, v)| match classify(schema, v) {
            Some((HeaderMatch::Group, _, _)) => true,
            Some((HeaderMatch::Field(_), _, _)) => lower.get(*col).is_none_or(|c| c.is_empty()),
            _ => false,
        })
}

/// Whether the merged span of the top cell at `col` (up to the next non-empty top cell) has cells below.
fn has_sub_headers(top: &RawRow<'_>, below: Option<&RawRow<'_>>, col: u32) -> bool {
    let Some(below) = below else { return false };
    let next_top = top
        .cells
        .iter()
        .map(|(c, _)| *c)
        .find(|&c| c > col)
        .unwrap_or(u32::MAX);
    below
        .cells
        .iter()
        .any(|(c, v)| *c >= col && *c < next_top && !v.is_empty())
}

/// The 填报单位 and 填报日期 values found above the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    /// (cell reference, value)
    pub unit: Option<(String, String)>,
    pub date: Option<(String, String)>,
}

/// Read 填报单位/填报日期 from the rows above the header. A value may follow the label in the same cell
/// (after a colon) or stand in the next non-empty cell; one cell may hold both labels.
pub fn header_block(schema: &Schema, rows: &[RawRow<'_>], header_row: u32) -> HeaderBlock {
    let mut block = HeaderBlock::default();
    let labels: Vec<(&str, bool)> = schema
        .unit_labels
        .iter()
        .map(|l| (l.as_str(), true))
        .chain(schema.date_labels.iter().map(|l| (l.as_str(), false)))
        .collect();
    for row in rows.iter().filter(|r| r.row < header_row) {
        let texts: Vec<(u32, String)> = row
            .cells
            .iter()
            .filter_map(|(c, v)| cell_text(v).map(|t| (*c, t)))
            .collect();
        for (i, (col, text)) in texts.iter().enumerate() {
            // Positions of every label in this cell.
            let mut found: Vec<(usize, usize, bool)> = labels
                .iter()
                .filter_map(|(l, is_unit)| text.find(l).map(|p| (p, l.len(), *is_unit)))
                .collect();
            found.sort_unstable();
            for (k, &(pos, len, is_unit)) in found.iter().enumerate() {
                let end = found.get(k + 1).map(|f| f.0).unwrap_or(text.len());
                let mut value = text[pos + len..end]
                    .trim()
                    .trim_start_matches([':', '：'])
                    .trim()
                    .to_string();
                if value.is_empty() && k + 1 == found.len() {
                    // The value stands in the next non-empty cell, unless that cell is itself a label.
                    if let Some((_, next)) = texts.get(i + 1)
                        && !labels.iter().any(|(l, _)| next.contains(l))
                    {
                        value = next.trim().to_string();
                    }
                }
                if value.is_empty() {
                    continue;
                }
                let reference = format!("{}{}", column_letters(*col), row.row + 1);
                let slot = if is_unit {
                    &mut block.unit
                } else {
                    &mut block.date
                };
                if slot.is_none() {
                    *slot = Some((reference, value));
                }
            }
        }
    }
    block
}

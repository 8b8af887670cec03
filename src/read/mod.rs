//! Read stage: open a workbook from its bytes with calamine (by content, not by file name), list the sheets
//! that may hold the report, and stream a sheet's non-empty cells as rows that keep their sheet positions.
//!
//! The limits of contract §7 bite here, before calamine allocates: `guard::inspect` sniffs the format and,
//! for zip-based formats, inflates every part once while counting (never trusting declared sizes) and
//! checks the shared-string count; cell count and reading time are checked while streaming. What can still
//! abort the process (an allocation calamine makes from a value we could not check) is contained by
//! running each submission in a worker process (`crate::worker`).

pub mod guard;

use std::borrow::Cow;
use std::io::Cursor;
use std::time::Instant;

use calamine::{Data, DataRef, Ods, Reader, SheetType, SheetVisible, Xls, Xlsb, Xlsx};
use chrono::NaiveDate;

pub use guard::Format;

/// The limits that protect one run from one submission (contract §7, job table `[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadLimits {
    pub max_file_bytes: u64,
    pub max_inflated_bytes: u64,
    pub max_cells: u64,
    pub max_cell_chars: u32,
    pub max_read_secs: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_file_bytes: 64 * 1024 * 1024,
            max_inflated_bytes: 512 * 1024 * 1024,
            max_cells: 5_000_000,
            max_cell_chars: 32_767,
            max_read_secs: 60,
        }
    }
}

/// Why a workbook cannot be read. Messages are for the district clerk (Chinese, say what to do).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Not a spreadsheet calamine can open: maps to `file-unreadable`.
    #[error("{0}")]
    Unreadable(String),
    /// Over a byte, cell or time limit: maps to `file-too-large`.
    #[error("{0}")]
    TooLarge(String),
}

/// One cell's value, borrowed from the workbook where possible.
#[derive(Debug, Clone, PartialEq)]
pub enum CellValue<'a> {
    Empty,
    Text(Cow<'a, str>),
    Number(f64),
    Bool(bool),
    Date(NaiveDate),
    /// An Excel error value such as `#DIV/0!`.
    Error(Cow<'a, str>),
}

impl CellValue<'_> {
    pub fn is_empty(&self) -> bool {
        match self {
            CellValue::Empty => true,
            CellValue::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }

    fn from_data_ref(value: DataRef<'_>) -> CellValue<'_> {
        match value {
            DataRef::Int(i) => CellValue::Number(i as f64),
            DataRef::Float(f) => CellValue::Number(f),
            DataRef::String(s) => CellValue::Text(Cow::Owned(s)),
            DataRef::SharedString(s) => CellValue::Text(Cow::Borrowed(s)),
            DataRef::Bool(b) => CellValue::Bool(b),
            DataRef::DateTime(dt) => match dt.as_datetime() {
                Some(d) if dt.is_datetime() => CellValue::Date(d.date()),
                _ => CellValue::Number(dt.as_f64()),
            },
            DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => CellValue::Text(Cow::Owned(s)),
            DataRef::Error(e) => CellValue::Error(Cow::Owned(e.to_string())),
            DataRef::Empty => CellValue::Empty,
        }
    }

    fn from_data(value: &Data) -> CellValue<'_> {
        match value {
            Data::Int(i) => CellValue::Number(*i as f64),
            Data::Float(f) => CellValue::Number(*f),
            Data::String(s) => CellValue::Text(Cow::Borrowed(s)),
            Data::Bool(b) => CellValue::Bool(*b),
            Data::DateTime(dt) => match dt.as_datetime() {
                Some(d) if dt.is_datetime() => CellValue::Date(d.date()),
                _ => CellValue::Number(dt.as_f64()),
            },
            Data::DateTimeIso(s) | Data::DurationIso(s) => CellValue::Text(Cow::Borrowed(s)),
            Data::Error(e) => CellValue::Error(Cow::Owned(e.to_string())),
            Data::Empty => CellValue::Empty,
        }
    }
}

/// One sheet row's non-empty cells, in column order. `row` and columns are 0-based sheet positions.
#[derive(Debug, Clone, Default)]
pub struct RawRow<'a> {
    pub row: u32,
    pub cells: Vec<(u32, CellValue<'a>)>,
}

impl<'a> RawRow<'a> {
    /// The cell at a 0-based column, if it holds anything.
    pub fn get(&self, col: u32) -> Option<&CellValue<'a>> {
        self.cells
            .binary_search_by_key(&col, |(c, _)| *c)
            .ok()
            .map(|i| &self.cells[i].1)
    }

    /// A copy that owns its text, to keep beyond the reader's borrow.
    pub fn into_owned(self) -> RawRow<'static> {
        RawRow {
            row: self.row,
            cells: self
                .cells
                .into_iter()
                .map(|(c, v)| (c, into_owned(v)))
                .collect(),
        }
    }

    /// 1-based row number as Excel shows it.
    pub fn excel_row(&self) -> u32 {
        self.row + 1
    }
}

/// What the row consumer wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// A1-style reference of 0-based (row, col): (11, 5) → `F12`.
pub fn cell_ref(row: u32, col: u32) -> String {
    format!("{}{}", column_letters(col), row + 1)
}

/// Column letters of a 0-based column: 0 → `A`, 27 → `AB`.
pub fn column_letters(col: u32) -> String {
    let mut n = col + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

enum Inner<'b> {
    Xlsx(Xlsx<Cursor<&'b [u8]>>),
    Xlsb(Xlsb<Cursor<&'b [u8]>>),
    Xls(Xls<Cursor<&'b [u8]>>),
    Ods(Ods<Cursor<&'b [u8]>>),
}

/// An open workbook over borrowed bytes.
pub struct Workbook<'b> {
    inner: Inner<'b>,
    pub format: Format,
    limits: ReadLimits,
    started: Instant,
}

fn unreadable(format: Format, err: impl std::fmt::Display) -> ReadError {
    let text = err.to_string();
    let lower = text.to_lowercase();
    if lower.contains("password") || lower.contains("encrypt") {
        return ReadError::Unreadable(
            "工作簿设置了密码（已加密），无法读取：请取消密码保护后重新报送".into(),
        );
    }
    ReadError::Unreadable(format!(
        "文件无法作为 {} 工作簿打开（{text}）：文件可能已损坏或未完整上传，请在 Excel/WPS 中打开确认后另存为 .xlsx 重新报送",
        format.label()
    ))
}

impl<'b> Workbook<'b> {
    /// Open a workbook after `guard::inspect` has sniffed it and checked its limits.
    pub fn open(bytes: &'b [u8], limits: &ReadLimits) -> Result<Workbook<'b>, ReadError> {
        let started = Instant::now();
        let format = guard::inspect(bytes, limits)?;
        let cursor = Cursor::new(bytes);
        let inner = match format {
            Format::Xlsx => Inner::Xlsx(Xlsx::new(cursor).map_err(|e| unreadable(format, e))?),
            Format::Xlsb => Inner::Xlsb(Xlsb::new(cursor).map_err(|e| unreadable(format, e))?),
            Format::Xls => Inner::Xls(Xls::new(cursor).map_err(|e| unreadable(format, e))?),
            Format::Ods => Inner::Ods(Ods::new(cursor).map_err(|e| unreadable(format, e))?),
        };
        Ok(Workbook {
            inner,
            format,
            limits: *limits,
            started,
        })
    }

    /// Visible worksheets, in workbook order: the candidates for the report sheet.
    pub fn visible_worksheets(&self) -> Vec<String> {
        let sheets = match &self.inner {
            Inner::Xlsx(w) => w.sheets_metadata(),
            Inner::Xlsb(w) => w.sheets_metadata(),
            Inner::Xls(w) => w.sheets_metadata(),
            Inner::Ods(w) => w.sheets_metadata(),
        };
        sheets
            .iter()
            .filter(|s| s.visible == SheetVisible::Visible && s.typ == SheetType::WorkSheet)
            .map(|s| s.name.clone())
            .collect()
    }

    /// Stream the sheet's non-empty cells to `on_row`, one row at a time, until it returns `Flow::Stop`.
    /// Counts cells against `max_cells` and checks the time limit while reading.
    /// Text is borrowed from the workbook (its shared strings) for as long as the workbook is borrowed,
    /// so rows can be handed to another thread without copying.
    pub fn for_each_row<'a>(
        &'a mut self,
        sheet: &str,
        on_row: &mut dyn FnMut(RawRow<'a>) -> Flow,
    ) -> Result<(), ReadError> {
        let limits = self.limits;
        let started = self.started;
        let format = self.format;
        let mut grouper = RowGrouper::new(limits, started);
        match &mut self.inner {
            Inner::Xlsx(w) => {
                let mut reader = w
                    .worksheet_cells_reader(sheet)
                    .map_err(|e| unreadable(format, e))?;
                while let Some(cell) = reader.next_cell().map_err(|e| unreadable(format, e))? {
                    let (row, col) = cell.get_position();
                    let value = CellValue::from_data_ref(cell.get_value().clone());
                    if grouper.push(row, col, value, on_row)? == Flow::Stop {
                        return Ok(());
                    }
                }
            }
            Inner::Xlsb(w) => {
                let mut reader = w
                    .worksheet_cells_reader(sheet)
                    .map_err(|e| unreadable(format, e))?;
                while let Some(cell) = reader.next_cell().map_err(|e| unreadable(format, e))? {
                    let (row, col) = cell.get_position();
                    let value = CellValue::from_data_ref(cell.get_value().clone());
                    if grouper.push(row, col, value, on_row)? == Flow::Stop {
                        return Ok(());
                    }
                }
            }
            Inner::Xls(w) => {
                let range = w
                    .worksheet_range(sheet)
                    .map_err(|e| unreadable(format, e))?;
                return stream_range(&range, &mut grouper, on_row);
            }
            Inner::Ods(w) => {
                let range = w
                    .worksheet_range(sheet)
                    .map_err(|e| unreadable(format, e))?;
                return stream_range(&range, &mut grouper, on_row);
            }
        }
        grouper.finish(on_row);
        Ok(())
    }
}

fn stream_range<'a>(
    range: &calamine::Range<Data>,
    grouper: &mut RowGrouper<'a>,
    on_row: &mut dyn FnMut(RawRow<'a>) -> Flow,
) -> Result<(), ReadError> {
    let (row0, col0) = range.start().unwrap_or((0, 0));
    for (r, c, value) in range.used_cells() {
        let (Ok(r), Ok(c)) = (u32::try_from(r), u32::try_from(c)) else {
            continue;
        };
        let value = CellValue::from_data(value);
        // Re-borrow through a fresh grouper lifetime is not possible; convert into an owned value.
        let value = into_owned(value);
        if grouper.push(row0 + r, col0 + c, value, on_row)? == Flow::Stop {
            return Ok(());
        }
    }
    grouper.finish(on_row);
    Ok(())
}

fn into_owned(value: CellValue<'_>) -> CellValue<'static> {
    match value {
        CellValue::Empty => CellValue::Empty,
        CellValue::Text(t) => CellValue::Text(Cow::Owned(t.into_owned())),
        CellValue::Number(n) => CellValue::Number(n),
        CellValue::Bool(b) => CellValue::Bool(b),
        CellValue::Date(d) => CellValue::Date(d),
        CellValue::Error(e) => CellValue::Error(Cow::Owned(e.into_owned())),
    }
}

/// Groups a stream of cells into rows and enforces the cell and time limits.
struct RowGrouper<'a> {
    current: RawRow<'a>,
    cells_seen: u64,
    limits: ReadLimits,
    started: Instant,
    sorted: bool,
}

impl<'a> RowGrouper<'a> {
    fn new(limits: ReadLimits, started: Instant) -> Self {
        RowGrouper {
            current: RawRow::default(),
            cells_seen: 0,
            limits,
            started,
            sorted: true,
        }
    }

    fn push(
        &mut self,
        row: u32,
        col: u32,
        value: CellValue<'a>,
        on_row: &mut dyn FnMut(RawRow<'a>) -> Flow,
    ) -> Result<Flow, ReadError> {
        if value.is_empty() {
            return Ok(Flow::Continue);
        }
        self.cells_seen += 1;
        if self.cells_seen > self.limits.max_cells {
            return Err(ReadError::TooLarge(format!(
                "报表工作表的非空单元格超过 {} 个的上限：请只报送本区县的日报表",
                self.limits.max_cells
            )));
        }
        if self.cells_seen.is_multiple_of(4096)
            && self.started.elapsed().as_secs() >= self.limits.max_read_secs
        {
            return Err(ReadError::TooLarge(format!(
                "读取时间超过 {} 秒的上限：文件过大或结构异常，请精简后重新报送",
                self.limits.max_read_secs
            )));
        }
        if row != self.current.row && !self.current.cells.is_empty() {
            let done = std::mem::take(&mut self.current);
            if self.emit(done, on_row) == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        self.current.row = row;
        if let Some((last, _)) = self.current.cells.last()
            && *last >= col
        {
            self.sorted = false;
        }
        self.current.cells.push((col, value));
        Ok(Flow::Continue)
    }

    fn emit(&mut self, mut row: RawRow<'a>, on_row: &mut dyn FnMut(RawRow<'a>) -> Flow) -> Flow {
        if !self.sorted {
            row.cells.sort_by_key(|(c, _)| *c);
            row.cells.dedup_by_key(|(c, _)| *c);
            self.sorted = true;
        }
        on_row(row)
    }

    fn finish(&mut self, on_row: &mut dyn FnMut(RawRow<'a>) -> Flow) {
        if !self.current.cells.is_empty() {
            let done = std::mem::take(&mut self.current);
            self.emit(done, on_row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_references() {
        assert_eq!(cell_ref(11, 5), "F12");
        assert_eq!(cell_ref(0, 0), "A1");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(16383), "XFD");
    }
}

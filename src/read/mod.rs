//! Read stage: open a workbook from its bytes (by content, not by file name), list the sheets that may
//! hold the report, and stream a sheet's non-empty cells as rows that keep their sheet positions.
//!
//! One reader trait, `SheetSource`, for every format: calamine's (xlsx, xlsm, xlsb, xls, ods) and the
//! exports fugong reads itself (XML Spreadsheet 2003, HTML tables, CSV). All of them go through the same
//! row grouping, limits, header detection and validation.
//!
//! The limits of contract §7 bite before anything allocates from the file: `guard::inspect` sniffs the
//! format, checks the byte limits, inflates zip parts while counting and proves an xlsx's declared sizes
//! (`ooxml`); cells and reading time are counted while streaming. What is not proven safe is read in a
//! reader worker process (`boundary`), where an abort costs one submission.

pub mod csv;
pub mod guard;
pub mod html;
pub mod ooxml;
pub mod panic;
pub mod parsed;
pub mod spreadsheetml;

use std::borrow::Cow;
use std::io::Cursor;
use std::time::Instant;

use calamine::{Data, DataRef, Ods, Reader, SheetType, SheetVisible, Xls, Xlsb, Xlsx};
use chrono::NaiveDate;

pub use guard::{Format, Inspection};

pub use crate::config::job::ReadLimits;

/// Why a workbook cannot be read. `message` is for the district clerk (Chinese, says what to do);
/// `detail` is the underlying library's own words, for a developer (the `detail` column of `rejects`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Not a spreadsheet fugong can read: maps to `file-unreadable`.
    #[error("{message}")]
    Unreadable {
        message: String,
        detail: Option<String>,
    },
    /// Over a byte, cell or time limit: maps to `file-too-large`.
    #[error("{message}")]
    TooLarge {
        message: String,
        detail: Option<String>,
    },
}

impl ReadError {
    pub fn unreadable(message: impl Into<String>) -> ReadError {
        ReadError::Unreadable {
            message: message.into(),
            detail: None,
        }
    }

    pub fn too_large(message: impl Into<String>) -> ReadError {
        ReadError::TooLarge {
            message: message.into(),
            detail: None,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ReadError::Unreadable { message, .. } | ReadError::TooLarge { message, .. } => message,
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            ReadError::Unreadable { detail, .. } | ReadError::TooLarge { detail, .. } => {
                detail.as_deref()
            }
        }
    }
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
            CellValue::Text(t) => is_blank(t),
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

/// Text with nothing a person can see: whitespace (no-break and ideographic spaces included) and
/// zero-width characters only.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| {
        c.is_whitespace()
            || matches!(
                c,
                '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
            )
    })
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

/// What a sheet is, as its workbook lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetKind {
    Worksheet,
    /// Chart, dialog and macro sheets: never the report.
    Other,
}

/// Workbooks at least this large are parsed on one thread while their rows are validated on another.
pub const PIPELINE_MIN_BYTES: usize = 512 * 1024;
/// Rows per message between the reading and the validating thread.
const ROW_BATCH: usize = 512;

/// A sheet as its workbook lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetInfo {
    pub name: String,
    pub kind: SheetKind,
    pub visible: bool,
}

/// Where `SheetSource::stream` sends each non-empty cell: (0-based row, 0-based column, value).
pub type EmitCell<'e, 'a> = dyn FnMut(u32, u32, CellValue<'a>) -> Result<Flow, ReadError> + 'e;

/// The one reader trait: a workbook of any format lists its sheets and streams a sheet's cells in row
/// order, with their sheet positions. Text may borrow from the workbook (`'a`).
pub trait SheetSource {
    fn sheets(&self) -> Vec<SheetInfo>;
    fn stream<'a>(&'a mut self, sheet: &str, emit: &mut EmitCell<'_, 'a>) -> Result<(), ReadError>;
}

/// Calamine's formats over the submission's bytes (or a normalised copy of an xlsx container).
enum Calamine<'b> {
    Xlsx(Xlsx<Cursor<Cow<'b, [u8]>>>),
    Xlsb(Xlsb<Cursor<Cow<'b, [u8]>>>),
    Xls(Xls<Cursor<Cow<'b, [u8]>>>),
    Ods(Ods<Cursor<Cow<'b, [u8]>>>),
}

/// A library's error as the clerk's message (plain Chinese, what to do) and the library's own words as
/// the detail.
fn library_error(format: Format, err: impl std::fmt::Display) -> ReadError {
    let text = err.to_string();
    let lower = text.to_lowercase();
    if lower.contains("password") || lower.contains("encrypt") {
        return ReadError::Unreadable {
            message:
                "工作簿设置了密码（已加密），无法读取：请在 Excel/WPS 中取消密码保护后重新报送"
                    .into(),
            detail: Some(text),
        };
    }
    ReadError::Unreadable {
        message: format!(
            "文件无法作为 {} 工作簿打开：文件可能已损坏或未完整上传，请在 Excel/WPS 中打开确认后另存为 .xlsx 重新报送",
            format.label()
        ),
        detail: Some(text),
    }
}

impl<'b> Calamine<'b> {
    fn open(bytes: Cow<'b, [u8]>, format: Format) -> Result<Calamine<'b>, ReadError> {
        let err = |e: &dyn std::fmt::Display| library_error(format, e);
        Ok(match format {
            Format::Xlsx => Calamine::Xlsx(Xlsx::new(Cursor::new(bytes)).map_err(|e| err(&e))?),
            Format::Xlsb => Calamine::Xlsb(Xlsb::new(Cursor::new(bytes)).map_err(|e| err(&e))?),
            Format::Xls => Calamine::Xls(Xls::new(Cursor::new(bytes)).map_err(|e| err(&e))?),
            Format::Ods => Calamine::Ods(Ods::new(Cursor::new(bytes)).map_err(|e| err(&e))?),
            other => {
                return Err(ReadError::unreadable(format!(
                    "{} 不由 calamine 读取",
                    other.label()
                )));
            }
        })
    }

    fn format(&self) -> Format {
        match self {
            Calamine::Xlsx(_) => Format::Xlsx,
            Calamine::Xlsb(_) => Format::Xlsb,
            Calamine::Xls(_) => Format::Xls,
            Calamine::Ods(_) => Format::Ods,
        }
    }
}

impl SheetSource for Calamine<'_> {
    fn sheets(&self) -> Vec<SheetInfo> {
        let sheets = match self {
            Calamine::Xlsx(w) => w.sheets_metadata(),
            Calamine::Xlsb(w) => w.sheets_metadata(),
            Calamine::Xls(w) => w.sheets_metadata(),
            Calamine::Ods(w) => w.sheets_metadata(),
        };
        sheets
            .iter()
            .map(|s| SheetInfo {
                name: s.name.clone(),
                kind: if s.typ == SheetType::WorkSheet {
                    SheetKind::Worksheet
                } else {
                    SheetKind::Other
                },
                visible: s.visible == SheetVisible::Visible,
            })
            .collect()
    }

    fn stream<'a>(&'a mut self, sheet: &str, emit: &mut EmitCell<'_, 'a>) -> Result<(), ReadError> {
        let format = self.format();
        let err = |e: &dyn std::fmt::Display| library_error(format, e);
        match self {
            Calamine::Xlsx(w) => {
                let mut reader = w.worksheet_cells_reader(sheet).map_err(|e| err(&e))?;
                while let Some(cell) = reader.next_cell().map_err(|e| err(&e))? {
                    let (row, col) = cell.get_position();
                    let value = CellValue::from_data_ref(cell.get_value().clone());
                    if emit(row, col, value)? == Flow::Stop {
                        return Ok(());
                    }
                }
                Ok(())
            }
            Calamine::Xlsb(w) => {
                let mut reader = w.worksheet_cells_reader(sheet).map_err(|e| err(&e))?;
                while let Some(cell) = reader.next_cell().map_err(|e| err(&e))? {
                    let (row, col) = cell.get_position();
                    let value = CellValue::from_data_ref(cell.get_value().clone());
                    if emit(row, col, value)? == Flow::Stop {
                        return Ok(());
                    }
                }
                Ok(())
            }
            Calamine::Xls(w) => {
                let range = w.worksheet_range(sheet).map_err(|e| err(&e))?;
                stream_range(&range, emit)
            }
            Calamine::Ods(w) => {
                let range = w.worksheet_range(sheet).map_err(|e| err(&e))?;
                stream_range(&range, emit)
            }
        }
    }
}

/// An open workbook over borrowed bytes.
pub struct Workbook<'b> {
    source: Box<dyn SheetSource + Send + 'b>,
    pub format: Format,
    limits: ReadLimits,
    started: Instant,
}

impl<'b> Workbook<'b> {
    /// Sniff, check the limits, and open a workbook.
    pub fn open(bytes: &'b [u8], limits: &ReadLimits) -> Result<Workbook<'b>, ReadError> {
        let mut inspection = guard::inspect(bytes, limits)?;
        if let Some(left) = inspection.worksheets_uncounted.take() {
            guard::count_worksheets(bytes, left, limits)?;
        }
        Workbook::open_counted(bytes, inspection, limits)
    }

    /// Open a workbook `guard::inspect` has already sniffed and checked. The worksheets the inspection
    /// left uncounted are counted on a second thread while calamine opens the workbook (which does not
    /// read them); the workbook is returned only once they are counted, and the count's refusal comes
    /// first, as if it had been made before opening.
    pub fn open_inspected(
        bytes: &'b [u8],
        mut inspection: Inspection,
        limits: &ReadLimits,
    ) -> Result<Workbook<'b>, ReadError> {
        let Some(left) = inspection.worksheets_uncounted.take() else {
            return Workbook::open_counted(bytes, inspection, limits);
        };
        std::thread::scope(|scope| {
            let counting = scope.spawn(move || guard::count_worksheets(bytes, left, limits));
            let opened = Workbook::open_counted(bytes, inspection, limits);
            let counted = counting
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            counted.and(opened)
        })
    }

    /// Open a workbook whose every part is counted.
    fn open_counted(
        bytes: &'b [u8],
        inspection: Inspection,
        limits: &ReadLimits,
    ) -> Result<Workbook<'b>, ReadError> {
        // Tests make a reader panic here (`read::open=panic`) to prove the boundary catches it quietly.
        #[cfg(feature = "failpoints")]
        fail::fail_point!("read::open");
        let started = Instant::now();
        let format = inspection.format;
        let source: Box<dyn SheetSource + Send + 'b> = match format {
            Format::Csv => Box::new(csv::CsvSource::new(bytes)?),
            Format::Html => Box::new(html::parse(bytes, limits)?),
            Format::SpreadsheetMl => Box::new(spreadsheetml::parse(bytes, limits)?),
            Format::Xlsx if inspection.uncount_shared_strings => {
                let mut budget = ooxml::Budget {
                    left: limits.max_inflated_bytes,
                };
                let copy = ooxml::uncounted_strings(bytes, &mut budget).ok_or_else(|| {
                    ReadError::unreadable(
                        "文件已损坏或未完整上传（压缩结构错误）：请在 Excel/WPS 中打开确认后重新报送",
                    )
                })?;
                let normal = ooxml::normalise_container(&copy).unwrap_or(copy);
                Box::new(Calamine::open(Cow::Owned(normal), format)?)
            }
            Format::Xlsx => match Calamine::open(Cow::Borrowed(bytes), format) {
                Ok(w) => Box::new(w),
                // A container calamine cannot open as it is (a macro sheet it does not know, parts
                // under names it does not expect): normalised in memory, then opened again.
                Err(first) => match ooxml::normalise_container(bytes) {
                    Some(normal) => {
                        Box::new(Calamine::open(Cow::Owned(normal), format).map_err(|_| first)?)
                    }
                    None => return Err(first),
                },
            },
            _ => Box::new(Calamine::open(Cow::Borrowed(bytes), format)?),
        };
        Ok(Workbook {
            source,
            format,
            limits: *limits,
            started,
        })
    }

    /// Every sheet, as the workbook lists it.
    pub fn sheets(&self) -> Vec<SheetInfo> {
        self.source.sheets()
    }

    /// Visible worksheets, in workbook order: the candidates for the report sheet (chart, dialog and
    /// macro sheets are never the report).
    pub fn visible_worksheets(&self) -> Vec<String> {
        self.sheets()
            .into_iter()
            .filter(|s| s.visible && s.kind == SheetKind::Worksheet)
            .map(|s| s.name)
            .collect()
    }

    /// `for_each_row`, with the workbook parsed on a second thread that hands rows over in batches, so
    /// that a single large workbook uses two cores: parsing is most of the work, validating most of the
    /// rest. Rows still borrow from the workbook. A panic on the reading thread is raised again here,
    /// where the submission boundary catches it.
    pub fn for_each_row_on_a_second_thread<'a>(
        &'a mut self,
        sheet: &str,
        on_row: &mut dyn FnMut(RawRow<'a>) -> Flow,
    ) -> Result<(), ReadError> {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<RawRow<'a>>>(8);
            let stop = &stop;
            let reader = s.spawn(move || {
                let _boundary = panic::enter_boundary();
                let mut batch = Vec::with_capacity(ROW_BATCH);
                let result = self.for_each_row(sheet, &mut |row| {
                    if stop.load(Ordering::Relaxed) {
                        return Flow::Stop;
                    }
                    batch.push(row);
                    if batch.len() == ROW_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(ROW_BATCH));
                        if tx.send(full).is_err() {
                            return Flow::Stop;
                        }
                    }
                    Flow::Continue
                });
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                result
            });
            'rows: for batch in rx.iter() {
                for row in batch {
                    if on_row(row) == Flow::Stop {
                        stop.store(true, Ordering::Relaxed);
                        break 'rows;
                    }
                }
            }
            drop(rx);
            match reader.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
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
        let mut grouper = RowGrouper::new(self.limits, self.started);
        self.source.stream(sheet, &mut |row, col, value| {
            grouper.push(row, col, value, on_row)
        })?;
        grouper.finish(on_row);
        Ok(())
    }
}

fn stream_range<'a>(
    range: &calamine::Range<Data>,
    emit: &mut EmitCell<'_, 'a>,
) -> Result<(), ReadError> {
    let (row0, col0) = range.start().unwrap_or((0, 0));
    for (r, c, value) in range.used_cells() {
        let (Ok(r), Ok(c)) = (u32::try_from(r), u32::try_from(c)) else {
            continue;
        };
        // The range is dropped when streaming ends: values are copied out.
        let value = into_owned(CellValue::from_data(value));
        if emit(row0 + r, col0 + c, value)? == Flow::Stop {
            return Ok(());
        }
    }
    Ok(())
}

pub fn into_owned(value: CellValue<'_>) -> CellValue<'static> {
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
            return Err(ReadError::too_large(format!(
                "报表工作表的非空单元格超过 {} 个的上限：请只报送本区县的日报表",
                self.limits.max_cells
            )));
        }
        if self.cells_seen.is_multiple_of(4096)
            && self.started.elapsed().as_secs() >= self.limits.max_read_secs
        {
            return Err(ReadError::too_large(format!(
                "读取时间超过 {} 秒的上限：文件过大或结构异常，请精简后重新报送",
                self.limits.max_read_secs
            )));
        }
        if row != self.current.row && !self.current.cells.is_empty() {
            // The next row is sized like this one (rows of a sheet are alike): one allocation a row.
            let next = RawRow {
                row: 0,
                cells: Vec::with_capacity(self.current.cells.len()),
            };
            let done = std::mem::replace(&mut self.current, next);
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

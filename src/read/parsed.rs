//! Sheets that fugong parses itself (XML Spreadsheet 2003, HTML tables) are held as their non-empty
//! cells, counted against `max_cells` while they are parsed, and streamed like any workbook's.

use super::{CellValue, EmitCell, Flow, ReadError, ReadLimits, SheetInfo, SheetKind, SheetSource};

/// One parsed sheet: its non-empty cells, in row then column order.
#[derive(Debug, Clone)]
pub struct ParsedSheet {
    pub name: String,
    pub visible: bool,
    pub cells: Vec<(u32, u32, CellValue<'static>)>,
}

/// A parsed workbook.
#[derive(Debug, Clone, Default)]
pub struct ParsedSheets {
    pub sheets: Vec<ParsedSheet>,
    cells: u64,
    max_cells: u64,
}

impl ParsedSheets {
    pub fn new(limits: &ReadLimits) -> ParsedSheets {
        ParsedSheets {
            sheets: Vec::new(),
            cells: 0,
            max_cells: limits.max_cells,
        }
    }

    pub fn start_sheet(&mut self, name: String, visible: bool) {
        self.sheets.push(ParsedSheet {
            name,
            visible,
            cells: Vec::new(),
        });
    }

    /// Add a cell to the last sheet; empty values are dropped. Over `max_cells` in all is too large.
    pub fn push(&mut self, row: u32, col: u32, value: CellValue<'static>) -> Result<(), ReadError> {
        if value.is_empty() {
            return Ok(());
        }
        self.cells += 1;
        if self.cells > self.max_cells {
            return Err(ReadError::too_large(format!(
                "文件的非空单元格超过 {} 个的上限：请只报送本区县的日报表",
                self.max_cells
            )));
        }
        if let Some(sheet) = self.sheets.last_mut() {
            sheet.cells.push((row, col, value));
        }
        Ok(())
    }

    /// Sort each sheet's cells by position (a later cell of the same position wins).
    pub fn finish(mut self) -> ParsedSheets {
        for sheet in &mut self.sheets {
            sheet.cells.sort_by_key(|(r, c, _)| (*r, *c));
            sheet.cells.dedup_by(|later, earlier| {
                if (later.0, later.1) == (earlier.0, earlier.1) {
                    std::mem::swap(later, earlier);
                    true
                } else {
                    false
                }
            });
        }
        self
    }
}

impl SheetSource for ParsedSheets {
    fn sheets(&self) -> Vec<SheetInfo> {
        self.sheets
            .iter()
            .map(|s| SheetInfo {
                name: s.name.clone(),
                kind: SheetKind::Worksheet,
                visible: s.visible,
            })
            .collect()
    }

    fn stream<'a>(&'a mut self, sheet: &str, emit: &mut EmitCell<'_, 'a>) -> Result<(), ReadError> {
        let Some(s) = self.sheets.iter().find(|s| s.name == sheet) else {
            return Ok(());
        };
        for (row, col, value) in &s.cells {
            if emit(*row, *col, value.clone())? == Flow::Stop {
                break;
            }
        }
        Ok(())
    }
}

//! Validate stage: one submission's bytes → accepted typed rows + findings. Finds the report sheet and its
//! header, checks the header block (填报单位/填报日期), validates every data row, skips total and notes
//! rows, checks the 合计 row, and reports duplicate keys. Knows nothing of Arrow or Parquet.

pub mod district;
pub mod finding;
pub mod header;
pub mod normalize;
pub mod outcome;
pub mod row;
mod scan;
pub mod uscc;

use crate::config::schema::Schema;
use crate::read::Workbook;

pub use district::district_mismatch;
pub use finding::{Code, Finding, Severity};
pub use outcome::{AcceptedRow, KnownDistrict, SubmissionContext, SubmissionOutcome, Value};
use scan::SheetScan;

/// Read and validate one submission. Never panics on input (a panic would be caught by the caller and
/// reported as `file-unreadable`).
pub fn validate_submission(
    bytes: &[u8],
    ctx: &SubmissionContext,
    schema: &Schema,
    inspection: Option<crate::read::Inspection>,
) -> SubmissionOutcome {
    let opened = match inspection {
        Some(inspection) => Workbook::open_inspected(bytes, inspection, &ctx.limits),
        None => Workbook::open(bytes, &ctx.limits),
    };
    let mut workbook = match opened {
        Ok(w) => w,
        Err(e) => return SubmissionOutcome::from_read_error(&e),
    };
    tracing::debug!(format = workbook.format.label(), "workbook opened");
    let sheets = workbook.visible_worksheets();
    let mut first_sheet_scan: Option<SheetScan> = None;
    let pipelined = bytes.len() >= crate::read::PIPELINE_MIN_BYTES;
    for sheet in &sheets {
        let mut scan = SheetScan::new(schema, ctx, sheet.clone());
        let result = if pipelined {
            workbook.for_each_row_on_a_second_thread(sheet, &mut |row| scan.on_row(row))
        } else {
            workbook.for_each_row(sheet, &mut |row| scan.on_row(row))
        };
        if let Err(e) = result {
            let mut outcome = SubmissionOutcome::from_read_error(&e);
            outcome.sheet = Some(sheet.clone());
            return outcome;
        }
        scan.finish_scanning();
        if scan.found_header() {
            return scan.into_outcome();
        }
        if first_sheet_scan.is_none() {
            first_sheet_scan = Some(scan);
        }
    }
    // No worksheet at all: nothing to look for a header in, so the file itself is unreadable.
    let Some(first) = &first_sheet_scan else {
        let others = workbook.sheets().len();
        let message = if others > 0 {
            format!(
                "工作簿中没有可见的工作表（{others} 个工作表都已隐藏，或只有图表、宏表）：请把日报表填在一个可见的工作表中后重新报送"
            )
        } else {
            "工作簿中没有工作表：请在 Excel/WPS 中打开确认，把日报表填在工作表中后重新报送"
                .to_string()
        };
        return SubmissionOutcome {
            findings: vec![
                Finding::file(Code::FileUnreadable, message).expecting("含日报表的可见工作表"),
            ],
            ..SubmissionOutcome::default()
        };
    };
    // No sheet has a recognisable header: report what the first sheet lacks.
    let mut outcome = SubmissionOutcome::default();
    let where_ = format!("工作表“{}”", first.sheet);
    outcome.sheet = first_sheet_scan.map(|s| s.sheet);
    for field in schema.fields.iter().filter(|f| f.required) {
        outcome.findings.push(
            Finding {
                field: Some(field.name.clone()),
                ..Finding::file(
                    Code::HeaderMissing,
                    missing_message(field, &where_, schema.header_search_rows),
                )
            }
            .expecting(format!("表头中有“{}”列", field.label)),
        );
    }
    outcome
}

pub(crate) fn missing_message(
    field: &crate::config::schema::Field,
    where_: &str,
    rows: u32,
) -> String {
    let others: Vec<&str> = field.aliases.iter().skip(1).map(String::as_str).collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!("（也可写作 {}）", others.join("、"))
    };
    format!(
        "找不到“{}”列{also}：请在{where_}第1–{rows}行的表头中加上这一列",
        field
            .aliases
            .first()
            .map(String::as_str)
            .unwrap_or(&field.label)
    )
}

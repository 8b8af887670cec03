//! The floor fugong's speed is measured against: calamine alone, nothing else. Opens every workbook
//! named, finds its report sheet (the first sheet, or the first whose name is not an instructions
//! sheet's) and touches every non-empty cell, on as many threads as asked. `benches/paired.sh` runs it
//! paired with `fugong run` on the same files.
//!
//! `cargo build --release --features bench-floor --bin calamine-floor`, then
//! `target/release/calamine-floor range|stream THREADS FILE...`
//!   range   `worksheet_range`: the whole sheet as a grid (calamine's usual reader)
//!   stream  `worksheet_cells_reader`: cell by cell, xlsx only (the reader fugong uses for xlsx)

use std::path::PathBuf;

use calamine::{Data, DataRef, Reader, Xlsx, open_workbook_auto_from_rs};

fn report_sheet(names: &[String]) -> String {
    names
        .iter()
        .find(|n| !n.contains("说明"))
        .or(names.first())
        .cloned()
        .unwrap_or_default()
}

fn range(path: &PathBuf) -> usize {
    let bytes = std::fs::read(path).expect("read");
    let mut wb = open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).expect("open");
    let name = report_sheet(&wb.sheet_names());
    let range = wb.worksheet_range(&name).expect("range");
    range
        .used_cells()
        .filter(|(_, _, v)| !matches!(v, Data::Empty))
        .count()
}

fn stream(path: &PathBuf) -> usize {
    let bytes = std::fs::read(path).expect("read");
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).expect("open xlsx");
    let name = report_sheet(&wb.sheet_names());
    let mut reader = wb.worksheet_cells_reader(&name).expect("sheet");
    let mut cells = 0;
    while let Some(cell) = reader.next_cell().expect("cell") {
        if !matches!(cell.get_value(), DataRef::Empty) {
            cells += 1;
        }
    }
    cells
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(threads)) = (
        args.first(),
        args.get(1).and_then(|t| t.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: calamine_floor range|stream THREADS FILE...");
        std::process::exit(2);
    };
    let read: fn(&PathBuf) -> usize = match mode.as_str() {
        "range" => range,
        "stream" => stream,
        other => {
            eprintln!("unknown mode {other}: range or stream");
            std::process::exit(2);
        }
    };
    let files: Vec<PathBuf> = args[2..].iter().map(PathBuf::from).collect();
    let threads = threads.max(1);
    let cells: usize = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(files.len().div_ceil(threads).max(1))
            .map(|chunk| s.spawn(move || chunk.iter().map(read).sum::<usize>()))
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    println!("{cells}");
}

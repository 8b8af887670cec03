//! Test fixtures made in code: district workbooks written with rust_xlsxwriter, valid USCCs, and a
//! province on disk (inbox + job file) in a temporary folder.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use fugong::config::Schema;
use fugong::read::ReadLimits;
use fugong::validate::{KnownDistrict, SubmissionContext, SubmissionOutcome};
use rust_xlsxwriter::{Format, Formula, Workbook, Worksheet};

/// A cell to write.
#[derive(Debug, Clone, PartialEq)]
pub enum C {
    S(String),
    N(f64),
    B(bool),
    /// An Excel date cell.
    D(i32, u32, u32),
    /// A formula whose cached result is an Excel error, e.g. `#DIV/0!`.
    Err(&'static str),
    E,
}

pub fn s(text: &str) -> C {
    C::S(text.to_string())
}

pub fn n(v: f64) -> C {
    C::N(v)
}

/// A valid USCC made from a number (GB 32100-2015 check character appended).
pub fn uscc(k: u32) -> String {
    fugong::validate::uscc::complete(&format!("91370102MA{k:07}")).expect("valid charset")
}

/// The usual header of the template, one row.
pub fn standard_headers() -> Vec<String> {
    [
        "序号",
        "统一社会信用代码",
        "企业名称",
        "所属行业",
        "是否开工",
        "开工日期",
        "职工总数(人)",
        "上岗人数(人)",
        "产能恢复率(%)",
        "口罩日产能(只)",
        "融资需求(万元)",
        "存在问题及诉求",
        "联系人",
        "联系电话",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// One standard data row (aligned with `standard_headers`).
pub fn standard_row(i: u32, resumed: bool, employees: i64, on_duty: i64) -> Vec<C> {
    vec![
        n(f64::from(i)),
        s(&uscc(i)),
        s(&format!("济南测试制造有限公司{i}")),
        s("通用设备制造业"),
        s(if resumed { "是" } else { "否" }),
        if resumed { C::D(2020, 2, 10) } else { C::E },
        n(employees as f64),
        n(on_duty as f64),
        n(85.0),
        n(0.0),
        n(100.0),
        s("缺少口罩"),
        s("张三"),
        s("13800000000"),
    ]
}

/// A district workbook laid out like real submissions.
#[derive(Debug, Clone)]
pub struct Report {
    pub sheet_name: String,
    pub title: Option<String>,
    /// 填报单位 value.
    pub unit: Option<String>,
    /// 填报日期 value.
    pub date_text: Option<String>,
    pub headers: Vec<String>,
    /// Put 职工总数/上岗人数 under a merged 职工情况 group header (two header rows).
    pub two_row_header: bool,
    pub rows: Vec<Vec<C>>,
    pub total: Option<Vec<C>>,
    pub notes: bool,
    /// A first sheet of instructions with no header, so the report is on the second sheet.
    pub preface_sheet: bool,
    /// A hidden first sheet that looks like a report (must be ignored).
    pub hidden_decoy_sheet: bool,
}

impl Report {
    pub fn new(rows: Vec<Vec<C>>) -> Report {
        Report {
            sheet_name: "复工日报".into(),
            title: Some("历下区规模以上工业企业复工复产情况日报表".into()),
            unit: Some("历下区工业和信息化局".into()),
            date_text: Some("2020年2月24日".into()),
            headers: standard_headers(),
            two_row_header: false,
            rows,
            total: None,
            notes: true,
            preface_sheet: false,
            hidden_decoy_sheet: false,
        }
    }

    /// `count` standard rows, all resumed, 100 employees and 80 on duty each.
    pub fn standard(count: u32) -> Report {
        Report::new(
            (1..=count)
                .map(|i| standard_row(i, true, 100, 80))
                .collect(),
        )
    }

    /// 0-based sheet row of the first data row.
    pub fn data_start(&self) -> u32 {
        let mut r = 0;
        if self.title.is_some() {
            r += 1;
        }
        if self.unit.is_some() || self.date_text.is_some() {
            r += 1;
        }
        r + if self.two_row_header { 2 } else { 1 }
    }

    /// The Excel row number (1-based) of data row `i` (0-based).
    pub fn excel_row(&self, i: usize) -> u32 {
        self.data_start() + i as u32 + 1
    }

    /// The column letter of a header.
    pub fn col_of(&self, header: &str) -> String {
        let i = self
            .headers
            .iter()
            .position(|h| h == header)
            .expect("header present");
        fugong::read::column_letters(i as u32)
    }

    pub fn to_xlsx(&self) -> Vec<u8> {
        let mut wb = Workbook::new();
        if self.hidden_decoy_sheet {
            let ws = wb.add_worksheet().set_name("旧表").expect("name");
            for (c, h) in self.headers.iter().enumerate() {
                ws.write_string(0, c as u16, h).expect("write");
            }
            ws.write_string(1, 1, "decoy").expect("write");
            ws.set_hidden(true);
        }
        if self.preface_sheet {
            let ws = wb.add_worksheet().set_name("填表说明").expect("name");
            ws.write_string(0, 0, "填表说明：请在“复工日报”工作表中填写。")
                .expect("write");
            ws.write_string(1, 0, "是否开工填“是”或“否”。")
                .expect("write");
        }
        let ws = wb.add_worksheet().set_name(&self.sheet_name).expect("name");
        // Excel keeps the active sheet visible: make the report active so a hidden first sheet stays hidden.
        ws.set_active(true);
        self.write_sheet(ws);
        keep_as_fuzz_seed(wb.save_to_buffer().expect("xlsx"))
    }

    fn write_sheet(&self, ws: &mut Worksheet) {
        let last_col = (self.headers.len() as u16).saturating_sub(1);
        let mut r: u32 = 0;
        let plain = Format::new();
        if let Some(title) = &self.title {
            ws.merge_range(r, 0, r, last_col, title, &plain)
                .expect("merge");
            r += 1;
        }
        if self.unit.is_some() || self.date_text.is_some() {
            if let Some(unit) = &self.unit {
                ws.write_string(r, 0, format!("填报单位：{unit}"))
                    .expect("write");
            }
            if let Some(date) = &self.date_text {
                ws.write_string(r, last_col.saturating_sub(3), "填报日期：")
                    .expect("write");
                ws.write_string(r, last_col.saturating_sub(2), date)
                    .expect("write");
            }
            r += 1;
        }
        if self.two_row_header {
            let total_col = self
                .headers
                .iter()
                .position(|h| h.starts_with("职工总数"))
                .expect("职工总数") as u16;
            for (c, h) in self.headers.iter().enumerate() {
                let c = c as u16;
                if c == total_col || c == total_col + 1 {
                    ws.write_string(r + 1, c, h).expect("write");
                } else {
                    ws.merge_range(r, c, r + 1, c, h, &plain).expect("merge");
                }
            }
            ws.merge_range(r, total_col, r, total_col + 1, "职工情况", &plain)
                .expect("merge");
            r += 2;
        } else {
            for (c, h) in self.headers.iter().enumerate() {
                ws.write_string(r, c as u16, h).expect("write");
            }
            r += 1;
        }
        for row in &self.rows {
            write_row(ws, r, row);
            r += 1;
        }
        if let Some(total) = &self.total {
            write_row(ws, r, total);
            r += 1;
        }
        if self.notes {
            ws.write_string(r, 0, "填表人：王五").expect("write");
            ws.write_string(r, 3, "审核人：赵六").expect("write");
            ws.write_string(r + 1, 0, "备注：本表数据截至当日17时。")
                .expect("write");
        }
    }
}

/// With FUGONG_FUZZ_SEEDS set, every workbook the tests make is also written to `target/fuzz-seeds/`, to
/// seed the fuzzer (`benches/fuzz.sh`).
pub fn keep_as_fuzz_seed(bytes: Vec<u8>) -> Vec<u8> {
    if std::env::var_os("FUGONG_FUZZ_SEEDS").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-seeds");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(fugong::pull::sha256_hex(&bytes)), &bytes);
    }
    bytes
}

/// One cell of a report's layout: 0-based position, value, and how far it is merged right and down.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub row: u32,
    pub col: u32,
    pub value: C,
    pub across: u32,
    pub down: u32,
}

impl Report {
    /// The report sheet's cells, laid out exactly as `to_xlsx` writes them (for the other formats).
    pub fn layout(&self) -> Vec<Placed> {
        let last_col = (self.headers.len() as u32).saturating_sub(1);
        let mut out = Vec::new();
        let mut put = |row: u32, col: u32, value: C, across: u32, down: u32| {
            out.push(Placed {
                row,
                col,
                value,
                across,
                down,
            })
        };
        let mut r: u32 = 0;
        if let Some(title) = &self.title {
            put(r, 0, s(title), last_col, 0);
            r += 1;
        }
        if self.unit.is_some() || self.date_text.is_some() {
            if let Some(unit) = &self.unit {
                put(r, 0, s(&format!("填报单位：{unit}")), 0, 0);
            }
            if let Some(date) = &self.date_text {
                put(r, last_col.saturating_sub(3), s("填报日期："), 0, 0);
                put(r, last_col.saturating_sub(2), s(date), 0, 0);
            }
            r += 1;
        }
        if self.two_row_header {
            let total_col = self
                .headers
                .iter()
                .position(|h| h.starts_with("职工总数"))
                .expect("职工总数") as u32;
            for (c, h) in self.headers.iter().enumerate() {
                let c = c as u32;
                if c == total_col {
                    put(r, c, s("职工情况"), 1, 0);
                    put(r + 1, c, s(h), 0, 0);
                } else if c == total_col + 1 {
                    put(r + 1, c, s(h), 0, 0);
                } else {
                    put(r, c, s(h), 0, 1);
                }
            }
            r += 2;
        } else {
            for (c, h) in self.headers.iter().enumerate() {
                put(r, c as u32, s(h), 0, 0);
            }
            r += 1;
        }
        for row in self.rows.iter().chain(self.total.iter()) {
            for (c, v) in row.iter().enumerate() {
                if *v != C::E {
                    put(r, c as u32, v.clone(), 0, 0);
                }
            }
            r += 1;
        }
        if self.notes {
            put(r, 0, s("填表人：王五"), 0, 0);
            put(r, 3, s("审核人：赵六"), 0, 0);
            put(r + 1, 0, s("备注：本表数据截至当日17时。"), 0, 0);
        }
        out.sort_by_key(|p| (p.row, p.col));
        out
    }

    /// The report as XML Spreadsheet 2003, as report systems export it (explicit `ss:Index` only where a
    /// row or cell is not the next one).
    pub fn to_spreadsheetml(&self) -> Vec<u8> {
        let esc = |t: &str| {
            t.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut x = String::from(
            "<?xml version=\"1.0\"?>\n<?mso-application progid=\"Excel.Sheet\"?>\n<Workbook xmlns=\"urn:schemas-microsoft-com:office:spreadsheet\" xmlns:o=\"urn:schemas-microsoft-com:office:office\" xmlns:x=\"urn:schemas-microsoft-com:office:excel\" xmlns:ss=\"urn:schemas-microsoft-com:office:spreadsheet\">\n",
        );
        x.push_str(&format!(
            "<Worksheet ss:Name=\"{}\"><Table>\n",
            esc(&self.sheet_name)
        ));
        let cells = self.layout();
        let mut current_row: Option<u32> = None;
        let mut next_col = 0;
        for p in &cells {
            if current_row != Some(p.row) {
                if current_row.is_some() {
                    x.push_str("</Row>\n");
                }
                let index = match current_row {
                    Some(r) if r + 1 == p.row => String::new(),
                    None if p.row == 0 => String::new(),
                    _ => format!(" ss:Index=\"{}\"", p.row + 1),
                };
                x.push_str(&format!("<Row{index}>"));
                current_row = Some(p.row);
                next_col = 0;
            }
            let mut attrs = String::new();
            if p.col != next_col {
                attrs.push_str(&format!(" ss:Index=\"{}\"", p.col + 1));
            }
            if p.across > 0 {
                attrs.push_str(&format!(" ss:MergeAcross=\"{}\"", p.across));
            }
            if p.down > 0 {
                attrs.push_str(&format!(" ss:MergeDown=\"{}\"", p.down));
            }
            let (kind, text) = match &p.value {
                C::S(t) => ("String", esc(t)),
                C::N(v) => ("Number", format!("{v}")),
                C::B(b) => ("Boolean", if *b { "1".into() } else { "0".into() }),
                C::D(y, m, d) => ("DateTime", format!("{y:04}-{m:02}-{d:02}T00:00:00.000")),
                C::Err(e) => ("Error", e.to_string()),
                C::E => continue,
            };
            x.push_str(&format!(
                "<Cell{attrs}><Data ss:Type=\"{kind}\">{text}</Data></Cell>"
            ));
            next_col = p.col + p.across + 1;
        }
        if current_row.is_some() {
            x.push_str("</Row>\n");
        }
        x.push_str("</Table></Worksheet>\n</Workbook>\n");
        x.into_bytes()
    }

    /// The report as the HTML page a web system's "导出Excel" button saves as `.xls`, in `encoding`
    /// (declared in the page's meta tag).
    pub fn to_html(&self, encoding: &'static encoding_rs::Encoding) -> Vec<u8> {
        let esc = |t: &str| {
            t.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut h = format!(
            "<html xmlns:x=\"urn:schemas-microsoft-com:office:excel\"><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset={}\"><title>{}</title></head><body><table border=\"1\">\n",
            encoding.name(),
            esc(&self.sheet_name)
        );
        let cells = self.layout();
        let rows = cells.iter().map(|p| p.row).max().map_or(0, |m| m + 1);
        // Cells covered by a rowspan from above are simply absent from their row, as in real HTML.
        let mut covered: std::collections::HashSet<(u32, u32)> = Default::default();
        for p in &cells {
            for dr in 1..=p.down {
                for dc in 0..=p.across {
                    covered.insert((p.row + dr, p.col + dc));
                }
            }
        }
        for r in 0..rows {
            h.push_str("<tr>");
            let mut col = 0;
            for p in cells.iter().filter(|p| p.row == r) {
                while col < p.col {
                    if !covered.contains(&(r, col)) {
                        h.push_str("<td></td>");
                    }
                    col += 1;
                }
                let text = match &p.value {
                    C::S(t) => esc(t),
                    C::N(v) => format!("{v}"),
                    C::B(b) => {
                        if *b {
                            "TRUE".into()
                        } else {
                            "FALSE".into()
                        }
                    }
                    C::D(y, m, d) => format!("{y:04}-{m:02}-{d:02}"),
                    C::Err(e) => e.to_string(),
                    C::E => String::new(),
                };
                let mut attrs = String::new();
                if p.across > 0 {
                    attrs.push_str(&format!(" colspan=\"{}\"", p.across + 1));
                }
                if p.down > 0 {
                    attrs.push_str(&format!(" rowspan=\"{}\"", p.down + 1));
                }
                h.push_str(&format!("<td{attrs}>{text}</td>"));
                col = p.col + p.across + 1;
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table></body></html>\n");
        encoding.encode(&h).0.into_owned()
    }

    /// The report as CSV text (one-row header only), encoded as given, with a byte-order mark if asked.
    pub fn to_csv(&self, encoding: &'static encoding_rs::Encoding, bom: bool) -> Vec<u8> {
        let cells = self.layout();
        let rows = cells.iter().map(|p| p.row).max().map_or(0, |m| m + 1);
        let width = self.headers.len() as u32;
        let mut text = String::new();
        for r in 0..rows {
            let mut fields = vec![String::new(); width as usize];
            for p in cells.iter().filter(|p| p.row == r && p.col < width) {
                fields[p.col as usize] = match &p.value {
                    C::S(t) => t.clone(),
                    C::N(v) => format!("{v}"),
                    C::B(b) => {
                        if *b {
                            "是".into()
                        } else {
                            "否".into()
                        }
                    }
                    C::D(y, m, d) => format!("{y:04}-{m:02}-{d:02}"),
                    C::Err(e) => e.to_string(),
                    C::E => String::new(),
                };
            }
            let quoted: Vec<String> = fields
                .iter()
                .map(|f| {
                    if f.contains([',', '"', '\n']) {
                        format!("\"{}\"", f.replace('"', "\"\""))
                    } else {
                        f.clone()
                    }
                })
                .collect();
            text.push_str(&quoted.join(","));
            text.push_str("\r\n");
        }
        let mut out = Vec::new();
        if bom {
            out.extend_from_slice(b"\xEF\xBB\xBF");
        }
        out.extend_from_slice(&encoding.encode(&text).0);
        out
    }
}

/// Rewrite a zip in memory: `f(name, content)` gives each part's new name and content, or None to drop
/// it.
pub fn rezip(
    bytes: &[u8],
    mut f: impl FnMut(&str, Vec<u8>) -> Option<(String, Vec<u8>)>,
) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let name = entry.name().expect("name").to_string();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("read");
        if let Some((name, content)) = f(&name, content) {
            out.start_file(name, zip::write::SimpleFileOptions::default())
                .expect("start");
            out.write_all(&content).expect("write");
        }
    }
    out.finish().expect("finish").into_inner()
}

pub fn write_row(ws: &mut Worksheet, r: u32, row: &[C]) {
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    for (c, cell) in row.iter().enumerate() {
        let c = c as u16;
        match cell {
            C::S(t) => {
                ws.write_string(r, c, t).expect("write");
            }
            C::N(v) => {
                ws.write_number(r, c, *v).expect("write");
            }
            C::B(b) => {
                ws.write_boolean(r, c, *b).expect("write");
            }
            C::D(y, m, d) => {
                let date = rust_xlsxwriter::ExcelDateTime::from_ymd(*y as u16, *m as u8, *d as u8)
                    .expect("date");
                ws.write_datetime_with_format(r, c, &date, &date_format)
                    .expect("write");
            }
            C::Err(e) => {
                ws.write_formula(r, c, Formula::new("=1/0").set_result(*e))
                    .expect("write");
            }
            C::E => {}
        }
    }
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

pub fn report_date() -> NaiveDate {
    date(2020, 2, 24)
}

/// Districts used by in-memory validation tests.
pub fn known_districts() -> Vec<KnownDistrict> {
    JINAN
        .iter()
        .map(|(code, name)| KnownDistrict {
            code: code.to_string(),
            name: name.to_string(),
            city_name: "济南市".into(),
        })
        .chain(QINGDAO.iter().map(|(code, name)| KnownDistrict {
            code: code.to_string(),
            name: name.to_string(),
            city_name: "青岛市".into(),
        }))
        .collect()
}

/// Validate bytes as 历下区 (370102) on 2020-02-24 with the built-in schema, in process.
pub fn validate(bytes: &[u8]) -> SubmissionOutcome {
    validate_as(bytes, "370102", report_date(), ReadLimits::default())
}

pub fn validate_as(
    bytes: &[u8],
    district: &str,
    date: NaiveDate,
    limits: ReadLimits,
) -> SubmissionOutcome {
    let schema = Schema::builtin().expect("schema");
    let ctx = SubmissionContext {
        district_code: district.to_string(),
        report_date: date,
        date_known: true,
        limits,
        districts: std::sync::Arc::new(known_districts()),
    };
    fugong::intake::boundary::validate_in_process(bytes, &ctx, &schema)
}

/// Jinan's 12 districts of 2020.
pub const JINAN: [(&str, &str); 12] = [
    ("370102", "历下区"),
    ("370103", "市中区"),
    ("370104", "槐荫区"),
    ("370105", "天桥区"),
    ("370112", "历城区"),
    ("370113", "长清区"),
    ("370114", "章丘区"),
    ("370115", "济阳区"),
    ("370116", "莱芜区"),
    ("370117", "钢城区"),
    ("370124", "平阴县"),
    ("370126", "商河县"),
];

pub const QINGDAO: [(&str, &str); 3] = [
    ("370202", "市南区"),
    ("370203", "市北区"),
    ("370211", "黄岛区"),
];

/// A province on disk: `inbox/<date>/<code>.xlsx`, a job file, and the warehouse under `warehouse/`.
pub struct Province {
    pub dir: tempfile::TempDir,
    pub districts: Vec<(String, String, String)>,
}

impl Province {
    pub fn new(districts: &[(&str, &str, &str)]) -> Province {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = Province {
            dir,
            districts: districts
                .iter()
                .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                .collect(),
        };
        p.write_job("");
        p
    }

    /// Jinan's 12 districts and Qingdao's 3.
    pub fn jinan_qingdao() -> Province {
        let all: Vec<(&str, &str, &str)> = JINAN
            .iter()
            .map(|(c, n)| (*c, *n, "济南市"))
            .chain(QINGDAO.iter().map(|(c, n)| (*c, *n, "青岛市")))
            .collect();
        Province::new(&all)
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn job_path(&self) -> PathBuf {
        self.root().join("jobs").join("test.toml")
    }

    pub fn warehouse(&self) -> PathBuf {
        self.root().join("warehouse")
    }

    /// Write the job file; `extra` is appended (e.g. a `[limits]` table).
    pub fn write_job(&self, extra: &str) {
        let mut text = String::from(
            "name = \"test-province\"\noutput = \"../warehouse\"\n\n[province]\ncode = \"370000\"\nname = \"山东省\"\n\n[source]\nkind = \"dir\"\npath = \"../inbox/{date}/{district_code}.*\"\n\n",
        );
        text.push_str(extra);
        text.push('\n');
        for (code, name, city) in &self.districts {
            text.push_str(&format!(
                "[[districts]]\ncode = \"{code}\"\nname = \"{name}\"\ncity = \"{city}\"\n\n"
            ));
        }
        std::fs::create_dir_all(self.root().join("jobs")).expect("mkdir");
        std::fs::write(self.job_path(), text).expect("write job");
    }

    /// Put a submission in the inbox.
    /// Put a submission in the inbox. Its modification time (its arrival, contract §13) is fixed: the
    /// next morning, 08:00 in Shanghai, an hour before a `+1 09:00` deadline; so the same inputs are the
    /// same bytes and the same arrival, whenever a test writes them.
    pub fn submit(&self, date: NaiveDate, file_name: &str, bytes: &[u8]) {
        let dir = self.root().join("inbox").join(date.to_string());
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join(file_name);
        std::fs::write(&path, bytes).expect("write");
        let morning = date
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("time")
            .and_utc();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(morning.into()))
            .expect("mtime");
    }

    pub fn job(&self) -> fugong::config::Job {
        fugong::config::Job::load(&self.job_path()).expect("job")
    }
}

/// Options that read in worker processes of the real binary, as `fugong run` does.
pub fn subprocess_options() -> fugong::RunOptions {
    fugong::RunOptions {
        isolation: fugong::intake::boundary::Isolation::Subprocess {
            exe: PathBuf::from(env!("CARGO_BIN_EXE_fugong")),
            memory_bytes: 2 * 1024 * 1024 * 1024,
        },
        ..fugong::RunOptions::default()
    }
}

/// A report for a district with its own 填报单位.
pub fn report_for(district_name: &str, rows: Vec<Vec<C>>) -> Report {
    let mut r = Report::new(rows);
    r.unit = Some(format!("{district_name}工业和信息化局"));
    r.title = Some(format!("{district_name}规模以上工业企业复工复产情况日报表"));
    r
}

/// Read a table partition back as batches.
pub fn read_table(warehouse: &Path, table: &str, date: NaiveDate) -> arrow::array::RecordBatch {
    let dir = fugong::publish::partition_dir(warehouse, table, date);
    let batches = fugong::publish::parquet_io::read_partition(&dir).expect("read partition");
    fugong::publish::parquet_io::concat(&batches).expect("at least one batch")
}

/// Serve an axum router on a free loopback port, on its own thread and runtime; returns the address.
pub fn serve_on_loopback(app: axum::Router) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("server started")
}

/// A column of a batch as its concrete Arrow array type.
pub fn column<'a, T: 'static>(batch: &'a arrow::array::RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .unwrap_or_else(|| panic!("column {name} missing or of another type"))
}

//! Every accepted messiness of contract §2, each in a real xlsx written by rust_xlsxwriter.

use fugong::validate::{Code, Severity, SubmissionOutcome, Value};

use crate::support::*;

fn field(outcome: &SubmissionOutcome, row: usize, name: &str) -> Option<Value> {
    let schema = fugong::config::Schema::builtin().expect("schema");
    let i = schema.field_index(name).expect("field");
    outcome.rows[row].values[i].clone()
}

fn assert_no_errors(outcome: &SubmissionOutcome) {
    let errors: Vec<_> = outcome
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "unexpected errors: {errors:#?}");
}

#[test]
fn standard_layout_with_title_unit_date_total_and_notes() {
    let mut report = Report::standard(3);
    report.total = Some(vec![
        s("合计"),
        C::E,
        C::E,
        C::E,
        n(3.0),
        C::E,
        n(300.0),
        n(240.0),
    ]);
    let outcome = validate(&report.to_xlsx());
    assert_no_errors(&outcome);
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(outcome.rows.len(), 3);
    assert_eq!(outcome.sheet.as_deref(), Some("复工日报"));
    assert_eq!(outcome.rows[0].source_row, report.excel_row(0));
    assert_eq!(field(&outcome, 0, "uscc"), Some(Value::Text(uscc(1))));
    assert_eq!(field(&outcome, 0, "resumed_on"), Some(Value::Date(18_302))); // 2020-02-10
    assert_eq!(
        field(&outcome, 0, "capacity_utilization"),
        Some(Value::Ratio(0.85))
    );
    assert_eq!(
        field(&outcome, 0, "financing_need_cny"),
        Some(Value::Money(100_000_000))
    );
    // Personal data is never carried.
    assert_eq!(field(&outcome, 0, "contact_name"), None);
    assert_eq!(field(&outcome, 0, "contact_phone"), None);
}

#[test]
fn aliases_and_shuffled_columns() {
    let headers = [
        "行业类别",
        "从业人员",
        "单位名称",
        "复工情况",
        "统一代码",
        "到岗人数",
        "生产负荷",
        "困难问题",
        "复工日期",
    ];
    let mut report = Report::new(vec![vec![
        s("食品制造业"),
        n(50.0),
        s("青岛某食品厂"),
        s("已复工"),
        s(&uscc(7)),
        n(40.0),
        s("60%"),
        s("原料短缺"),
        s("2020/2/20"),
    ]]);
    report.headers = headers.iter().map(|h| h.to_string()).collect();
    let outcome = validate(&report.to_xlsx());
    assert_no_errors(&outcome);
    assert_eq!(outcome.rows.len(), 1);
    assert_eq!(field(&outcome, 0, "uscc"), Some(Value::Text(uscc(7))));
    assert_eq!(field(&outcome, 0, "employees_total"), Some(Value::Int(50)));
    assert_eq!(
        field(&outcome, 0, "employees_on_duty"),
        Some(Value::Int(40))
    );
    assert_eq!(
        field(&outcome, 0, "capacity_utilization"),
        Some(Value::Ratio(0.6))
    );
    assert_eq!(
        field(&outcome, 0, "industry"),
        Some(Value::Text("食品制造业".into()))
    );
    assert_eq!(
        field(&outcome, 0, "issues_text"),
        Some(Value::Text("原料短缺".into()))
    );
}

#[test]
fn two_row_header_under_a_merged_group_cell() {
    let mut report = Report::standard(2);
    report.two_row_header = true;
    let outcome = validate(&report.to_xlsx());
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(outcome.rows.len(), 2);
    assert_eq!(outcome.rows[0].source_row, report.excel_row(0));
    assert_eq!(report.excel_row(0), 5);
    assert_eq!(field(&outcome, 1, "employees_total"), Some(Value::Int(100)));
    assert_eq!(
        field(&outcome, 1, "employees_on_duty"),
        Some(Value::Int(80))
    );
}

#[test]
fn number_forms_full_width_thousands_wan_and_units() {
    let mut rows = Vec::new();
    for (k, (total, duty)) in [
        (s("１８６２"), s("１８００")),
        (s("1,234"), s("1,000")),
        (s("30.9万"), s("30万")),
        (s("1862人"), n(1862.0)),
        (n(1862.0), s("1862.0")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut row = standard_row(k as u32 + 1, true, 0, 0);
        row[6] = total;
        row[7] = duty;
        rows.push(row);
    }
    let outcome = validate(&Report::new(rows).to_xlsx());
    assert_no_errors(&outcome);
    let totals: Vec<_> = (0..5)
        .map(|r| field(&outcome, r, "employees_total"))
        .collect();
    assert_eq!(
        totals,
        vec![
            Some(Value::Int(1862)),
            Some(Value::Int(1234)),
            Some(Value::Int(309_000)),
            Some(Value::Int(1862)),
            Some(Value::Int(1862))
        ]
    );
    assert_eq!(
        field(&outcome, 2, "employees_on_duty"),
        Some(Value::Int(300_000))
    );
}

#[test]
fn percent_forms() {
    let forms = [s("85%"), s("85％"), n(0.85), n(85.0), s("0.85"), s("85")];
    let rows = forms
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let mut row = standard_row(k as u32 + 1, true, 10, 5);
            row[8] = f.clone();
            row
        })
        .collect();
    let outcome = validate(&Report::new(rows).to_xlsx());
    assert_no_errors(&outcome);
    for (r, _) in forms.iter().enumerate() {
        assert_eq!(
            field(&outcome, r, "capacity_utilization"),
            Some(Value::Ratio(0.85)),
            "row {r}"
        );
    }
}

#[test]
fn boolean_forms() {
    let yes = [
        "是",
        "Y",
        "yes",
        "TRUE",
        "1",
        "√",
        "✓",
        "已开工",
        "已复工",
        "开工",
        "复工",
    ];
    let no = [
        "否",
        "N",
        "No",
        "false",
        "0",
        "×",
        "✗",
        "未开工",
        "未复工",
        "停产",
        "停工",
    ];
    let mut rows = Vec::new();
    let mut k = 0;
    for (text, _) in yes
        .iter()
        .map(|t| (t, true))
        .chain(no.iter().map(|t| (t, false)))
    {
        k += 1;
        let mut row = standard_row(k, true, 10, 5);
        row[4] = s(text);
        row[5] = C::E;
        rows.push(row);
    }
    let mut bool_cell = standard_row(100, true, 10, 5);
    bool_cell[4] = C::B(true);
    rows.push(bool_cell);
    let outcome = validate(&Report::new(rows).to_xlsx());
    assert_no_errors(&outcome);
    for (r, text) in yes.iter().enumerate() {
        assert_eq!(
            field(&outcome, r, "resumed"),
            Some(Value::Bool(true)),
            "{text}"
        );
    }
    for (r, text) in no.iter().enumerate() {
        assert_eq!(
            field(&outcome, yes.len() + r, "resumed"),
            Some(Value::Bool(false)),
            "{text}"
        );
    }
    assert_eq!(
        field(&outcome, yes.len() + no.len(), "resumed"),
        Some(Value::Bool(true))
    );
}

#[test]
fn date_forms() {
    let forms = [
        C::D(2020, 2, 10),
        n(43871.0),
        s("2020-02-10"),
        s("2020/2/10"),
        s("2020.2.10"),
        s("2020年2月10日"),
        s("20200210"),
        s("2月10日"),
    ];
    let rows = forms
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let mut row = standard_row(k as u32 + 1, true, 10, 5);
            row[5] = f.clone();
            row
        })
        .collect();
    let outcome = validate(&Report::new(rows).to_xlsx());
    assert_no_errors(&outcome);
    for (r, form) in forms.iter().enumerate() {
        assert_eq!(
            field(&outcome, r, "resumed_on"),
            Some(Value::Date(18_302)),
            "form {form:?}"
        );
    }
}

#[test]
fn a_date_on_an_enterprise_not_resumed_is_ignored() {
    let mut row = standard_row(1, false, 10, 0);
    row[5] = s("2020-03-01"); // after the report date, but the enterprise has not resumed
    let outcome = validate(&Report::new(vec![row]).to_xlsx());
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(field(&outcome, 0, "resumed_on"), None);
}

#[test]
fn money_units_from_value_and_header() {
    let mut rows = Vec::new();
    for (k, v) in [n(116.5), s("116.5万"), s("1.165亿"), s("5000元")]
        .into_iter()
        .enumerate()
    {
        let mut row = standard_row(k as u32 + 1, true, 10, 5);
        row[10] = v;
        rows.push(row);
    }
    let outcome = validate(&Report::new(rows.clone()).to_xlsx());
    assert_no_errors(&outcome);
    let got: Vec<_> = (0..4)
        .map(|r| field(&outcome, r, "financing_need_cny"))
        .collect();
    assert_eq!(
        got,
        vec![
            Some(Value::Money(116_500_000)),
            Some(Value::Money(116_500_000)),
            Some(Value::Money(11_650_000_000)),
            Some(Value::Money(500_000))
        ]
    );
    let mut in_yuan = Report::new(rows);
    in_yuan.headers[10] = "融资需求（元）".into();
    let outcome = validate(&in_yuan.to_xlsx());
    assert_eq!(
        field(&outcome, 0, "financing_need_cny"),
        Some(Value::Money(11_650))
    );
}

#[test]
fn report_on_the_second_sheet_and_hidden_sheets_ignored() {
    let mut report = Report::standard(2);
    report.preface_sheet = true;
    report.hidden_decoy_sheet = true;
    let outcome = validate(&report.to_xlsx());
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(outcome.sheet.as_deref(), Some("复工日报"));
    assert_eq!(outcome.rows.len(), 2);
}

#[test]
fn text_is_normalised_and_empty_optionals_are_null() {
    let mut row = standard_row(1, true, 10, 5);
    row[1] = s(&format!(" {} ", uscc(1).to_lowercase()));
    row[2] = s("  济南\u{200B}测试　　有限公司 ");
    row[3] = C::E;
    row[11] = s("   ");
    let outcome = validate(&Report::new(vec![row]).to_xlsx());
    assert_no_errors(&outcome);
    assert_eq!(field(&outcome, 0, "uscc"), Some(Value::Text(uscc(1))));
    assert_eq!(
        field(&outcome, 0, "enterprise_name"),
        Some(Value::Text("济南测试 有限公司".into()))
    );
    assert_eq!(field(&outcome, 0, "industry"), None);
    assert_eq!(field(&outcome, 0, "issues_text"), None);
}

#[test]
fn header_unknown_is_a_warning_that_keeps_the_data() {
    let mut report = Report::standard(2);
    report.headers.push("备用列".into());
    for row in &mut report.rows {
        row.push(s("x"));
    }
    let outcome = validate(&report.to_xlsx());
    assert_eq!(outcome.rows.len(), 2);
    assert_eq!(outcome.findings.len(), 1, "{:#?}", outcome.findings);
    assert_eq!(outcome.findings[0].code, Code::HeaderUnknown);
    assert_eq!(outcome.findings[0].severity, Severity::Warning);
    assert_eq!(outcome.findings[0].column.as_deref(), Some("备用列"));
}

#[test]
fn two_row_header_where_most_fields_are_in_the_lower_row() {
    // Row 3: 序号 | 企业基本情况 (over 3 columns) | 复工情况 (over 5 columns) | 联系人, merged down over rows 3–4.
    // Row 4:      | 统一社会信用代码 | 企业名称 | 所属行业 | 是否开工 | 开工日期 | 职工总数 | 上岗人数 | 产能恢复率
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("日报").expect("name");
    let plain = rust_xlsxwriter::Format::new();
    ws.merge_range(0, 0, 0, 9, "历下区规上工业企业复工复产日报", &plain)
        .expect("merge");
    ws.write_string(1, 0, "填报单位：历下区工信局").expect("w");
    ws.merge_range(2, 0, 3, 0, "序号", &plain).expect("merge");
    ws.merge_range(2, 1, 2, 3, "企业基本情况", &plain)
        .expect("merge");
    ws.merge_range(2, 4, 2, 8, "复工情况", &plain)
        .expect("merge");
    ws.merge_range(2, 9, 3, 9, "联系人", &plain).expect("merge");
    for (c, h) in [
        "统一社会信用代码",
        "企业名称",
        "所属行业",
        "是否开工",
        "开工日期",
        "职工总数",
        "上岗人数",
        "产能恢复率",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(3, c as u16 + 1, *h).expect("w");
    }
    let row = vec![
        n(1.0),
        s(&uscc(1)),
        s("甲公司"),
        s("纺织业"),
        s("是"),
        s("2020-02-20"),
        n(30.0),
        n(20.0),
        s("80%"),
        s("李四"),
    ];
    write_row(ws, 4, &row);
    let outcome = validate(&wb.save_to_buffer().expect("xlsx"));
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(outcome.rows.len(), 1);
    assert_eq!(outcome.rows[0].source_row, 5);
    assert_eq!(
        field(&outcome, 0, "employees_on_duty"),
        Some(Value::Int(20))
    );
}

#[test]
fn repeated_header_rows_and_subtotals_are_not_enterprises() {
    let mut report = Report::standard(4);
    // A print-title copy of the header between rows 2 and 3, and a 小计 after row 2.
    let header: Vec<C> = report.headers.iter().map(|h| s(h)).collect();
    report.rows.insert(2, header);
    report.rows.insert(
        2,
        vec![
            C::E,
            s("小计"),
            C::E,
            C::E,
            n(2.0),
            C::E,
            n(200.0),
            n(160.0),
        ],
    );
    report.total = Some(vec![
        s("合计"),
        C::E,
        C::E,
        C::E,
        n(4.0),
        C::E,
        n(400.0),
        n(320.0),
    ]);
    let outcome = validate(&report.to_xlsx());
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(outcome.rows.len(), 4);
    // A wrong 合计 is still caught; the 小计 is not checked.
    report.total = Some(vec![s("合计"), C::E, C::E, C::E, n(4.0), C::E, n(401.0)]);
    let outcome = validate(&report.to_xlsx());
    let codes: Vec<Code> = outcome.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, [Code::TotalMismatch]);
}

#[test]
fn an_enterprise_whose_name_starts_like_a_note_is_still_an_enterprise() {
    // No 序号 column: the first cell of each row is the enterprise name.
    let mut report = Report::standard(3);
    report.headers.remove(0);
    for row in &mut report.rows {
        row.remove(0);
        row.swap(0, 1);
    }
    report.headers.swap(0, 1);
    report.rows[1][0] = s("说明书印刷有限公司");
    report.rows[2][0] = s("注塑科技有限公司");
    let outcome = validate(&report.to_xlsx());
    assert!(outcome.findings.is_empty(), "{:#?}", outcome.findings);
    assert_eq!(
        outcome.rows.len(),
        3,
        "the notes rows after the table still end it"
    );
}

//! `fugong report`: one self-contained HTML page for a date (inline SVG charts drawn with plotters, inline
//! CSS, no network): the provincial ranking, 开工率 trends, coverage and data quality, with a headline
//! sentence. Every number is read from the published Parquet snapshots.

pub mod charts;
pub mod data;
pub mod feedback;
pub mod ranking;
pub mod template;

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::compare::display;
use data::ReportData;

/// Plain words for each finding code, for people who do not read contract codes.
pub fn plain_words(code: &str) -> &'static str {
    match code {
        "file-unreadable" => "文件打不开（损坏、加密，或不是 Excel 文件）",
        "file-too-large" => "文件过大或内容异常",
        "header-missing" => "表头缺少必填列",
        "header-ambiguous" => "同一指标出现在多列",
        "header-unknown" => "表头有模板以外的列（已忽略）",
        "district-mismatch" => "填报单位不是本区县",
        "date-mismatch" => "填报日期不是报表日期",
        "ambiguous-submission" => "同一天报送了多个文件",
        "empty-submission" => "有表头但没有企业数据",
        "type-error" => "数值格式不对（如“约100”、小数人数）",
        "required-missing" => "必填项为空",
        "constraint-error" => "数值超出范围（如产能恢复率超过150%、日期晚于报表日）",
        "uscc-invalid" => "统一社会信用代码错误（位数、字符或校验位）",
        "cross-field" => "上岗人数大于职工总数等前后矛盾",
        "duplicate-key" => "同一企业在本区县填报了多行",
        "duplicate-across-districts" => "同一企业被两个区县同时填报",
        "total-mismatch" => "合计行与明细之和不一致",
        "anomaly" => "与前一日相比变化异常",
        _ => "其他问题",
    }
}

/// A finding code's short Chinese name, for a chart's axis.
pub fn short_words(code: &str) -> &'static str {
    match code {
        "file-unreadable" => "文件打不开",
        "file-too-large" => "文件过大",
        "header-missing" => "缺少必填列",
        "header-ambiguous" => "指标列重复",
        "header-unknown" => "模板外的列",
        "district-mismatch" => "非本区县报表",
        "date-mismatch" => "日期不符",
        "ambiguous-submission" => "多个文件",
        "empty-submission" => "没有企业数据",
        "type-error" => "格式不对",
        "required-missing" => "必填项为空",
        "constraint-error" => "数值超出范围",
        "uscc-invalid" => "信用代码错误",
        "cross-field" => "前后矛盾",
        "duplicate-key" => "区县内重复",
        "duplicate-across-districts" => "跨区县重复",
        "total-mismatch" => "合计不符",
        "anomaly" => "变化异常",
        _ => "其他问题",
    }
}

/// The headline of `compare` (并列 for cities sharing rank 1), followed by the province's pooled figures.
pub fn headline(data: &ReportData) -> String {
    let mut text = if data
        .cities
        .iter()
        .any(|c| c.resumption_rate_rank == Some(1))
    {
        crate::compare::table::headline(&data.cities)
            .trim_end_matches('。')
            .to_string()
    } else {
        "今日没有城市报送有效数据".to_string()
    };
    let (resumption, on_duty) = data.province_exact;
    if data.province.0.is_some() {
        text.push_str(&format!(
            "；全省规上工业企业开工率{}",
            display::percent_exact_or(resumption, data.province.0)
        ));
    }
    if data.province.1.is_some() {
        text.push_str(&format!(
            "，上岗率{}",
            display::percent_exact_or(on_duty, data.province.1)
        ));
    }
    text.push('。');
    text
}

const CSS: &str = r#"
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 24px auto; max-width: 1000px; color: #222; }
svg text { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", sans-serif; }
h1 { font-size: 26px; margin-bottom: 4px; }
.headline { font-size: 20px; background: #fff4e5; border-left: 6px solid #ff7f0e; padding: 10px 14px; }
section { margin-top: 28px; }
h2 { font-size: 20px; border-bottom: 2px solid #1f77b4; padding-bottom: 4px; }
table { border-collapse: collapse; margin-top: 10px; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; }
td.name, th.name { white-space: nowrap; }
th { background: #f0f4f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.note { color: #666; font-size: 13px; }
"#;

fn opt_pct(v: Option<f64>) -> String {
    display::percent(v)
}

fn opt_rank(v: Option<i32>) -> String {
    v.map(|r| r.to_string()).unwrap_or_else(|| "—".into())
}

/// Findings by code: (code, plain words, errors, warnings), most first.
fn by_code(data: &ReportData) -> Vec<(String, String, usize, usize)> {
    let mut map: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in &data.rejects {
        let e = map.entry(r.code.as_str()).or_default();
        if r.severity == "error" {
            e.0 += 1
        } else {
            e.1 += 1
        }
    }
    let mut rows: Vec<(String, String, usize, usize)> = map
        .into_iter()
        .map(|(c, (e, w))| (c.to_string(), plain_words(c).to_string(), e, w))
        .collect();
    rows.sort_by(|a, b| (b.2 + b.3).cmp(&(a.2 + a.3)).then(a.0.cmp(&b.0)));
    rows
}

/// The whole page.
pub fn render(data: &ReportData) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    render_with(data, Styles::Inline)
}

/// Where the report's styles are: inside the page (a file to mail or open offline), or in a
/// stylesheet the page links to (the portal, whose pages allow no inline styles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Styles<'a> {
    Inline,
    Linked(&'a str),
}

/// The report's stylesheet.
pub fn stylesheet() -> &'static str {
    CSS
}

/// The whole page, its styles inline or linked.
pub fn render_with(
    data: &ReportData,
    styles: Styles<'_>,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let ranking_svg = charts::ranking(data)?;
    let trend_svg = charts::trend(data)?;
    let coverage_svg = charts::coverage(data)?;
    let aging_svg = match &data.problems {
        Some(p) => Some(charts::aging(&p.aging)?),
        None => None,
    };
    let anomalies: Vec<&data::RejectLine> = data
        .rejects
        .iter()
        .filter(|r| r.code == "anomaly")
        .collect();
    let province_supply = crate::compare::ProvinceTotal::of(&data.cities);
    let previous_supply = data
        .previous
        .as_ref()
        .map(|(d, cities)| (*d, crate::compare::ProvinceTotal::of(cities), cities));
    let codes = by_code(data);
    let quality_svg = charts::quality(&codes)?;
    let alike: Vec<&str> = crate::compare::table::look_alike(&data.cities)
        .iter()
        .map(|c| c.city_code.as_str())
        .collect();
    let mut ranked = data.cities.clone();
    ranked.sort_by_key(|c| {
        (
            c.resumption_rate_rank.unwrap_or(i32::MAX),
            c.city_code.clone(),
        )
    });
    let names: BTreeMap<&str, (&str, &str)> = data
        .districts
        .iter()
        .map(|d| {
            (
                d.district_code.as_str(),
                (d.city_name.as_str(), d.district_name.as_str()),
            )
        })
        .collect();
    let mut per_district: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in &data.rejects {
        let e = per_district.entry(r.district_code.as_str()).or_default();
        if r.severity == "error" {
            e.0 += 1
        } else {
            e.1 += 1
        }
    }
    let gaps: Vec<String> = data
        .trend
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(d, _)| d.to_string())
        .collect();
    let page: Markup = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { "规上工业企业复工复产全省比较 " (data.date) }
                @match styles {
                    Styles::Inline => style { (PreEscaped(CSS)) },
                    Styles::Linked(href) => link rel="stylesheet" href=(href);,
                }
            }
            body {
                h1 { "规上工业企业复工复产全省比较" }
                p.note { "报表日期 " (data.date) "。数据来自已发布的 Parquet 快照。" }
                p.headline #headline { (headline(data)) }
                section #ranking {
                    h2 { "全省排名：开工率、上岗率、达产率" }
                    p.note { "条形按比率从高到低排列，并列者名次相同；红色虚线为全省合计比率。" }
                    (PreEscaped(ranking_svg))
                    table {
                        tr { th { "名次" } th { "城市" } th { "开工率" } th { "较上期(百分点)" } th { "上岗率" } th { "名次" } th { "达产率" } th { "名次" } th { "企业数" } th { "已开工" } }
                        @for c in &ranked {
                            @let [resumption, on_duty, capacity] = crate::compare::table::shown_rates(c);
                            @let mark = if alike.contains(&c.city_code.as_str()) { "*" } else { "" };
                            tr {
                                td.num { (opt_rank(c.resumption_rate_rank)) }
                                td.name { (c.city_name) }
                                td.num { (resumption) (mark) }
                                td.num { (display::points(c.resumption_rate_change)) }
                                td.num { (on_duty) }
                                td.num { (opt_rank(c.on_duty_rate_rank)) }
                                td.num { (capacity) }
                                td.num { (opt_rank(c.capacity_utilization_rank)) }
                                td.num { (c.enterprises_total.map(|v| v.to_string()).unwrap_or_else(|| "—".into())) }
                                td.num { (c.enterprises_resumed.map(|v| v.to_string()).unwrap_or_else(|| "—".into())) }
                            }
                        }
                        tr { td {} td.name { "全省" } td.num { (display::percent_exact_or(data.province_exact.0, data.province.0)) } td {} td.num { (display::percent_exact_or(data.province_exact.1, data.province.1)) } td {} td.num { (opt_pct(data.province.2)) } td {} td {} td {} }
                    }
                    @if !alike.is_empty() {
                        p.note #alike { "* 显示的开工率相同但精确比值不同，排名按精确比值（企业数之比）。" }
                    }
                }
                section #trend {
                    h2 { "开工率走势" }
                    (PreEscaped(trend_svg))
                    @if !gaps.is_empty() {
                        p.note { "没有快照的日期（图中空缺）：" (gaps.join("、")) }
                    }
                }
                section #coverage {
                    h2 { "报送情况" }
                    (PreEscaped(coverage_svg))
                    table {
                        @let timeliness = data.cities.iter().any(|c| c.districts_on_time.is_some());
                        @let rate = |n: i64, d: i64| crate::tally::Fraction::new(n, d).map(display::percent_of).unwrap_or_else(|| "—".into());
                        tr { th { "城市" } th { "应报区县" } th { "已报送" } th { "报送率" } @if timeliness { th { "按时报送率" } } th { "被拒收" } th { "未报送" } th { "被拒收的区县" } th { "未报送的区县" } }
                        @for c in &data.cities {
                            @let of = |s: &[&str]| data.districts.iter().filter(|d| d.city_code == c.city_code && s.contains(&d.status.as_str())).map(|d| d.district_name.clone()).collect::<Vec<_>>();
                            tr {
                                td.name { (c.city_name) }
                                td.num { (c.districts_expected) }
                                td.num { (c.districts_reported) }
                                td.num.reporting-rate { (rate(c.districts_reported, c.districts_expected)) }
                                @if timeliness { td.num.on-time-rate { (c.districts_on_time.map(|n| rate(n, c.districts_expected)).unwrap_or_else(|| "—".into())) } }
                                td.num { (of(&["rejected"]).len()) }
                                td.num { (of(&["missing"]).len()) }
                                td { (of(&["rejected"]).join("、")) }
                                td { (of(&["missing"]).join("、")) }
                            }
                        }
                    }
                }
                section #supply {
                    h2 { "物资与融资" }
                    p.note { "口罩日产能为报送企业填报之和；融资需求为填报了正数的企业户数与金额之和。" }
                    table {
                        tr { th { "城市" } th { "口罩日产能" } @if let Some((d, _, _)) = &previous_supply { th { "上期（" (d) "）" } } th { "有融资需求企业" } th { "融资需求" } }
                        @for c in &data.cities {
                            @let before = previous_supply.as_ref().and_then(|(_, _, cities)| cities.iter().find(|p| p.city_code == c.city_code)).and_then(|p| p.mask_daily_capacity_total);
                            tr {
                                td.name { (c.city_name) }
                                td.num { (display::masks(c.mask_daily_capacity_total)) }
                                @if previous_supply.is_some() { td.num { (display::masks(before)) } }
                                td.num { (c.enterprises_with_financing_need.map(|v| format!("{v}家")).unwrap_or_else(|| "—".into())) }
                                td.num { (display::yuan_large(c.financing_need_fen_total)) }
                            }
                        }
                        tr {
                            td.name { "全省" }
                            td.num #province-masks { (display::masks(Some(province_supply.mask_daily_capacity_total))) }
                            @if let Some((_, before, _)) = &previous_supply { td.num { (display::masks(Some(before.mask_daily_capacity_total))) } }
                            td.num #province-financing-enterprises { (province_supply.enterprises_with_financing_need) "家" }
                            td.num #province-financing { (display::yuan_large(Some(province_supply.financing_need_fen_total))) }
                        }
                    }
                }
                section #problems {
                    h2 { "问题清单" }
                    @match (&data.problems, &aging_svg) {
                        (Some(p), Some(svg)) => {
                            @let opened: i64 = p.counts.iter().map(|c| c.opened).sum();
                            @let closed: i64 = p.counts.iter().map(|c| c.closed).sum();
                            p #problem-summary { "未销号问题 " (p.open_total) " 个；今日新增 " (opened) " 个，今日销号 " (closed) " 个。" }
                            (PreEscaped(svg))
                            h3 { "未销号问题（按类别和城市）" }
                            @let categories: Vec<&str> = { let mut v: Vec<&str> = Vec::new(); for c in &p.counts { if !v.contains(&c.category.as_str()) { v.push(c.category.as_str()); } } v };
                            table #open-by-category {
                                tr { th { "城市" } @for cat in &categories { th { (cat) } } th { "合计" } th { "今日新增" } th { "今日销号" } th { "超过7天" } }
                                @for city in &data.cities {
                                    @let rows: Vec<&crate::problems::ledger::DailyCount> = p.counts.iter().filter(|c| c.city_code == city.city_code).collect();
                                    tr {
                                        td.name { (city.city_name) }
                                        @for cat in &categories { td.num { (rows.iter().filter(|c| c.category == *cat).map(|c| c.open).sum::<i64>()) } }
                                        td.num { (rows.iter().map(|c| c.open).sum::<i64>()) }
                                        td.num { (rows.iter().map(|c| c.opened).sum::<i64>()) }
                                        td.num { (rows.iter().map(|c| c.closed).sum::<i64>()) }
                                        td.num { (rows.iter().map(|c| c.open_over_7_days).sum::<i64>()) }
                                    }
                                }
                            }
                            h3 { "持续时间最长的未销号问题（前 " (data::OLDEST_LISTED) " 个）" }
                            @if p.oldest.is_empty() {
                                p.note { "没有未销号的问题。" }
                            } @else {
                                table #oldest {
                                    tr { th { "城市" } th { "区县" } th { "企业" } th { "类别" } th { "提出日期" } th { "天数" } th { "最近反映" } }
                                    @for o in &p.oldest {
                                        tr { td.name { (o.district.city_name) } td.name { (o.district.name) } td.name { (o.enterprise_name) } td { (o.category) } td { (o.opened_on) } td.num { (o.days_open(data.date)) } td { (o.latest_text) } }
                                    }
                                }
                            }
                        }
                        _ => {
                            p.note { "这一日期发布时还没有问题台账。" }
                        }
                    }
                }
                section #anomalies {
                    h2 { "异常变动提示" }
                    @if anomalies.is_empty() {
                        p.note { "与上一报送日相比，没有超出阈值的变动。" }
                    } @else {
                        p.note { "以下数据与上一报送日相比变化异常（仅提示，数据照常发布），请区县核实：" }
                        table {
                            tr { th.name { "区县" } th.name { "企业" } th { "提示" } }
                            @for r in &anomalies {
                                @let (city, name) = names.get(r.district_code.as_str()).copied().unwrap_or(("", r.district_code.as_str()));
                                @let message = match &r.enterprise {
                                    // The enterprise by its name, the credit code after it.
                                    Some((enterprise, uscc)) => r.message.replacen(uscc.as_str(), &format!("{enterprise}（{uscc}）"), 1),
                                    None => r.message.clone(),
                                };
                                tr {
                                    td.name { (city) (name) }
                                    td.name {
                                        @if let Some((enterprise, uscc)) = &r.enterprise {
                                            (enterprise) span.note { "（" (uscc) "）" }
                                        } @else { "—" }
                                    }
                                    td { (message) }
                                }
                            }
                        }
                    }
                }
                section #quality {
                    h2 { "数据质量" }
                    (PreEscaped(quality_svg))
                    h3 { "主要问题" }
                    ol {
                        @for (code, words, errors, warnings) in codes.iter().take(5) {
                            @let example = data.rejects.iter().find(|r| &r.code == code).map(|r| r.message.clone()).unwrap_or_default();
                            li { (words) "：" (errors + warnings) " 处。例：" (example) }
                        }
                    }
                    table {
                        tr { th { "区县" } th { "错误" } th { "警告" } }
                        @for (code, (errors, warnings)) in &per_district {
                            @let (city, name) = names.get(code).copied().unwrap_or(("", code));
                            tr { td.name { (city) (name) "（" (code) "）" } td.num { (errors) } td.num { (warnings) } }
                        }
                    }
                    table {
                        tr { th { "问题类型" } th { "说明" } th { "错误" } th { "警告" } }
                        @for (code, words, errors, warnings) in &codes {
                            tr { td { (code) } td { (words) } td.num { (errors) } td.num { (warnings) } }
                        }
                    }
                }
            }
        }
    };
    Ok(page.into_string())
}

//! The report's charts, drawn with plotters' SVG backend. Text is written with a CJK font family and the
//! page's CSS names a whole CJK font stack, so nothing depends on a font being embedded.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::data::ReportData;

/// The font family written into the SVG (the page's CSS adds the fallbacks).
pub const FONT: &str = "Noto Sans CJK SC";

const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

type DrawResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn err<E: std::fmt::Display>(e: E) -> Box<dyn std::error::Error + Send + Sync> {
    e.to_string().into()
}

/// The label of a segmented row: rows are drawn best-first from the top, so row `i` shows `names[n-1-i]`.
fn row_label(names: &[String], y: &SegmentValue<i32>) -> String {
    let n = names.len() as i32;
    match y {
        SegmentValue::CenterOf(i) if (0..n).contains(i) => names[(n - 1 - i) as usize].clone(),
        _ => String::new(),
    }
}

/// Tick labels only on whole numbers (counts).
fn whole(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

/// The series legend, drawn the same way on every chart.
fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 13))
        .position(position)
        .draw()
        .map_err(err)
}

/// `98.78%`, rounded as everywhere else (`compare::display`).
pub fn pct(v: f64) -> String {
    crate::compare::display::percent(Some(v))
}

/// One metric of the ranking: (title, value and rank per city, province value).
struct Metric<'a> {
    title: &'a str,
    values: Vec<(String, Option<f64>, Option<i32>)>,
    province: Option<f64>,
}

/// Three horizontal bar charts (开工率, 上岗率, 达产率), best first, each bar labelled with its percentage
/// and rank, the province's pooled rate as a dashed reference line.
pub fn ranking(data: &ReportData) -> DrawResult<String> {
    let metrics = [
        Metric {
            title: "开工率（已开工企业 / 企业总数）",
            values: data
                .cities
                .iter()
                .map(|c| {
                    (
                        c.city_name.clone(),
                        c.resumption_rate,
                        c.resumption_rate_rank,
                    )
                })
                .collect(),
            province: data.province.0,
        },
        Metric {
            title: "上岗率（上岗人数 / 职工总数）",
            values: data
                .cities
                .iter()
                .map(|c| (c.city_name.clone(), c.on_duty_rate, c.on_duty_rate_rank))
                .collect(),
            province: data.province.1,
        },
        Metric {
            title: "达产率（产能恢复率，按职工数加权）",
            values: data
                .cities
                .iter()
                .map(|c| {
                    (
                        c.city_name.clone(),
                        c.capacity_utilization_avg,
                        c.capacity_utilization_rank,
                    )
                })
                .collect(),
            province: data.province.2,
        },
    ];
    let n = data.cities.len().max(1);
    let panel = 90 + 44 * n as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, panel * 3)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((3, 1));
        for (area, (k, metric)) in areas.iter().zip(metrics.iter().enumerate()) {
            bars(area, metric, PALETTE[k])?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    metric: &Metric<'_>,
    color: RGBColor,
) -> DrawResult<()>
where
    DB::ErrorType: 'static,
{
    let mut sorted = metric.values.clone();
    sorted.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    // Cities without a rate go last.
    sorted.sort_by_key(|v| v.1.is_none());
    let n = sorted.len() as i32;
    let max = sorted
        .iter()
        .filter_map(|v| v.1)
        .fold(metric.province.unwrap_or(0.0), f64::max);
    let x_max = rate_axis_end(max);
    // Each row's label carries its value and rank, left of the axis: no text inside the plot, so the
    // province line never crosses a label.
    let names: Vec<String> = sorted
        .iter()
        .map(|v| match (v.1, v.2) {
            (Some(rate), Some(rank)) => format!("{}  {}  第{rank}名", v.0, pct(rate)),
            (Some(rate), None) => format!("{}  {}", v.0, pct(rate)),
            _ => format!("{}  无数据", v.0),
        })
        .collect();
    let mut chart = ChartBuilder::on(area)
        .caption(metric.title, (FONT, 18))
        .margin(8)
        .margin_right(28)
        .x_label_area_size(26)
        .y_label_area_size(230)
        // One extra row on top for the province label.
        .build_cartesian_2d(0f64..x_max, (0..n + 1).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}%"))
        .y_label_formatter(&|y| row_label(&names, y))
        .label_style((FONT, 14))
        .draw()
        .map_err(err)?;
    // Best at the top: position p is drawn at row n-1-p.
    chart
        .draw_series(sorted.iter().enumerate().filter_map(|(p, v)| {
            let rate = v.1?;
            let row = n - 1 - p as i32;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(row)),
                    ((rate * 100.0).min(x_max), SegmentValue::Exact(row + 1)),
                ],
                color.filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            Some(bar)
        }))
        .map_err(err)?;
    if let Some(p) = metric.province {
        let x = p * 100.0;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(x, SegmentValue::Exact(0)), (x, SegmentValue::Exact(n))],
                6,
                4,
                RED.stroke_width(2),
            ))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("全省 {}", pct(p)),
                (x, SegmentValue::CenterOf(n)),
                (FONT, 13)
                    .into_font()
                    .color(&RED)
                    .pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    )),
            )))
            .map_err(err)?;
    }
    Ok(())
}

/// Where a rate axis ends (in percent): 100 % when every value is a share of at most 1, else just above
/// the largest value (a 达产率 may reach 150 %), on a multiple of 10.
pub fn rate_axis_end(max: f64) -> f64 {
    if max <= 1.0 {
        100.0
    } else {
        ((max * 100.0) / 10.0).ceil() * 10.0 + 10.0
    }
}

/// One line per city for 开工率 over the trend window; dates without a snapshot are gaps; the report
/// date is marked.
pub fn trend(data: &ReportData) -> DrawResult<String> {
    let days = data.trend.len().max(1);
    let mut cities: Vec<(String, String)> = data
        .cities
        .iter()
        .map(|c| (c.city_code.clone(), c.city_name.clone()))
        .collect();
    cities.sort();
    let values: Vec<f64> = data
        .trend
        .iter()
        .filter_map(|(_, r)| r.as_ref())
        .flat_map(|r| r.values().filter_map(|v| *v))
        .collect();
    let low = values.iter().copied().fold(1.0, f64::min);
    let y_min = ((low * 100.0 - 5.0) / 10.0).floor().clamp(0.0, 10.0) * 10.0;
    let y_max = rate_axis_end(values.iter().copied().fold(0.0, f64::max));
    let dates: Vec<String> = data
        .trend
        .iter()
        .map(|(d, _)| d.format("%m-%d").to_string())
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("开工率走势（近{days}天，空缺表示当天没有快照）"),
                (FONT, 18),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5f64..(days as f64 - 0.5), y_min..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(days.min(14))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    dates.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;
        let marker = (days - 1) as f64;
        chart
            .draw_series(DashedLineSeries::new(
                vec![(marker, y_min), (marker, y_max)],
                5,
                4,
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(err)?;
        chart
            .draw_series(std::iter::once(Text::new(
                "报表日",
                (marker - 0.45, y_max - (y_max - y_min) * 0.03),
                (FONT, 13),
            )))
            .map_err(err)?;
        for (k, (code, name)) in cities.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let points: Vec<Option<(f64, f64)>> = data
                .trend
                .iter()
                .enumerate()
                .map(|(i, (_, rates))| {
                    let v = rates
                        .as_ref()
                        .and_then(|r| r.get(code).copied().flatten())?;
                    Some((i as f64, v * 100.0))
                })
                .collect();
            // Contiguous runs only: a missing date breaks the line.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for p in &points {
                match p {
                    Some(p) => runs.last_mut().map(|r| r.push(*p)).unwrap_or_default(),
                    None => runs.push(Vec::new()),
                }
            }
            let mut labelled = false;
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                let series = chart
                    .draw_series(LineSeries::new(run.clone(), color.stroke_width(2)))
                    .map_err(err)?;
                if !labelled {
                    series.label(name.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
                    });
                    labelled = true;
                }
                chart
                    .draw_series(run.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                    .map_err(err)?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Per city: districts reported, rejected and missing, stacked.
pub fn coverage(data: &ReportData) -> DrawResult<String> {
    let counts = |c: &crate::compare::CityAggregate| {
        let of = |status: &[&str]| {
            data.districts
                .iter()
                .filter(|d| d.city_code == c.city_code && status.contains(&d.status.as_str()))
                .count() as i64
        };
        vec![
            of(&["accepted", "partial"]),
            of(&["rejected"]),
            of(&["missing"]),
        ]
    };
    stacked_bars(
        "报送情况（区县数）：已报送 / 被拒收 / 未报送",
        90,
        data.cities.iter().map(|c| c.city_name.clone()).collect(),
        &[
            ("已报送", RGBColor(44, 160, 44)),
            ("被拒收", RGBColor(255, 127, 14)),
            ("未报送", RGBColor(150, 150, 150)),
        ],
        data.cities.iter().map(counts).collect(),
        &|v| format!("{} / {} / {}", v[0], v[1], v[2]),
    )
}

/// Findings by contract code (errors and warnings stacked).
pub fn quality(by_code: &[(String, String, usize, usize)]) -> DrawResult<String> {
    stacked_bars(
        "问题数量（按类型）",
        150,
        by_code
            .iter()
            .map(|r| super::short_words(&r.0).to_string())
            .collect(),
        &[
            ("错误", RGBColor(214, 39, 40)),
            ("警告", RGBColor(255, 187, 120)),
        ],
        by_code
            .iter()
            .map(|r| vec![r.2 as i64, r.3 as i64])
            .collect(),
        &|v| v.iter().sum::<i64>().to_string(),
    )
}

/// Open problems per city by how long they have been open (1–3, 4–7, over 7 days), stacked, with
/// each city's total.
pub fn aging(per_city: &[(String, [i64; 3])]) -> DrawResult<String> {
    stacked_bars(
        "未销号问题（按已持续天数）",
        110,
        per_city.iter().map(|(c, _)| c.clone()).collect(),
        &[
            ("1–3 天", RGBColor(44, 160, 44)),
            ("4–7 天", RGBColor(255, 127, 14)),
            ("7 天以上", RGBColor(214, 39, 40)),
        ],
        per_city.iter().map(|(_, a)| a.to_vec()).collect(),
        &|v| v.iter().sum::<i64>().to_string(),
    )
}

/// Horizontal bars, one row per name (the first at the top), each split into `parts` by `values`, with
/// `label` of the row's values written after it and a legend of the parts.
fn stacked_bars(
    caption: &str,
    label_width: u32,
    names: Vec<String>,
    parts: &[(&str, RGBColor)],
    values: Vec<Vec<i64>>,
    label: &dyn Fn(&[i64]) -> String,
) -> DrawResult<String> {
    let n = names.len().max(1) as i32;
    let total = |v: &[i64]| v.iter().sum::<i64>();
    let max = values.iter().map(|v| total(v)).max().unwrap_or(1).max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, 90 + 36 * n as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 18))
            .margin(10)
            .x_label_area_size(26)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0f64..(max as f64 * 1.5 + 1.0), (0..n).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|y| row_label(&names, y))
            .x_label_formatter(&whole)
            .label_style((FONT, 13))
            .draw()
            .map_err(err)?;
        for (part, (label, color)) in parts.iter().copied().enumerate() {
            chart
                .draw_series(values.iter().enumerate().filter_map(|(p, v)| {
                    let row = n - 1 - p as i32;
                    let start: i64 = v[..part.min(v.len())].iter().sum();
                    let width = v.get(part).copied().unwrap_or(0);
                    (width > 0).then(|| {
                        let mut bar = Rectangle::new(
                            [
                                (start as f64, SegmentValue::Exact(row)),
                                ((start + width) as f64, SegmentValue::Exact(row + 1)),
                            ],
                            color.filled(),
                        );
                        bar.set_margin(5, 5, 0, 0);
                        bar
                    })
                }))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                });
        }
        chart
            .draw_series(values.iter().enumerate().map(|(p, v)| {
                let row = n - 1 - p as i32;
                Text::new(
                    label(v),
                    (total(v) as f64 + 0.1, SegmentValue::CenterOf(row)),
                    (FONT, 14),
                )
            }))
            .map_err(err)?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

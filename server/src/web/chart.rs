//! Charts of the web page, drawn as SVG on the server with plotters. Text goes into the SVG
//! as `<text>` elements with a CJK-capable font stack, so the browser renders the Chinese
//! labels with the fonts it has (plotters escapes the text).

use plotters::prelude::*;

/// The font stack of chart text: the page's own, CJK first.
pub const FONT: &str = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif";

/// The colours of the page (a calm blue, a warning red).
pub const BLUE: RGBColor = RGBColor(0x2f, 0x6f, 0xb3);
pub const RED: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
pub const GREY: RGBColor = RGBColor(0x88, 0x88, 0x88);

/// Width of the label column of a horizontal bar chart, in pixels (about nine CJK
/// characters at the label size).
const LABEL_WIDTH: u32 = 130;
/// Label size as plotters takes it (its SVG writes `font-size` as this / 1.24, about 13 px).
const LABEL_SIZE: u32 = 16;
const ROW_HEIGHT: u32 = 26;

/// A horizontal bar chart of rates (fractions 0..=1, `None` when not defined) per label,
/// the first label at the top; an undefined rate draws no bar and the label says so.
pub fn rate_bars(labels: &[String], rates: &[Option<f64>], width: u32, undefined: &str) -> String {
    let rows = labels.len().max(1);
    let height = ROW_HEIGHT * rows as u32 + 40;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw_rate_bars(&root, labels, rates, undefined).expect("drawing into a string cannot fail");
        root.present().expect("drawing into a string cannot fail");
    }
    svg
}

fn draw_rate_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    labels: &[String],
    rates: &[Option<f64>],
    undefined: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let rows = labels.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .margin_top(6)
        .margin_right(44)
        .x_label_area_size(24)
        .y_label_area_size(LABEL_WIDTH)
        .build_cartesian_2d(0f64..100f64, (0..rows).into_segmented())?;
    // Row i from the top is segment rows-1-i from the bottom.
    let row_of = |segment: usize| rows - 1 - segment;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows)
        .y_label_formatter(&|value| match value {
            SegmentValue::CenterOf(segment) if *segment < rows => {
                labels.get(row_of(*segment)).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .x_labels(6)
        .x_label_formatter(&|x| format!("{x:.0}%"))
        .label_style((FONT, LABEL_SIZE))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()?;
    chart.draw_series(rates.iter().enumerate().filter_map(|(row, rate)| {
        rate.map(|rate| {
            let segment = row_of(row);
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(segment)),
                    (rate * 100.0, SegmentValue::Exact(segment + 1)),
                ],
                BLUE.filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            bar
        })
    }))?;
    chart.draw_series(rates.iter().enumerate().map(|(row, rate)| {
        let text = match rate {
            Some(rate) => format!("{:.1}%", rate * 100.0),
            None => undefined.to_owned(),
        };
        let x = rate.map_or(0.0, |rate| rate * 100.0);
        Text::new(
            text,
            (x, SegmentValue::CenterOf(row_of(row))),
            (FONT, LABEL_SIZE - 1)
                .into_font()
                .color(&BLACK)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Left,
                    plotters::style::text_anchor::VPos::Center,
                )),
        )
    }))?;
    Ok(())
}

/// A vertical bar chart of counts per label; bars whose index is in `alarm` are red.
pub fn count_bars(labels: &[String], counts: &[u64], alarm: &[usize], width: u32, height: u32) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw_count_bars(&root, labels, counts, alarm).expect("drawing into a string cannot fail");
        root.present().expect("drawing into a string cannot fail");
    }
    svg
}

fn draw_count_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    labels: &[String],
    counts: &[u64],
    alarm: &[usize],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let columns = labels.len().max(1);
    let top = counts.iter().copied().max().unwrap_or(0).max(1);
    // Head room for the number above the tallest bar.
    let y_max = top + top / 8 + 1;
    let mut chart = ChartBuilder::on(root)
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(48)
        .build_cartesian_2d((0..columns).into_segmented(), 0u64..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(columns)
        .x_label_formatter(&|value| match value {
            SegmentValue::CenterOf(column) => labels.get(*column).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_labels(5)
        .label_style((FONT, LABEL_SIZE))
        .light_line_style(RGBColor(0xee, 0xee, 0xee))
        .draw()?;
    chart.draw_series(counts.iter().enumerate().map(|(column, &count)| {
        let colour = if alarm.contains(&column) { RED } else { BLUE };
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(column), 0),
                (SegmentValue::Exact(column + 1), count),
            ],
            colour.filled(),
        );
        bar.set_margin(0, 0, 10, 10);
        bar
    }))?;
    chart.draw_series(counts.iter().enumerate().map(|(column, &count)| {
        Text::new(
            count.to_string(),
            (SegmentValue::CenterOf(column), count),
            (FONT, LABEL_SIZE)
                .into_font()
                .color(&GREY)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Bottom,
                )),
        )
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contents of the SVG's `<text>` elements, trimmed (still escaped).
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text")
            .skip(1)
            .map(|element| {
                let start = element.find('>').unwrap() + 1;
                let end = element.find("</text>").unwrap();
                element[start..end].trim()
            })
            .collect()
    }

    #[test]
    fn chinese_labels_and_values_go_into_the_svg_as_escaped_text() {
        let labels = vec!["灵丘县".to_owned(), "<b>&".to_owned()];
        let svg = rate_bars(&labels, &[Some(0.5), None], 480, "无数据");
        assert!(svg.starts_with("<svg"), "{svg}");
        let texts = texts(&svg);
        for expected in ["灵丘县", "&lt;b&gt;&amp;", "50.0%", "无数据"] {
            assert!(texts.contains(&expected), "{expected} in {texts:?}");
        }
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(svg.contains("Noto Sans CJK SC"), "{svg}");
    }

    #[test]
    fn count_bars_label_every_column_with_its_count() {
        let labels = vec!["待派单".to_owned(), "超期".to_owned()];
        let svg = count_bars(&labels, &[12, 3], &[1], 400, 220);
        let texts = texts(&svg);
        for expected in ["待派单", "超期", "12", "3"] {
            assert!(texts.contains(&expected), "{expected} in {texts:?}");
        }
        assert!(
            svg.contains("#C0392B") || svg.contains("#c0392b"),
            "the alarm bar is red: {svg}"
        );
    }
}

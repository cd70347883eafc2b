//! PNG charts for Discord embeds, drawn with plotters and an embedded font (DejaVu Sans, so
//! the charts look the same on every machine and need no system fonts).

use std::sync::Once;

use plotters::prelude::*;

use crate::domain::analytics::Report;

/// A line of the chart: its name, colour and value per day.
type Series = (
    &'static str,
    RGBColor,
    fn(&crate::domain::analytics::Daily) -> usize,
);

const FONT: &[u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
const WIDTH: u32 = 900;
const HEIGHT: u32 = 420;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in; registering it cannot fail for a valid TTF.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// DAU, WAU and MAU over the report's days, as a PNG.
pub fn activity_png(report: &Report) -> anyhow::Result<Vec<u8>> {
    register_font();
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let days = report.daily.len().max(1);
        let top = report.daily.iter().map(|d| d.mau).max().unwrap_or(0).max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("Active members · {} to {}", report.from, report.to),
                ("sans-serif", 22),
            )
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0..days, 0..(top + top / 10 + 1))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let dates: Vec<String> = report
            .daily
            .iter()
            .map(|d| d.date.format("%b %d").to_string())
            .collect();
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|i| dates.get(*i).cloned().unwrap_or_default())
            .label_style(("sans-serif", 13))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let series: [Series; 3] = [
            ("MAU", RGBColor(232, 106, 51), |d| d.mau),
            ("WAU", RGBColor(56, 120, 200), |d| d.wau),
            ("DAU", RGBColor(60, 160, 90), |d| d.dau),
        ];
        for (name, colour, value) in series {
            chart
                .draw_series(LineSeries::new(
                    report.daily.iter().enumerate().map(|(i, d)| (i, value(d))),
                    colour.stroke_width(3),
                ))
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    encode_png(&pixels, WIDTH, HEIGHT)
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::analytics::{self, CohortPeriod, Inputs};

    #[test]
    fn draws_a_png() {
        let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let report = analytics::report(
            1,
            chrono_tz::UTC,
            from,
            from + chrono::Duration::days(29),
            &Inputs::default(),
            CohortPeriod::Month,
        );
        let png = activity_png(&report).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert!(png.len() > 1000);
    }
}

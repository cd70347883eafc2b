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

const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
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

/// Retention by cohort as a heatmap: one row per cohort, columns 30-day and 90-day, darker is
/// better; cells whose window has not ended are grey.
pub fn retention_png(report: &Report) -> anyhow::Result<Vec<u8>> {
    register_font();
    let rows = report.retention.len().max(1);
    let height = u32::try_from(80 + rows * 34).unwrap_or(HEIGHT).min(2000);
    let width = 560u32;
    let mut pixels = vec![255u8; (width * height * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let text = |size| ("sans-serif", size).into_font();
        root.draw(&Text::new("Retention by join cohort", (16, 12), text(20)))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for (col, label) in ["30-day", "90-day"].iter().enumerate() {
            let x = 200 + i32::try_from(col).unwrap_or(0) * 170;
            root.draw(&Text::new(*label, (x + 50, 48), text(15)))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        for (row, cohort) in report.retention.iter().enumerate() {
            let y = 72 + i32::try_from(row).unwrap_or(0) * 34;
            root.draw(&Text::new(
                format!("{} ({})", cohort.cohort, cohort.size),
                (16, y + 8),
                text(15),
            ))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            for (col, share) in [cohort.d30, cohort.d90].iter().enumerate() {
                let x = 200 + i32::try_from(col).unwrap_or(0) * 170;
                let (fill, label) = match share {
                    Some(v) => {
                        // From pale to Hearth's ember as retention goes from 0 to 100%.
                        let t = v.clamp(0.0, 1.0);
                        let mix = |from: f64, to: f64| (from + (to - from) * t).round() as u8;
                        (
                            RGBColor(mix(253.0, 232.0), mix(236.0, 106.0), mix(224.0, 51.0)),
                            format!("{:.0}%", v * 100.0),
                        )
                    }
                    None => (RGBColor(225, 225, 225), "–".to_owned()),
                };
                root.draw(&Rectangle::new([(x, y), (x + 160, y + 30)], fill.filled()))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                root.draw(&Text::new(label, (x + 62, y + 8), text(15)))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    encode_png(&pixels, width, height)
}

/// A survey's NPS per wave with its 95% margin of error as a bar around each point, as a PNG.
/// `waves`: (wave number, NPS, margin of error); waves without answers are left out.
pub fn nps_png(title: &str, waves: &[(i64, f64, f64)]) -> anyhow::Result<Vec<u8>> {
    register_font();
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let first = waves.first().map_or(1, |w| w.0);
        let last = waves.last().map_or(1, |w| w.0).max(first);
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("NPS by wave · {title}"), ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d((first - 1)..(last + 1), -100f64..100f64)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_labels(usize::try_from(last - first + 3).unwrap_or(3).min(12))
            .x_label_formatter(&|w| {
                if *w >= first && *w <= last {
                    format!("wave {w}")
                } else {
                    String::new()
                }
            })
            .y_desc("NPS (bars: 95% margin of error)")
            .y_label_formatter(&|v| format!("{v:+.0}"))
            .label_style(("sans-serif", 13))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let colour = RGBColor(232, 106, 51);
        chart
            .draw_series(waves.iter().map(|&(w, nps, moe)| {
                PathElement::new(
                    vec![(w, (nps - moe).max(-100.0)), (w, (nps + moe).min(100.0))],
                    RGBColor(200, 200, 200).stroke_width(6),
                )
            }))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(LineSeries::new(
                waves.iter().map(|&(w, nps, _)| (w, nps)),
                colour.stroke_width(3),
            ))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        chart
            .draw_series(
                waves
                    .iter()
                    .map(|&(w, nps, _)| Circle::new((w, nps), 5, colour.filled())),
            )
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
    fn draws_a_retention_heatmap() {
        let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let mut report = analytics::report(
            1,
            chrono_tz::UTC,
            from,
            from,
            &Inputs::default(),
            CohortPeriod::Month,
        );
        report.retention = vec![analytics::Cohort {
            cohort: "2026-01".into(),
            size: 10,
            d30: Some(0.4),
            d90: None,
        }];
        let png = retention_png(&report).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        if let Ok(dir) = std::env::var("HEARTH_TEST_ARTIFACTS") {
            std::fs::write(std::path::Path::new(&dir).join("retention.png"), &png).unwrap();
        }
    }

    #[test]
    fn draws_an_nps_trend() {
        let png = nps_png(
            "Check-in",
            &[(1, 20.0, 15.0), (2, 35.0, 12.0), (3, -10.0, 30.0)],
        )
        .unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert!(nps_png("Empty", &[]).is_ok());
    }

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

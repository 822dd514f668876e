//! The evaluation figure (plotters): W1 to the particle posterior, mean log-prior and mean
//! log-likelihood against the number of corrections C, one line per k (median over cases), with
//! the particle reference as a band (its range over the cases).

use std::collections::BTreeSet;
use std::path::Path;

use plotters::prelude::*;

use super::summary::{Summary, cell, floor_cell, settings};
use super::{EvalRow, EvaluationError, Regime, RowMethod};

/// Plots the rows of the SDA setting with `samples` members and `steps` steps into a PNG.
pub fn plot_summary_png(path: &Path, rows: &[EvalRow], samples: usize, steps: usize) -> Result<(), EvaluationError> {
    crate::export::register_fonts();
    let err = |message: String| EvaluationError::Figure { path: path.into(), message };
    let Some(setting) = settings(rows).into_iter().find(|s| s.0 == samples && s.1 == steps) else {
        return Err(err(format!("no SDA runs with {samples} samples and {steps} steps")));
    };
    let sda: Vec<(usize, usize)> = rows
        .iter()
        .filter_map(|r| match r.method {
            RowMethod::Sda { k, corrections, steps: s, .. } if r.samples == samples && s == steps => {
                Some((k, corrections))
            }
            _ => None,
        })
        .collect();
    let ks: Vec<usize> = sda.iter().map(|p| p.0).collect::<BTreeSet<_>>().into_iter().collect();
    let cs: Vec<usize> = sda.iter().map(|p| p.1).collect::<BTreeSet<_>>().into_iter().collect();

    let partial = partial_png(path);
    {
        let regimes: Vec<Regime> =
            Regime::ALL.into_iter().filter(|g| rows.iter().any(|r| r.regime == *g && r.samples == samples)).collect();
        let root = BitMapBackend::new(&partial, (1500, 60 + 420 * regimes.len().max(1) as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let root = root
            .titled(
                &format!("Lorenz-63 posterior vs particle smoother — {samples} samples, {steps} steps"),
                ("sans-serif", 24),
            )
            .map_err(|e| err(e.to_string()))?;
        let panels = root.split_evenly((regimes.len().max(1), 3));
        type Pick = fn(&Summary) -> f64;
        let metrics: [(&str, Pick, Pick); 3] = [
            ("W1 to particles", |m| m.w1, |f| f.w1),
            ("mean log-prior", |m| m.log_prior, |f| f.log_prior),
            ("mean log-likelihood", |m| m.log_likelihood, |f| f.log_likelihood),
        ];
        for (row, &regime) in regimes.iter().enumerate() {
            let cases: BTreeSet<usize> =
                rows.iter().filter(|r| r.regime == regime && r.samples == samples).map(|r| r.case).collect();
            let floors = floor_cell(rows, regime, samples, &cases);
            for (col, (name, pick, pick_ref)) in metrics.iter().enumerate() {
                let area = &panels[row * 3 + col];
                let lines: Vec<(usize, Vec<(f64, f64)>)> = ks
                    .iter()
                    .map(|&k| {
                        let points = cs
                            .iter()
                            .enumerate()
                            .filter_map(|(i, &c)| {
                                Summary::of(&cell(rows, regime, setting, k, c)).map(|m| (i as f64, pick(&m)))
                            })
                            .filter(|p| p.1.is_finite())
                            .collect();
                        (k, points)
                    })
                    .collect();
                let band: Vec<f64> = floors
                    .iter()
                    .filter_map(|r| Summary::of(&[*r]))
                    .map(|f| pick_ref(&f))
                    .filter(|v| v.is_finite())
                    .collect();
                let values: Vec<f64> =
                    lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)).chain(band.iter().copied()).collect();
                if values.is_empty() {
                    continue;
                }
                let (mut lo, mut hi) =
                    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
                let pad = ((hi - lo) * 0.08).max(1e-3);
                lo -= pad;
                hi += pad;
                if *name == "W1 to particles" {
                    lo = lo.max(0.0);
                }
                let last = (cs.len().max(2) - 1) as f64;
                let labels = cs.clone();
                let mut chart = ChartBuilder::on(area)
                    .caption(format!("{} — {name}", regime.describe()), ("sans-serif", 16))
                    .margin(10)
                    .x_label_area_size(35)
                    .y_label_area_size(55)
                    .build_cartesian_2d(-0.2..last + 0.2, lo..hi)
                    .map_err(|e| err(e.to_string()))?;
                chart
                    .configure_mesh()
                    .x_desc("Langevin corrections C")
                    .x_labels(cs.len().max(2))
                    .x_label_formatter(&|x: &f64| {
                        let i = x.round();
                        if (x - i).abs() < 1e-6 && i >= 0.0 {
                            labels.get(i as usize).map(|c| c.to_string()).unwrap_or_default()
                        } else {
                            String::new()
                        }
                    })
                    .label_style(("sans-serif", 13))
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
                if let (Some(b0), Some(b1)) =
                    (band.iter().cloned().reduce(f64::min), band.iter().cloned().reduce(f64::max))
                {
                    let grey = RGBColor(120, 120, 120);
                    let thickness = (hi - lo) * 0.01;
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(-0.2, b0 - thickness), (last + 0.2, b1 + thickness)],
                            grey.mix(0.3).filled(),
                        )))
                        .map_err(|e| err(e.to_string()))?
                        .label("particle reference: range over cases, median dashed")
                        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], grey.mix(0.3).filled()));
                    let mut sorted = band.clone();
                    sorted.sort_by(f64::total_cmp);
                    let mid = sorted[sorted.len() / 2];
                    chart
                        .draw_series(DashedLineSeries::new(
                            vec![(-0.2, mid), (last + 0.2, mid)],
                            8,
                            5,
                            grey.stroke_width(2),
                        ))
                        .map_err(|e| err(e.to_string()))?;
                }
                for (i, (k, points)) in lines.into_iter().enumerate() {
                    let color = Palette99::pick(i).to_rgba();
                    chart
                        .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                        .map_err(|e| err(e.to_string()))?
                        .label(format!("k = {k}"))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
                    chart
                        .draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                        .map_err(|e| err(e.to_string()))?;
                }
                if row == 0 && col == 0 {
                    draw_legend(&mut chart).map_err(err)?;
                }
            }
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&partial, path).map_err(|source| EvaluationError::Io { path: path.into(), source })
}

/// Where a figure is drawn before it is renamed into place, so that a failed draw leaves no
/// half-written `path`.
pub(super) fn partial_png(path: &Path) -> std::path::PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial.png");
    partial.into()
}

/// The evaluation figures' legend: upper right, on a translucent white box.
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())
}

//! The accuracy-per-second figure (plotters): for each observation regime, the median over cases
//! of W1/floor against the mean wall time of one run, one line per guidance rule, model and step
//! count through its corrections C (each point labelled with its C).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use plotters::prelude::*;

use super::figure::{draw_legend, partial_png};
use super::summary::{Summary, cell, settings};
use super::{EvalRow, EvaluationError, Regime};
use crate::export::log_ticks;

/// One line of the figure: its label and its `(seconds, W1/floor, C)` points in order of C.
type Line = (String, Vec<(f64, f64, usize)>);

/// The lines of one regime: every diffusion setting and k with at least one finite point.
fn lines(rows: &[EvalRow], regime: Regime) -> Vec<Line> {
    let mut out = Vec::new();
    for s in settings(rows) {
        let mut by_k: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.regime == regime) {
            if let Some((k, c)) = r.method.k_c()
                && !cell(rows, regime, s, k, c).is_empty()
            {
                by_k.entry(k).or_default().insert(c);
            }
        }
        for (k, cs) in by_k {
            let points: Vec<(f64, f64, usize)> = cs
                .into_iter()
                .filter_map(|c| Summary::of(&cell(rows, regime, s, k, c)).map(|m| (m.seconds, m.ratio, c)))
                .filter(|p| p.0 > 0.0 && p.0.is_finite() && p.1 > 0.0 && p.1.is_finite())
                .collect();
            if !points.is_empty() {
                out.push((format!("{}, k = {k}, {} steps", s.3.describe(), s.1), points));
            }
        }
    }
    out
}

/// Plots W1/floor against seconds per run (both axes logarithmic) into a PNG, one panel per regime
/// present in `rows`.
pub fn plot_cost_png(path: &Path, rows: &[EvalRow]) -> Result<(), EvaluationError> {
    crate::export::register_fonts();
    let err = |message: String| EvaluationError::Figure { path: path.into(), message };
    let panels: Vec<(Regime, Vec<Line>)> =
        Regime::ALL.into_iter().map(|g| (g, lines(rows, g))).filter(|(_, l)| !l.is_empty()).collect();
    if panels.is_empty() {
        return Err(err("no diffusion runs with a finite W1 and wall time".into()));
    }
    let partial = partial_png(path);
    {
        let root = BitMapBackend::new(&partial, (800 * panels.len() as u32, 620)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let root = root
            .titled("Accuracy per second: median W1/floor against wall time per run", ("sans-serif", 24))
            .map_err(|e| err(e.to_string()))?;
        let areas = root.split_evenly((1, panels.len()));
        for (area, (regime, lines)) in areas.iter().zip(&panels) {
            let all = lines.iter().flat_map(|(_, p)| p.iter());
            let (x0, x1, y0, y1) = all.fold((f64::INFINITY, 0.0f64, f64::INFINITY, 0.0f64), |(a, b, c, d), p| {
                (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1))
            });
            let (x0, x1, y0, y1) = (x0 / 1.3, x1 * 1.3, y0 / 1.2, y1 * 1.2);
            let x = (x0..x1).log_scale().with_key_points(log_ticks(x0, x1));
            let y = (y0..y1).log_scale().with_key_points(log_ticks(y0, y1));
            let mut chart = ChartBuilder::on(area)
                .caption(regime.describe(), ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(x, y)
                .map_err(|e| err(e.to_string()))?;
            let tick = |v: &f64| format!("{}", (v * 1e6).round() / 1e6);
            chart
                .configure_mesh()
                .x_desc("seconds per run (mean over cases)")
                .y_desc("W1 / floor (median over cases)")
                .x_label_formatter(&tick)
                .y_label_formatter(&tick)
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| err(e.to_string()))?;
            for (i, (label, points)) in lines.iter().enumerate() {
                let color = Palette99::pick(i).to_rgba();
                chart
                    .draw_series(LineSeries::new(points.iter().map(|p| (p.0, p.1)), color.stroke_width(2)))
                    .map_err(|e| err(e.to_string()))?
                    .label(label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
                chart
                    .draw_series(points.iter().map(|p| {
                        EmptyElement::at((p.0, p.1))
                            + Circle::new((0, 0), 4, color.filled())
                            + Text::new(format!("C={}", p.2), (6, -14), ("sans-serif", 12))
                    }))
                    .map_err(|e| err(e.to_string()))?;
            }
            draw_legend(&mut chart).map_err(err)?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&partial, path).map_err(|source| EvaluationError::Io { path: path.into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::RowMethod;

    fn row(regime: Regime, method: RowMethod, case: usize, w1: f64, seconds: f64) -> EvalRow {
        EvalRow {
            case,
            regime,
            method,
            model: "m".into(),
            samples: 8,
            particles: 16,
            seed: 0,
            w1,
            floor: 2.0,
            log_prior: 0.0,
            log_likelihood: 0.0,
            rmse: 0.0,
            spread: 0.0,
            seconds,
        }
    }

    #[test]
    fn one_line_per_rule_with_medians_and_mean_times() {
        let sda = |c| RowMethod::Sda { k: 4, corrections: c, steps: 64, tau: 0.25, gamma: 0.01 };
        let mmps = |c| RowMethod::Mmps { k: 4, corrections: c, steps: 64, tau: 0.25, iterations: 2 };
        let rows = vec![
            row(Regime::Lo, sda(0), 0, 8.0, 10.0),
            row(Regime::Lo, sda(0), 1, 12.0, 20.0),
            row(Regime::Lo, sda(0), 2, 10.0, 30.0),
            row(Regime::Lo, sda(1), 0, 4.0, 40.0),
            row(Regime::Lo, mmps(0), 0, 6.0, 50.0),
            row(Regime::Lo, mmps(1), 0, f64::NAN, 60.0),
            row(Regime::Lo, RowMethod::Particle, 0, 2.0, f64::NAN),
        ];
        let lines = lines(&rows, Regime::Lo);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let sda_line = lines.iter().find(|l| l.0.starts_with("SDA")).unwrap();
        // C = 0: median W1 10 over floor 2 = 5, mean time 20 s; C = 1: 4/2 = 2 at 40 s.
        assert_eq!(sda_line.1, vec![(20.0, 5.0, 0), (40.0, 2.0, 1)]);
        // The MMPS run whose W1 is not finite is left out, not drawn at 0.
        let mmps_line = lines.iter().find(|l| l.0.starts_with("MMPS")).unwrap();
        assert_eq!(mmps_line.1, vec![(50.0, 3.0, 0)]);
        assert!(super::lines(&rows, Regime::Hi).is_empty());
    }
}

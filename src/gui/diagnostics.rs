//! The diagnostics panel: error and spread per state, observation misfit over the diffusion,
//! and the rank histogram of the truth in the ensemble.

use eframe::egui::Ui;
use egui_plot::{Bar, BarChart, HLine, Legend, Line, Plot};

use super::palette;
use super::run_state::{RunState, mean_std};
use super::strings as s;

/// Per-state RMSE of the mean against the truth and mean ensemble spread (RMS over components).
pub fn error_and_spread(values: &[f32], members: usize, truth: &[f64], dim: usize) -> (Vec<f64>, Vec<f64>) {
    let (mean, std) = mean_std(values, members);
    if mean.len() != truth.len() || dim == 0 {
        return (Vec::new(), Vec::new());
    }
    let length = truth.len() / dim;
    let rms = |f: &dyn Fn(usize) -> f64, t: usize| {
        ((0..dim).map(|c| f(t * dim + c).powi(2)).sum::<f64>() / dim as f64).sqrt()
    };
    let rmse = (0..length).map(|t| rms(&|i| mean[i] - truth[i], t)).collect();
    let spread = (0..length).map(|t| rms(&|i| std[i], t)).collect();
    (rmse, spread)
}

/// Counts of the truth's rank among the members, over every value of the trajectory:
/// `members + 1` bins; flat for a calibrated ensemble.
pub fn rank_histogram(values: &[f32], members: usize, truth: &[f64]) -> Vec<usize> {
    let mut counts = vec![0; members + 1];
    if members == 0 || values.len() != members * truth.len() {
        return counts;
    }
    let n = truth.len();
    for (i, &t) in truth.iter().enumerate() {
        let below = (0..members).filter(|&m| (values[m * n + i] as f64) < t).count();
        counts[below] += 1;
    }
    counts
}

/// Merges neighbouring bins of `counts` into at most `bins` bins of equal rank width; returns the
/// merged counts and the rank each bin starts at.
pub fn coarsen(counts: &[usize], bins: usize) -> Vec<(usize, usize)> {
    let n = counts.len();
    let bins = bins.clamp(1, n.max(1));
    (0..bins)
        .map(|b| {
            let (start, end) = (b * n / bins, (b + 1) * n / bins);
            (start, counts[start..end].iter().sum())
        })
        .collect()
}

pub fn ui(ui: &mut Ui, run: &RunState, truth: Option<&[f64]>, dim: usize, tweedie: bool) {
    let height = (ui.available_height() / 3.0 - 24.0).max(100.0);
    ui.label(s::RMSE_SPREAD);
    let source = run.statistics_source(tweedie);
    Plot::new("rmse-spread").height(height).legend(Legend::default()).x_axis_label("state index").show(ui, |p| {
        if let (Some((values, members)), Some(truth)) = (source, truth) {
            let (rmse, spread) = error_and_spread(values, members, truth, dim);
            let points = |v: &[f64]| v.iter().enumerate().map(|(t, y)| [t as f64, *y]).collect::<Vec<_>>();
            p.line(Line::new("RMSE of the mean", points(&rmse)).color(palette::OBSERVATION).width(2.0));
            p.line(Line::new("spread", points(&spread)).color(palette::MEAN).width(2.0));
        }
    });
    ui.label(s::MISFIT);
    Plot::new("misfit").height(height).x_axis_label("sampler step").show(ui, |p| {
        let points: Vec<[f64; 2]> = run.misfit.iter().map(|&(step, m)| [step as f64, m]).collect();
        p.line(Line::new("misfit", points).color(palette::OBSERVATION).width(2.0));
        p.hline(HLine::new("ideal", 1.0).color(palette::EXACT));
    });
    ui.label(s::RANK);
    Plot::new("rank").height(height).x_axis_label("rank of the truth").show(ui, |p| {
        if let (Some((values, members)), Some(truth)) = (source, truth) {
            // At most 16 bars, each covering an equal range of ranks, so sparse data still reads.
            let bins = coarsen(&rank_histogram(values, members, truth), 16);
            let width = (members + 1) as f64 / bins.len() as f64;
            let bars: Vec<Bar> = bins
                .iter()
                .map(|&(start, c)| Bar::new(start as f64 + width / 2.0, c as f64).width(0.9 * width))
                .collect();
            p.bar_chart(BarChart::new("rank", bars).color(palette::mode(0)));
            let flat = truth.len() as f64 / bins.len() as f64;
            p.hline(HLine::new("flat", flat).color(palette::EXACT));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_histogram_counts_members_below_the_truth() {
        // Three members, two values each; truth [1.5, -1]: ranks 1 and 0.
        let values = [1.0, 0.0, 2.0, 1.0, 3.0, 2.0];
        assert_eq!(rank_histogram(&values, 3, &[1.5, -1.0]), vec![1, 1, 0, 0]);
    }

    #[test]
    fn coarsening_keeps_every_count() {
        let counts = [1, 2, 3, 4, 5, 6, 7];
        let bins = coarsen(&counts, 3);
        assert_eq!(bins, vec![(0, 3), (2, 7), (4, 18)]);
        assert_eq!(coarsen(&counts, 10).len(), 7);
    }

    #[test]
    fn error_and_spread_are_rms_over_components() {
        // Two members of one state with two components: mean (1, 2), std (1, 0).
        let values = [0.0, 2.0, 2.0, 2.0];
        let (rmse, spread) = error_and_spread(&values, 2, &[1.0, 4.0], 2);
        assert!((rmse[0] - (2.0f64).sqrt()).abs() < 1e-12);
        assert!((spread[0] - (0.5f64).sqrt()).abs() < 1e-12);
    }
}

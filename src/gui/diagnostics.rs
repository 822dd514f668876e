//! The diagnostics panel: error and spread per state, observation misfit over the diffusion,
//! and the rank histogram of the truth in the ensemble.

use eframe::egui::Ui;
use egui_plot::{Bar, BarChart, HLine, Legend, Line, Plot};

use super::palette;
use super::run_state::RunState;
use super::strings as s;
use super::view::{View, ViewContext, ViewId};

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

/// The diagnostics view (no state of its own).
pub struct DiagnosticsView;

impl View for DiagnosticsView {
    fn id(&self) -> ViewId {
        ViewId::Diagnostics
    }

    fn label(&self) -> &'static str {
        s::VIEW_DIAGNOSTICS
    }

    fn ui(&mut self, ui: &mut Ui, ctx: &mut ViewContext) -> Option<String> {
        draw(ui, ctx.run, ctx.editor.scenario().truth.as_deref(), ctx.tweedie);
        None
    }
}

fn draw(ui: &mut Ui, run: &RunState, truth: Option<&[f64]>, tweedie: bool) {
    let height = (ui.available_height() / 3.0 - 24.0).max(100.0);
    ui.label(s::RMSE_SPREAD);
    let source = run.statistics_source(tweedie);
    Plot::new("rmse-spread").height(height).legend(Legend::default()).x_axis_label("state index").show(ui, |p| {
        if let (Some(ensemble), Some(truth)) = (source, truth) {
            let (rmse, spread) = ensemble.error_and_spread_by_state(truth);
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
        if let (Some(ensemble), Some(truth)) = (source, truth) {
            // At most 16 bars, each covering an equal range of ranks, so sparse data still reads.
            let bins = coarsen(&ensemble.rank_histogram(truth), 16);
            let width = (ensemble.members() + 1) as f64 / bins.len() as f64;
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
    fn coarsening_keeps_every_count() {
        let counts = [1, 2, 3, 4, 5, 6, 7];
        let bins = coarsen(&counts, 3);
        assert_eq!(bins, vec![(0, 3), (2, 7), (4, 18)]);
        assert_eq!(coarsen(&counts, 10).len(), 7);
    }
}

//! The diagnostics panel: error, spread and CRPS per state with the spread–skill ratio, the
//! observation misfit over the diffusion, and the rank histogram of the truth in the ensemble.

use eframe::egui::{self, Ui};
use egui_plot::{Bar, BarChart, Corner, HLine, Legend, Line, Plot};

use super::palette;
use super::run_state::RunState;
use super::spectrum::{Spectra, spectra};
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

/// What the error plot shows for one frame: RMSE, spread and CRPS per state, and the
/// spread–skill ratio; computed once per frame shown, not per redraw (CRPS sorts every value's
/// members).
struct Scores {
    rmse: Vec<f64>,
    spread: Vec<f64>,
    crps: Vec<f64>,
    spread_skill: f64,
}

/// Identifies what the scores were computed from: the job, the step shown, whether the whole
/// ensemble was used, and whether x(t) or the Tweedie estimate.
type ScoresKey = (Option<u64>, usize, bool, bool);

/// The diagnostics view: the scores of the frame last drawn, and for 2-D fields the state whose
/// energy spectra are shown, with their spectra.
#[derive(Default)]
pub struct DiagnosticsView {
    scores: Option<(ScoresKey, Scores)>,
    pub spectrum_state: usize,
    spectra: Option<((ScoresKey, usize), Spectra)>,
}

impl View for DiagnosticsView {
    fn id(&self) -> ViewId {
        ViewId::Diagnostics
    }

    fn label(&self) -> &'static str {
        s::VIEW_DIAGNOSTICS
    }

    fn ui(&mut self, ui: &mut Ui, ctx: &mut ViewContext) -> Option<String> {
        let scenario = ctx.editor.scenario();
        let field = match scenario.system.chain().state_shape()[..] {
            [h, w] if h == w => Some(h),
            _ => None,
        };
        let parts = if field.is_some() { 4.0 } else { 3.0 };
        let height = (ui.available_height() / parts - 30.0).max(100.0);
        self.draw(ui, ctx.run, scenario.truth.as_deref(), ctx.tweedie, height);
        if let Some(n) = field {
            let (length, truth) = (scenario.length, scenario.truth.clone());
            self.spectrum(ui, ctx.run, truth.as_deref(), ctx.tweedie, n, length, height);
        }
        None
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

impl DiagnosticsView {
    /// The energy spectra of state `spectrum_state`: each drawn member's (faint), their mean and
    /// the truth's, on log–log axes.
    #[allow(clippy::too_many_arguments, reason = "the parts of the view context it reads")]
    fn spectrum(
        &mut self,
        ui: &mut Ui,
        run: &RunState,
        truth: Option<&[f64]>,
        tweedie: bool,
        n: usize,
        length: usize,
        height: f32,
    ) {
        ui.horizontal(|ui| {
            ui.label(s::SPECTRUM);
            self.spectrum_state = self.spectrum_state.min(length.saturating_sub(1));
            ui.add(egui::Slider::new(&mut self.spectrum_state, 0..=length.saturating_sub(1)).text(s::SPECTRUM_STATE));
        });
        let key = (
            (run.frame_shown().map(|f| f.job), run.frame_shown().map_or(0, |f| f.step), run.at_end(), tweedie),
            self.spectrum_state,
        );
        if self.spectra.as_ref().is_none_or(|(k, _)| *k != key)
            && let Some(shown) = run.shown(tweedie)
            && let Some(spectra) = spectra(shown.values, shown.members, n, self.spectrum_state, truth)
        {
            self.spectra = Some((key, spectra));
        }
        let Some((_, sp)) = self.spectra.as_ref().filter(|(k, _)| *k == key) else {
            Plot::new("spectrum").height(height).show(ui, |_| {});
            return;
        };
        let log = |e: &[f64]| -> Vec<[f64; 2]> {
            e.iter()
                .enumerate()
                .filter(|(_, v)| **v > 0.0)
                .map(|(k, v)| [((k + 1) as f64).log10(), v.log10()])
                .collect()
        };
        let dim_by = if run.stale() { palette::STALE } else { 1.0 };
        Plot::new("spectrum")
            .height(height)
            .legend(Legend::default().position(Corner::LeftBottom))
            .x_axis_label(s::SPECTRUM_X)
            .y_axis_label(s::SPECTRUM_Y)
            .show(ui, |p| {
                let alpha = (6.0 / sp.members.len().max(1) as f32).clamp(0.12, 0.6) * dim_by;
                for member in &sp.members {
                    p.line(
                        Line::new("", log(member)).color(palette::faded(palette::mode(0), alpha)).allow_hover(false),
                    );
                }
                if !sp.members.is_empty() {
                    let shells = sp.members[0].len();
                    let mean: Vec<f64> = (0..shells)
                        .map(|k| sp.members.iter().map(|m| m[k]).sum::<f64>() / sp.members.len() as f64)
                        .collect();
                    p.line(
                        Line::new(s::SPECTRUM_MEMBERS, log(&mean))
                            .color(palette::faded(palette::MEAN, dim_by))
                            .width(2.0),
                    );
                }
                if let Some(truth) = &sp.truth {
                    p.line(Line::new(s::TRUTH, log(truth)).color(palette::TRUTH).width(2.0));
                }
            });
    }

    /// The scores of what `run` shows against `truth`, recomputed when the frame changes.
    fn scores(&mut self, run: &RunState, truth: &[f64], tweedie: bool) -> Option<&Scores> {
        let ensemble = run.statistics_source(tweedie)?;
        let key = (run.frame_shown().map(|f| f.job), run.frame_shown().map_or(0, |f| f.step), run.at_end(), tweedie);
        if self.scores.as_ref().is_none_or(|(k, _)| *k != key) {
            let (rmse, spread) = ensemble.error_and_spread_by_state(truth);
            let scores = Scores {
                rmse,
                spread,
                crps: ensemble.crps_by_state(truth),
                spread_skill: ensemble.spread_skill(truth),
            };
            self.scores = Some((key, scores));
        }
        self.scores.as_ref().map(|(_, s)| s)
    }

    fn draw(&mut self, ui: &mut Ui, run: &RunState, truth: Option<&[f64]>, tweedie: bool, height: f32) {
        let scores = truth.and_then(|truth| self.scores(run, truth, tweedie));
        ui.horizontal(|ui| {
            ui.label(s::RMSE_SPREAD);
            if let Some(sc) = scores {
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
                ui.label(egui::RichText::new(format!(
                    "· CRPS {:.3} · spread/skill {:.2} (1 is ideal)",
                    mean(&sc.crps),
                    sc.spread_skill
                )))
                .on_hover_text(s::CRPS_TIP);
            }
        });
        // Room above the curves for the legend, and the axis from 0 so its ticks read.
        let top = scores.map_or(1.0, |sc| {
            sc.rmse.iter().chain(&sc.spread).chain(&sc.crps).copied().filter(|v| v.is_finite()).fold(0.0, f64::max)
        });
        Plot::new("rmse-spread")
            .height(height)
            .legend(Legend::default().position(Corner::RightTop))
            .include_y(0.0)
            .include_y(1.35 * top)
            .x_axis_label("state index")
            .show(ui, |p| {
                if let Some(sc) = scores {
                    let points = |v: &[f64]| v.iter().enumerate().map(|(t, y)| [t as f64, *y]).collect::<Vec<_>>();
                    p.line(Line::new("RMSE of the mean", points(&sc.rmse)).color(palette::OBSERVATION).width(2.0));
                    p.line(Line::new("spread", points(&sc.spread)).color(palette::MEAN).width(2.0));
                    p.line(Line::new("CRPS", points(&sc.crps)).color(palette::EXACT).width(1.5));
                }
            });
        ui.label(s::MISFIT);
        let worst = run.misfit.iter().map(|&(_, m)| m).filter(|m| m.is_finite()).fold(1.0, f64::max);
        Plot::new("misfit").height(height).include_y(0.0).include_y(1.2 * worst).x_axis_label("sampler step").show(
            ui,
            |p| {
                let points: Vec<[f64; 2]> = run.misfit.iter().map(|&(step, m)| [step as f64, m]).collect();
                p.line(Line::new("misfit", points).color(palette::OBSERVATION).width(2.0));
                p.hline(HLine::new("ideal", 1.0).color(palette::EXACT));
            },
        );
        ui.label(s::RANK);
        let source = run.statistics_source(tweedie);
        Plot::new("rank").height(height).include_y(0.0).x_axis_label("rank of the truth").show(ui, |p| {
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

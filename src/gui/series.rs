//! Time-series views (Lorenz-63, the linear toy, one Lorenz-96 station): one plot per component
//! with every member, the mean and ±2σ band, modes, truth, the exact reference and the
//! observations, which can be added, dragged and deleted with the mouse.

use std::path::Path;

use eframe::egui::{self, Pos2, Ui};
use egui_plot::{FilledArea, Legend, Line, LineStyle, Plot, PlotPoint, PlotPoints, PlotTransform, Points};

use super::animation::DrawFrame;
use super::editor::{ScenarioEditor, ValueSource};
use super::figure::{SeriesFigure, save_series, series_image};
use super::palette;
use super::run_state::RunState;
use super::side_by_side;
use super::strings as s;
use super::tools::{EditTools, drawn_at, error_bar, folds_sign, value_at};
use super::view::{Beside, View, ViewContext, ViewId};
use crate::export::ExportError;
use crate::metrics::Mode;
use crate::scenario::Scenario;

/// Pixels within which a click or drag picks an observation.
const PICK_RADIUS: f32 = 10.0;

/// State kept between frames: the observation being dragged, and where each plot was drawn.
#[derive(Default)]
pub struct SeriesView {
    dragging: Option<usize>,
    /// Each component plot's data-to-screen transform, by row, as of the last frame.
    pub(super) transforms: Vec<PlotTransform>,
}

/// What a series view draws.
pub struct SeriesData<'a> {
    pub run: &'a RunState,
    pub tweedie: bool,
    /// Components to plot, with their names.
    pub components: Vec<(usize, String)>,
    /// Modes of the finished ensemble (drawn as mean lines when there are several).
    pub modes: &'a [Mode],
    /// Names the plots, so that two series views can share a window.
    pub id: &'static str,
    /// Share both axes of each component's plot with the plot of the same component in every
    /// other series view that sets this (side-by-side comparison); otherwise only the x axes of
    /// the stacked plots are linked.
    pub link_y: bool,
    /// What the mean line is called (posterior or prior mean).
    pub mean_label: &'static str,
    /// Values each component's plot must include, per row of `components`, so that side-by-side
    /// views open on the same y range.
    pub y_include: Option<Vec<(f64, f64)>>,
}

/// The y range component `c` of a run's ensemble covers: every member and the ±2σ band.
fn extent(run: &RunState, tweedie: bool, c: usize, dim: usize, length: usize) -> Option<(f64, f64)> {
    let ensemble = run.statistics_source(tweedie)?;
    let (values, members) = (ensemble.values(), ensemble.members());
    let per = length * dim;
    if members == 0 || ensemble.per_member() != per {
        return None;
    }
    let (mean, std) = ensemble.mean_std();
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for t in 0..length {
        let i = t * dim + c;
        lo = lo.min(mean[i] - 2.0 * std[i]);
        hi = hi.max(mean[i] + 2.0 * std[i]);
        for m in 0..members {
            let v = values[m * per + i] as f64;
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
}

/// Per component, the y range covering every run's ensemble (drawn as `(run, tweedie)`) and the
/// truth, so side-by-side views open on the same axes; `None` when nothing is drawn yet.
pub fn shared_ranges(
    runs: &[(&RunState, bool)],
    truth: Option<&[f64]>,
    dim: usize,
    length: usize,
) -> Option<Vec<(f64, f64)>> {
    let ranges: Vec<(f64, f64)> = (0..dim)
        .map(|c| {
            let mut range = (f64::INFINITY, f64::NEG_INFINITY);
            for (run, tweedie) in runs {
                if let Some((lo, hi)) = extent(run, *tweedie, c, dim, length) {
                    range = (range.0.min(lo), range.1.max(hi));
                }
            }
            for v in truth.into_iter().flat_map(|t| (0..length).map(move |i| t[i * dim + c])) {
                range = (range.0.min(v), range.1.max(v));
            }
            range
        })
        .collect();
    ranges.iter().all(|(lo, hi)| lo <= hi).then_some(ranges)
}

impl SeriesView {
    /// Draws one plot per component, stacked. Returns a message for the status line when an edit
    /// was refused.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        editor: &mut ScenarioEditor,
        tools: &EditTools,
        data: &SeriesData,
    ) -> Option<String> {
        let scenario = editor.scenario();
        let dim = scenario.state_dim();
        let length = scenario.length;
        let per = length * dim;
        let n = data.components.len().max(1);
        let height = ((ui.available_height() - 6.0 * n as f32) / n as f32).max(90.0);
        let shown = data.run.shown(data.tweedie);
        let stats = data.run.statistics_source(data.tweedie).map(|e| e.mean_std());
        let truth = scenario.truth.clone();
        let reference = data.run.reference.as_ref();
        let ts: Vec<f64> = (0..length).map(|t| t as f64).collect();
        let dim_by = if data.run.stale() { palette::STALE } else { 1.0 };
        let link = egui::Id::unique("series-x-link");
        let mut message = None;
        self.transforms.clear();

        for (row, (c, name)) in data.components.iter().enumerate() {
            let c = *c;
            let series =
                |values: &[f64]| -> Vec<[f64; 2]> { (0..length).map(|t| [t as f64, values[t * dim + c]]).collect() };
            let mut plot = Plot::new((data.id, c)).height(height);
            plot = if data.link_y {
                plot.link_axis(egui::Id::unique(("series-compare-link", c)), [true, true])
            } else {
                plot.link_axis(link, [true, false])
            };
            if let Some((lo, hi)) = data.y_include.as_ref().and_then(|v| v.get(row)) {
                plot = plot.include_y(*lo).include_y(*hi);
            }
            plot = plot.y_axis_label(name.clone()).show_x(true).show_y(true).y_axis_min_width(36.0);
            if row + 1 == n {
                plot = plot.x_axis_label("state index");
            }
            if row == 0 {
                plot = plot.legend(Legend::default());
            }
            if tools.edit {
                plot = plot.allow_drag(false).allow_boxed_zoom(false).allow_scroll(false).allow_zoom(false);
            }
            let observations = editor.observations();
            let mut hits: Vec<(usize, PlotPoint)> = Vec::new();
            for (i, o) in observations.iter().enumerate() {
                if o.op.indices() == [c] {
                    for y in drawn_at(&o.op, o.value) {
                        hits.push((i, PlotPoint::new(o.t as f64, y)));
                    }
                }
            }
            let response = plot.show(ui, |plot_ui| {
                if let Some(shown) = &shown {
                    for m in 0..shown.members {
                        let values = &shown.values[m * per..(m + 1) * per];
                        let points: PlotPoints = (0..length).map(|t| [t as f64, values[t * dim + c] as f64]).collect();
                        let colour = palette::mode(shown.labels.and_then(|l| l.get(m).copied()).unwrap_or(0));
                        let alpha = (6.0 / shown.members as f32).clamp(0.12, 0.6) * dim_by;
                        plot_ui.line(
                            Line::new("", points).color(palette::faded(colour, alpha)).width(1.0).allow_hover(false),
                        );
                    }
                }
                if let Some((mean, std)) = &stats
                    && mean.len() == per
                {
                    let lo: Vec<f64> = (0..length).map(|t| mean[t * dim + c] - 2.0 * std[t * dim + c]).collect();
                    let hi: Vec<f64> = (0..length).map(|t| mean[t * dim + c] + 2.0 * std[t * dim + c]).collect();
                    plot_ui.add(
                        FilledArea::new(s::BAND, &ts, &lo, &hi)
                            .fill_color(palette::faded(palette::MEAN, 0.15 * dim_by)),
                    );
                    plot_ui.line(
                        Line::new(data.mean_label, series(mean))
                            .color(palette::faded(palette::MEAN, dim_by))
                            .width(2.0),
                    );
                }
                if data.modes.len() > 1 && data.run.at_end() {
                    for (m, mode) in data.modes.iter().enumerate() {
                        if mode.mean.len() == per {
                            plot_ui.line(
                                Line::new(format!("mode {} ({:.0}%)", m + 1, 100.0 * mode.weight), series(&mode.mean))
                                    .color(palette::mode(m))
                                    .width(2.5)
                                    .style(LineStyle::dashed_loose()),
                            );
                        }
                    }
                }
                if let Some(r) = reference
                    && r.mean.len() == per
                {
                    let lo: Vec<f64> = (0..length).map(|t| r.mean[t * dim + c] - 2.0 * r.std[t * dim + c]).collect();
                    let hi: Vec<f64> = (0..length).map(|t| r.mean[t * dim + c] + 2.0 * r.std[t * dim + c]).collect();
                    plot_ui
                        .add(FilledArea::new(s::EXACT, &ts, &lo, &hi).fill_color(palette::faded(palette::EXACT, 0.12)));
                    plot_ui.line(
                        Line::new(s::EXACT, series(&r.mean))
                            .color(palette::EXACT)
                            .width(1.5)
                            .style(LineStyle::dashed_dense()),
                    );
                }
                if let Some(truth) = &truth {
                    plot_ui.line(Line::new(s::TRUTH, series(truth)).color(palette::TRUTH).width(1.5));
                }
                for o in observations.iter().filter(|o| o.op.indices() == [c]) {
                    for y in drawn_at(&o.op, o.value) {
                        let spread = error_bar(&o.op, o.std, y);
                        plot_ui.line(
                            Line::new("", vec![[o.t as f64, y - spread], [o.t as f64, y + spread]])
                                .color(palette::OBSERVATION)
                                .width(1.5)
                                .allow_hover(false),
                        );
                    }
                }
                let (identity, folded): (Vec<_>, Vec<_>) =
                    hits.iter().partition(|(i, _)| !folds_sign(&observations[*i].op));
                plot_ui.points(
                    Points::new(s::OBSERVED, identity.iter().map(|(_, p)| [p.x, p.y]).collect::<Vec<_>>())
                        .color(palette::OBSERVATION)
                        .radius(3.5),
                );
                if !folded.is_empty() {
                    plot_ui.points(
                        Points::new(
                            "|x| or x² observations (both signs)",
                            folded.iter().map(|(_, p)| [p.x, p.y]).collect::<Vec<_>>(),
                        )
                        .color(palette::OBSERVATION)
                        .filled(false)
                        .radius(4.5),
                    );
                }
            });
            self.transforms.push(response.transform);
            if !tools.edit {
                continue;
            }
            let r = &response.response;
            let transform = &response.transform;
            let nearest = |pos: Pos2| -> Option<usize> {
                hits.iter()
                    .map(|(i, p)| (*i, transform.position_from_point(p).distance(pos)))
                    .filter(|(_, d)| *d <= PICK_RADIUS)
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(i, _)| i)
            };
            let pointer = r.interact_pointer_pos().or(r.hover_pos());
            let to_state = |p: Pos2| {
                let v = transform.value_from_position(p);
                ((v.x.round().max(0.0) as usize).min(length.saturating_sub(1)), v.y)
            };
            // A drag starts once the pointer has moved a few pixels: pick what was under the press.
            let pressed_at = ui.input(|i| i.pointer.press_origin());
            if r.drag_started_by(egui::PointerButton::Primary)
                && let Some(i) = pressed_at.or(pointer).and_then(nearest)
            {
                self.dragging = Some(i);
                editor.begin_drag();
            }
            if let (Some(i), Some(p)) = (self.dragging, pointer)
                && r.dragged()
            {
                let (t, y) = to_state(p);
                if let Some(o) = editor.observations().get(i).cloned()
                    && let Err(e) = editor.drag(i, t, value_at(&o.op, y))
                {
                    message = Some(e.to_string());
                }
            }
            if r.drag_stopped() {
                self.dragging = None;
            }
            if r.clicked()
                && let Some(p) = pointer
                && nearest(p).is_none()
            {
                let (t, y) = to_state(p);
                let op = tools.operator(c);
                let source = if tools.from_truth { ValueSource::Truth } else { ValueSource::At(value_at(&op, y)) };
                if let Err(e) = editor.add(t, op, tools.std, source) {
                    message = Some(e.to_string());
                }
            }
            if r.secondary_clicked()
                && let Some(i) = pointer.and_then(nearest)
                && let Err(e) = editor.remove(i)
            {
                message = Some(e.to_string());
            }
        }
        message
    }
}

/// The figure of `run` in `scenario`, its modes drawn once the run has finished.
fn figure<'a>(
    scenario: &'a Scenario,
    components: Vec<(usize, String)>,
    title: String,
    run: &'a RunState,
    tweedie: bool,
    modes: &'a [Mode],
    mean_label: &'a str,
) -> SeriesFigure<'a> {
    SeriesFigure {
        title,
        components,
        length: scenario.length,
        dim: scenario.state_dim(),
        members: run.shown(tweedie),
        mean_std: run.statistics_source(tweedie).map(|e| e.mean_std()),
        truth: scenario.truth.as_deref(),
        observations: &scenario.observations,
        modes: if run.at_end() { modes } else { &[] },
        mean_label,
    }
}

impl View for SeriesView {
    fn id(&self) -> ViewId {
        ViewId::Series
    }

    fn label(&self) -> &'static str {
        s::VIEW_SERIES
    }

    fn ui(&mut self, ui: &mut Ui, ctx: &mut ViewContext) -> Option<String> {
        let modes = ctx.modes();
        let components = ctx.components();
        ui.label(s::SERIES_HINT);
        if ctx.beside.is_none() {
            let data = SeriesData {
                run: ctx.run,
                tweedie: ctx.tweedie,
                components,
                modes: &modes,
                id: "series",
                link_y: false,
                y_include: None,
                mean_label: ctx.mean_label,
            };
            return self.ui(ui, ctx.editor, ctx.tools, &data);
        }
        side_by_side::show(ui, ctx, &mut |left, right, ctx| {
            let scenario = ctx.editor.scenario();
            let (dim, length) = (scenario.state_dim(), scenario.length);
            let truth = scenario.truth.clone();
            let other = ctx.beside.as_ref().and_then(|b| b.run);
            let runs: Vec<(&RunState, bool)> =
                [Some((ctx.run, ctx.tweedie)), other.map(|r| (r, false))].into_iter().flatten().collect();
            let y_include = shared_ranges(&runs, truth.as_deref(), dim, length);
            let data = SeriesData {
                run: ctx.run,
                tweedie: ctx.tweedie,
                components: components.clone(),
                modes: &modes,
                id: "series",
                link_y: true,
                y_include: y_include.clone(),
                mean_label: ctx.mean_label,
            };
            let mut message = self.ui(left, ctx.editor, ctx.tools, &data);
            if let Some(run) = other {
                let compare_modes = run.finished.as_ref().map(|f| f.modes.clone());
                let data = SeriesData {
                    run,
                    tweedie: false,
                    components: components.clone(),
                    modes: compare_modes.as_deref().unwrap_or_default(),
                    id: "compare",
                    link_y: true,
                    y_include,
                    mean_label: s::MEAN,
                };
                message = message.or(self.ui(right, ctx.editor, ctx.tools, &data));
            }
            message
        })
    }

    /// The figure of the view as on screen: SDA, and the comparison beside it when one is shown.
    fn export(&self, path: &Path, ctx: &ViewContext) -> Option<Result<(), ExportError>> {
        let sda_modes = ctx.modes();
        let scenario = ctx.editor.scenario();
        let mut figs = vec![figure(
            scenario,
            ctx.components(),
            ctx.title.to_string(),
            ctx.run,
            ctx.tweedie,
            &sda_modes,
            ctx.mean_label,
        )];
        if let Some(Beside { report: Some(report), run: Some(run) }) = &ctx.beside {
            let modes = run.finished.as_ref().map(|f| f.modes.as_slice()).unwrap_or_default();
            figs.push(figure(scenario, ctx.components(), report.label.clone(), run, false, modes, s::MEAN));
        }
        Some(save_series(path, &figs))
    }

    fn animation(&self, ctx: &ViewContext) -> Option<DrawFrame> {
        let scenario = ctx.editor.scenario().clone();
        let components = ctx.components();
        let (tweedie, mean_label) = (ctx.tweedie, ctx.mean_label);
        let modes = ctx.modes();
        Some(Box::new(move |run, title| {
            let fig = figure(&scenario, components.clone(), title.to_string(), run, tweedie, &modes, mean_label);
            series_image(&fig, 900)
        }))
    }

    fn reset(&mut self) {
        self.dragging = None;
    }
}

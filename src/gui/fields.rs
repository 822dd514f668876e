//! Lorenz-96 space–time (Hovmöller) views drawn by the WGSL colormap shader: truth,
//! observations, posterior mean, spread, one member and the error of the mean, side by side,
//! with colour bars. The observations panel takes the brush and eraser; clicking a cell selects
//! its station for the time series below.

use std::path::Path;
use std::sync::Arc;

use eframe::egui::{self, Align2, Color32, FontId, Rect, Sense, Stroke, Ui, Vec2};
use eframe::egui_wgpu::Callback;

use super::animation::DrawFrame;
use super::compare::scores_table;
use super::editor::ScenarioEditor;
use super::figure::{FieldsFigure, fields_image, save_fields};
use super::palette;
use super::run_state::RunState;
use super::series::{SeriesData, SeriesView};
use super::strings as s;
use super::stroke::BrushStroke;
use super::tools::EditTools;
use super::view::{View, ViewContext, ViewId};
use crate::export::ExportError;
use crate::observe::ObservationOp;
use crate::render::{Colormap, FieldCallback, FieldImage};
use crate::scenario::Scenario;

/// The panels, left to right.
pub(super) const PANELS: [&str; 6] =
    ["truth", "observations", "posterior mean", "spread (std)", "member", "mean − truth"];

/// Field-view state: the selected station and member, and whether a brush stroke is under way.
#[derive(Default)]
pub struct FieldsView {
    pub station: Option<usize>,
    pub member: usize,
    /// The colour range follows the ensemble (otherwise the truth and observations fix it).
    pub auto_range: bool,
    stroke: BrushStroke,
    /// Where each panel was drawn in the last frame.
    pub(super) panel_rects: Vec<Rect>,
    /// The selected station's time series, below the panels.
    station_series: SeriesView,
}

/// The symmetric colour range of the field panels: fixed by the truth and the observations
/// (so their colours do not change during a run), or with `auto` also covering the posterior
/// mean; the mean's own range when there is neither truth nor observation.
pub(super) fn colour_range(truth: &[f64], observed: &[f64], mean: &[f64], auto: bool) -> f64 {
    let fixed = max_abs(truth, 0.0).max(max_abs(observed, 0.0));
    if auto || fixed == 0.0 { fixed.max(max_abs(mean, 1.0)) } else { fixed }
}

/// Largest finite |v|, at least `floor`.
pub(super) fn max_abs(values: &[f64], floor: f64) -> f64 {
    values.iter().filter(|v| v.is_finite()).fold(floor, |m, v| m.max(v.abs()))
}

/// What both field views draw besides the observations, each `length × dim` values (NaN where
/// there is nothing): the truth, the run's mean and spread, and member `member` of those drawn.
pub(super) struct Layers {
    pub truth: Vec<f64>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub member: Vec<f64>,
}

pub(super) fn layers(scenario: &Scenario, run: &RunState, tweedie: bool, member: usize) -> Layers {
    let n = scenario.length * scenario.state_dim();
    let nan = vec![f64::NAN; n];
    let truth = scenario.truth.clone().unwrap_or_else(|| nan.clone());
    let (mean, std) = run.statistics_source(tweedie).map(|e| e.mean_std()).unwrap_or_default();
    let (mean, std) = if mean.len() == n { (mean, std) } else { (nan.clone(), nan.clone()) };
    let member = run
        .shown(tweedie)
        .filter(|sh| sh.members > 0 && sh.values.len() >= sh.members * n)
        .map(|sh| {
            let m = member.min(sh.members - 1);
            sh.values[m * n..(m + 1) * n].iter().map(|&v| v as f64).collect()
        })
        .unwrap_or(nan);
    Layers { truth, mean, std, member }
}

/// The six fields of the current state of `run`, in panel order, each `length × dim`, with
/// member `member` in the member panel.
pub(super) fn images(scenario: &Scenario, run: &RunState, tweedie: bool, member: usize, auto: bool) -> Vec<FieldImage> {
    let (length, dim) = (scenario.length, scenario.state_dim());
    let Layers { truth, mean, std, member } = layers(scenario, run, tweedie, member);
    let mut observed = vec![f64::NAN; length * dim];
    for o in &scenario.observations {
        match &o.op {
            ObservationOp::Identity { index } => observed[o.t * dim + index] = o.value,
            ObservationOp::Mean { indices } => {
                for i in indices {
                    observed[o.t * dim + i] = o.value;
                }
            }
            // A folded value (|x|, x²) is not a value of the field: not drawn.
            ObservationOp::Abs { .. } | ObservationOp::Square { .. } => {}
        }
    }
    let error: Vec<f64> = mean.iter().zip(&truth).map(|(m, t)| m - t).collect();
    let range = colour_range(&truth, &observed, &mean, auto);
    let image = |values: &[f64], lo: f64, hi: f64, colormap| FieldImage {
        width: dim,
        height: length,
        values: values.iter().map(|&v| v as f32).collect(),
        lo: lo as f32,
        hi: hi as f32,
        colormap,
    };
    let err = max_abs(&error, 0.1);
    vec![
        image(&truth, -range, range, Colormap::Diverging),
        image(&observed, -range, range, Colormap::Diverging),
        image(&mean, -range, range, Colormap::Diverging),
        image(&std, 0.0, max_abs(&std, 0.1), Colormap::Sequential),
        image(&member, -range, range, Colormap::Diverging),
        image(&error, -err, err, Colormap::Diverging),
    ]
}

/// The comparison's panels, below SDA's: its mean, spread, a member and its error.
const COMPARED: [usize; 4] = [2, 3, 4, 5];

impl FieldsView {
    /// The classical method's mean, spread, member and error, drawn like SDA's, in SDA's
    /// columns and on SDA's colour ranges (values beyond them show at the ends of the bar).
    fn comparison_row(&self, ui: &mut Ui, scenario: &Scenario, sda: &RunState, tweedie: bool, run: &RunState) {
        let ranges: Vec<(f32, f32)> =
            images(scenario, sda, tweedie, self.member, self.auto_range).iter().map(|i| (i.lo, i.hi)).collect();
        let mut images = images(scenario, run, false, self.member, self.auto_range);
        for (image, &(lo, hi)) in images.iter_mut().zip(&ranges) {
            (image.lo, image.hi) = (lo, hi);
        }
        let (rect0, gap) = (self.panel_rects.first().copied(), 8.0);
        let width = rect0.map_or(120.0, |r| r.width());
        let height = rect0.map_or(120.0, |r| r.height());
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = gap;
            // Under SDA's own mean, spread, member and error panels.
            ui.add_space(30.0 + 2.0 * (width + gap));
            for (k, image) in images.into_iter().enumerate().filter(|(k, _)| COMPARED.contains(k)) {
                ui.vertical(|ui| {
                    ui.label(egui::RichText::new(PANELS[k]).strong());
                    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, height), Sense::hover());
                    let (lo, hi, colormap) = (image.lo, image.hi, image.colormap);
                    ui.painter().add(Callback::new_paint_callback(
                        rect,
                        FieldCallback { slot: (PANELS.len() + k) as u64, image: Arc::new(image) },
                    ));
                    colour_bar(ui, width, lo, hi, colormap);
                });
            }
        });
    }

    /// Draws the panels. Returns a message when an edit was refused.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        editor: &mut ScenarioEditor,
        tools: &EditTools,
        run: &RunState,
        tweedie: bool,
        height_share: f32,
    ) -> Option<String> {
        ui.horizontal(|ui| {
            ui.label(s::FIELD_HINT);
            ui.checkbox(&mut self.auto_range, s::AUTO_RANGE).on_hover_text(s::AUTO_RANGE_TIP);
        });
        let images = images(editor.scenario(), run, tweedie, self.member, self.auto_range);
        let (length, dim) = (editor.scenario().length, editor.scenario().state_dim());
        let gap = 8.0;
        // The state axis sits left of the first panel.
        let axis = 30.0;
        let width = ((ui.available_width() - axis - gap * 6.0) / 6.0).max(60.0);
        let height = (ui.available_height() * height_share).clamp(100.0, 900.0);
        let mut message = None;
        self.panel_rects.clear();
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing.x = gap;
            ui.add_space(axis);
            for (k, image) in images.into_iter().enumerate() {
                ui.vertical(|ui| {
                    ui.label(egui::RichText::new(PANELS[k]).strong());
                    let sense = if k == 1 && tools.edit { Sense::click_and_drag() } else { Sense::click() };
                    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, height), sense);
                    self.panel_rects.push(rect);
                    ticks(ui, rect, dim, Side::Below);
                    if k == 0 {
                        ticks(ui, rect, length, Side::Left);
                        let name = egui::pos2(rect.left() - 3.0, rect.top() - 2.0);
                        let colour = ui.visuals().weak_text_color();
                        ui.painter().text(name, Align2::RIGHT_BOTTOM, "state", FontId::proportional(10.0), colour);
                    }
                    let (lo, hi, colormap) = (image.lo, image.hi, image.colormap);
                    ui.painter().add(Callback::new_paint_callback(
                        rect,
                        FieldCallback { slot: k as u64, image: Arc::new(image) },
                    ));
                    // The posterior panels of the previous run stay, veiled, until the next one's.
                    if k >= 2 && run.stale() {
                        ui.painter().rect_filled(rect, 0.0, palette::STALE_VEIL);
                    }
                    let cell_of = |pos: egui::Pos2| {
                        let u = ((pos.x - rect.left()) / rect.width()).clamp(0.0, 0.999);
                        let v = ((pos.y - rect.top()) / rect.height()).clamp(0.0, 0.999);
                        ((v * length as f32) as usize, (u * dim as f32) as usize)
                    };
                    if let Some(station) = self.station {
                        let x = rect.left() + (station as f32 + 0.5) / dim as f32 * rect.width();
                        ui.painter().line_segment(
                            [egui::pos2(x, rect.top()), egui::pos2(x, rect.bottom())],
                            Stroke::new(1.0, Color32::from_white_alpha(120)),
                        );
                    }
                    if k == 1 && tools.edit {
                        let mut cells = Vec::new();
                        if response.drag_started() {
                            editor.begin_drag();
                            self.stroke.begin(ui);
                        } else if response.clicked()
                            && let Some(pos) = response.interact_pointer_pos()
                        {
                            editor.begin_drag();
                            cells.push(cell_of(pos));
                        }
                        if self.stroke.active() {
                            let spacing = 0.5 * (rect.width() / dim as f32).min(rect.height() / length as f32);
                            let passed = self.stroke.advance(ui, spacing);
                            cells.extend(passed.into_iter().filter(|p| rect.contains(*p)).map(cell_of));
                        }
                        if let Err(e) = editor.paint_cells(&distinct(cells), tools.brush, tools.std) {
                            message = Some(e.to_string());
                        }
                    } else if response.clicked()
                        && let Some(pos) = response.interact_pointer_pos()
                    {
                        self.station = Some(cell_of(pos).1);
                    }
                    colour_bar(ui, width, lo, hi, colormap);
                });
            }
        });
        message
    }
}

/// Where a field panel's tick labels go: the station axis below, the state axis to the left.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Side {
    Below,
    Left,
}

/// A round step giving about four ticks over `n` cells (1, 2, 5, 10, 20, …).
pub(super) fn tick_step(n: usize) -> usize {
    let rough = (n as f64 / 4.0).max(1.0);
    let decade = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * decade).find(|s| *s >= rough).unwrap_or(decade * 10.0);
    step as usize
}

/// Tick labels at cell centres along one side of `rect`, which shows `n` cells that way: below
/// it in a strip it allocates, or to its left in the space the caller left free.
pub(super) fn ticks(ui: &mut Ui, rect: Rect, n: usize, side: Side) {
    let font = FontId::proportional(10.0);
    let colour = ui.visuals().weak_text_color();
    let strip = if side == Side::Below {
        ui.allocate_exact_size(Vec2::new(rect.width(), 12.0), Sense::hover()).0
    } else {
        rect
    };
    let painter = ui.painter();
    for i in (0..n).step_by(tick_step(n).max(1)) {
        let f = (i as f32 + 0.5) / n as f32;
        let (pos, align) = match side {
            Side::Below => (egui::pos2(rect.left() + f * rect.width(), strip.top()), Align2::CENTER_TOP),
            Side::Left => (egui::pos2(rect.left() - 3.0, rect.top() + f * rect.height()), Align2::RIGHT_CENTER),
        };
        painter.text(pos, align, i.to_string(), font.clone(), colour);
    }
}

/// `cells` in their first order, each once.
pub(super) fn distinct(cells: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut seen = std::collections::HashSet::new();
    cells.into_iter().filter(|c| seen.insert(*c)).collect()
}

/// A horizontal colour bar with its end values.
pub(super) fn colour_bar(ui: &mut Ui, width: f32, lo: f32, hi: f32, colormap: Colormap) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, 26.0), Sense::hover());
    let bar = Rect::from_min_size(rect.min, Vec2::new(width, 10.0));
    let steps = 48;
    for k in 0..steps {
        let v = lo + (hi - lo) * (k as f32 + 0.5) / steps as f32;
        let [r, g, b, _] = colormap.rgba8(v, lo, hi);
        let x0 = bar.left() + bar.width() * k as f32 / steps as f32;
        let x1 = bar.left() + bar.width() * (k + 1) as f32 / steps as f32 + 0.5;
        ui.painter().rect_filled(Rect::from_x_y_ranges(x0..=x1, bar.y_range()), 0.0, Color32::from_rgb(r, g, b));
    }
    let font = FontId::proportional(11.0);
    let colour = ui.visuals().text_color();
    ui.painter().text(
        egui::pos2(bar.left(), bar.bottom() + 1.0),
        Align2::LEFT_TOP,
        format!("{lo:.2}"),
        font.clone(),
        colour,
    );
    ui.painter().text(egui::pos2(bar.right(), bar.bottom() + 1.0), Align2::RIGHT_TOP, format!("{hi:.2}"), font, colour);
}

impl View for FieldsView {
    fn id(&self) -> ViewId {
        ViewId::Fields
    }

    fn label(&self) -> &'static str {
        s::VIEW_FIELDS
    }

    fn ui(&mut self, ui: &mut Ui, ctx: &mut ViewContext) -> Option<String> {
        if let Some(beside) = &ctx.beside {
            let (report, compare_run) = (beside.report, beside.run);
            let message = self.ui(ui, ctx.editor, ctx.tools, ctx.run, ctx.tweedie, 0.3);
            ui.separator();
            ui.strong(report.map_or(s::COMPARE_WAITING.to_string(), |c| c.label.clone()));
            if let Some(run) = compare_run {
                self.comparison_row(ui, ctx.editor.scenario(), ctx.run, ctx.tweedie, run);
            }
            ui.separator();
            scores_table(ui, ctx.run.finished.as_ref(), report);
            return message;
        }
        let message = self.ui(ui, ctx.editor, ctx.tools, ctx.run, ctx.tweedie, 0.55);
        let Some(station) = self.station else { return message };
        let modes = ctx.modes();
        let data = SeriesData {
            run: ctx.run,
            tweedie: ctx.tweedie,
            components: vec![(station, format!("station {station}"))],
            modes: &modes,
            id: "series",
            link_y: false,
            y_include: None,
            mean_label: s::MEAN,
        };
        message.or(self.station_series.ui(ui, ctx.editor, ctx.tools, &data))
    }

    fn export(&self, path: &Path, ctx: &ViewContext) -> Option<Result<(), ExportError>> {
        let panels = images(ctx.editor.scenario(), ctx.run, ctx.tweedie, self.member, self.auto_range)
            .into_iter()
            .zip(PANELS)
            .map(|(image, name)| (name.to_string(), image))
            .collect();
        Some(save_fields(path, &FieldsFigure { title: ctx.title.to_string(), panels }))
    }

    fn animation(&self, ctx: &ViewContext) -> Option<DrawFrame> {
        let scenario = ctx.editor.scenario().clone();
        let (tweedie, member, auto) = (ctx.tweedie, self.member, self.auto_range);
        Some(Box::new(move |run, title| {
            let panels = images(&scenario, run, tweedie, member, auto)
                .into_iter()
                .zip(PANELS)
                .map(|(image, name)| (name.to_string(), image))
                .collect();
            fields_image(&FieldsFigure { title: title.to_string(), panels }, (1200, 480))
        }))
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_steps_are_round_and_give_a_few_ticks() {
        assert_eq!([tick_step(3), tick_step(8), tick_step(40), tick_step(65), tick_step(257)], [1, 2, 10, 20, 100]);
    }

    /// The truth and observations fix the colour range; the mean moves it only when asked to.
    #[test]
    fn the_colour_range_is_fixed_by_the_truth_unless_automatic() {
        let (truth, observed, mean) = ([1.0, -3.0], [f64::NAN, 2.5], [9.0, f64::NAN]);
        assert_eq!(colour_range(&truth, &observed, &mean, false), 3.0);
        assert_eq!(colour_range(&truth, &observed, &mean, true), 9.0);
        assert_eq!(colour_range(&[f64::NAN; 2], &[f64::NAN; 2], &mean, false), 9.0, "nothing fixes it");
    }
}

//! Field snapshots (Kolmogorov flow): a grid with one column per state of the trajectory and the
//! rows truth, observations, posterior mean, spread and one member, each cell a vorticity field
//! drawn by the WGSL colormap shader (diverging for vorticity, sequential for the spread). The
//! member row follows one pinned member through time; the observations row takes the brush and
//! eraser, one cell at a time or in strokes.

use std::path::Path;
use std::sync::Arc;

use eframe::egui::{self, Align2, Color32, FontId, Rect, Sense, Stroke, Ui, Vec2};
use eframe::egui_wgpu::Callback;

use super::animation::DrawFrame;
use super::editor::ScenarioEditor;
use super::fields::{Layers, Side, colour_bar, colour_range, distinct, layers, max_abs, tick_step, ticks};
use super::figure::{FieldGridFigure, grid_image, save_grid};
use super::palette;
use super::run_state::RunState;
use super::strings as s;
use super::stroke::BrushStroke;
use super::tools::EditTools;
use super::view::{View, ViewContext, ViewId};
use crate::export::ExportError;
use crate::render::{Colormap, FieldCallback, FieldImage};
use crate::scenario::Scenario;

/// The rows, top to bottom.
pub(super) const ROWS: [&str; 5] = ["truth", "observations", "posterior mean", "spread (std)", "member"];

/// Texture slots of the snapshot cells start here (the space–time panels use 0‥5).
const SLOT_BASE: u64 = 1 << 16;

/// Snapshot-view state: the pinned member, the first state shown, and a brush stroke under way.
#[derive(Default)]
pub struct SnapshotsView {
    pub member: usize,
    pub first: usize,
    /// The colour range follows the ensemble (otherwise the truth and observations fix it).
    pub auto_range: bool,
    /// States shown side by side in the last frame.
    columns: usize,
    stroke: BrushStroke,
    /// The observations row's cells as drawn in the last frame, with their states.
    pub(super) observed_cells: Vec<(Rect, usize)>,
}

/// The five rows over the whole trajectory (`L·H·W` each, NaN where there is nothing to show),
/// with the symmetric vorticity range and the spread's upper end.
pub(super) struct SnapshotRows {
    pub rows: [Vec<f64>; 5],
    pub range: f64,
    pub spread: f64,
}

/// The grid's rows for `run`, with member `member` in the member row.
pub(super) fn rows(scenario: &Scenario, run: &RunState, tweedie: bool, member: usize, auto: bool) -> SnapshotRows {
    let (length, dim) = (scenario.length, scenario.state_dim());
    let Layers { truth, mean, std, member } = layers(scenario, run, tweedie, member);
    let mut observed = vec![f64::NAN; length * dim];
    for o in &scenario.observations {
        for i in o.op.indices() {
            observed[o.t * dim + i] = o.value;
        }
    }
    let range = colour_range(&truth, &observed, &mean, auto);
    let spread = max_abs(&std, 0.1);
    SnapshotRows { rows: [truth, observed, mean, std, member], range, spread }
}

/// Most states in an exported grid.
const EXPORTED_STATES: usize = 8;

/// The grid's rows at `states`, as a figure; `None` unless the states are 2-D fields.
fn grid(
    scenario: &Scenario,
    run: &RunState,
    tweedie: bool,
    member: usize,
    auto: bool,
    states: &[usize],
    title: &str,
) -> Option<FieldGridFigure> {
    let [h, w] = scenario.system.chain().state_shape()[..] else { return None };
    let dim = h * w;
    let data = rows(scenario, run, tweedie, member, auto);
    let rows = data
        .rows
        .iter()
        .zip(ROWS)
        .enumerate()
        .map(|(r, (values, name))| {
            let (lo, hi, colormap) = if r == 3 {
                (0.0, data.spread, Colormap::Sequential)
            } else {
                (-data.range, data.range, Colormap::Diverging)
            };
            let images = states
                .iter()
                .filter_map(|&t| values.get(t * dim..(t + 1) * dim))
                .map(|v| FieldImage {
                    width: w,
                    height: h,
                    values: v.iter().map(|&x| x as f32).collect(),
                    lo: lo as f32,
                    hi: hi as f32,
                    colormap,
                })
                .collect();
            (name.to_string(), images)
        })
        .collect();
    let columns = states.iter().map(|t| format!("state {t}")).collect();
    Some(FieldGridFigure { title: title.to_string(), columns, rows })
}

impl SnapshotsView {
    /// The states of the exported grid: those on screen, at most [`EXPORTED_STATES`].
    fn states_shown(&self) -> Vec<usize> {
        (self.first..self.first + self.columns.clamp(1, EXPORTED_STATES)).collect()
    }

    /// Draws the grid. Returns a message when an edit was refused.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        editor: &mut ScenarioEditor,
        tools: &EditTools,
        run: &RunState,
        tweedie: bool,
    ) -> Option<String> {
        let scenario = editor.scenario();
        let (length, shape) = (scenario.length, scenario.system.chain().state_shape());
        let [h, w] = shape[..] else {
            return Some(format!("snapshots show 2-D fields, not states of shape {shape:?}"));
        };
        let members = run.shown(tweedie).map_or(0, |sh| sh.members);
        ui.horizontal(|ui| {
            ui.label(s::SNAPSHOT_HINT);
            ui.checkbox(&mut self.auto_range, s::AUTO_RANGE).on_hover_text(s::AUTO_RANGE_TIP);
            if members > 1 {
                ui.add(egui::Slider::new(&mut self.member, 0..=members - 1).text(s::PIN_MEMBER))
                    .on_hover_text(s::PIN_MEMBER_TIP);
            }
        });
        let label_width = 96.0;
        let gap = 3.0;
        // The colour bars below, and the member and first-state sliders above.
        let bars = 70.0;
        let cell_by_height = ((ui.available_height() - bars - 20.0) / ROWS.len() as f32 - gap).clamp(24.0, 220.0);
        let fit = ((ui.available_width() - label_width) / (cell_by_height + gap)).floor().max(1.0) as usize;
        let columns = fit.min(length);
        self.columns = columns;
        if columns < length {
            self.first = self.first.min(length - columns);
            ui.add(egui::Slider::new(&mut self.first, 0..=length - columns).text(s::FIRST_STATE))
                .on_hover_text(s::FIRST_STATE_TIP);
        } else {
            self.first = 0;
        }
        let cell = cell_by_height.min((ui.available_width() - label_width) / columns as f32 - gap);
        let data = rows(editor.scenario(), run, tweedie, self.member, self.auto_range);
        let dim = h * w;
        let mut message = None;
        let mut pressed = None;
        let mut bottom = Vec::new();
        self.observed_cells.clear();
        egui::Grid::new("snapshots").spacing(Vec2::splat(gap)).show(ui, |ui| {
            ui.label("");
            for c in 0..columns {
                ui.label(format!("state {}", self.first + c));
            }
            ui.end_row();
            for (r, values) in data.rows.iter().enumerate() {
                ui.add_sized(Vec2::new(label_width, cell), egui::Label::new(egui::RichText::new(ROWS[r]).strong()));
                let (lo, hi, colormap) = if r == 3 {
                    (0.0, data.spread, Colormap::Sequential)
                } else {
                    (-data.range, data.range, Colormap::Diverging)
                };
                for c in 0..columns {
                    let t = self.first + c;
                    let editable = r == 1 && tools.edit;
                    let sense = if editable { Sense::click_and_drag() } else { Sense::hover() };
                    let (rect, response) = ui.allocate_exact_size(Vec2::splat(cell), sense);
                    // Grid rows (y, down) left of each row's first snapshot, columns (x) under
                    // the last row's.
                    if c == 0 {
                        ticks(ui, rect, h, Side::Left);
                    }
                    if r + 1 == ROWS.len() {
                        bottom.push(rect);
                    }
                    let image = FieldImage {
                        width: w,
                        height: h,
                        values: values[t * dim..(t + 1) * dim].iter().map(|&v| v as f32).collect(),
                        lo: lo as f32,
                        hi: hi as f32,
                        colormap,
                    };
                    let slot = SLOT_BASE + (r * 4096 + c) as u64;
                    ui.painter()
                        .add(Callback::new_paint_callback(rect, FieldCallback { slot, image: Arc::new(image) }));
                    if r >= 2 && run.stale() {
                        ui.painter().rect_filled(rect, 0.0, palette::STALE_VEIL);
                    }
                    if r == 4 && members == 0 {
                        ui.painter().text(
                            rect.center(),
                            Align2::CENTER_CENTER,
                            "—",
                            FontId::proportional(12.0),
                            ui.visuals().weak_text_color(),
                        );
                    }
                    if editable {
                        if response.hovered() {
                            ui.painter().rect_stroke(
                                rect,
                                0.0,
                                Stroke::new(1.0, Color32::from_white_alpha(160)),
                                egui::StrokeKind::Inside,
                            );
                        }
                        if response.drag_started() {
                            editor.begin_drag();
                            self.stroke.begin(ui);
                        } else if response.clicked()
                            && let Some(pos) = response.interact_pointer_pos()
                        {
                            editor.begin_drag();
                            pressed = Some(pos);
                        }
                        self.observed_cells.push((rect, t));
                    }
                }
                ui.end_row();
            }
        });
        ui.add_space(12.0);
        for rect in bottom {
            let (font, colour) = (egui::FontId::proportional(10.0), ui.visuals().weak_text_color());
            for i in (0..w).step_by(tick_step(w).max(1)) {
                let x = rect.left() + (i as f32 + 0.5) / w as f32 * rect.width();
                ui.painter().text(
                    egui::pos2(x, rect.bottom() + 1.0),
                    Align2::CENTER_TOP,
                    i.to_string(),
                    font.clone(),
                    colour,
                );
            }
        }
        // A stroke may cross several snapshots: each point paints the cell of the one it is over.
        let spacing = 0.5 * cell / h.max(w) as f32;
        let passed = if self.stroke.active() { self.stroke.advance(ui, spacing) } else { Vec::new() };
        let cells: Vec<(usize, usize)> = pressed
            .into_iter()
            .chain(passed)
            .filter_map(|pos| {
                let (rect, t) = self.observed_cells.iter().find(|(rect, _)| rect.contains(pos))?;
                let u = ((pos.x - rect.left()) / rect.width()).clamp(0.0, 0.999);
                let v = ((pos.y - rect.top()) / rect.height()).clamp(0.0, 0.999);
                Some((*t, (v * h as f32) as usize * w + (u * w as f32) as usize))
            })
            .collect();
        if let Err(e) = editor.paint_cells(&distinct(cells), tools.brush, tools.std) {
            message = Some(e.to_string());
        }
        ui.horizontal(|ui| {
            let width = 220.0;
            ui.label(s::VORTICITY);
            colour_bar(ui, width, -data.range as f32, data.range as f32, Colormap::Diverging);
            ui.label(s::SPREAD);
            colour_bar(ui, width, 0.0, data.spread as f32, Colormap::Sequential);
        });
        message
    }
}

impl View for SnapshotsView {
    fn id(&self) -> ViewId {
        ViewId::Snapshots
    }

    fn label(&self) -> &'static str {
        s::VIEW_FIELDS
    }

    fn ui(&mut self, ui: &mut Ui, ctx: &mut ViewContext) -> Option<String> {
        self.ui(ui, ctx.editor, ctx.tools, ctx.run, ctx.tweedie)
    }

    /// The grid as on screen (at most eight states from the first shown).
    fn export(&self, path: &Path, ctx: &ViewContext) -> Option<Result<(), ExportError>> {
        let fig = grid(
            ctx.editor.scenario(),
            ctx.run,
            ctx.tweedie,
            self.member,
            self.auto_range,
            &self.states_shown(),
            ctx.title,
        )?;
        Some(save_grid(path, &fig))
    }

    fn animation(&self, ctx: &ViewContext) -> Option<DrawFrame> {
        let scenario = ctx.editor.scenario().clone();
        let (tweedie, member, auto, states) = (ctx.tweedie, self.member, self.auto_range, self.states_shown());
        grid(&scenario, ctx.run, tweedie, member, auto, &states, ctx.title)?;
        Some(Box::new(move |run, title| {
            let fig = grid(&scenario, run, tweedie, member, auto, &states, title).ok_or("not a 2-D field")?;
            grid_image(&fig, 900)
        }))
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}

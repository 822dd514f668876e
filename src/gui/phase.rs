//! The Lorenz-63 phase-space view: the attractor, the truth and every member in 3-D, coloured
//! by mode; drag to rotate.

use eframe::egui::{self, Color32, Pos2, Rect, Sense, Stroke, Ui, Vec2};

use super::loading::Loaded;
use super::palette;
use super::run_state::RunState;
use super::side_by_side;
use super::strings as s;
use super::view::{View, ViewContext, ViewId};
use crate::metrics::Mode;

/// Rotation of the view and the attractor drawn behind the trajectories.
pub struct PhaseView {
    yaw: f32,
    pitch: f32,
    attractor: Vec<[f64; 3]>,
}

impl Default for PhaseView {
    /// The attractor arrives from the loader thread ([`View::loaded`]).
    fn default() -> Self {
        Self { yaw: 0.0, pitch: -0.25, attractor: Vec::new() }
    }
}

impl PhaseView {
    fn project(&self, p: [f64; 3], rect: Rect) -> Pos2 {
        let (x, y, z) = (p[0] as f32, p[1] as f32, p[2] as f32 - 25.0);
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        let x1 = cy * x - sy * y;
        let y1 = sy * x + cy * y;
        let depth_up = cp * z - sp * y1;
        let scale = rect.width().min(rect.height()) / 64.0;
        rect.center() + Vec2::new(x1 * scale, -depth_up * scale)
    }

    pub fn ui(&mut self, ui: &mut Ui, run: &RunState, truth: Option<&[f64]>, tweedie: bool, modes: &[Mode]) {
        ui.label(s::PHASE_HINT);
        let size = ui.available_size();
        let (rect, response) = ui.allocate_exact_size(size, Sense::drag());
        if response.dragged() {
            let d = response.drag_delta();
            self.yaw -= d.x * 0.01;
            self.pitch = (self.pitch + d.y * 0.01).clamp(-1.5, 1.5);
        }
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 4.0, Color32::from_gray(18));
        let line = |points: Vec<Pos2>, stroke: Stroke| {
            if points.len() > 1 {
                painter.add(egui::Shape::line(points, stroke));
            }
        };
        line(self.attractor.iter().map(|&p| self.project(p, rect)).collect(), Stroke::new(1.0, palette::ATTRACTOR));
        let states = |values: &[f64]| -> Vec<Pos2> {
            values.chunks_exact(3).map(|c| self.project([c[0], c[1], c[2]], rect)).collect()
        };
        if let Some(shown) = run.shown(tweedie) {
            let per = shown.values.len() / shown.members.max(1);
            for m in 0..shown.members {
                let values: Vec<f64> = shown.values[m * per..(m + 1) * per].iter().map(|&v| v as f64).collect();
                let colour = palette::mode(shown.labels.and_then(|l| l.get(m).copied()).unwrap_or(0));
                let dim_by = if run.stale() { palette::STALE } else { 1.0 };
                let alpha = (16.0 / shown.members as f32).clamp(0.3, 0.8) * dim_by;
                line(states(&values), Stroke::new(1.0, palette::faded(colour, alpha)));
            }
        }
        if modes.len() > 1 && run.at_end() {
            for (m, mode) in modes.iter().enumerate() {
                line(states(&mode.mean), Stroke::new(2.5, palette::mode(m)));
            }
        }
        if let Some(truth) = truth {
            let points = states(truth);
            if let Some(&start) = points.first() {
                painter.circle_filled(start, 4.0, palette::TRUTH);
            }
            line(points, Stroke::new(1.5, palette::TRUTH));
        }
        // Axes for orientation.
        let origin = self.project([0.0, 0.0, 25.0], rect);
        for (axis, name) in [([15.0, 0.0, 25.0], "x"), ([0.0, 15.0, 25.0], "y"), ([0.0, 0.0, 40.0], "z")] {
            let end = self.project(axis, rect);
            painter.line_segment([origin, end], Stroke::new(1.0, Color32::from_gray(120)));
            painter.text(
                end,
                egui::Align2::CENTER_CENTER,
                name,
                egui::FontId::proportional(13.0),
                Color32::from_gray(200),
            );
        }
    }
}

impl View for PhaseView {
    fn id(&self) -> ViewId {
        ViewId::Phase
    }

    fn label(&self) -> &'static str {
        s::VIEW_PHASE
    }

    fn ui(&mut self, ui: &mut Ui, ctx: &mut ViewContext) -> Option<String> {
        let modes = ctx.modes();
        let truth = ctx.editor.scenario().truth.clone();
        if ctx.beside.is_none() {
            self.ui(ui, ctx.run, truth.as_deref(), ctx.tweedie, &modes);
            return None;
        }
        side_by_side::show(ui, ctx, &mut |left, right, ctx| {
            self.ui(left, ctx.run, truth.as_deref(), ctx.tweedie, &modes);
            if let Some(beside) = &ctx.beside
                && let Some(run) = beside.run
            {
                let compare_modes = run.finished.as_ref().map(|f| f.modes.clone()).unwrap_or_default();
                self.ui(right, run, truth.as_deref(), false, &compare_modes);
            }
            None
        })
    }

    fn loaded(&mut self, loaded: &Loaded) {
        if let Loaded::Attractor(points) = loaded {
            self.attractor = points.clone();
        }
    }
}

//! The Lorenz-63 phase-space view: the attractor, the truth and every member in 3-D, coloured
//! by mode; drag to rotate.

use eframe::egui::{self, Color32, Pos2, Rect, Sense, Stroke, Ui, Vec2};

use super::palette;
use super::run_state::RunState;
use super::strings as s;
use crate::dynamics::{Lorenz63, MarkovChain, simulate_trajectory};
use crate::metrics::Mode;
use crate::rng;

/// Rotation of the view and the attractor drawn behind the trajectories.
pub struct PhaseView {
    yaw: f32,
    pitch: f32,
    attractor: Vec<[f64; 3]>,
}

impl Default for PhaseView {
    fn default() -> Self {
        // A long free run of the system (one long noisy trajectory) traces the attractor.
        let system = Lorenz63::new();
        let states = simulate_trajectory(&system, 4000, system.default_burn_in(), &mut rng::stream(11, 0));
        let attractor = states.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
        Self { yaw: 0.0, pitch: -0.25, attractor }
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
                let alpha = (16.0 / shown.members as f32).clamp(0.3, 0.8);
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

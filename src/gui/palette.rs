//! Colours shared by the views and the exported figures.

use eframe::egui::Color32;

/// Distinct colours for posterior modes (Okabe–Ito, readable by colour-blind users).
pub const MODES: [Color32; 6] = [
    Color32::from_rgb(0, 114, 178),
    Color32::from_rgb(213, 94, 0),
    Color32::from_rgb(0, 158, 115),
    Color32::from_rgb(204, 121, 167),
    Color32::from_rgb(230, 159, 0),
    Color32::from_rgb(86, 180, 233),
];

pub const TRUTH: Color32 = Color32::from_rgb(240, 240, 240);
pub const MEAN: Color32 = Color32::from_rgb(255, 215, 0);
pub const OBSERVATION: Color32 = Color32::from_rgb(255, 80, 80);
pub const EXACT: Color32 = Color32::from_rgb(120, 220, 120);
pub const ATTRACTOR: Color32 = Color32::from_rgba_premultiplied(40, 40, 40, 40);

/// The colour of mode `m`.
/// How much of its opacity a stale posterior keeps (the previous run's, until the next one's
/// first frame).
pub const STALE: f32 = 0.35;

/// A dark veil over a field panel showing a stale posterior.
pub const STALE_VEIL: Color32 = Color32::from_black_alpha(150);

pub fn mode(m: usize) -> Color32 {
    MODES[m % MODES.len()]
}

/// `c` at opacity `alpha` (0..1).
pub fn faded(c: Color32, alpha: f32) -> Color32 {
    Color32::from_rgba_unmultiplied(c.r(), c.g(), c.b(), (alpha.clamp(0.0, 1.0) * 255.0) as u8)
}

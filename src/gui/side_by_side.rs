//! SDA (left) and a classical method (right) in two columns on shared axes, with the scores
//! table underneath: the layout the series and phase views use while comparing.

use eframe::egui::{self, Ui};

use super::compare::scores_table;
use super::strings as s;
use super::view::ViewContext;

/// Lays out the two columns and the table; `draw` fills the left and right columns and returns
/// a status message from an edit, if any.
pub fn show(
    ui: &mut Ui,
    ctx: &mut ViewContext,
    draw: &mut dyn FnMut(&mut Ui, &mut Ui, &mut ViewContext) -> Option<String>,
) -> Option<String> {
    let report = ctx.beside.as_ref().and_then(|b| b.report);
    let row = ui.text_style_height(&egui::TextStyle::Body) + ui.spacing().item_spacing.y + 2.0;
    let table_height = 3.0 * row + 18.0 * report.map_or(0, |c| c.notes.len()) as f32 + 24.0;
    let plots_height = (ui.available_height() - table_height).max(200.0);
    let width = ui.available_width();
    let label = report.map_or(s::COMPARE_WAITING.to_string(), |c| c.label.clone());
    let message = ui
        .allocate_ui(egui::vec2(width, plots_height), |ui| {
            ui.columns(2, |columns| {
                let (left, right) = columns.split_at_mut(1);
                let (left, right) = (&mut left[0], &mut right[0]);
                left.strong("SDA");
                right.strong(label);
                draw(left, right, ctx)
            })
        })
        .inner;
    ui.separator();
    scores_table(ui, ctx.run.finished.as_ref(), report);
    message
}

//! The list of posterior modes of the finished run, with their colours and weights.

use eframe::egui;

use crate::gui::palette;
use crate::gui::session::Session;
use crate::gui::strings as s;

pub fn ui(ui: &mut egui::Ui, session: &Session) {
    ui.heading(s::MODES).on_hover_text(s::MODES_TIP);
    match &session.run.finished {
        Some(f) => {
            for (m, mode) in f.modes.iter().enumerate() {
                ui.horizontal(|ui| {
                    let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                    ui.painter().rect_filled(rect, 2.0, palette::mode(m));
                    ui.label(format!(
                        "mode {}: weight {:.1}% ({} members)",
                        m + 1,
                        100.0 * mode.weight,
                        mode.members.len()
                    ));
                });
            }
        }
        None => {
            ui.label("(after the run; live colours update every few steps)");
        }
    }
}

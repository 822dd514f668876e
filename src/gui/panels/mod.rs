//! The panels around the central view: the menu bar, the left panel (sampler, comparison,
//! observation tools, modes), the status line, and the file dialog. Each draws from and edits
//! the [`super::session::Session`].

pub mod files;
pub mod menu;
pub mod modes;
pub mod observe;
pub mod sampler;
pub mod status;

use eframe::egui;

use super::session::Session;

/// The left panel, top to bottom.
pub fn left(ui: &mut egui::Ui, session: &mut Session) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        sampler::ui(ui, session);
        ui.separator();
        observe::ui(ui, session);
        ui.separator();
        modes::ui(ui, session);
    });
}

//! The menu bar: file actions, the lessons, and a new truth for the open lesson.

use eframe::egui;

use super::files::{FileAction, FileDialog};
use crate::gui::session::Session;
use crate::gui::strings as s;

pub fn ui(ui: &mut egui::Ui, session: &mut Session, dialog: &mut Option<FileDialog>) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button(s::MENU_FILE, |ui| {
            for (label, action, default) in [
                (s::OPEN_SCENARIO, FileAction::Open, "scenario.json"),
                (s::SAVE_SCENARIO, FileAction::Save, "scenario.json"),
                (s::EXPORT_PNG, FileAction::ExportFigure, "sdalab-view.png"),
                (s::EXPORT_SVG, FileAction::ExportFigure, "sdalab-view.svg"),
                (s::EXPORT_NPY, FileAction::ExportNpy, "sdalab-ensemble.npy"),
                (s::EXPORT_GIF, FileAction::ExportGif, "sdalab-diffusion.gif"),
            ] {
                let button = ui.button(label);
                let button =
                    if action == FileAction::ExportGif { button.on_hover_text(s::EXPORT_GIF_TIP) } else { button };
                if button.clicked() {
                    *dialog = Some(FileDialog::new(action, default, session.dialog_dir.clone()));
                    ui.close();
                }
            }
        });
        ui.menu_button(s::MENU_LESSONS, |ui| {
            let mut chosen = None;
            for (i, lesson) in session.lessons.iter().enumerate() {
                if ui.button(&lesson.title).on_hover_text(&lesson.text).clicked() {
                    chosen = Some(i);
                    ui.close();
                }
            }
            if let Some(i) = chosen {
                session.truth_offset = 0;
                session.open_lesson(i);
            }
        });
        ui.separator();
        if let Some(i) = session.lesson {
            if let Some(lesson) = session.lessons.get(i) {
                ui.label(egui::RichText::new(&lesson.title).strong());
            }
            if ui.button(s::NEW_TRUTH).on_hover_text(s::SYSTEM_TIP).clicked() {
                session.truth_offset += 1;
                session.open_lesson(i);
            }
        }
    });
}

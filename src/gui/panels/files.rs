//! The file dialog (a path prompt) and what it does: open or save a scenario, export the view
//! as a figure or the ensemble as `.npy`.

use std::path::Path;

use eframe::egui::{self, Key};

use crate::export::write_npy_f32;
use crate::gui::session::Session;
use crate::gui::strings as s;
use crate::gui::view::ViewRegistry;

/// A file dialog's action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FileAction {
    Open,
    Save,
    ExportFigure,
    ExportNpy,
    ExportGif,
}

/// A pending file dialog: the action and the path typed so far.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDialog {
    pub action: FileAction,
    pub path: String,
}

/// Shows the pending dialog, if any, and runs its action once confirmed.
pub fn ui(ctx: &egui::Context, session: &mut Session, views: &ViewRegistry, dialog: &mut Option<FileDialog>) {
    let Some(FileDialog { action, mut path }) = dialog.take() else { return };
    let mut open = true;
    let mut confirmed = false;
    egui::Window::new(s::PATH_PROMPT).collapsible(false).open(&mut open).show(ctx, |ui| {
        let response = ui.text_edit_singleline(&mut path);
        if ui.button("OK").clicked() || (response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter))) {
            confirmed = true;
        }
    });
    if confirmed {
        let outcome = run(action, Path::new(&path), session, views);
        session.report(outcome);
    } else if open {
        *dialog = Some(FileDialog { action, path });
    }
}

fn run(action: FileAction, path: &Path, session: &mut Session, views: &ViewRegistry) -> Result<String, String> {
    match action {
        FileAction::Open => {
            session.open_scenario(path);
            Ok(format!("opening {}…", path.display()))
        }
        FileAction::Save => {
            session.editor.save(path, Some(session.controls.settings())).map_err(|e| e.to_string())?;
            Ok(format!("saved {}", path.display()))
        }
        FileAction::ExportNpy => {
            let f = session.run.finished.as_ref().ok_or("no finished ensemble to export yet")?;
            let shape = f.ensemble.shape();
            write_npy_f32(path, &shape, f.ensemble.values()).map_err(|e| e.to_string())?;
            Ok(format!("wrote {} {shape:?}", path.display()))
        }
        FileAction::ExportGif => session.export_animation(path, views, session.view),
        FileAction::ExportFigure => {
            // The system's main view draws the figure, whichever view is on screen.
            let id = session.system_ui.views[0];
            let view = views.get(id).ok_or("this view has no figure")?;
            let title = session.title();
            view.export(path, &session.view_context(&title, false))
                .ok_or("this view has no figure")?
                .map_err(|e| e.to_string())?;
            Ok(format!("wrote {}", path.display()))
        }
    }
}

//! The file dialog and what it does: open or save a scenario, export the view as a figure, the
//! ensemble as `.npy` or the reverse diffusion as a GIF. The dialog browses folders (listed on
//! the loader thread), opens in the last folder used or the user's documents or home folder,
//! and asks before replacing a file.

use std::path::{Path, PathBuf};

use eframe::egui::{self, Key};

use crate::export::write_npy_f32;
use crate::gui::folder::Listing;
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

impl FileAction {
    /// Whether the action writes the file (then an existing one is replaced only once confirmed).
    fn writes(self) -> bool {
        self != Self::Open
    }

    fn title(self) -> &'static str {
        match self {
            Self::Open => s::OPEN_SCENARIO,
            Self::Save => s::SAVE_SCENARIO,
            Self::ExportFigure => s::EXPORT_FIGURE_TITLE,
            Self::ExportNpy => s::EXPORT_NPY,
            Self::ExportGif => s::EXPORT_GIF,
        }
    }
}

/// A file browser: the folder shown (listed by the loader thread), the file name, and a
/// pending question whether to replace an existing file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileDialog {
    pub action: FileAction,
    /// The folder shown; `None` until the default folder's listing names it.
    pub dir: Option<PathBuf>,
    /// The folder path as typed.
    pub dir_text: String,
    /// The file name typed or picked.
    pub name: String,
    /// Files shown: those ending in this extension (and every folder).
    extension: String,
    /// The listing of `dir` was asked for.
    asked: bool,
    /// The existing file the user is asked about replacing.
    pub replacing: Option<PathBuf>,
}

impl FileDialog {
    /// A dialog for `action`, offering `name`, in `dir` (the last folder used) or the default
    /// folder (documents or home).
    pub fn new(action: FileAction, name: &str, dir: Option<PathBuf>) -> Self {
        let extension = Path::new(name).extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
        let dir_text = dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default();
        Self { action, dir, dir_text, name: name.into(), extension, asked: false, replacing: None }
    }

    fn go(&mut self, dir: Option<PathBuf>) {
        self.dir_text = dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default();
        self.dir = dir;
        self.asked = false;
        self.replacing = None;
    }

    /// The file chosen: the name in the folder (a typed absolute path stands alone).
    fn target(&self) -> Option<PathBuf> {
        let name = self.name.trim();
        if name.is_empty() {
            return None;
        }
        if Path::new(name).is_absolute() {
            return Some(PathBuf::from(name));
        }
        self.dir.as_ref().map(|d| d.join(name))
    }
}

/// What the dialog's frame decided.
enum Outcome {
    Stay,
    Close,
    Run(PathBuf),
}

/// Shows the pending dialog, if any, and runs its action once confirmed.
pub fn ui(ctx: &egui::Context, session: &mut Session, views: &ViewRegistry, dialog: &mut Option<FileDialog>) {
    let Some(mut d) = dialog.take() else { return };
    if !d.asked {
        session.listing = None;
        session.list_folder(d.dir.clone());
        d.asked = true;
    }
    // The answer for this folder (or, before one is named, the default folder's).
    let listing = session.listing.clone().filter(|l| d.dir.as_ref().is_none_or(|dir| &l.dir == dir));
    if d.dir.is_none()
        && let Some(l) = &listing
    {
        d.dir_text = l.dir.display().to_string();
        d.dir = Some(l.dir.clone());
    }
    let mut open = true;
    let mut outcome = Outcome::Stay;
    egui::Window::new(d.action.title()).collapsible(false).default_width(520.0).open(&mut open).show(ctx, |ui| {
        outcome = browser(ui, &mut d, listing.as_ref());
    });
    match outcome {
        Outcome::Run(path) => {
            let result = run(d.action, &path, session, views);
            if result.is_ok() {
                session.dialog_dir = path.parent().map(Path::to_path_buf);
            }
            session.report(result);
        }
        Outcome::Close => {}
        Outcome::Stay if open => *dialog = Some(d),
        Outcome::Stay => {}
    }
}

fn browser(ui: &mut egui::Ui, d: &mut FileDialog, listing: Option<&Listing>) -> Outcome {
    ui.horizontal(|ui| {
        let parent = d.dir.as_ref().and_then(|p| p.parent()).map(Path::to_path_buf);
        if ui.add_enabled(parent.is_some(), egui::Button::new(s::FOLDER_UP)).on_hover_text(s::FOLDER_UP_TIP).clicked() {
            d.go(parent);
        }
        if ui.button(s::FOLDER_HOME).on_hover_text(s::FOLDER_HOME_TIP).clicked() {
            d.go(None);
        }
        let label = ui.label(s::FOLDER);
        let typed =
            ui.add(egui::TextEdit::singleline(&mut d.dir_text).desired_width(f32::INFINITY)).labelled_by(label.id);
        if typed.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter)) {
            let dir = PathBuf::from(d.dir_text.trim());
            d.go(Some(dir));
        }
    });
    let mut chosen = None;
    egui::ScrollArea::vertical().max_height(280.0).auto_shrink([false, false]).show(ui, |ui| match listing {
        None => {
            ui.weak(s::FOLDER_LISTING);
        }
        Some(Listing { entries: Err(e), .. }) => {
            ui.colored_label(ui.visuals().warn_fg_color, e);
        }
        Some(Listing { dir, entries: Ok(entries) }) => {
            let wanted = |name: &str| {
                d.extension.is_empty()
                    || Path::new(name).extension().is_some_and(|e| e.eq_ignore_ascii_case(&d.extension))
            };
            let mut shown = 0;
            for e in entries.iter().filter(|e| e.is_dir || wanted(&e.name)) {
                shown += 1;
                if e.is_dir {
                    if ui.selectable_label(false, format!("{}/", e.name)).clicked() {
                        chosen = Some((dir.join(&e.name), true));
                    }
                } else {
                    let response = ui.selectable_label(d.name == e.name, format!("{}   ({})", e.name, size(e.size)));
                    if response.clicked() {
                        d.name = e.name.clone();
                        d.replacing = None;
                    }
                    if response.double_clicked() {
                        chosen = Some((dir.join(&e.name), false));
                    }
                }
            }
            if shown == 0 {
                ui.weak(s::FOLDER_EMPTY);
            }
        }
    });
    if let Some((path, is_dir)) = chosen {
        if is_dir {
            d.go(Some(path));
            return Outcome::Stay;
        }
        return Outcome::Run(path);
    }
    let mut outcome = Outcome::Stay;
    ui.horizontal(|ui| {
        let label = ui.label(s::FILE_NAME);
        let field = ui.add(egui::TextEdit::singleline(&mut d.name).desired_width(260.0)).labelled_by(label.id);
        if field.changed() {
            d.replacing = None;
        }
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
        let verb = if d.action.writes() { s::SAVE } else { s::OPEN };
        if ui.add_enabled(d.target().is_some(), egui::Button::new(verb)).clicked() || enter {
            outcome = confirm(d, listing);
        }
        if ui.button(s::CANCEL).clicked() {
            outcome = Outcome::Close;
        }
    });
    if let Some(existing) = d.replacing.clone() {
        ui.colored_label(ui.visuals().warn_fg_color, format!("{} {}", existing.display(), s::REPLACE_QUESTION));
        ui.horizontal(|ui| {
            if ui.button(s::REPLACE).clicked() {
                outcome = Outcome::Run(existing);
            }
            if ui.button(s::KEEP).clicked() {
                d.replacing = None;
            }
        });
    }
    outcome
}

/// Runs the action, unless it would replace a file the listing shows: then asks first.
fn confirm(d: &mut FileDialog, listing: Option<&Listing>) -> Outcome {
    let Some(path) = d.target() else { return Outcome::Stay };
    let listed = |l: &Listing| {
        Some(l.dir.as_path()) == path.parent()
            && l.entries.as_ref().is_ok_and(|es| {
                es.iter().any(|e| !e.is_dir && Some(e.name.as_str()) == path.file_name().and_then(|n| n.to_str()))
            })
    };
    if d.action.writes() && listing.is_some_and(listed) {
        d.replacing = Some(path);
        return Outcome::Stay;
    }
    Outcome::Run(path)
}

/// A file size in words.
fn size(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
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
        FileAction::ExportFigure => export_figure(path, session, views),
    }
}

/// Saves the figure of the system's main view, whichever view is on screen, with the comparison
/// beside SDA when one is shown.
pub fn export_figure(path: &Path, session: &mut Session, views: &ViewRegistry) -> Result<String, String> {
    let id = session.system_ui.views[0];
    let view = views.get(id).ok_or("this view has no figure")?;
    let title = session.title();
    let comparing = session.comparing();
    view.export(path, &session.view_context(&title, comparing))
        .ok_or("this view has no figure")?
        .map_err(|e| e.to_string())?;
    Ok(format!("wrote {}", path.display()))
}

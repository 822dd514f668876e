//! The app shell: the window, the panels around the central view, and the frame loop that
//! polls the worker, runs the automation hook and debounces re-runs.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use eframe::egui::{self, Key};

use super::automation::{Automation, Outcome};
use super::compare::CompareChoice;
use super::panels::{self, files::FileDialog};
use super::session::Session;
use super::strings as s;
use super::view::ViewRegistry;
use crate::render::FieldCallback;

/// What the app starts with.
#[derive(Debug, Clone)]
pub struct AppOptions {
    /// Folder of checkpoint folders.
    pub checkpoints: PathBuf,
    /// Folder of lesson files.
    pub lessons: PathBuf,
    /// Lesson to open (file stem).
    pub preset: Option<String>,
    /// Start sampling at once.
    pub run: bool,
    /// Save a screenshot of the window to this PNG once the run has finished, then exit.
    pub screenshot: Option<PathBuf>,
    /// Write the run's reverse diffusion as an animated GIF here once it has finished, then exit.
    pub record: Option<PathBuf>,
    /// Window size in points.
    pub size: [f32; 2],
    /// Run the GUI benchmark and write its report (markdown) here, then exit.
    pub bench: Option<PathBuf>,
    /// A classical method to compare SDA with from the start.
    pub compare: CompareChoice,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the window could not be opened: {0}")]
    Window(String),
    #[error("{0}")]
    Automation(String),
}

/// Runs the app until its window closes. With `screenshot` or `bench`, returns an error if the
/// run, the screenshot or the benchmark failed.
pub fn run_app(options: AppOptions) -> Result<(), AppError> {
    let outcome: Outcome = Arc::new(Mutex::new(None));
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title(s::APP_TITLE).with_inner_size(options.size),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    let automated = options.screenshot.is_some() || options.bench.is_some() || options.record.is_some();
    let result = {
        let outcome = outcome.clone();
        eframe::run_native(
            s::APP_TITLE,
            native,
            Box::new(move |cc| {
                let app = SdaApp::new(cc, options, outcome)
                    .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
                Ok(Box::new(app))
            }),
        )
    };
    result.map_err(|e| AppError::Window(e.to_string()))?;
    if automated {
        let outcome = outcome.lock().unwrap_or_else(|e| e.into_inner()).take();
        return match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(reason)) => Err(AppError::Automation(reason)),
            None => Err(AppError::Automation("the window closed before the screenshot was taken".into())),
        };
    }
    Ok(())
}

pub struct SdaApp {
    session: Session,
    views: ViewRegistry,
    automation: Automation,
    file_dialog: Option<FileDialog>,
}

impl SdaApp {
    fn new(cc: &eframe::CreationContext, options: AppOptions, outcome: Outcome) -> Result<Self, String> {
        if let Some(render_state) = cc.wgpu_render_state.as_ref() {
            FieldCallback::install(render_state);
        }
        cc.egui_ctx.set_visuals(egui::Visuals::dark());
        let ctx = cc.egui_ctx.clone();
        let automation = Automation::new(&options, outcome);
        let session = Session::new(options, move || ctx.request_repaint())?;
        Ok(Self { session, views: ViewRegistry::new(), automation, file_dialog: None })
    }
}

/// The central panel: the view tabs the system offers and the chosen view.
pub(super) fn central(ui: &mut egui::Ui, session: &mut Session, views: &mut ViewRegistry) {
    session.refresh_comparison();
    ui.horizontal(|ui| {
        for &id in session.system_ui.views {
            if let Some(view) = views.get(id) {
                ui.selectable_value(&mut session.view, id, view.label());
            }
        }
    });
    let Some(view) = views.get_mut(session.view) else { return };
    let title = session.title();
    let comparing = session.comparing();
    if let Some(message) = view.ui(ui, &mut session.view_context(&title, comparing)) {
        session.say(message);
    }
}

/// The window's keyboard shortcuts (undo, redo). A press anywhere in a window that does not
/// have the keyboard asks for it, so that Ctrl+Z works right after clicking a plot: the system
/// reports the Ctrl key only to the focused window.
pub(super) fn shortcuts(ctx: &egui::Context, session: &mut Session) {
    if ctx.input(|i| i.pointer.any_pressed() && !i.focused) {
        ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
    }
    if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND | egui::Modifiers::SHIFT, Key::Z)) {
        session.editor.redo();
    } else if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, Key::Z)) {
        session.editor.undo();
    }
}

impl eframe::App for SdaApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let build = Instant::now();
        let ctx = ui.ctx().clone();
        let views = &mut self.views;
        let new_frame = self.session.poll(&mut |loaded| views.loaded(loaded));
        if self.session.take_system_changed() {
            self.views.reset();
        }
        shortcuts(&ctx, &mut self.session);
        egui::Panel::top("menu").show(ui, |ui| panels::menu::ui(ui, &mut self.session, &mut self.file_dialog));
        egui::Panel::bottom("status").show(ui, |ui| panels::status::ui(ui, &self.session));
        egui::Panel::left("controls").default_size(330.0).show(ui, |ui| panels::left(ui, &mut self.session));
        egui::CentralPanel::default().show(ui, |ui| central(ui, &mut self.session, &mut self.views));
        panels::files::ui(&ctx, &mut self.session, &self.views, &mut self.file_dialog);
        self.automation.record(&self.session, build.elapsed(), frame.info().cpu_usage, new_frame);
        // Automation reads what this frame shows before a settled edit replaces the job.
        self.automation.step(&ctx, &mut self.session, &self.views);
        if let Some(after) = self.session.debounce() {
            ctx.request_repaint_after(after);
        }
    }
}

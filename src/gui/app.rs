//! The app shell: panels, menus, the worker connection, debounced re-runs and the automation
//! hook (`--preset NAME --run --screenshot FILE`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};
use eframe::egui::{self, ColorImage, Key, ViewportCommand};

use super::compare::{CompareChoice, CompareControls, comparison_run, scores_table};
use super::controls::{ModelChoice, SamplerControls, models_for};
use super::diagnostics;
use super::draft::draft_plan;
use super::editor::ScenarioEditor;
use super::fields::FieldsView;
use super::figure::{FieldsFigure, SeriesFigure, save_fields, save_series};
use super::frame_bench::{FrameBench, Phase};
use super::lessons::{Lesson, ViewKind, load_lessons};
use super::phase::PhaseView;
use super::run_state::{RunState, Status};
use super::series::{self, SeriesData, SeriesView};
use super::snapshots::SnapshotsView;
use super::strings as s;
use super::tools::EditTools;
use crate::dynamics::System;
use crate::export::write_npy_f32;
use crate::observe::OperatorKind;
use crate::observe::Pattern;
use crate::render::FieldCallback;
use crate::scenario::Scenario;
use crate::worker::{Job, PriorSpec, Worker};

/// A burst of edits (a drag, a slider) re-runs the sampler once it pauses this long …
const DEBOUNCE: Duration = Duration::from_millis(200);

/// The input a job is computed from: the observations' revision and the settings' revision.
type Revision = (u64, u64);

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

/// Runs the app until its window closes. With `screenshot`, returns an error if the run or the
/// screenshot failed.
pub fn run_app(options: AppOptions) -> Result<(), AppError> {
    let outcome: Arc<Mutex<Option<Result<(), String>>>> = Arc::new(Mutex::new(None));
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default().with_title(s::APP_TITLE).with_inner_size(options.size),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    let automated = options.screenshot.is_some() || options.bench.is_some();
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Series,
    Phase,
    Fields,
    Diagnostics,
}

/// The automation hook's progress.
enum Automation {
    Off,
    WaitingForRun {
        deadline: Instant,
    },
    /// Frames to draw after the run finished, so the window shows the final state.
    Settling(u32),
    Capturing(Receiver<Arc<ColorImage>>),
    Done,
}

/// A file dialog's pending action.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FileAction {
    Open,
    Save,
    ExportFigure,
    ExportNpy,
}

pub struct SdaApp {
    options: AppOptions,
    worker: Worker,
    editor: ScenarioEditor,
    lessons: Vec<Lesson>,
    lesson: Option<usize>,
    truth_offset: u64,
    controls: SamplerControls,
    models: Vec<ModelChoice>,
    tools: EditTools,
    run: RunState,
    compare: CompareControls,
    /// The comparison's ensemble in a run state the views can draw, built once per comparison.
    compare_run: Option<RunState>,
    view: View,
    tweedie: bool,
    auto_run: bool,
    /// Input revision (observations, sampler settings) the current job was started from …
    run_revision: Option<Revision>,
    /// … and the one the last full (not draft) job was started from.
    full_revision: Option<Revision>,
    /// Bumped by every change of the sampler settings or the comparison.
    settings_revision: u64,
    settings_changed_at: Instant,
    series: SeriesView,
    phase: PhaseView,
    fields: FieldsView,
    snapshots: SnapshotsView,
    message: String,
    file_dialog: Option<(FileAction, String)>,
    automation: Automation,
    outcome: Arc<Mutex<Option<Result<(), String>>>>,
    screenshot_tx: Sender<Arc<ColorImage>>,
    screenshot_rx: Receiver<Arc<ColorImage>>,
    bench: Option<FrameBench>,
}

impl SdaApp {
    fn new(
        cc: &eframe::CreationContext,
        options: AppOptions,
        outcome: Arc<Mutex<Option<Result<(), String>>>>,
    ) -> Result<Self, String> {
        if let Some(render_state) = cc.wgpu_render_state.as_ref() {
            FieldCallback::install(render_state);
        }
        cc.egui_ctx.set_visuals(egui::Visuals::dark());
        let ctx = cc.egui_ctx.clone();
        let worker = Worker::spawn(Box::new(move || ctx.request_repaint()))
            .map_err(|e| format!("cannot start the worker thread: {e}"))?;
        let (lessons, errors) = load_lessons(&options.lessons);
        let mut message = errors.join("; ");
        let index = match &options.preset {
            Some(name) => Some(lessons.iter().position(|l| &l.name() == name).ok_or_else(|| {
                let known: Vec<String> = lessons.iter().map(Lesson::name).collect();
                format!("no lesson `{name}` in {} (known: {})", options.lessons.display(), known.join(", "))
            })?),
            None if lessons.is_empty() => None,
            None => Some(0),
        };
        let scenario = match index {
            Some(i) => lessons[i].scenario().map_err(|e| format!("lesson `{}`: {e}", lessons[i].name()))?,
            None => {
                message = format!("no lessons found in {}; {message}", options.lessons.display());
                let lesson = fallback_lesson();
                lesson.scenario().map_err(|e| e.to_string())?
            }
        };
        let editor = ScenarioEditor::new(scenario, 1).map_err(|e| e.to_string())?;
        let (screenshot_tx, screenshot_rx) = unbounded();
        let bench = options.bench.clone().map(FrameBench::new);
        let compare_choice = options.compare;
        let automation = if options.run || options.screenshot.is_some() || bench.is_some() {
            Automation::WaitingForRun { deadline: Instant::now() + Duration::from_secs(900) }
        } else {
            Automation::Off
        };
        let mut app = Self {
            options,
            worker,
            editor,
            lessons,
            lesson: None,
            truth_offset: 0,
            controls: SamplerControls::default(),
            models: Vec::new(),
            tools: EditTools::default(),
            run: RunState::default(),
            compare: CompareControls { choice: compare_choice, ..CompareControls::default() },
            compare_run: None,
            view: View::Series,
            tweedie: false,
            auto_run: true,
            run_revision: None,
            full_revision: None,
            settings_revision: 0,
            settings_changed_at: Instant::now(),
            series: SeriesView::default(),
            phase: PhaseView::default(),
            fields: FieldsView::default(),
            snapshots: SnapshotsView::default(),
            message,
            file_dialog: None,
            automation,
            outcome,
            screenshot_tx,
            screenshot_rx,
            bench,
        };
        if let Some(i) = index {
            app.open_lesson(i);
        } else {
            app.system_changed();
        }
        if matches!(app.automation, Automation::WaitingForRun { .. }) {
            app.start_run();
        }
        Ok(app)
    }

    fn system(&self) -> &System {
        &self.editor.scenario().system
    }

    /// Refreshes what depends on the system: models, tools, the default view.
    fn system_changed(&mut self) {
        let name = self.system().name();
        self.models = models_for(&self.options.checkpoints, name);
        if self.controls.model.as_ref().is_none_or(|m| !self.models.iter().any(|c| &c.dir == m)) {
            let default = crate::score::default_checkpoint_name(name);
            self.controls.model = self
                .models
                .iter()
                .find(|m| default.is_some_and(|d| m.dir.ends_with(d)))
                .or(self.models.first())
                .map(|m| m.dir.clone());
        }
        let std = self.editor.observations().first().map(|o| o.std);
        self.tools.std = std.unwrap_or(match name {
            "lorenz96" => 0.5,
            "lorenz63" => 1.0,
            // 10% of the vorticity's climatological standard deviation, as in the paper.
            "kolmogorov" => 0.46,
            _ => 0.3,
        });
        self.view = match name {
            "lorenz96" | "kolmogorov" => View::Fields,
            _ => View::Series,
        };
        self.fields = FieldsView::default();
        self.snapshots = SnapshotsView::default();
        self.run = RunState::default();
        self.run_revision = None;
        self.full_revision = None;
    }

    fn open_lesson(&mut self, index: usize) {
        let lesson = self.lessons[index].clone();
        let mut adjusted = lesson.clone();
        adjusted.truth_seed = lesson.truth_seed.wrapping_add(self.truth_offset);
        match adjusted.scenario().and_then(|sc| self.editor.replace_scenario(sc)) {
            Ok(()) => {
                self.lesson = Some(index);
                self.controls.apply(&lesson.sampler);
                if let Some(name) = &lesson.checkpoint {
                    self.controls.model = Some(self.options.checkpoints.join(name));
                }
                self.system_changed();
                self.view = match lesson.view {
                    ViewKind::Series => View::Series,
                    ViewKind::Phase => View::Phase,
                    ViewKind::Fields => View::Fields,
                    ViewKind::Diagnostics => View::Diagnostics,
                };
                self.message = format!("Lesson: {}", lesson.title);
                if self.auto_run {
                    self.start_run();
                }
            }
            Err(e) => self.message = format!("lesson `{}`: {e}", lesson.name()),
        }
    }

    /// The full job for the current input, or its draft: a real posterior of the same scenario
    /// with a smaller plan ([`draft_plan`]) and no comparison.
    fn job(&self, draft: bool) -> Result<Job, String> {
        let scenario = self.editor.scenario();
        let prior = match &scenario.system {
            System::Linear(_) => PriorSpec::ExactLinear { window: None },
            other => PriorSpec::Checkpoint(self.controls.model.clone().ok_or_else(|| {
                format!("no checkpoint for `{}` in {}", other.name(), self.options.checkpoints.display())
            })?),
        };
        let full = self.controls.plan();
        let plan = if draft { draft_plan(&scenario.system, &full) } else { full };
        Ok(Job {
            scenario: Scenario { sampler: None, ..scenario.clone() },
            prior,
            guidance: self.controls.guidance(),
            frame_members: self.controls.frame_members.min(plan.samples),
            modes_every: if draft { 0 } else { (plan.steps / 8).max(1) },
            compare: match scenario.system {
                System::Lorenz63(_) | System::Linear(_) if !draft => self.compare.method(plan.samples, plan.seed),
                _ => None,
            },
            max_modes: 4,
            plan,
        })
    }

    /// What the jobs are computed from: the observations' and the settings' revisions.
    fn revision(&self) -> Revision {
        (self.editor.revision(), self.settings_revision)
    }

    /// Time since the input last changed.
    fn quiet(&self) -> Duration {
        self.editor.changed_at().elapsed().min(self.settings_changed_at.elapsed())
    }

    /// A sampler setting or the comparison changed: drafts follow, the full job when it settles.
    fn settings_changed(&mut self) {
        self.settings_revision += 1;
        self.settings_changed_at = Instant::now();
    }

    fn start_run(&mut self) {
        self.start_job(false);
    }

    fn start_job(&mut self, draft: bool) {
        match self.job(draft) {
            Ok(job) => {
                let id = self.worker.run(job);
                self.run.follow(id, draft);
                self.run_revision = Some(self.revision());
                if !draft {
                    self.full_revision = self.run_revision;
                }
            }
            Err(e) => {
                self.message = e;
                self.run.status = Status::Failed(self.message.clone());
            }
        }
    }

    /// Reads what the worker sent; returns whether anything arrived.
    fn poll_worker(&mut self) -> bool {
        let mut any = false;
        while let Some(event) = self.worker.try_event() {
            any |= self.run.apply(event);
        }
        if let Some(frame) = self.worker.latest_frame() {
            any |= self.run.frame(frame);
        }
        any
    }

    /// Follows the input: while it changes, drafts run back to back, each for the newest input
    /// (a running draft finishes first, so every draft shown is a whole posterior); after
    /// [`DEBOUNCE`] of quiet the full job replaces them. The worker wakes the UI when a draft
    /// ends, so no polling is needed to notice it.
    fn debounce(&mut self, ctx: &egui::Context) {
        let revision = self.revision();
        if !self.auto_run || self.worker.is_paused() || self.full_revision.is_none_or(|r| r == revision) {
            return;
        }
        let quiet = self.quiet();
        let draft_busy = self.run.draft && self.run.status == Status::Running;
        if quiet >= DEBOUNCE {
            // A draft of this very input finishes first (it is short), so its posterior shows.
            if !(draft_busy && self.run_revision == Some(revision)) {
                self.start_run();
            }
            return;
        }
        if self.run_revision != Some(revision) && !draft_busy {
            self.start_job(true);
        }
        ctx.request_repaint_after(DEBOUNCE - quiet);
    }

    fn automate(&mut self, ctx: &egui::Context) {
        if self.bench.is_some() {
            self.bench_step(ctx);
            return;
        }
        match &self.automation {
            Automation::Off | Automation::Done => {}
            Automation::WaitingForRun { deadline } => {
                let deadline = *deadline;
                match &self.run.status {
                    Status::Done => self.automation = Automation::Settling(3),
                    Status::Failed(reason) => self.finish_automation(ctx, Err(format!("the run failed: {reason}"))),
                    Status::Cancelled => self.finish_automation(ctx, Err("the run was cancelled".into())),
                    _ if Instant::now() > deadline => {
                        self.finish_automation(ctx, Err("the run did not finish in 15 minutes".into()))
                    }
                    _ => ctx.request_repaint_after(Duration::from_millis(100)),
                }
            }
            Automation::Settling(n) => {
                let n = *n;
                if self.options.screenshot.is_none() {
                    self.automation = Automation::Done;
                } else if n == 0 {
                    let tx = self.screenshot_tx.clone();
                    let repaint = ctx.clone();
                    ctx.request_screenshot(move |image| {
                        let _ = tx.send(image);
                        repaint.request_repaint();
                    });
                    self.automation = Automation::Capturing(self.screenshot_rx.clone());
                } else {
                    self.automation = Automation::Settling(n - 1);
                    ctx.request_repaint();
                }
            }
            Automation::Capturing(rx) => {
                if let Ok(image) = rx.try_recv() {
                    let result = match &self.options.screenshot {
                        Some(path) => save_screenshot(path, &image),
                        None => Ok(()),
                    };
                    self.finish_automation(ctx, result);
                } else {
                    ctx.request_repaint_after(Duration::from_millis(50));
                }
            }
        }
    }

    /// The benchmark's script: stream a job, then add an observation and time the re-run.
    fn bench_step(&mut self, ctx: &egui::Context) {
        let current = self.run_revision == Some(self.revision());
        let Some(bench) = self.bench.as_mut() else { return };
        match (bench.phase, &self.run.status) {
            (_, Status::Failed(reason)) => {
                let reason = format!("the run failed: {reason}");
                self.finish_automation(ctx, Err(reason));
            }
            (Phase::Streaming, Status::Done) => {
                bench.run_seconds = self.run.finished.as_ref().map_or(f64::NAN, |f| f.timing.seconds);
                let scenario = self.editor.scenario();
                let t = scenario.length / 2 + 1;
                let op = self.tools.operator(0);
                let edit = Instant::now();
                match self.editor.add(t, op, self.tools.std, super::editor::ValueSource::Truth) {
                    Ok(_) => {
                        bench.phase = Phase::Edited { edit };
                        // As after an edit made with the mouse, in the same frame.
                        self.debounce(ctx);
                    }
                    Err(e) => {
                        let reason = format!("the benchmark's edit failed: {e}");
                        self.finish_automation(ctx, Err(reason));
                    }
                }
            }
            (Phase::Edited { edit }, status) => {
                if let Some(first) = self.run.first_frame.filter(|_| current && bench.start_to_frame_ms.is_nan()) {
                    bench.edit_to_start_ms = (self.run.asked_at - edit).as_secs_f64() * 1e3;
                    bench.start_to_frame_ms = first * 1e3;
                    bench.first_was_draft = self.run.draft;
                }
                let done = current && *status == Status::Done;
                if done && self.run.draft && bench.draft_done_ms.is_nan() {
                    bench.draft_done_ms = edit.elapsed().as_secs_f64() * 1e3;
                }
                if done && !self.run.draft {
                    bench.full_done_s = edit.elapsed().as_secs_f64();
                    bench.phase = Phase::Done;
                    let title = self.lesson.map_or_else(String::new, |i| self.lessons[i].title.clone());
                    let report = bench.report(&title, &self.run.device);
                    let out = bench.out.clone();
                    let result =
                        crate::export::write_atomically(&out, |w| std::io::Write::write_all(w, report.as_bytes()))
                            .map_err(|e| e.to_string());
                    self.finish_automation(ctx, result);
                } else {
                    // The worker wakes the GUI when a frame or event arrives; this is a fallback.
                    ctx.request_repaint_after(Duration::from_millis(250));
                }
            }
            _ => ctx.request_repaint_after(Duration::from_millis(250)),
        }
    }

    fn finish_automation(&mut self, ctx: &egui::Context, result: Result<(), String>) {
        if let Err(reason) = &result {
            self.message = reason.clone();
        }
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        self.automation = Automation::Done;
        if self.options.screenshot.is_some() || self.options.bench.is_some() {
            ctx.send_viewport_cmd(ViewportCommand::Close);
        }
    }

    fn menu_bar(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button(s::MENU_FILE, |ui| {
                for (label, action) in [
                    (s::OPEN_SCENARIO, FileAction::Open),
                    (s::SAVE_SCENARIO, FileAction::Save),
                    (s::EXPORT_PNG, FileAction::ExportFigure),
                    (s::EXPORT_SVG, FileAction::ExportFigure),
                    (s::EXPORT_NPY, FileAction::ExportNpy),
                ] {
                    if ui.button(label).clicked() {
                        let default = match (action, label) {
                            (FileAction::ExportFigure, l) if l == s::EXPORT_SVG => "sdalab-view.svg",
                            (FileAction::ExportFigure, _) => "sdalab-view.png",
                            (FileAction::ExportNpy, _) => "sdalab-ensemble.npy",
                            _ => "scenario.json",
                        };
                        self.file_dialog = Some((action, default.to_string()));
                        ui.close();
                    }
                }
            });
            ui.menu_button(s::MENU_LESSONS, |ui| {
                let mut chosen = None;
                for (i, lesson) in self.lessons.iter().enumerate() {
                    if ui.button(&lesson.title).on_hover_text(&lesson.text).clicked() {
                        chosen = Some(i);
                        ui.close();
                    }
                }
                if let Some(i) = chosen {
                    self.truth_offset = 0;
                    self.open_lesson(i);
                }
            });
            ui.separator();
            if let Some(i) = self.lesson {
                ui.label(egui::RichText::new(&self.lessons[i].title).strong());
                if ui.button(s::NEW_TRUTH).on_hover_text(s::SYSTEM_TIP).clicked() {
                    self.truth_offset += 1;
                    self.open_lesson(i);
                }
            }
        });
    }

    fn controls_panel(&mut self, ui: &mut egui::Ui) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            if let Some(i) = self.lesson {
                ui.label(&self.lessons[i].text);
                ui.separator();
            }
            ui.heading("Sampler");
            let exact = matches!(self.system(), System::Linear(_));
            let models = self.models.clone();
            let changed = self.controls.ui(ui, &models, exact);
            ui.horizontal_wrapped(|ui| {
                if ui.button(s::RUN).on_hover_text(s::RUN_TIP).clicked() {
                    self.start_run();
                }
                if changed {
                    self.settings_changed();
                }
                let paused = self.worker.is_paused();
                if ui.button(if paused { s::RESUME } else { s::PAUSE }).on_hover_text(s::PAUSE_TIP).clicked() {
                    self.worker.pause(!paused);
                }
                if ui.add_enabled(paused, egui::Button::new(s::STEP)).on_hover_text(s::STEP_TIP).clicked() {
                    self.worker.step();
                }
                if ui.button(s::CANCEL).on_hover_text(s::CANCEL_TIP).clicked() {
                    self.worker.cancel();
                }
            });
            ui.checkbox(&mut self.auto_run, s::AUTO_RUN).on_hover_text(s::AUTO_RUN_TIP);
            ui.checkbox(&mut self.tweedie, s::SHOW_TWEEDIE).on_hover_text(s::SHOW_TWEEDIE_TIP);
            if let Some(f) = &self.run.finished {
                let last = f.history.len().saturating_sub(1);
                ui.add(egui::Slider::new(&mut self.run.scrub, 0..=last).text(s::SCRUB)).on_hover_text(s::SCRUB_TIP);
            }
            ui.separator();
            ui.heading(s::COMPARE_HEADING).on_hover_text(s::COMPARE_TIP);
            if matches!(self.system().name(), "lorenz96" | "kolmogorov") {
                // Field views have no side-by-side layout; the command line runs these methods.
                self.compare.choice = CompareChoice::None;
                ui.label(s::COMPARE_FIELDS);
            } else if self.compare.ui(ui) {
                self.settings_changed();
            }
            ui.separator();
            self.observation_tools(ui);
            ui.separator();
            self.modes_list(ui);
        });
    }

    fn observation_tools(&mut self, ui: &mut egui::Ui) {
        ui.heading(s::OBSERVE);
        ui.toggle_value(&mut self.tools.edit, s::EDIT_MODE).on_hover_text(s::EDIT_MODE_TIP);
        let fields = matches!(self.system().name(), "lorenz96" | "kolmogorov");
        if fields {
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.tools.brush, true, s::BRUSH).on_hover_text(s::BRUSH_TIP);
                ui.selectable_value(&mut self.tools.brush, false, s::ERASER).on_hover_text(s::ERASER_TIP);
            });
        } else {
            ui.horizontal(|ui| {
                ui.label(s::OPERATOR).on_hover_text(s::OPERATOR_TIP);
                for kind in [OperatorKind::Identity, OperatorKind::Abs, OperatorKind::Square] {
                    ui.selectable_value(&mut self.tools.op, kind, kind.name()).on_hover_text(s::OPERATOR_TIP);
                }
            });
            ui.checkbox(&mut self.tools.from_truth, s::FROM_TRUTH).on_hover_text(s::FROM_TRUTH_TIP);
        }
        if self.editor.scenario().truth.is_none() {
            ui.label(s::NO_TRUTH);
        }
        let slider = ui
            .add(egui::Slider::new(&mut self.tools.std, 0.01..=10.0).logarithmic(true).text(s::NOISE))
            .on_hover_text(s::NOISE_TIP);
        if slider.drag_started() {
            self.editor.begin_drag();
        }
        if slider.changed()
            && let Err(e) = self.editor.set_std(self.tools.std, false)
        {
            self.message = e.to_string();
        }
        ui.horizontal_wrapped(|ui| {
            if ui.button(s::RESAMPLE).on_hover_text(s::RESAMPLE_TIP).clicked()
                && let Err(e) = self.editor.resample_noise()
            {
                self.message = e.to_string();
            }
            if ui.button(s::CLEAR).on_hover_text(s::CLEAR_TIP).clicked() {
                let _ = self.editor.replace_all(Vec::new());
            }
            if ui.add_enabled(self.editor.can_undo(), egui::Button::new(s::UNDO)).clicked() {
                self.editor.undo();
            }
            if ui.add_enabled(self.editor.can_redo(), egui::Button::new(s::REDO)).clicked() {
                self.editor.redo();
            }
        });
        if fields {
            ui.label(s::PRESETS).on_hover_text(s::PRESETS_TIP);
            let random = Pattern::Random { percent: 10.0, seed: self.editor.revision() };
            let presets: Vec<(&str, Pattern)> = if self.system().name() == "kolmogorov" {
                vec![
                    ("coarse 8×8 every 4th", Pattern::Blocks { size: 4, times: 4 }),
                    ("sparse grid", Pattern::Stations { stations: 4, times: 1 }),
                    ("random 10%", random),
                    ("centre patch", Pattern::Patch { size: 12, times: 1 }),
                    ("circle", Pattern::Annulus { inner: 9.0, outer: 12.0, times: 1 }),
                    ("satellite swath", Pattern::Swath { width: 8, shift: 4, times: 1 }),
                ]
            } else {
                vec![
                    ("every 4th station", Pattern::Stations { stations: 4, times: 1 }),
                    ("every 4th time", Pattern::Stations { stations: 1, times: 4 }),
                    ("satellite swath", Pattern::Swath { width: 6, shift: 3, times: 1 }),
                    ("random 10%", random),
                    ("coarse 4-blocks", Pattern::Blocks { size: 4, times: 2 }),
                ]
            };
            ui.horizontal_wrapped(|ui| {
                for (label, pattern) in presets {
                    if ui.button(label).on_hover_text(s::PRESETS_TIP).clicked() {
                        self.apply_pattern(&pattern);
                    }
                }
            });
        }
    }

    fn apply_pattern(&mut self, pattern: &Pattern) {
        let scenario = self.editor.scenario();
        let result = pattern
            .cells(scenario.length, &scenario.system.chain().state_shape())
            .map_err(|e| e.to_string())
            .and_then(|cells| self.editor.observe_truth(&cells, self.tools.std).map_err(|e| e.to_string()))
            .and_then(|obs| self.editor.replace_all(obs).map_err(|e| e.to_string()));
        if let Err(e) = result {
            self.message = e;
        }
    }

    fn modes_list(&mut self, ui: &mut egui::Ui) {
        ui.heading(s::MODES).on_hover_text(s::MODES_TIP);
        match &self.run.finished {
            Some(f) => {
                for (m, mode) in f.modes.iter().enumerate() {
                    ui.horizontal(|ui| {
                        let (rect, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
                        ui.painter().rect_filled(rect, 2.0, super::palette::mode(m));
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

    fn status_line(&self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            let state = match &self.run.status {
                Status::Idle => "idle".to_string(),
                Status::Running if self.worker.is_paused() => "paused".to_string(),
                Status::Running if self.run.draft => s::DRAFT_RUNNING.to_string(),
                Status::Running => "sampling".to_string(),
                Status::Done if self.run.draft => s::DRAFT_DONE.to_string(),
                Status::Done => "done".to_string(),
                Status::Cancelled => "cancelled".to_string(),
                Status::Failed(reason) => format!("failed: {reason}"),
            };
            ui.label(format!("{state} · device: {}", if self.run.device.is_empty() { "…" } else { &self.run.device }));
            if let Some(frame) = self.run.frame_shown() {
                let rate = if frame.elapsed > 0.0 { frame.evaluations as f64 / frame.elapsed } else { 0.0 };
                ui.label(format!(
                    "· step {}/{} · t = {:.3} · corrections {} · {:.1} s · {:.1} network calls/s · misfit {:.2}",
                    frame.step,
                    frame.steps,
                    frame.t,
                    if self.run.draft { 0 } else { frame.step * self.controls.corrections },
                    frame.elapsed,
                    rate,
                    frame.misfit
                ));
            }
            if let Some(first) = self.run.first_frame {
                ui.label(format!("· first frame {:.0} ms", first * 1000.0));
            }
            if !self.message.is_empty() {
                ui.label(
                    egui::RichText::new(format!("· {}", self.message)).color(egui::Color32::from_rgb(255, 190, 90)),
                );
            }
        });
    }

    fn views(&mut self, ui: &mut egui::Ui) {
        let name = self.system().name();
        ui.horizontal(|ui| {
            match name {
                "lorenz96" | "kolmogorov" => {
                    ui.selectable_value(&mut self.view, View::Fields, s::VIEW_FIELDS);
                }
                "lorenz63" => {
                    ui.selectable_value(&mut self.view, View::Series, s::VIEW_SERIES);
                    ui.selectable_value(&mut self.view, View::Phase, s::VIEW_PHASE);
                }
                _ => {
                    ui.selectable_value(&mut self.view, View::Series, s::VIEW_SERIES);
                }
            }
            ui.selectable_value(&mut self.view, View::Diagnostics, s::VIEW_DIAGNOSTICS);
        });
        let modes = self.run.finished.as_ref().map(|f| f.modes.clone()).unwrap_or_default();
        let truth = self.editor.scenario().truth.clone();
        let dim = self.editor.scenario().state_dim();
        let fields_view = self.view == View::Fields || (self.view == View::Series && name == "lorenz96");
        let message = if name == "kolmogorov" && self.view == View::Fields {
            self.snapshots.ui(ui, &mut self.editor, &self.tools, &self.run, self.tweedie)
        } else if fields_view {
            let m = self.fields.ui(ui, &mut self.editor, &self.tools, &self.run, self.tweedie);
            let mut series_message = None;
            if let Some(station) = self.fields.station {
                let data = SeriesData {
                    run: &self.run,
                    tweedie: self.tweedie,
                    components: vec![(station, format!("station {station}"))],
                    modes: &modes,
                    id: "series",
                    link_y: false,
                    y_include: None,
                };
                series_message = self.series.ui(ui, &mut self.editor, &self.tools, &data);
            }
            m.or(series_message)
        } else {
            match self.view {
                View::Series | View::Phase if self.comparing() => self.side_by_side(ui, &modes),
                View::Series => {
                    let components = component_names(name, dim);
                    let data = SeriesData {
                        run: &self.run,
                        tweedie: self.tweedie,
                        components,
                        modes: &modes,
                        id: "series",
                        link_y: false,
                        y_include: None,
                    };
                    self.series.ui(ui, &mut self.editor, &self.tools, &data)
                }
                View::Phase => {
                    self.phase.ui(ui, &self.run, truth.as_deref(), self.tweedie, &modes);
                    None
                }
                View::Diagnostics => {
                    diagnostics::ui(ui, &self.run, truth.as_deref(), self.tweedie);
                    None
                }
                View::Fields => None,
            }
        };
        if let Some(m) = message {
            self.message = m;
        }
    }

    /// Whether a classical method is being compared with SDA.
    fn comparing(&self) -> bool {
        self.compare.choice != CompareChoice::None || self.run.comparison.is_some()
    }

    /// SDA (left) and the classical method (right) in the current view, on shared axes, with the
    /// scores table underneath. Returns a status message from an edit, if any.
    fn side_by_side(&mut self, ui: &mut egui::Ui, modes: &[crate::metrics::Mode]) -> Option<String> {
        let comparison = self.run.comparison.clone();
        let stale = match (&comparison, &self.compare_run) {
            (Some(c), Some(r)) => r.job != Some(c.job),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if stale {
            self.compare_run = comparison.as_deref().map(comparison_run);
        } else if comparison.is_none() {
            self.compare_run = None;
        }
        let name = self.system().name();
        let dim = self.editor.scenario().state_dim();
        let truth = self.editor.scenario().truth.clone();
        let row = ui.text_style_height(&egui::TextStyle::Body) + ui.spacing().item_spacing.y + 2.0;
        let table_height = 3.0 * row + 18.0 * comparison.as_ref().map_or(0, |c| c.notes.len()) as f32 + 24.0;
        let plots_height = (ui.available_height() - table_height).max(200.0);
        let width = ui.available_width();
        let message = ui
            .allocate_ui(egui::vec2(width, plots_height), |ui| {
                ui.columns(2, |columns| {
                    let mut message = None;
                    let (left, right) = columns.split_at_mut(1);
                    let (left, right) = (&mut left[0], &mut right[0]);
                    left.strong("SDA");
                    right.strong(comparison.as_ref().map_or(s::COMPARE_WAITING.to_string(), |c| c.label.clone()));
                    let compare_modes = comparison.as_ref().map(|c| c.modes.clone()).unwrap_or_default();
                    if self.view == View::Phase {
                        self.phase.ui(left, &self.run, truth.as_deref(), self.tweedie, modes);
                        if let Some(run) = &self.compare_run {
                            self.phase.ui(right, run, truth.as_deref(), false, &compare_modes);
                        }
                    } else {
                        let length = self.editor.scenario().length;
                        let runs: Vec<(&RunState, bool)> =
                            [Some((&self.run, self.tweedie)), self.compare_run.as_ref().map(|r| (r, false))]
                                .into_iter()
                                .flatten()
                                .collect();
                        let y_include = series::shared_ranges(&runs, truth.as_deref(), dim, length);
                        let data = SeriesData {
                            run: &self.run,
                            tweedie: self.tweedie,
                            components: component_names(name, dim),
                            modes,
                            id: "series",
                            link_y: true,
                            y_include: y_include.clone(),
                        };
                        message = self.series.ui(left, &mut self.editor, &self.tools, &data);
                        if let Some(run) = &self.compare_run {
                            let data = SeriesData {
                                run,
                                tweedie: false,
                                components: component_names(name, dim),
                                modes: &compare_modes,
                                id: "compare",
                                link_y: true,
                                y_include,
                            };
                            message = message.or(self.series.ui(right, &mut self.editor, &self.tools, &data));
                        }
                    }
                    message
                })
            })
            .inner;
        ui.separator();
        scores_table(ui, self.run.finished.as_ref(), comparison.as_deref());
        message
    }

    fn file_dialog(&mut self, ctx: &egui::Context) {
        let Some((action, mut path)) = self.file_dialog.take() else { return };
        let mut open = true;
        let mut confirmed = false;
        egui::Window::new(s::PATH_PROMPT).collapsible(false).open(&mut open).show(ctx, |ui| {
            let response = ui.text_edit_singleline(&mut path);
            if ui.button("OK").clicked() || (response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter))) {
                confirmed = true;
            }
        });
        if confirmed {
            self.message = match self.file_action(action, Path::new(&path)) {
                Ok(done) => done,
                Err(e) => e,
            };
        } else if open {
            self.file_dialog = Some((action, path));
        }
    }

    fn file_action(&mut self, action: FileAction, path: &Path) -> Result<String, String> {
        match action {
            FileAction::Open => {
                self.editor.load(path).map_err(|e| e.to_string())?;
                if let Some(settings) = &self.editor.scenario().sampler.clone() {
                    self.controls.apply(settings);
                }
                self.lesson = None;
                self.system_changed();
                self.start_run();
                Ok(format!("opened {}", path.display()))
            }
            FileAction::Save => {
                self.editor.save(path, Some(self.controls.settings())).map_err(|e| e.to_string())?;
                Ok(format!("saved {}", path.display()))
            }
            FileAction::ExportNpy => {
                let f = self.run.finished.as_ref().ok_or("no finished ensemble to export yet")?;
                let scenario = self.editor.scenario();
                let shape: Vec<usize> =
                    [vec![f.samples, scenario.length], scenario.system.chain().state_shape()].concat();
                write_npy_f32(path, &shape, &f.ensemble).map_err(|e| e.to_string())?;
                Ok(format!("wrote {} {shape:?}", path.display()))
            }
            FileAction::ExportFigure => {
                self.export_figure(path).map_err(|e| e.to_string())?;
                Ok(format!("wrote {}", path.display()))
            }
        }
    }

    fn export_figure(&self, path: &Path) -> Result<(), crate::export::ExportError> {
        let scenario = self.editor.scenario();
        let name = scenario.system.name();
        let dim = scenario.state_dim();
        let title = self.lesson.map_or_else(|| name.to_string(), |i| self.lessons[i].title.clone());
        if name == "kolmogorov" {
            // Each row of the snapshot grid as one panel, the states stacked downwards.
            let data = self.snapshots.rows(&self.editor, &self.run, self.tweedie);
            let shape = scenario.system.chain().state_shape();
            let panels = data
                .rows
                .iter()
                .zip(super::snapshots::ROWS)
                .enumerate()
                .map(|(r, (values, row))| {
                    let (lo, hi, colormap) = if r == 3 {
                        (0.0, data.spread, crate::render::Colormap::Sequential)
                    } else {
                        (-data.range, data.range, crate::render::Colormap::Diverging)
                    };
                    let image = crate::render::FieldImage {
                        width: shape[1],
                        height: shape[0] * scenario.length,
                        values: values.iter().map(|&v| v as f32).collect(),
                        lo: lo as f32,
                        hi: hi as f32,
                        colormap,
                    };
                    (row.to_string(), image)
                })
                .collect();
            return save_fields(path, &FieldsFigure { title, panels });
        }
        if name == "lorenz96" {
            let panels = self.fields_images();
            return save_fields(path, &FieldsFigure { title, panels });
        }
        let shown = self.run.shown(self.tweedie);
        let fig = SeriesFigure {
            title,
            components: component_names(name, dim),
            length: scenario.length,
            dim,
            members: shown,
            mean_std: self.run.statistics_source(self.tweedie).map(|e| e.mean_std()),
            truth: scenario.truth.as_deref(),
            observations: &scenario.observations,
        };
        save_series(path, &fig)
    }

    fn fields_images(&self) -> Vec<(String, crate::render::FieldImage)> {
        self.fields
            .images(&self.editor, &self.run, self.tweedie)
            .into_iter()
            .zip(super::fields::PANELS)
            .map(|(image, name)| (name.to_string(), image))
            .collect()
    }
}

/// Names of the plotted components.
fn component_names(system: &str, dim: usize) -> Vec<(usize, String)> {
    match system {
        "lorenz63" => vec![(0, "x".into()), (1, "y".into()), (2, "z".into())],
        _ => (0..dim).map(|c| (c, format!("x{}", c + 1))).collect(),
    }
}

/// Saves an egui screenshot as PNG, atomically.
fn save_screenshot(path: &Path, image: &ColorImage) -> Result<(), String> {
    let [w, h] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, bytes).ok_or("screenshot has an unexpected size")?;
    crate::export::write_atomically(path, |out| {
        buffer.write_to(out, image::ImageOutputFormat::Png).map_err(|e| std::io::Error::other(e.to_string()))
    })
    .map_err(|e| format!("cannot save the screenshot: {e}"))
}

/// The lesson used when no lesson files are found: Lorenz-63, x observed every 8th state.
fn fallback_lesson() -> Lesson {
    Lesson {
        order: 0,
        title: "Lorenz-63, x every 8th state".into(),
        text: String::new(),
        system: serde_json::json!("lorenz63"),
        length: 65,
        truth_seed: 1,
        truths: None,
        std: 0.4,
        pattern: Pattern::Every { every: 8, offset: 0, op: "identity".into(), indices: vec![0] },
        sampler: Default::default(),
        checkpoint: None,
        view: ViewKind::Series,
        path: PathBuf::from("fallback.json"),
    }
}

impl eframe::App for SdaApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let build = Instant::now();
        let ctx = ui.ctx().clone();
        let new_frame = self.poll_worker();
        if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND | egui::Modifiers::SHIFT, Key::Z)) {
            self.editor.redo();
        } else if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, Key::Z)) {
            self.editor.undo();
        }
        egui::Panel::top("menu").show(ui, |ui| self.menu_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_line(ui));
        egui::Panel::left("controls").default_size(330.0).show(ui, |ui| self.controls_panel(ui));
        egui::CentralPanel::default().show(ui, |ui| self.views(ui));
        self.file_dialog(&ctx);
        if self.run.status == Status::Running
            && let Some(bench) = self.bench.as_mut()
        {
            bench.record(build.elapsed(), frame.info().cpu_usage, new_frame);
        }
        // Automation reads what this frame shows before a settled edit replaces the job.
        self.automate(&ctx);
        self.debounce(&ctx);
    }
}

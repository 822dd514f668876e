//! The app's state and what it asks of the worker: the scenario being edited, the lessons, the
//! sampler and comparison settings, the job followed, and the debounced re-runs that follow the
//! input. Panels and views read and edit it; it owns no drawing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::animation::Animation;
use super::app::AppOptions;
use super::compare::{CompareChoice, CompareControls};
use super::controls::{ModelChoice, SamplerControls};
use super::draft::draft_plan;
use super::editor::ScenarioEditor;
use super::estimate::SpeedLog;
use super::folder::Listing;
use super::lessons::Lesson;
use super::loading::{Loaded, task};
use super::run_state::{RunState, Status};
use super::strings as s;
use super::system_ui::SystemUi;
use super::tools::EditTools;
use super::view::{Beside, ViewContext, ViewId, ViewRegistry};
use crate::dynamics::{Lorenz63, System};
use crate::observe::Pattern;
use crate::pipeline::PriorSpec;
use crate::scenario::{GuidanceRule, Scenario};
use crate::score::default_checkpoint_name;
use crate::worker::{Finished, Job, Loader, Waker, Worker};

/// A burst of edits (a drag, a slider) re-runs the sampler once it pauses this long …
const DEBOUNCE: Duration = Duration::from_millis(200);

/// The input a job is computed from: the revisions of the observations, the sampler settings and
/// the comparison.
type Revision = (u64, u64, u64);

/// Where the app is in starting up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Startup {
    /// Waiting for the lessons, then for the first lesson's scenario.
    Loading,
    Ready,
    /// The lesson asked for on the command line does not exist.
    Failed(String),
}

pub struct Session {
    pub options: AppOptions,
    pub worker: Worker,
    loader: Loader<Loaded>,
    pub startup: Startup,
    pub editor: ScenarioEditor,
    pub lessons: Vec<Lesson>,
    pub lesson: Option<usize>,
    pub truth_offset: u64,
    pub controls: SamplerControls,
    pub models: Vec<ModelChoice>,
    pub tools: EditTools,
    pub run: RunState,
    pub compare: CompareControls,
    /// The comparison's ensemble in a run state the views can draw, built once per comparison.
    pub compare_run: Option<RunState>,
    /// Measured speed of finished runs, for estimates.
    speeds: SpeedLog,
    /// Whether `compare_run`'s mode colours were matched to SDA's finished modes.
    compare_matched: bool,
    pub view: ViewId,
    pub system_ui: SystemUi,
    pub tweedie: bool,
    pub auto_run: bool,
    /// Input revision (observations, sampler settings) the current job was started from …
    run_revision: Option<Revision>,
    /// … and the one the last full (not draft) job was started from.
    full_revision: Option<Revision>,
    /// Bumped by every change of the sampler settings …
    settings_revision: u64,
    /// … and of the comparison.
    compare_revision: u64,
    settings_changed_at: Instant,
    /// The system changed since the views last heard of it.
    system_changed: bool,
    /// The last folder listed for the file dialog …
    pub listing: Option<Listing>,
    /// … and the folder of the last file it opened or wrote, where it opens next.
    pub dialog_dir: Option<PathBuf>,
    /// How the last animation asked for ended (for the automation), until taken.
    pub animation_written: Option<Result<String, String>>,
    /// A status message; cleared by the next action that succeeds.
    pub message: String,
    /// The input revision the message was set at: an edit or a setting changed since then means
    /// a later action succeeded, and the message goes.
    message_revision: Revision,
}

impl Session {
    /// Starts the worker and its loader and asks for the lessons; `wake` repaints the UI.
    pub fn new(options: AppOptions, wake: impl Fn() + Clone + Send + 'static) -> Result<Self, String> {
        let worker_wake: Waker = Box::new(wake.clone());
        let worker = Worker::spawn(worker_wake).map_err(|e| format!("cannot start the worker thread: {e}"))?;
        let loader = Loader::spawn(Box::new(wake)).map_err(|e| format!("cannot start the loader thread: {e}"))?;
        loader.load(task::lessons(options.lessons.clone()));
        loader.load(task::attractor());
        // An empty scenario stands in until the first lesson arrives.
        let placeholder = Scenario {
            system: System::Lorenz63(Lorenz63::new()),
            length: 65,
            observations: Vec::new(),
            truth: None,
            sampler: None,
        };
        let editor = ScenarioEditor::new(placeholder, 1).map_err(|e| e.to_string())?;
        let system_ui = SystemUi::of(&editor.scenario().system);
        let compare = CompareControls { choice: options.compare, ..CompareControls::default() };
        Ok(Self {
            options,
            worker,
            loader,
            startup: Startup::Loading,
            editor,
            lessons: Vec::new(),
            lesson: None,
            truth_offset: 0,
            controls: SamplerControls::default(),
            models: Vec::new(),
            tools: EditTools::default(),
            run: RunState::default(),
            compare,
            compare_run: None,
            speeds: SpeedLog::default(),
            compare_matched: false,
            view: system_ui.views[0],
            system_ui,
            tweedie: false,
            auto_run: true,
            run_revision: None,
            full_revision: None,
            settings_revision: 0,
            compare_revision: 0,
            settings_changed_at: Instant::now(),
            system_changed: true,
            animation_written: None,
            listing: None,
            dialog_dir: None,
            message: "loading the lessons…".into(),
            message_revision: (0, 0, 0),
        })
    }

    pub fn system(&self) -> &System {
        &self.editor.scenario().system
    }

    /// Whether the system changed since this was last asked (the views then forget their state).
    pub fn take_system_changed(&mut self) -> bool {
        std::mem::take(&mut self.system_changed)
    }

    /// Shows `text` in the status line until a later action succeeds.
    pub fn say(&mut self, text: String) {
        self.message = text;
        self.message_revision = self.revision();
    }

    /// Reads what the worker and the loader sent; returns whether a new frame arrived. Loader
    /// answers are handed to `also` after the session has used them.
    pub fn poll(&mut self, also: &mut dyn FnMut(&Loaded)) -> bool {
        if !self.message.is_empty() && self.revision() != self.message_revision {
            self.message.clear();
        }
        while let Some(result) = self.loader.try_result() {
            match result {
                Ok(loaded) => {
                    self.loaded(&loaded);
                    also(&loaded);
                }
                Err(e) => self.say(e.to_string()),
            }
        }
        let mut any = false;
        let was_finished = self.run.finished.is_some();
        while let Some(event) = self.worker.try_event() {
            any |= self.run.apply(event);
        }
        if let Some(f) = self.run.finished.as_ref().filter(|_| !was_finished && !self.run.draft) {
            let kind = self.run_kind();
            self.speeds.record(&kind, f.timing.seconds, f.timing.evaluations, f.samples);
        }
        if let Some(frame) = self.worker.latest_frame() {
            any |= self.run.frame(frame);
        }
        any
    }

    fn loaded(&mut self, loaded: &Loaded) {
        match loaded {
            Loaded::Lessons { lessons, errors } => self.lessons_loaded(lessons.clone(), errors),
            Loaded::Lesson { index, lesson, scenario } => match scenario {
                Ok(scenario) => self.lesson_opened(*index, lesson, scenario.clone()),
                Err(e) => self.say(e.clone()),
            },
            Loaded::Scenario { path, scenario } => match scenario {
                Ok(scenario) => self.scenario_opened(path, scenario.clone()),
                Err(e) => self.say(e.clone()),
            },
            Loaded::Models { system, models } => {
                if system == self.system().name() {
                    self.models = models.clone();
                    self.choose_model();
                }
            }
            Loaded::Attractor(_) => {}
            Loaded::Listing(listing) => self.listing = Some(listing.clone()),
            Loaded::Animation { path, written } => {
                let outcome = match written {
                    Ok(frames) => Ok(format!("wrote {} ({frames} pictures)", path.display())),
                    Err(e) => Err(format!("cannot write the animation: {e}")),
                };
                self.animation_written = Some(outcome.clone());
                self.report(outcome);
            }
        }
    }

    fn lessons_loaded(&mut self, lessons: Vec<Lesson>, errors: &[String]) {
        self.lessons = lessons;
        self.say(errors.join("; "));
        let index = match &self.options.preset {
            Some(name) => match self.lessons.iter().position(|l| &l.name() == name) {
                Some(i) => Some(i),
                None => {
                    let known: Vec<String> = self.lessons.iter().map(Lesson::name).collect();
                    let reason = format!(
                        "no lesson `{name}` in {} (known: {})",
                        self.options.lessons.display(),
                        known.join(", ")
                    );
                    self.say(reason.clone());
                    self.startup = Startup::Failed(reason);
                    return;
                }
            },
            None => (!self.lessons.is_empty()).then_some(0),
        };
        match index {
            Some(i) => self.open_lesson(i),
            None => {
                self.say(format!("no lessons found in {}; {}", self.options.lessons.display(), self.message));
                self.loader.load(task::lesson(None, Lesson::fallback(), 0));
            }
        }
    }

    /// Asks for lesson `index`'s scenario (with the current "new truth" offset).
    pub fn open_lesson(&mut self, index: usize) {
        if let Some(lesson) = self.lessons.get(index) {
            self.loader.load(task::lesson(Some(index), lesson.clone(), self.truth_offset));
        }
    }

    fn lesson_opened(&mut self, index: Option<usize>, lesson: &Lesson, scenario: Scenario) {
        let same_system = scenario.system.name() == self.system().name();
        if let Err(e) = self.editor.replace_scenario(scenario) {
            self.say(format!("lesson `{}`: {e}", lesson.name()));
            return;
        }
        self.startup = Startup::Ready;
        self.lesson = index;
        self.controls.apply(&lesson.sampler);
        if let Some(name) = &lesson.checkpoint {
            self.controls.model = Some(self.options.checkpoints.join(name));
        } else if !same_system {
            self.controls.model = None;
        }
        self.on_system_changed();
        self.view = self.system_ui.view_for(lesson.view.into());
        self.say(format!("Lesson: {}", lesson.title));
        if self.auto_run {
            self.start_run();
        }
    }

    /// Asks for the scenario file at `path`.
    pub fn open_scenario(&mut self, path: &Path) {
        self.loader.load(task::scenario(path));
    }

    fn scenario_opened(&mut self, path: &Path, scenario: Scenario) {
        let same_system = scenario.system.name() == self.system().name();
        if let Err(e) = self.editor.replace_scenario(scenario) {
            self.say(format!("{}: {e}", path.display()));
            return;
        }
        if !same_system {
            self.controls.model = None;
        }
        if let Some(settings) = &self.editor.scenario().sampler.clone() {
            self.controls.apply(settings);
        }
        self.lesson = None;
        self.on_system_changed();
        self.say(format!("opened {}", path.display()));
        self.start_run();
    }

    /// Refreshes what depends on the system: the models on offer, tools, the default view.
    fn on_system_changed(&mut self) {
        let system = self.system().clone();
        self.system_ui = SystemUi::of(&system);
        self.models.clear();
        self.loader.load(task::models(self.options.checkpoints.clone(), system.name().to_string()));
        if self.controls.model.is_none()
            && let Ok(PriorSpec::Checkpoint(dir)) = PriorSpec::default_for(&system, &self.options.checkpoints)
        {
            self.controls.model = Some(dir);
        }
        let std = self.editor.observations().first().map(|o| o.std);
        self.tools.std = std.unwrap_or(self.system_ui.default_std);
        self.view = self.system_ui.views[0];
        if !self.system_ui.compare {
            self.compare.choice = CompareChoice::None;
        }
        self.run = RunState::default();
        self.compare_run = None;
        self.run_revision = None;
        self.full_revision = None;
        self.system_changed = true;
    }

    /// Keeps the chosen checkpoint if it is on offer, else the system's default, else the first.
    fn choose_model(&mut self) {
        // A saved scenario's model, once the checkpoints on offer are known.
        if let Some(name) = self.controls.wanted_model.take() {
            match self.models.iter().find(|m| m.dir.file_name().is_some_and(|n| n.to_string_lossy() == name)) {
                Some(m) => {
                    self.controls.model = Some(m.dir.clone());
                    return;
                }
                None => self.say(format!(
                    "the scenario's model `{name}` is not in {}; using the default",
                    self.options.checkpoints.display()
                )),
            }
        }
        if self.controls.model.as_ref().is_some_and(|m| self.models.iter().any(|c| &c.dir == m)) {
            return;
        }
        let default = default_checkpoint_name(self.system().name());
        self.controls.model = self
            .models
            .iter()
            .find(|m| default.is_some_and(|d| m.dir.ends_with(d)))
            .or(self.models.first())
            .map(|m| m.dir.clone());
    }

    /// The full job for the current input, or its draft: a real posterior of the same scenario
    /// with a smaller plan ([`draft_plan`]) and no comparison.
    fn job(&self, draft: bool, reuse: Option<Arc<Finished>>) -> Result<Job, String> {
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
            compare: if self.system_ui.compare && !draft { self.compare.method(plan.samples, plan.seed) } else { None },
            max_modes: 4,
            plan,
            reuse,
        })
    }

    /// What the jobs are computed from: the observations' and the settings' revisions.
    pub fn revision(&self) -> Revision {
        (self.editor.revision(), self.settings_revision, self.compare_revision)
    }

    /// Whether the job followed was started from the current input.
    pub fn current(&self) -> bool {
        self.run_revision == Some(self.revision())
    }

    /// Time since the input last changed.
    fn quiet(&self) -> Duration {
        self.editor.changed_at().elapsed().min(self.settings_changed_at.elapsed())
    }

    /// A sampler setting changed: drafts follow, the full job when it settles.
    pub fn settings_changed(&mut self) {
        self.settings_revision += 1;
        self.settings_changed_at = Instant::now();
    }

    /// The comparison changed: it runs on SDA's finished posterior when that is of the current
    /// input, else with the next full job.
    pub fn compare_changed(&mut self) {
        self.compare_revision += 1;
        self.settings_changed_at = Instant::now();
    }

    /// Samples the current input afresh.
    pub fn start_run(&mut self) {
        self.start_job(false, None);
    }

    /// Starts the draft of the current input (what an edit starts first).
    #[cfg(test)]
    pub fn start_draft(&mut self) {
        self.start_job(true, None);
    }

    /// SDA's finished posterior, if it is of the current observations and sampler settings (only
    /// the comparison may have changed since).
    fn reusable(&self) -> Option<Arc<Finished>> {
        let (observations, settings, _) = self.revision();
        let finished = self.run.finished.as_ref().filter(|_| !self.run.draft)?;
        (self.run_revision.map(|(o, s, _)| (o, s)) == Some((observations, settings))).then(|| finished.clone())
    }

    fn start_job(&mut self, draft: bool, reuse: Option<Arc<Finished>>) {
        match self.job(draft, reuse) {
            Ok(job) => {
                let id = self.worker.run(job);
                self.run.follow(id, draft);
                self.run_revision = Some(self.revision());
                if !draft {
                    self.full_revision = self.run_revision;
                }
            }
            Err(e) => {
                self.say(e);
                self.run.status = Status::Failed(self.message.clone());
            }
        }
    }

    /// Follows the input: while it changes, drafts run back to back, each for the newest input
    /// (a running draft finishes first, so every draft shown is a whole posterior); after
    /// [`DEBOUNCE`] of quiet the full job replaces them. Returns how soon to look again, if the
    /// input is still settling. The worker wakes the UI when a draft ends.
    pub fn debounce(&mut self) -> Option<Duration> {
        let revision = self.revision();
        if !self.auto_run || self.worker.is_paused() || self.full_revision.is_none_or(|r| r == revision) {
            return None;
        }
        if let Some(finished) = self.reusable() {
            // Only the comparison changed: no draft, no waiting, SDA's posterior stays.
            self.start_job(false, Some(finished));
            return None;
        }
        let quiet = self.quiet();
        let draft_busy = self.run.draft && self.run.status == Status::Running;
        if quiet >= DEBOUNCE {
            // A draft of this very input finishes first (it is short), so its posterior shows.
            if !(draft_busy && self.run_revision == Some(revision)) {
                self.start_run();
            }
            return None;
        }
        if self.run_revision != Some(revision) && !draft_busy {
            self.start_job(true, None);
        }
        Some(DEBOUNCE - quiet)
    }

    /// Observes the truth with `pattern`, replacing every observation.
    pub fn apply_pattern(&mut self, pattern: &Pattern) {
        let scenario = self.editor.scenario();
        let result = pattern
            .cells(scenario.length, &scenario.system.chain().state_shape())
            .map_err(|e| e.to_string())
            .and_then(|cells| self.editor.observe_truth(&cells, self.tools.std).map_err(|e| e.to_string()))
            .and_then(|obs| self.editor.replace_all(obs).map_err(|e| e.to_string()));
        self.report(result.map(|()| String::new()));
    }

    /// Asks the loader to list `dir` (`None`: the default folder) for the file dialog.
    pub fn list_folder(&mut self, dir: Option<PathBuf>) {
        self.loader.load(task::listing(dir));
    }

    /// Writes the finished run's replay, as the view `id` draws it (or the system's main view
    /// for one with no figure), to the GIF at `path` on the loader thread; the status line
    /// says when it is written.
    pub fn export_animation(&mut self, path: &Path, views: &ViewRegistry, id: ViewId) -> Result<String, String> {
        if self.run.finished.is_none() {
            return Err("no finished run to animate yet: wait for the run to end".into());
        }
        let title = self.title();
        let draw = {
            let ctx = self.view_context(&title, false);
            let from = |id| views.get(id).and_then(|v| v.animation(&ctx));
            from(id).or_else(|| from(ctx.system.views[0])).ok_or("this view cannot be animated")?
        };
        let animation = Animation { run: self.run.clone(), title: title.clone(), draw };
        self.loader.load(task::animation(path, animation));
        Ok(format!("writing {}…", path.display()))
    }

    /// Shows the outcome of an action: an error stays until the next action succeeds.
    pub fn report(&mut self, outcome: Result<String, String>) {
        match outcome {
            Ok(done) => self.say(done),
            Err(e) => self.say(e),
        }
    }

    /// The comparison's run state, rebuilt when a new comparison arrives.
    pub fn refresh_comparison(&mut self) {
        let comparison = self.run.comparison.clone();
        // Rebuilt also once SDA has finished, to colour its modes as SDA's.
        let sda_done = self.run.finished.is_some();
        let stale = match (&comparison, &self.compare_run) {
            (Some(c), Some(r)) => r.job != Some(c.job) || sda_done != self.compare_matched,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if stale {
            let sda_modes = self.run.finished.as_ref().map(|f| f.modes.clone()).unwrap_or_default();
            self.compare_matched = sda_done;
            self.compare_run = comparison.as_deref().map(|c| super::compare::comparison_run(c, &sda_modes));
        } else if comparison.is_none() {
            self.compare_run = None;
        }
    }

    /// What makes runs comparable in cost: the system, the model and the guidance rule.
    fn run_kind(&self) -> String {
        format!("{}/{:?}/{:?}", self.system().name(), self.controls.model, self.controls.guidance)
    }

    /// Seconds the full run of the current settings should take, from the last finished run of
    /// the same kind.
    pub fn estimate(&self) -> Option<f64> {
        let plan = self.controls.plan();
        self.speeds.estimate(&self.run_kind(), plan.evaluations(), plan.samples)
    }

    /// Whether a classical method is being compared with SDA.
    pub fn comparing(&self) -> bool {
        self.compare.choice != CompareChoice::None || self.run.comparison.is_some()
    }

    /// What a view draws and edits, with the comparison beside SDA when `beside`.
    pub fn view_context<'a>(&'a mut self, title: &'a str, beside: bool) -> ViewContext<'a> {
        let beside =
            beside.then_some(Beside { report: self.run.comparison.as_deref(), run: self.compare_run.as_ref() });
        ViewContext {
            editor: &mut self.editor,
            tools: &self.tools,
            run: &self.run,
            tweedie: self.tweedie,
            system: &self.system_ui,
            beside,
            title,
            mean_label: if self.controls.guidance == GuidanceRule::None { s::PRIOR_MEAN } else { s::MEAN },
        }
    }

    /// The title of figures: the lesson's, else the system's name.
    pub fn title(&self) -> String {
        self.lesson
            .and_then(|i| self.lessons.get(i))
            .map_or_else(|| self.system().name().to_string(), |l| l.title.clone())
    }
}

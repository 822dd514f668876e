//! Lessons: ready-made observation scenarios with a title and a short explanation, read from
//! `assets/presets/*.json`. A lesson simulates its truth from a seed (or picks one from stored
//! trajectories) and observes it with a [`Pattern`], so the files stay small and readable.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::Pattern;
use super::view::ViewId;
use crate::dynamics::simulate_trajectory;
use crate::export::read_npy_f32;
use crate::rng;
use crate::scenario::{SamplerSettings, Scenario, ScenarioError, system_from_json_str};

/// Which view a lesson opens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ViewKind {
    #[default]
    Series,
    Phase,
    Fields,
    Diagnostics,
}

/// A lesson file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    /// Position in the Lessons menu.
    #[serde(default)]
    pub order: i64,
    pub title: String,
    pub text: String,
    /// A system name or a linear model object, as in scenario files.
    pub system: Value,
    pub length: usize,
    /// The truth is simulated from this seed (stream 0, after the system's burn-in), or, with
    /// `truths`, picks a stored trajectory and a starting state.
    pub truth_seed: u64,
    /// An `.npy` of stored trajectories `(N, L', state…)` beside the lesson, for systems too slow
    /// to simulate on opening (Kolmogorov flow): the truth is trajectory `truth_seed mod N` from
    /// state `(truth_seed div N)·length mod (L' − length + 1)`.
    #[serde(default)]
    pub truths: Option<String>,
    /// Observation noise std, physical units.
    pub std: f64,
    pub pattern: Pattern,
    #[serde(default)]
    pub sampler: SamplerSettings,
    /// Checkpoint folder name under the bundled checkpoints (default: the system's default).
    #[serde(default)]
    pub checkpoint: Option<String>,
    #[serde(default)]
    pub view: ViewKind,
    /// One thing to try once the lesson has run, shown under its text.
    #[serde(default, rename = "try")]
    pub try_this: Option<String>,
    /// The file it came from (its stem names it on the command line).
    #[serde(skip)]
    pub path: PathBuf,
}

impl From<ViewKind> for ViewId {
    fn from(kind: ViewKind) -> Self {
        match kind {
            ViewKind::Series => Self::Series,
            ViewKind::Phase => Self::Phase,
            ViewKind::Fields => Self::Fields,
            ViewKind::Diagnostics => Self::Diagnostics,
        }
    }
}

impl Lesson {
    /// The lesson used when no lesson files are found: Lorenz-63, x observed every 8th state.
    pub fn fallback() -> Self {
        Self {
            order: 0,
            title: "Lorenz-63, x every 8th state".into(),
            text: String::new(),
            system: serde_json::json!("lorenz63"),
            length: 65,
            truth_seed: 1,
            truths: None,
            std: 0.4,
            pattern: Pattern::Every { every: 8, offset: 0, until: None, op: "identity".into(), indices: vec![0] },
            sampler: Default::default(),
            checkpoint: None,
            view: ViewKind::Series,
            try_this: None,
            path: PathBuf::from("fallback.json"),
        }
    }

    /// The name used by `--preset`: the file stem.
    pub fn name(&self) -> String {
        self.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    }

    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = crate::export::read_text(path)
            .map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        let mut lesson: Lesson = serde_json::from_str(&text)
            .map_err(|e| ScenarioError::Invalid { at: path.display().to_string(), message: e.to_string() })?;
        lesson.path = path.to_path_buf();
        lesson.sampler.validate()?;
        Ok(lesson)
    }

    /// The lesson's scenario: the simulated truth, observed by the pattern with noise drawn from
    /// `truth_seed`.
    pub fn scenario(&self) -> Result<Scenario, ScenarioError> {
        let system = system_from_json_str(&serde_json::json!({ "system": self.system }).to_string())?;
        let chain = system.chain();
        let truth = match &self.truths {
            Some(file) => self.stored_truth(file, &chain.state_shape())?,
            None => {
                simulate_trajectory(chain, self.length, chain.default_burn_in(), &mut rng::stream(self.truth_seed, 0))
            }
        };
        let cells = self
            .pattern
            .cells(self.length, &chain.state_shape())
            .map_err(|message| ScenarioError::Invalid { at: "pattern".into(), message })?;
        let mut scenario =
            Scenario { system, length: self.length, observations: Vec::new(), truth: Some(truth), sampler: None };
        scenario.validate()?;
        let mut editor = super::ScenarioEditor::new(scenario.clone(), self.truth_seed)?;
        scenario.observations = editor.observe_truth(&cells, self.std)?;
        scenario.sampler = Some(self.sampler.clone());
        scenario.validate()?;
        Ok(scenario)
    }
}

impl Lesson {
    /// The truth taken from the stored trajectories in `file` (next to the lesson file).
    fn stored_truth(&self, file: &str, shape: &[usize]) -> Result<Vec<f64>, ScenarioError> {
        let path = self.path.parent().unwrap_or(Path::new(".")).join(file);
        let invalid = |message: String| ScenarioError::Invalid { at: format!("truths ({})", path.display()), message };
        let array = read_npy_f32(&path).map_err(|e| invalid(e.to_string()))?;
        let d: usize = shape.iter().product();
        if array.shape.len() != 2 + shape.len() || array.shape[2..] != *shape {
            return Err(invalid(format!("shape {:?} does not hold states of shape {shape:?}", array.shape)));
        }
        let (n, stored) = (array.shape[0], array.shape[1]);
        if n == 0 || stored < self.length {
            return Err(invalid(format!("{n} trajectories of {stored} states; the lesson needs {}", self.length)));
        }
        let k = (self.truth_seed % n as u64) as usize;
        let start = ((self.truth_seed / n as u64) as usize * self.length) % (stored - self.length + 1);
        let from = (k * stored + start) * d;
        Ok(array.data[from..from + self.length * d].iter().map(|&v| v as f64).collect())
    }
}

/// Every lesson in `dir`, in menu order (then by file name); files that fail to load are returned as errors
/// beside the good ones, so one broken file does not hide the rest.
pub fn load_lessons(dir: &Path) -> (Vec<Lesson>, Vec<String>) {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => return (Vec::new(), vec![format!("{}: {e}", dir.display())]),
    };
    paths.sort();
    let mut lessons = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match Lesson::load(&path) {
            Ok(lesson) => lessons.push(lesson),
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    lessons.sort_by_key(|l| l.order);
    (lessons, errors)
}

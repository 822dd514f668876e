//! What the app asks the worker's loader thread for (files and simulations), and the answers.

use std::path::{Path, PathBuf};

use super::animation::Animation;
use super::controls::{ModelChoice, models_for};
use super::folder::Listing;
use super::lessons::{Lesson, load_lessons};
use crate::dynamics::{Lorenz63, MarkovChain, simulate_trajectory};
use crate::rng;
use crate::scenario::Scenario;

/// An answer of the loader thread.
pub enum Loaded {
    /// Every lesson in the lessons folder, and the files that failed to load.
    Lessons { lessons: Vec<Lesson>, errors: Vec<String> },
    /// A lesson's scenario (its truth simulated or read, observed by its pattern).
    Lesson { index: Option<usize>, lesson: Box<Lesson>, scenario: Result<Scenario, String> },
    /// A scenario file.
    Scenario { path: PathBuf, scenario: Result<Scenario, String> },
    /// The checkpoints for a system.
    Models { system: String, models: Vec<ModelChoice> },
    /// A long free run of Lorenz-63 tracing its attractor.
    Attractor(Vec<[f64; 3]>),
    /// A folder's entries, for the file dialog.
    Listing(Listing),
    /// An animation written: its path and picture count, or why not.
    Animation { path: PathBuf, written: Result<usize, String> },
}

/// Loader tasks, each a closure for [`crate::worker::Loader::load`].
pub mod task {
    use super::*;

    pub fn lessons(dir: PathBuf) -> impl FnOnce() -> Loaded + Send + 'static {
        move || {
            let (lessons, errors) = load_lessons(&dir);
            Loaded::Lessons { lessons, errors }
        }
    }

    /// `lesson` with its truth seed moved on by `truth_offset` ("new truth").
    pub fn lesson(index: Option<usize>, lesson: Lesson, truth_offset: u64) -> impl FnOnce() -> Loaded + Send + 'static {
        move || {
            let mut adjusted = lesson.clone();
            adjusted.truth_seed = lesson.truth_seed.wrapping_add(truth_offset);
            let scenario = adjusted.scenario().map_err(|e| format!("lesson `{}`: {e}", lesson.name()));
            Loaded::Lesson { index, lesson: Box::new(lesson), scenario }
        }
    }

    pub fn scenario(path: &Path) -> impl FnOnce() -> Loaded + Send + 'static {
        let path = path.to_path_buf();
        move || {
            let scenario = Scenario::load(&path).map_err(|e| format!("{}: {e}", path.display()));
            Loaded::Scenario { path, scenario }
        }
    }

    pub fn models(dir: PathBuf, system: String) -> impl FnOnce() -> Loaded + Send + 'static {
        move || Loaded::Models { models: models_for(&dir, &system), system }
    }

    /// Lists `dir` (`None`: the default folder).
    pub fn listing(dir: Option<PathBuf>) -> impl FnOnce() -> Loaded + Send + 'static {
        move || Loaded::Listing(super::super::folder::list(dir.as_deref()))
    }

    pub fn animation(path: &Path, animation: Animation) -> impl FnOnce() -> Loaded + Send + 'static {
        let path = path.to_path_buf();
        move || {
            let written = animation.write_gif(&path).map_err(|e| e.to_string());
            Loaded::Animation { path, written }
        }
    }

    pub fn attractor() -> impl FnOnce() -> Loaded + Send + 'static {
        || {
            let system = Lorenz63::new();
            let states = simulate_trajectory(&system, 4000, system.default_burn_in(), &mut rng::stream(11, 0));
            Loaded::Attractor(states.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
        }
    }
}

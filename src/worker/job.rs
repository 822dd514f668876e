//! A sampling job: the scenario, the prior to sample it with, and the sampler settings.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::baselines::ClassicalMethod;
use crate::sampler::{Guidance, SamplerPlan};
use crate::scenario::Scenario;
use crate::score::TrajectoryScore;

/// Identifies a job in the events it produces; ids increase with every run asked for.
pub type JobId = u64;

/// Where the prior score comes from.
#[derive(Clone)]
pub enum PriorSpec {
    /// A checkpoint folder (`config.json` + `model.safetensors`); loaded once, then cached.
    Checkpoint(PathBuf),
    /// The exact Gaussian prior of the linear system: over the whole trajectory, or composed
    /// from windows of `window` states like a learned local score.
    ExactLinear { window: Option<usize> },
    /// A score built by the caller (benchmarks, tests, experiments).
    Custom { name: String, score: Arc<dyn TrajectoryScore> },
}

impl fmt::Debug for PriorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Checkpoint(dir) => f.debug_tuple("Checkpoint").field(dir).finish(),
            Self::ExactLinear { window } => f.debug_struct("ExactLinear").field("window", window).finish(),
            Self::Custom { name, .. } => f.debug_struct("Custom").field("name", name).finish_non_exhaustive(),
        }
    }
}

/// One posterior (or prior) sampling run.
#[derive(Debug, Clone)]
pub struct Job {
    /// The system, trajectory length, observations and (for diagnostics) the truth; its `sampler`
    /// block is not used: `plan` and `guidance` are.
    pub scenario: Scenario,
    pub prior: PriorSpec,
    pub guidance: Guidance,
    pub plan: SamplerPlan,
    /// At most this many members go into each frame (the first ones).
    pub frame_members: usize,
    /// Cluster the frame's Tweedie estimates into modes every this many steps (0: never live).
    pub modes_every: usize,
    /// A classical method to run on the same scenario for comparison (reported as
    /// [`super::Event::Comparison`]).
    pub compare: Option<ClassicalMethod>,
    /// Most modes looked for.
    pub max_modes: usize,
}

impl Job {
    /// Values in one trajectory.
    pub fn trajectory_len(&self) -> usize {
        self.scenario.length * self.scenario.state_dim()
    }
}

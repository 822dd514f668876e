//! A sampling job: the scenario, the prior to sample it with, and the sampler settings.

use crate::baselines::ClassicalMethod;
pub use crate::pipeline::PriorSpec;
use crate::sampler::{Guidance, SamplerPlan};
use crate::scenario::Scenario;
use std::sync::Arc;

use super::Finished;

/// Identifies a job in the events it produces; ids increase with every run asked for.
pub type JobId = u64;

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
    /// SDA's finished posterior of this very scenario and plan: the job then only runs the
    /// comparison (a method chosen after the run) and reports this posterior again as its own.
    pub reuse: Option<Arc<Finished>>,
}

impl Job {
    /// Values in one trajectory.
    pub fn trajectory_len(&self) -> usize {
        self.scenario.length * self.scenario.state_dim()
    }
}

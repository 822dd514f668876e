//! SDA's posterior ensemble of a scenario.

use candle_core::Device;

use super::{PipelineError, SamplerSetup};
use crate::budget::MemoryBudget;
use crate::cancel::Cancellation;
use crate::dynamics::System;
use crate::ensemble::Ensemble;
use crate::sampler::{StepSnapshot, posterior_ensemble};
use crate::scenario::{Scenario, ScenarioError};
use crate::score::TrajectoryScore;

/// A generous estimate of the sampler's and the network's working set per member and state: the
/// sampler's tensors (a few dozen copies of the state in f32), the network's activations for the
/// window around the state (up to ~32 KiB for the MLPs) and, for fields, the U-Net's feature maps
/// (hundreds of values per cell).
pub fn bytes_per_sampled_state(state_dim: usize) -> u64 {
    32 * 1024 + state_dim as u64 * 4 * 512
}

/// The checks every run of `scenario` passes first (the command line's `validate` runs the same):
/// its entries, and for a linear system observed linearly, the Kalman filter over it, which finds
/// degenerate observations (naming the state) before a sampler divides by them.
pub fn check_scenario(scenario: &Scenario) -> Result<(), PipelineError> {
    scenario.validate()?;
    if let System::Linear(model) = &scenario.system
        && let Ok(rows) = scenario.linear_observations()
    {
        let d = scenario.state_dim();
        MemoryBudget::of_machine().check("the linear system's length × state size²", &[scenario.length, d, d, 8], 8)?;
        model.smooth(scenario.length, &rows).map_err(ScenarioError::from)?;
    }
    Ok(())
}

/// Refuses a posterior of `samples` members of `scenario` that would not fit in memory.
pub fn check_posterior_budget(scenario: &Scenario, samples: usize) -> Result<(), PipelineError> {
    MemoryBudget::of_machine().check(
        "the ensemble size (--samples) × the trajectory length",
        &[samples, scenario.length],
        bytes_per_sampled_state(scenario.state_dim()),
    )?;
    Ok(())
}

/// `setup.plan.samples` trajectories of `scenario` sampled from `prior` guided by its
/// observations (physical units). `on_step` sees every step; raising `cancel` stops the run
/// before its next network evaluation.
pub fn sda_posterior(
    scenario: &Scenario,
    prior: &dyn TrajectoryScore,
    setup: &SamplerSetup,
    device: &Device,
    cancel: &dyn Cancellation,
    on_step: &mut dyn FnMut(StepSnapshot),
) -> Result<Ensemble, PipelineError> {
    check_scenario(scenario)?;
    if setup.plan.samples == 0 || setup.plan.steps == 0 {
        return Err(PipelineError::Setting {
            setting: "the ensemble size and the number of steps".into(),
            message: "must be at least 1".into(),
        });
    }
    let chain = scenario.system.chain();
    check_posterior_budget(scenario, setup.plan.samples)?;
    let values = posterior_ensemble(
        chain,
        scenario.length,
        &scenario.observations,
        prior,
        setup.guidance,
        &setup.plan,
        device,
        cancel,
        on_step,
    )?;
    Ok(Ensemble::new(values, setup.plan.samples, scenario.length, &chain.state_shape())?)
}

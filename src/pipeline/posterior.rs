//! SDA's posterior ensemble of a scenario.

use candle_core::Device;

use super::{PipelineError, SamplerSetup};
use crate::cancel::Cancellation;
use crate::ensemble::Ensemble;
use crate::sampler::{StepSnapshot, posterior_ensemble};
use crate::scenario::Scenario;
use crate::score::TrajectoryScore;

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
    scenario.validate()?;
    if setup.plan.samples == 0 || setup.plan.steps == 0 {
        return Err(PipelineError::Setting {
            setting: "the ensemble size and the number of steps".into(),
            message: "must be at least 1".into(),
        });
    }
    let chain = scenario.system.chain();
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

//! A posterior ensemble in physical units: the observations made tensors, the prior guided by
//! them, the reverse diffusion run, and the result mapped back out of network space.

use candle_core::{DType, Device};

use super::{Guidance, GuidedScore, SamplerError, SamplerPlan, StepSnapshot, sample};
use crate::cancel::Cancellation;
use crate::dynamics::MarkovChain;
use crate::observe::{Observation, TensorObservations};
use crate::score::TrajectoryScore;

/// Network units (the data's standard deviations) beyond which a sample has diverged: the data
/// of every bundled system stay within about 5.
pub const DIVERGENCE_BOUND: f64 = 1000.0;

/// Samples `plan.samples` trajectories of `length` states of `chain` from the prior `score`
/// guided by `observations`. Returns the ensemble flat `[samples, length, d]` in physical units;
/// a non-finite value, or one beyond [`DIVERGENCE_BOUND`], is an error (the sampler diverged).
#[allow(clippy::too_many_arguments)]
pub fn posterior_ensemble(
    chain: &dyn MarkovChain,
    length: usize,
    observations: &[Observation],
    score: &dyn TrajectoryScore,
    guidance: Guidance,
    plan: &SamplerPlan,
    device: &Device,
    cancel: &dyn Cancellation,
    on_step: &mut dyn FnMut(StepSnapshot),
) -> Result<Vec<f64>, SamplerError> {
    let dim = chain.state_dim();
    let tensors = TensorObservations::new(observations, length, dim, chain.normalisation(), DType::F32, device)?;
    let guided = GuidedScore::new(score, guidance, &tensors);
    let trajectory_shape: Vec<usize> = [vec![length], chain.state_shape()].concat();
    let x = sample(&guided, &trajectory_shape, plan, DType::F32, device, cancel, on_step)?;
    let mut values: Vec<f64> = x.flatten_all()?.to_dtype(DType::F64)?.to_vec1()?;
    if !values.iter().all(|v| v.is_finite() && v.abs() <= DIVERGENCE_BOUND) {
        return Err(SamplerError::Diverged);
    }
    chain.normalisation().to_physical(&mut values);
    Ok(values)
}

//! No guidance: the prior's own `ε`, so the sampler draws from the prior.

use candle_core::Tensor;

use super::GuidanceRule;
use crate::observe::TensorObservations;
use crate::score::{ScoreError, TrajectoryScore};

/// `log p(y | x(t)) = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unguided;

impl GuidanceRule for Unguided {
    fn name(&self) -> &'static str {
        "no"
    }

    fn epsilon(
        &self,
        prior: &dyn TrajectoryScore,
        _observations: &TensorObservations,
        x: &Tensor,
        t: f64,
    ) -> Result<Tensor, ScoreError> {
        prior.epsilon(x, t)
    }

    fn log_likelihood(
        &self,
        _observations: &TensorObservations,
        x_hat: &Tensor,
        _t: f64,
    ) -> Option<candle_core::Result<Tensor>> {
        Some(Tensor::zeros((), x_hat.dtype(), x_hat.device()))
    }
}

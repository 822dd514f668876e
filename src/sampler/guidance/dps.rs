//! Diffusion posterior sampling (Chung et al., 2023): the gradient of the residual's norm at
//! Tweedie's estimate, scaled by `ζ` and blind to the observation noise.

use candle_core::Tensor;

use super::GuidanceRule;
use super::surrogate::surrogate_epsilon;
use crate::observe::TensorObservations;
use crate::score::{ScoreError, TrajectoryScore};

/// `log p(y | x(t)) ≈ −ζ·‖y − A(x̂)‖` per trajectory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dps {
    pub zeta: f64,
}

impl GuidanceRule for Dps {
    fn name(&self) -> &'static str {
        "DPS"
    }

    fn epsilon(
        &self,
        prior: &dyn TrajectoryScore,
        observations: &TensorObservations,
        x: &Tensor,
        t: f64,
    ) -> Result<Tensor, ScoreError> {
        surrogate_epsilon(self, prior, observations, x, t)
    }

    fn log_likelihood(
        &self,
        observations: &TensorObservations,
        x_hat: &Tensor,
        _t: f64,
    ) -> Option<candle_core::Result<Tensor>> {
        Some((|| {
            let residual = observations.predict(x_hat)?.broadcast_sub(observations.values())?;
            let norms = (residual.sqr()?.sum(1)? + 1e-12)?.sqrt()?;
            norms.sum_all()? * -self.zeta
        })())
    }
}

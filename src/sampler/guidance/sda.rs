//! SDA's guidance (Rozet & Louppe, 2023): a Gaussian surrogate likelihood whose variance is the
//! observation noise inflated by `γ·σ²/μ²` along the operator's Jacobian.

use candle_core::Tensor;

use super::GuidanceRule;
use super::surrogate::surrogate_epsilon;
use crate::observe::TensorObservations;
use crate::score::{ScoreError, TrajectoryScore, VpSchedule};

/// `log p(y | x(t)) ≈ −½ Σ (y − A(x̂))² / (σ_y² + γ·σ²/μ²·‖∂A/∂x‖²)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sda {
    pub gamma: f64,
}

impl GuidanceRule for Sda {
    fn name(&self) -> &'static str {
        "SDA"
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
        t: f64,
    ) -> Option<candle_core::Result<Tensor>> {
        let schedule = VpSchedule::new();
        let ratio2 = (schedule.sigma(t) / schedule.mu(t)).powi(2);
        Some((|| {
            let residual = observations.predict(x_hat)?.broadcast_sub(observations.values())?;
            let inflation = (observations.jacobian_norm2(x_hat)? * (self.gamma * ratio2))?;
            let variance = inflation.broadcast_add(observations.variances())?;
            (residual.sqr()? / variance)?.sum_all()? * -0.5
        })())
    }
}

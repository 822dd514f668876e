//! Zero-shot observation guidance: the SDA Gaussian surrogate likelihood and DPS.

use candle_core::{Tensor, Var};

use crate::observe::TensorObservations;
use crate::score::{ScoreError, TrajectoryScore, VpSchedule};

/// How observations steer the prior score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Guidance {
    /// No guidance: samples from the prior.
    Prior,
    /// SDA: `log p(y | x(t)) ≈ −½ Σ (y − A(x̂))² / (σ_y² + γ·σ²/μ²·‖∂A/∂x‖²)`.
    Sda { gamma: f64 },
    /// DPS: `log p(y | x(t)) ≈ −ζ·‖y − A(x̂)‖` per trajectory, ignoring σ_y.
    Dps { zeta: f64 },
}

/// `ε_post = ε − σ(t)·∇_{x(t)} log p(y | x(t))`, with `x̂ = (x(t) − σ·ε(x(t)))/μ` (Tweedie) and the
/// gradient taken through the prior score and through `A`.
pub struct GuidedScore<'a> {
    prior: &'a dyn TrajectoryScore,
    guidance: Guidance,
    observations: &'a TensorObservations,
    schedule: VpSchedule,
}

impl<'a> GuidedScore<'a> {
    pub fn new(prior: &'a dyn TrajectoryScore, guidance: Guidance, observations: &'a TensorObservations) -> Self {
        Self { prior, guidance, observations, schedule: VpSchedule::new() }
    }

    /// The approximate `log p(y | x(t))` summed over the trajectories of `x` (each term depends
    /// on its own trajectory only), and the prior ε it was computed from.
    pub fn log_likelihood(&self, x: &Tensor, t: f64) -> Result<(Tensor, Tensor), ScoreError> {
        let eps = self.prior.epsilon(x, t)?;
        let log_p = self.surrogate(x, &eps, t)?;
        Ok((eps, log_p))
    }

    fn surrogate(&self, x: &Tensor, eps: &Tensor, t: f64) -> candle_core::Result<Tensor> {
        let (mu, sigma) = (self.schedule.mu(t), self.schedule.sigma(t));
        let x_hat = ((x - (eps * sigma)?)? / mu)?;
        let residual = self.observations.predict(&x_hat)?.broadcast_sub(self.observations.values())?.neg()?;
        match self.guidance {
            Guidance::Sda { gamma } => {
                let inflation = (self.observations.jacobian_norm2(&x_hat)? * (gamma * (sigma / mu).powi(2)))?;
                let variance = inflation.broadcast_add(self.observations.variances())?;
                (residual.sqr()? / variance)?.sum_all()? * -0.5
            }
            Guidance::Dps { zeta } => {
                let norms = (residual.sqr()?.sum(1)? + 1e-12)?.sqrt()?;
                norms.sum_all()? * -zeta
            }
            Guidance::Prior => Tensor::zeros((), x.dtype(), x.device()),
        }
    }
}

impl TrajectoryScore for GuidedScore<'_> {
    fn epsilon(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError> {
        if self.guidance == Guidance::Prior || self.observations.is_empty() {
            return self.prior.epsilon(x, t);
        }
        let var = Var::from_tensor(&x.detach())?;
        let (eps, log_p) = self.log_likelihood(var.as_tensor(), t)?;
        let grads = log_p.backward()?;
        let sigma = self.schedule.sigma(t);
        match grads.get(var.as_tensor()) {
            Some(g) => Ok((eps.detach() - (g * sigma)?)?),
            None => Ok(eps.detach()),
        }
    }
}

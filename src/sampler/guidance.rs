//! Zero-shot observation guidance: the SDA Gaussian surrogate likelihood, DPS, and MMPS (the
//! Tweedie covariance, [`super::mmps`]).

use candle_core::{DType, Tensor, Var};

use super::mmps::mmps_epsilon;
use crate::observe::TensorObservations;
use crate::score::{Linearisation, ScoreError, TrajectoryScore, VpSchedule};

/// Conjugate-gradient iterations of MMPS where nothing else sets them.
pub const DEFAULT_MMPS_ITERATIONS: usize = 4;

/// SDA's γ for the trajectories whose MMPS step falls back to SDA's surrogate (where the learned
/// Tweedie covariance cannot be trusted, [`super::mmps`]); SDA's own default.
pub const MMPS_FALLBACK_GAMMA: f64 = 1e-2;

/// How observations steer the prior score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Guidance {
    /// No guidance: samples from the prior.
    Prior,
    /// SDA: `log p(y | x(t)) ≈ −½ Σ (y − A(x̂))² / (σ_y² + γ·σ²/μ²·‖∂A/∂x‖²)`.
    Sda { gamma: f64 },
    /// DPS: `log p(y | x(t)) ≈ −ζ·‖y − A(x̂)‖` per trajectory, ignoring σ_y.
    Dps { zeta: f64 },
    /// MMPS: `log p(y | x(t)) ≈ log N(y | A(x̂), Σ_y + A·V·Aᵀ)` with `V = (σ²/μ)·∂x̂/∂x(t)`, solved by
    /// `iterations` conjugate-gradient steps (each one more vector–Jacobian product). A trajectory
    /// whose step is not trusted (`V` not positive along the solve, or the updated estimate far
    /// outside the data) takes SDA's step (γ = [`MMPS_FALLBACK_GAMMA`]).
    Mmps { iterations: usize },
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
    /// on its own trajectory only), and the prior ε it was computed from: the whole chain in one
    /// autograd graph (the reference the guided score is tested against).
    /// MMPS has no such scalar (its covariance holds the network's Jacobian) and is refused.
    pub fn log_likelihood(&self, x: &Tensor, t: f64) -> Result<(Tensor, Tensor), ScoreError> {
        if let Guidance::Mmps { .. } = self.guidance {
            return Err(ScoreError::Invalid {
                what: "MMPS guidance".into(),
                reason: "its likelihood is solved, not differentiated; it has no autograd reference".into(),
            });
        }
        let eps = self.prior.epsilon(x, t)?;
        let (mu, sigma) = (self.schedule.mu(t), self.schedule.sigma(t));
        let x_hat = ((x - (&eps * sigma)?)? / mu)?;
        let log_p = self.surrogate(&x_hat, t)?;
        Ok((eps, log_p))
    }

    /// MMPS's `ε_post`, with SDA's for the trajectories whose MMPS step is not trusted (the SDA
    /// step is computed only when some trajectory needs it).
    fn mmps_or_sda(&self, x: &Tensor, t: f64, iterations: usize) -> Result<Tensor, ScoreError> {
        let (post, trusted) = mmps_epsilon(self.prior, self.observations, x, t, iterations)?;
        let fallbacks = trusted.to_dtype(DType::F64)?.to_vec1::<f64>()?.iter().filter(|p| **p < 0.5).count();
        if fallbacks == 0 {
            return Ok(post);
        }
        let sda = GuidedScore::new(self.prior, Guidance::Sda { gamma: MMPS_FALLBACK_GAMMA }, self.observations);
        let fallback = sda.epsilon(x, t)?;
        let mut shape = vec![trusted.dim(0)?];
        shape.resize(x.rank(), 1);
        let keep = trusted.reshape(shape)?;
        Ok((post.broadcast_mul(&keep)? + fallback.broadcast_mul(&(keep.neg()? + 1.0)?)?)?)
    }

    /// The surrogate `log p(y | x(t))` as a function of Tweedie's estimate `x̂`.
    fn surrogate(&self, x_hat: &Tensor, t: f64) -> candle_core::Result<Tensor> {
        let (mu, sigma) = (self.schedule.mu(t), self.schedule.sigma(t));
        let residual = self.observations.predict(x_hat)?.broadcast_sub(self.observations.values())?.neg()?;
        match self.guidance {
            Guidance::Sda { gamma } => {
                let inflation = (self.observations.jacobian_norm2(x_hat)? * (gamma * (sigma / mu).powi(2)))?;
                let variance = inflation.broadcast_add(self.observations.variances())?;
                (residual.sqr()? / variance)?.sum_all()? * -0.5
            }
            Guidance::Dps { zeta } => {
                let norms = (residual.sqr()?.sum(1)? + 1e-12)?.sqrt()?;
                norms.sum_all()? * -zeta
            }
            Guidance::Prior | Guidance::Mmps { .. } => Tensor::zeros((), x_hat.dtype(), x_hat.device()),
        }
    }
}

impl TrajectoryScore for GuidedScore<'_> {
    /// `ε − σ·∇ log p`, with the gradient in two parts: `g = ∂ log p/∂x̂` by autograd through
    /// the (small) observation graph, then `∇_x log p = (g − σ·gᵀ∂ε/∂x)/μ` by one
    /// vector–Jacobian product of the prior's linearisation (direct kernels where it has them).
    fn epsilon(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError> {
        if self.guidance == Guidance::Prior || self.observations.is_empty() {
            return self.prior.epsilon(x, t);
        }
        if let Guidance::Mmps { iterations } = self.guidance {
            return self.mmps_or_sda(x, t, iterations);
        }
        let (mu, sigma) = (self.schedule.mu(t), self.schedule.sigma(t));
        let prior = self.prior.linearise(x, t)?;
        let eps = prior.epsilon();
        let x_hat = Var::from_tensor(&((x.detach() - (eps * sigma)?)? / mu)?)?;
        let grads = self.surrogate(x_hat.as_tensor(), t)?.backward()?;
        let Some(g) = grads.get(x_hat.as_tensor()) else { return Ok(eps.clone()) };
        let grad = ((g - (prior.vjp(g)? * sigma)?)? / mu)?;
        Ok((eps - (grad * sigma)?)?)
    }

    fn linearise(&self, _x: &Tensor, _t: f64) -> Result<Linearisation<'_>, ScoreError> {
        Err(ScoreError::Invalid {
            what: "guided score".into(),
            reason: "its Jacobian is not available; linearise the prior instead".into(),
        })
    }
}

//! The posterior `ε` of a rule defined by a differentiable surrogate `log p(y | x̂)` (SDA, DPS).

use candle_core::{Tensor, Var};

use super::GuidanceRule;
use crate::observe::TensorObservations;
use crate::score::{ScoreError, TrajectoryScore, VpSchedule};

/// `ε − σ·∇ log p`, with the gradient in two parts: `g = ∂ log p/∂x̂` by autograd through the
/// (small) observation graph of `rule`'s surrogate, then `∇_x log p = (g − σ·gᵀ∂ε/∂x)/μ` by one
/// vector–Jacobian product of the prior's linearisation (direct kernels where it has them).
pub(super) fn surrogate_epsilon(
    rule: &dyn GuidanceRule,
    prior: &dyn TrajectoryScore,
    observations: &TensorObservations,
    x: &Tensor,
    t: f64,
) -> Result<Tensor, ScoreError> {
    let schedule = VpSchedule::new();
    let (mu, sigma) = (schedule.mu(t), schedule.sigma(t));
    let linear = prior.linearise(x, t)?;
    let eps = linear.epsilon();
    let x_hat = Var::from_tensor(&((x.detach() - (eps * sigma)?)? / mu)?)?;
    let Some(log_p) = rule.log_likelihood(observations, x_hat.as_tensor(), t) else {
        return Err(ScoreError::Invalid {
            what: format!("{} guidance", rule.name()),
            reason: "it has no surrogate likelihood to differentiate".into(),
        });
    };
    let grads = log_p?.backward()?;
    let Some(g) = grads.get(x_hat.as_tensor()) else { return Ok(eps.clone()) };
    let grad = ((g - (linear.vjp(g)? * sigma)?)? / mu)?;
    Ok((eps - (grad * sigma)?)?)
}

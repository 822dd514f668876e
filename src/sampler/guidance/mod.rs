//! Zero-shot observation guidance: how the likelihood of the observations steers a prior score.
//!
//! Each rule is one file implementing [`GuidanceRule`]: SDA's Gaussian surrogate ([`sda`]), DPS
//! ([`dps`]), MMPS's Tweedie covariance ([`mmps`]) and no guidance ([`unguided`]). [`Guidance`] is
//! the choice a scenario, the command line or the app makes; [`Guidance::rule`] is the one place
//! that turns a choice into its rule. [`GuidedScore`] wraps a prior score with a rule, and is
//! itself a score the sampler can drive.
//!
//! To add a rule: a file with a type implementing [`GuidanceRule`], a variant of [`Guidance`] with
//! its parameters, and its arm in [`Guidance::rule`]; the compiler then points at the settings
//! that name rules (scenario files, command line, app).

mod dps;
mod mmps;
mod sda;
mod surrogate;
mod unguided;

use candle_core::Tensor;

pub use dps::Dps;
pub use mmps::{DEFAULT_MMPS_ITERATIONS, MMPS_FALLBACK_GAMMA, Mmps, TWEEDIE_BOUND};
pub use sda::Sda;
pub use unguided::Unguided;

use crate::observe::TensorObservations;
use crate::score::{Linearisation, ScoreError, TrajectoryScore, VpSchedule};

/// How observations steer the prior score: the choice of rule and its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Guidance {
    /// No guidance: samples from the prior.
    None,
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

impl Guidance {
    /// The rule this choice names.
    pub fn rule(self) -> Box<dyn GuidanceRule> {
        match self {
            Self::None => Box::new(Unguided),
            Self::Sda { gamma } => Box::new(Sda { gamma }),
            Self::Dps { zeta } => Box::new(Dps { zeta }),
            Self::Mmps { iterations } => Box::new(Mmps { iterations }),
        }
    }
}

/// One guidance rule: the posterior `ε` at `x(t)` from a prior score and the observations.
pub trait GuidanceRule: Send + Sync {
    /// The rule's name in messages.
    fn name(&self) -> &'static str;

    /// `ε_post = ε − σ(t)·∇_{x(t)} log p(y | x(t))` for trajectories `x` `[S, L, …]` (network
    /// space) and non-empty `observations`.
    fn epsilon(
        &self,
        prior: &dyn TrajectoryScore,
        observations: &TensorObservations,
        x: &Tensor,
        t: f64,
    ) -> Result<Tensor, ScoreError>;

    /// The rule's `log p(y | x(t))` summed over trajectories, as a differentiable function of
    /// Tweedie's estimate `x̂`, where the rule is defined by one (the autograd reference its
    /// `epsilon` is tested against); `None` where it is not (MMPS solves its likelihood).
    fn log_likelihood(
        &self,
        observations: &TensorObservations,
        x_hat: &Tensor,
        t: f64,
    ) -> Option<candle_core::Result<Tensor>>;
}

/// A prior score steered by observations: `ε_post = ε − σ(t)·∇_{x(t)} log p(y | x(t))`, with
/// `x̂ = (x(t) − σ·ε(x(t)))/μ` (Tweedie) and the gradient taken through the prior score and
/// through `A`.
pub struct GuidedScore<'a> {
    prior: &'a dyn TrajectoryScore,
    rule: Box<dyn GuidanceRule>,
    observations: &'a TensorObservations,
}

impl<'a> GuidedScore<'a> {
    pub fn new(prior: &'a dyn TrajectoryScore, guidance: Guidance, observations: &'a TensorObservations) -> Self {
        Self::with_rule(prior, guidance.rule(), observations)
    }

    /// A score steered by any rule, including one not named by [`Guidance`].
    pub fn with_rule(
        prior: &'a dyn TrajectoryScore,
        rule: Box<dyn GuidanceRule>,
        observations: &'a TensorObservations,
    ) -> Self {
        Self { prior, rule, observations }
    }

    /// The rule's `log p(y | x(t))` summed over the trajectories of `x` (each term depends on its
    /// own trajectory only), and the prior ε it was computed from: the whole chain in one autograd
    /// graph (the reference the guided score is tested against). A rule without such a scalar
    /// (MMPS) is refused.
    pub fn log_likelihood(&self, x: &Tensor, t: f64) -> Result<(Tensor, Tensor), ScoreError> {
        let eps = self.prior.epsilon(x, t)?;
        let schedule = VpSchedule::new();
        let x_hat = ((x - (&eps * schedule.sigma(t))?)? / schedule.mu(t))?;
        match self.rule.log_likelihood(self.observations, &x_hat, t) {
            Some(log_p) => Ok((eps, log_p?)),
            None => Err(ScoreError::Invalid {
                what: format!("{} guidance", self.rule.name()),
                reason: "its likelihood is solved, not differentiated; it has no autograd reference".into(),
            }),
        }
    }
}

impl TrajectoryScore for GuidedScore<'_> {
    fn epsilon(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError> {
        if self.observations.is_empty() {
            return self.prior.epsilon(x, t);
        }
        self.rule.epsilon(self.prior, self.observations, x, t)
    }

    fn linearise(&self, _x: &Tensor, _t: f64) -> Result<Linearisation<'_>, ScoreError> {
        Err(ScoreError::Invalid {
            what: "guided score".into(),
            reason: "its Jacobian is not available; linearise the prior instead".into(),
        })
    }
}

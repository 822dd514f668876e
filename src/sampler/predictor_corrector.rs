//! The predictor–corrector reverse diffusion over whole trajectories.

use candle_core::{D, DType, Device, Tensor};

use super::{SamplerError, gaussian_tensor};
use crate::cancel::Cancellation;
use crate::rng;
use crate::score::{TrajectoryScore, VpSchedule};

/// Settings of one sampling run.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerPlan {
    /// Ensemble size.
    pub samples: usize,
    /// Predictor steps N.
    pub steps: usize,
    /// Langevin corrections C after each predictor step.
    pub corrections: usize,
    /// Langevin step size τ.
    pub tau: f64,
    pub seed: u64,
}

impl SamplerPlan {
    /// Network evaluations (each a forward pass, plus a backward pass when guided).
    pub fn evaluations(&self) -> usize {
        self.steps * (1 + self.corrections)
    }
}

/// What the sampler reports after each predictor step and its corrections.
pub struct StepSnapshot<'a> {
    /// 1-based step, out of `steps`.
    pub step: usize,
    pub steps: usize,
    /// Diffusion time reached.
    pub t: f64,
    /// The ensemble `x(t)` `[S, L, …]`, network space.
    pub x: &'a Tensor,
    /// Tweedie's denoised estimate `x̂ = (x(t) − σ·ε)/μ` at the start of the step.
    pub tweedie: &'a Tensor,
    /// Whether the step's corrections are done. With C > 0 each step is reported twice: right
    /// after the predictor's network evaluation (`false`, a preview: the earliest a display can
    /// show a new job) and after its C corrections (`true`).
    pub corrected: bool,
}

/// Runs the reverse diffusion from `x(1) ~ N(0, I)` of shape `[samples, …trajectory_shape]`.
/// Predictor (exponential integrator): `x ← r·x + (σ(t−Δ) − r·σ(t))·ε(x, t)`, `r = μ(t−Δ)/μ(t)`.
/// Corrector (C times at `t' = t−Δ`): `δ = τ / mean(ε²)` per sample, `x ← x − σ(t')(δ·ε + √(2δ)·z)`.
/// `cancel` is checked before every network evaluation. Returns `x(0)`.
pub fn sample(
    score: &dyn TrajectoryScore,
    trajectory_shape: &[usize],
    plan: &SamplerPlan,
    dtype: DType,
    device: &Device,
    cancel: &dyn Cancellation,
    on_step: &mut dyn FnMut(StepSnapshot),
) -> Result<Tensor, SamplerError> {
    if plan.samples == 0 || plan.steps == 0 {
        return Err(SamplerError::Invalid("samples and steps must be at least 1".into()));
    }
    if !(plan.tau.is_finite() && plan.tau > 0.0) {
        return Err(SamplerError::Invalid(format!("tau must be positive, got {}", plan.tau)));
    }
    let schedule = VpSchedule::new();
    let shape: Vec<usize> = [plan.samples].into_iter().chain(trajectory_shape.iter().copied()).collect();
    let mut rng = rng::keyed_stream(plan.seed, rng::purpose::SAMPLING, 0);
    let mut x = gaussian_tensor(&mut rng, &shape, dtype, device)?;
    let dt = 1.0 / plan.steps as f64;
    let check = || if cancel.is_cancelled() { Err(SamplerError::Cancelled) } else { Ok(()) };
    for step in 0..plan.steps {
        let t = 1.0 - step as f64 * dt;
        let t_next = (t - dt).max(0.0);
        check()?;
        let eps = score.epsilon(&x, t)?;
        let tweedie = ((&x - (&eps * schedule.sigma(t))?)? / schedule.mu(t))?;
        let r = schedule.mu(t_next) / schedule.mu(t);
        x = ((&x * r)? + (eps * (schedule.sigma(t_next) - r * schedule.sigma(t)))?)?;
        if plan.corrections > 0 {
            on_step(StepSnapshot {
                step: step + 1,
                steps: plan.steps,
                t: t_next,
                x: &x,
                tweedie: &tweedie,
                corrected: false,
            });
        }
        for _ in 0..plan.corrections {
            check()?;
            let e = score.epsilon(&x, t_next)?;
            x = langevin(&x, &e, schedule.sigma(t_next), plan.tau, &mut rng)?;
        }
        on_step(StepSnapshot {
            step: step + 1,
            steps: plan.steps,
            t: t_next,
            x: &x,
            tweedie: &tweedie,
            corrected: true,
        });
    }
    Ok(x)
}

/// One Langevin correction with a per-sample step `δ = τ / mean(ε²)`.
fn langevin(x: &Tensor, eps: &Tensor, sigma: f64, tau: f64, rng: &mut rng::SeededRng) -> candle_core::Result<Tensor> {
    let s = x.dim(0)?;
    let flat = eps.reshape((s, ()))?;
    // Clamp the denominator away from 0 so a vanishing ε cannot blow the step up.
    let delta = (flat.sqr()?.mean_keepdim(D::Minus1)?.clamp(1e-6, f64::INFINITY)?.recip()? * tau)?;
    let z = gaussian_tensor(rng, &[s, flat.dim(1)?], x.dtype(), x.device())?;
    let step = (flat.broadcast_mul(&delta)? + z.broadcast_mul(&(delta * 2.0)?.sqrt()?)?)?;
    x - (step.reshape(x.shape())? * sigma)?
}

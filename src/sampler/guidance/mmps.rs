//! Moment-matching posterior sampling (MMPS): the likelihood of the observations under the
//! Tweedie covariance of `x` given `x(t)`, solved by conjugate gradients.
//!
//! With `x̂ = (x(t) − σ·ε)/μ` and `J = ∂x̂/∂x(t)`, `Cov[x | x(t)] ≈ V = (σ²/μ)·J`, and
//! `p(y | x(t)) ≈ N(y | A(x̂), Σ_y + A·V·Aᵀ)` with `A` linearised at `x̂`. For the exact score of a
//! linear-Gaussian prior this is the exact likelihood, so the sampler needs no corrections there.
//!
//! A learned score's Jacobian is no covariance where the noise swamps the signal: `J` is a
//! difference of O(1) terms divided by `μ`, so the network's small errors reach `V` amplified by
//! `σ³/μ²` (a network predicting `x̂` directly would amplify its own by `σ²/μ`). Measured on
//! `lorenz63-k4` (`tests/mmps_guidance.rs`, `tweedie_covariance_…`: random directions on the
//! observed components, states near the attractor): `vᵀVv/vᵀv` averages about −800 at t = 0.999
//! and is negative for most directions at t = 0.95, where a Gaussian fitted to the data gives
//! about +1; it is positive from t = 0.8 down. Solved with such a `V`, the likelihood pushes
//! samples away from the observations and sampling diverges. So a trajectory's MMPS step is
//! trusted only if every conjugate-gradient direction met a positive curvature
//! `pᵀ·A·V·Aᵀ·p ≥ 0` and the updated estimate `x̂ + V·Aᵀ·u` stays within
//! [`TWEEDIE_BOUND`] of the data's centre (network units are the data's standard deviations; the
//! sign check sees `V` only along the observed directions, the bound catches a `V` that is wrong
//! elsewhere). [`Mmps`] gives the other trajectories SDA's surrogate for that step.
//! With an exact score `V` is positive, the estimates stay near the data, and nothing falls back.
//! With `lorenz63-k4`, the sign check alone left 2–4 of 128 members running away in the
//! two-winged lessons; with the bound none do.

use candle_core::{D, DType, Tensor};

use super::{GuidanceRule, Sda};
use crate::observe::TensorObservations;
use crate::score::{ScoreError, TrajectoryScore, VpSchedule};

/// Conjugate-gradient iterations of MMPS where nothing else sets them.
pub const DEFAULT_MMPS_ITERATIONS: usize = 4;

/// SDA's γ for the trajectories whose MMPS step falls back to SDA's surrogate (where the learned
/// Tweedie covariance cannot be trusted); SDA's own default.
pub const MMPS_FALLBACK_GAMMA: f64 = 1e-2;

/// How far (in the data's standard deviations, network units) an MMPS-updated Tweedie estimate may
/// lie from the data's centre and still be trusted. The bundled systems' data reach about 5.
pub const TWEEDIE_BOUND: f64 = 10.0;

/// MMPS with `iterations` conjugate-gradient steps per network evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mmps {
    pub iterations: usize,
}

impl GuidanceRule for Mmps {
    fn name(&self) -> &'static str {
        "MMPS"
    }

    /// MMPS's `ε_post`, with SDA's for the trajectories whose MMPS step is not trusted (the SDA
    /// step is computed only when some trajectory needs it).
    fn epsilon(
        &self,
        prior: &dyn TrajectoryScore,
        observations: &TensorObservations,
        x: &Tensor,
        t: f64,
    ) -> Result<Tensor, ScoreError> {
        let (post, trusted) = mmps_epsilon(prior, observations, x, t, self.iterations)?;
        let fallbacks = trusted.to_dtype(DType::F64)?.to_vec1::<f64>()?.iter().filter(|p| **p < 0.5).count();
        if fallbacks == 0 {
            return Ok(post);
        }
        let fallback = Sda { gamma: MMPS_FALLBACK_GAMMA }.epsilon(prior, observations, x, t)?;
        let mut shape = vec![trusted.dim(0)?];
        shape.resize(x.rank(), 1);
        let keep = trusted.reshape(shape)?;
        Ok((post.broadcast_mul(&keep)? + fallback.broadcast_mul(&(keep.neg()? + 1.0)?)?)?)
    }

    /// MMPS solves its likelihood rather than differentiating a scalar: none.
    fn log_likelihood(
        &self,
        _observations: &TensorObservations,
        _x_hat: &Tensor,
        _t: f64,
    ) -> Option<candle_core::Result<Tensor>> {
        None
    }
}

/// `ε_post = ε − σ·Jᵀ·Aᵀ·u`, `u ≈ (Σ_y + A·V·Aᵀ)⁻¹·(y − A(x̂))` by `iterations` conjugate-gradient
/// steps from `u = 0` (the covariance held fixed, as in the rule's derivation). Cost: one forward
/// pass and `iterations + 1` vector–Jacobian products through the prior. Also returns, per
/// trajectory (shape `[S]`, 1 or 0), whether the step is trusted: `V` positive along every
/// direction the solve met and the updated estimate within [`TWEEDIE_BOUND`].
fn mmps_epsilon(
    prior: &dyn TrajectoryScore,
    observations: &TensorObservations,
    x: &Tensor,
    t: f64,
    iterations: usize,
) -> Result<(Tensor, Tensor), ScoreError> {
    let schedule = VpSchedule::new();
    let (mu, sigma) = (schedule.mu(t), schedule.sigma(t));
    let linear = prior.linearise(x, t)?;
    let eps = linear.epsilon();
    let x_hat = ((x.detach() - (eps * sigma)?)? / mu)?;
    // Jᵀ·v = (v − σ·vᵀ∂ε/∂x)/μ. J is symmetric for a true score (it is the Hessian of a log-density
    // up to the identity), so Jᵀ·v also stands for J·v: one vector–Jacobian product either way.
    let jacobian_t = |v: &Tensor| -> Result<Tensor, ScoreError> { Ok(((v - (linear.vjp(v)? * sigma)?)? / mu)?) };
    let variances = observations.variances().unsqueeze(0)?;
    let covariance = |u: &Tensor| -> Result<Tensor, ScoreError> {
        let back = observations.vjp(&x_hat, u)?;
        let v = (jacobian_t(&back)? * (sigma * sigma / mu))?;
        Ok((observations.jvp(&x_hat, &v)? + u.broadcast_mul(&variances)?)?)
    };
    let residual = observations.values().unsqueeze(0)?.broadcast_sub(&observations.predict(&x_hat)?)?;
    let (u, positive) = conjugate_gradient(&covariance, &residual, &variances, iterations)?;
    let grad = jacobian_t(&observations.vjp(&x_hat, &u)?)?;
    // x̂ of ε_post: x̂ + (σ²/μ)·Jᵀ·Aᵀ·u = x̂ + V·Aᵀ·u.
    let updated = (&x_hat + (&grad * (sigma * sigma / mu))?)?;
    let inside = updated.abs()?.flatten_from(1)?.max_keepdim(1)?.le(TWEEDIE_BOUND)?.to_dtype(positive.dtype())?;
    let trusted = (positive * inside)?.squeeze(1)?;
    Ok(((eps - (grad * sigma)?)?, trusted))
}

/// Solves `M·u = b` row by row (each row of `b` `[S, K]` is its own system) by `iterations`
/// conjugate-gradient steps from `u = 0`, with no convergence test. The iterates and scalars are
/// kept in f64 (only `M` is applied in `b`'s dtype), so iterations past convergence, whose
/// residuals reach f32's subnormal range, cannot overflow a step. `M = diag(floor) + P` with `P`
/// positive semi-definite in exact arithmetic, so `pᵀ·M·p` is clamped below by `pᵀ·diag(floor)·p`:
/// a learned score's Jacobian need not be symmetric or positive, and the clamp keeps each step no
/// longer than the observation noise alone allows. The second result (`[S, 1]`, 1 or 0) says
/// whether each row's `pᵀ·P·p` was non-negative at every step.
fn conjugate_gradient(
    operator: &dyn Fn(&Tensor) -> Result<Tensor, ScoreError>,
    b: &Tensor,
    floor: &Tensor,
    iterations: usize,
) -> Result<(Tensor, Tensor), ScoreError> {
    let dtype = b.dtype();
    let dot = |a: &Tensor, c: &Tensor| (a * c)?.sum_keepdim(D::Minus1);
    let floor = floor.to_dtype(DType::F64)?;
    let mut u = b.zeros_like()?.to_dtype(DType::F64)?;
    let mut r = b.to_dtype(DType::F64)?;
    let mut p = r.clone();
    let mut rr = dot(&r, &r)?;
    let mut positive = rr.ones_like()?;
    for _ in 0..iterations {
        let mp = operator(&p.to_dtype(dtype)?)?.to_dtype(DType::F64)?;
        let (pmp, noise_only) = (dot(&p, &mp)?, dot(&p, &p.broadcast_mul(&floor)?)?);
        positive = (positive * pmp.ge(&noise_only)?.to_dtype(DType::F64)?)?;
        let curvature = pmp.maximum(&noise_only)?.clamp(f64::MIN_POSITIVE, f64::INFINITY)?;
        let alpha = (&rr / curvature)?;
        u = (u + p.broadcast_mul(&alpha)?)?;
        r = (r - mp.broadcast_mul(&alpha)?)?;
        let next = dot(&r, &r)?;
        let beta = (&next / rr.clamp(f64::MIN_POSITIVE, f64::INFINITY)?)?;
        p = (&r + p.broadcast_mul(&beta)?)?;
        rr = next;
    }
    Ok((u.to_dtype(dtype)?, positive.to_dtype(dtype)?))
}

//! Moment-matching posterior sampling (MMPS): the likelihood of the observations under the
//! Tweedie covariance of `x` given `x(t)`, solved by conjugate gradients.
//!
//! With `x̂ = (x(t) − σ·ε)/μ` and `J = ∂x̂/∂x(t)`, `Cov[x | x(t)] ≈ V = (σ²/μ)·J`, and
//! `p(y | x(t)) ≈ N(y | A(x̂), Σ_y + A·V·Aᵀ)` with `A` linearised at `x̂`. For the exact score of a
//! linear-Gaussian prior this is the exact likelihood, so the sampler needs no corrections there.

use candle_core::{D, DType, Tensor};

use crate::observe::TensorObservations;
use crate::score::{ScoreError, TrajectoryScore, VpSchedule};

/// `ε_post = ε − σ·Jᵀ·Aᵀ·u`, `u ≈ (Σ_y + A·V·Aᵀ)⁻¹·(y − A(x̂))` by `iterations` conjugate-gradient
/// steps from `u = 0` (the covariance held fixed, as in the rule's derivation). Cost: one forward
/// pass and `iterations + 1` vector–Jacobian products through the prior.
pub(super) fn mmps_epsilon(
    prior: &dyn TrajectoryScore,
    observations: &TensorObservations,
    x: &Tensor,
    t: f64,
    iterations: usize,
) -> Result<Tensor, ScoreError> {
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
    let u = conjugate_gradient(&covariance, &residual, &variances, iterations)?;
    let grad = jacobian_t(&observations.vjp(&x_hat, &u)?)?;
    Ok((eps - (grad * sigma)?)?)
}

/// Solves `M·u = b` row by row (each row of `b` `[S, K]` is its own system) by `iterations`
/// conjugate-gradient steps from `u = 0`, with no convergence test. The iterates and scalars are
/// kept in f64 (only `M` is applied in `b`'s dtype), so iterations past convergence, whose
/// residuals reach f32's subnormal range, cannot overflow a step. `M = diag(floor) + P` with `P`
/// positive semi-definite in exact arithmetic, so `pᵀ·M·p` is clamped below by `pᵀ·diag(floor)·p`:
/// a learned score's Jacobian need not be symmetric or positive, and the clamp keeps each step no
/// longer than the observation noise alone allows.
fn conjugate_gradient(
    operator: &dyn Fn(&Tensor) -> Result<Tensor, ScoreError>,
    b: &Tensor,
    floor: &Tensor,
    iterations: usize,
) -> Result<Tensor, ScoreError> {
    let dtype = b.dtype();
    let dot = |a: &Tensor, c: &Tensor| (a * c)?.sum_keepdim(D::Minus1);
    let floor = floor.to_dtype(DType::F64)?;
    let mut u = b.zeros_like()?.to_dtype(DType::F64)?;
    let mut r = b.to_dtype(DType::F64)?;
    let mut p = r.clone();
    let mut rr = dot(&r, &r)?;
    for _ in 0..iterations {
        let mp = operator(&p.to_dtype(dtype)?)?.to_dtype(DType::F64)?;
        let curvature =
            dot(&p, &mp)?.maximum(&dot(&p, &p.broadcast_mul(&floor)?)?)?.clamp(f64::MIN_POSITIVE, f64::INFINITY)?;
        let alpha = (&rr / curvature)?;
        u = (u + p.broadcast_mul(&alpha)?)?;
        r = (r - mp.broadcast_mul(&alpha)?)?;
        let next = dot(&r, &r)?;
        let beta = (&next / rr.clamp(f64::MIN_POSITIVE, f64::INFINITY)?)?;
        p = (&r + p.broadcast_mul(&beta)?)?;
        rr = next;
    }
    Ok(u.to_dtype(dtype)?)
}

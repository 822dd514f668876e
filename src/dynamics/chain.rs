//! The one interface every simulated system implements.

use rand::RngCore;

use super::{Gaussian, ModelError, Normalisation};

/// A stochastic Markov chain `x_{i+1} = f(x_i) + w_i`, `w_i ~ N(0, Q)`, over flat `f64` states.
///
/// Every system of SDA Lab has additive Gaussian process noise, so the transition density is the
/// Gaussian density of the residual `x_{i+1} − f(x_i)`; implementors give `f` (the drift) and `Q`,
/// and the stochastic step and its log-density follow.
pub trait MarkovChain: Send + Sync {
    /// Short name, as written in scenario files (`lorenz63`, …).
    fn name(&self) -> &'static str;

    /// Shape of one state (`[3]`, `[40]`, `[H, W]`); states are stored flat, row-major.
    fn state_shape(&self) -> Vec<usize>;

    /// Number of scalars in one state.
    fn state_dim(&self) -> usize {
        self.state_shape().iter().product()
    }

    /// The distribution of the first state before any burn-in.
    fn initial_prior(&self) -> &Gaussian;

    /// The deterministic part of one transition, `f(x)` (the mean of `x_{i+1}` given `x_i = x`).
    fn drift(&self, x: &[f64], out: &mut [f64]);

    /// The adjoint of the drift: `out = (∂f/∂x at x)ᵀ · v`. Variational methods (4D-Var) need it;
    /// systems without one say so.
    fn drift_vjp(&self, _x: &[f64], _v: &[f64], _out: &mut [f64]) -> Result<(), ModelError> {
        Err(ModelError::Setting {
            field: self.name().into(),
            reason: "this system has no adjoint model, which 4D-Var needs".into(),
        })
    }

    /// The additive process noise `w_i`.
    fn process_noise(&self) -> &Gaussian;

    /// The affine map between physical units and the networks' normalised space.
    fn normalisation(&self) -> &Normalisation;

    /// Transitions applied to a draw from the initial prior before a trajectory is recorded, so
    /// that recorded trajectories start on the attractor.
    fn default_burn_in(&self) -> usize;

    /// Draws a state from the initial prior into `out`.
    fn sample_initial(&self, rng: &mut dyn RngCore, out: &mut [f64]) {
        out.fill(0.0);
        self.initial_prior().add_sample(rng, out);
    }

    /// One stochastic transition from `x` into `out`.
    fn transition(&self, x: &[f64], rng: &mut dyn RngCore, out: &mut [f64]) {
        self.drift(x, out);
        self.process_noise().add_sample(rng, out);
    }

    /// A trajectory of `length` recorded states after `burn_in` discarded transitions, starting
    /// from a draw of the initial prior (flat, physical units). Systems whose stored state is a
    /// view of a finer hidden state override this to carry the hidden state along.
    fn simulate(&self, length: usize, burn_in: usize, rng: &mut dyn RngCore) -> Vec<f64> {
        let d = self.state_dim();
        let mut x = vec![0.0; d];
        let mut next = vec![0.0; d];
        self.sample_initial(rng, &mut x);
        for _ in 0..burn_in {
            self.transition(&x, rng, &mut next);
            std::mem::swap(&mut x, &mut next);
        }
        let mut out = Vec::with_capacity(length * d);
        for i in 0..length {
            if i > 0 {
                self.transition(&x, rng, &mut next);
                std::mem::swap(&mut x, &mut next);
            }
            out.extend_from_slice(&x);
        }
        out
    }

    /// `log p(next | x)` for one transition.
    fn transition_log_density(&self, x: &[f64], next: &[f64]) -> f64 {
        let mut residual = vec![0.0; x.len()];
        self.drift(x, &mut residual);
        for (r, n) in residual.iter_mut().zip(next) {
            *r = n - *r;
        }
        self.process_noise().log_density(&residual)
    }

    /// Sum of the transition log-densities along a flat trajectory of whole states.
    fn trajectory_log_prior(&self, trajectory: &[f64]) -> f64 {
        let d = self.state_dim();
        trajectory
            .chunks_exact(d)
            .zip(trajectory.chunks_exact(d).skip(1))
            .map(|(x, next)| self.transition_log_density(x, next))
            .sum()
    }
}

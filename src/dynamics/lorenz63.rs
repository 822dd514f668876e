//! Lorenz-63 with process noise, as in the SDA paper.

use nalgebra::{DMatrix, DVector};

use super::{Gaussian, MarkovChain, ModelError, Normalisation, rk4};

/// Lorenz (1963), `σ = 10, ρ = 28, β = 8/3`. One stored transition is one RK4 step of
/// `Δ = 0.025` plus `N(0, Δ·I)` noise in physical units. Initial prior
/// `N([0, 0, 25], [[64, 50, 0], [50, 81, 0], [0, 0, 75]])`; network space
/// `(x − [0, 0, 25]) / [8, 9, 8.6]`.
#[derive(Debug, Clone)]
pub struct Lorenz63 {
    sigma: f64,
    rho: f64,
    beta: f64,
    dt: f64,
    initial: Gaussian,
    noise: Gaussian,
    normalisation: Normalisation,
}

impl Lorenz63 {
    /// Time between stored states.
    pub const DT: f64 = 0.025;

    #[allow(clippy::expect_used, reason = "the prior and noise are fixed constants checked by this file's tests")]
    pub fn new() -> Self {
        let initial_cov = DMatrix::from_row_slice(3, 3, &[64.0, 50.0, 0.0, 50.0, 81.0, 0.0, 0.0, 0.0, 75.0]);
        // Constants checked by the tests below: an error here is a bug, not an input problem.
        let initial = Gaussian::new(DVector::from_vec(vec![0.0, 0.0, 25.0]), initial_cov, "lorenz63 prior")
            .expect("the Lorenz-63 prior covariance is a fixed SPD matrix");
        let noise = Gaussian::isotropic(DVector::zeros(3), Self::DT, "lorenz63 noise")
            .expect("the Lorenz-63 noise variance is a fixed positive number");
        Self {
            sigma: 10.0,
            rho: 28.0,
            beta: 8.0 / 3.0,
            dt: Self::DT,
            initial,
            noise,
            normalisation: Normalisation::new(vec![0.0, 0.0, 25.0], vec![8.0, 9.0, 8.6]),
        }
    }

    /// The Lorenz vector field at `x`.
    pub fn vector_field(&self, x: &[f64], dx: &mut [f64]) {
        dx[0] = self.sigma * (x[1] - x[0]);
        dx[1] = x[0] * (self.rho - x[2]) - x[1];
        dx[2] = x[0] * x[1] - self.beta * x[2];
    }

    /// `(∂f/∂x at x)ᵀ · w` for the vector field `f`.
    pub fn vector_field_vjp(&self, x: &[f64], w: &[f64], out: &mut [f64]) {
        out[0] = -self.sigma * w[0] + (self.rho - x[2]) * w[1] + x[1] * w[2];
        out[1] = self.sigma * w[0] - w[1] + x[0] * w[2];
        out[2] = -x[0] * w[1] - self.beta * w[2];
    }

    /// Deterministic flow over `duration` with `substeps` RK4 steps.
    pub fn flow(&self, x: &[f64], duration: f64, substeps: usize, out: &mut [f64]) {
        rk4::integrate(|x, dx| self.vector_field(x, dx), x, duration, substeps, out);
    }
}

impl Default for Lorenz63 {
    fn default() -> Self {
        Self::new()
    }
}

impl MarkovChain for Lorenz63 {
    fn name(&self) -> &'static str {
        "lorenz63"
    }

    fn state_shape(&self) -> Vec<usize> {
        vec![3]
    }

    fn initial_prior(&self) -> &Gaussian {
        &self.initial
    }

    fn drift(&self, x: &[f64], out: &mut [f64]) {
        self.flow(x, self.dt, 1, out);
    }

    fn drift_vjp(&self, x: &[f64], v: &[f64], out: &mut [f64]) -> Result<(), ModelError> {
        let f = |x: &[f64], dx: &mut [f64]| self.vector_field(x, dx);
        rk4::integrate_vjp(f, |x, w, o| self.vector_field_vjp(x, w, o), x, self.dt, 1, v, out);
        Ok(())
    }

    fn process_noise(&self) -> &Gaussian {
        &self.noise
    }

    fn normalisation(&self) -> &Normalisation {
        &self.normalisation
    }

    fn default_burn_in(&self) -> usize {
        1024
    }
}

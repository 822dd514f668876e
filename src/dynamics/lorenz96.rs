//! Lorenz-96, the data-assimilation-standard setting (40 variables, F = 8, Δ = 0.05).

use nalgebra::DVector;

use super::{Gaussian, MarkovChain, ModelError, Normalisation, rk4};

/// Lorenz (1996): `dx_i/dt = (x_{i+1} − x_{i−2})·x_{i−1} − x_i + F` on a ring of 40 variables,
/// `F = 8`, `Δ = 0.05` between stored states integrated by five RK4 sub-steps of 0.01.
///
/// Process noise is `N(0, 0.1²·I)` per stored transition: about 3% of the climatological standard
/// deviation (3.65), the same relative size as Lorenz-63's `N(0, Δ·I)` (2% of 7.9). It is small
/// enough to keep the climate at the noise-free values (mean ≈ 2.35, std ≈ 3.6, tested), and large enough that the
/// transition density is non-degenerate, which the particle smoother and the log-prior metric need.
/// The initial prior is `N(F·1, I)`, spun up onto the attractor by the burn-in.
#[derive(Debug, Clone)]
pub struct Lorenz96 {
    forcing: f64,
    dt: f64,
    substeps: usize,
    initial: Gaussian,
    noise: Gaussian,
    normalisation: Normalisation,
}

impl Lorenz96 {
    /// Number of variables on the ring.
    pub const DIM: usize = 40;
    /// Time between stored states.
    pub const DT: f64 = 0.05;
    /// Standard deviation of the process noise per stored transition.
    pub const NOISE_STD: f64 = 0.1;
    /// Climatological mean and standard deviation of one variable (measured from a 10⁵-state run
    /// with this noise; the `lorenz96_climate` test re-measures them).
    pub const CLIMATE_MEAN: f64 = 2.32;
    pub const CLIMATE_STD: f64 = 3.65;

    #[allow(clippy::expect_used, reason = "the noise and prior variances are fixed positive constants")]
    pub fn new() -> Self {
        let noise = Gaussian::isotropic(DVector::zeros(Self::DIM), Self::NOISE_STD.powi(2), "lorenz96 noise")
            .expect("the Lorenz-96 noise variance is a fixed positive number");
        let forcing = 8.0;
        // N(F·1, I): unit perturbations of the unstable fixed point x = F.
        let initial = Gaussian::isotropic(DVector::from_element(Self::DIM, forcing), 1.0, "lorenz96 prior")
            .expect("unit variance is positive");
        Self {
            forcing,
            dt: Self::DT,
            substeps: 5,
            initial,
            noise,
            normalisation: Normalisation::uniform(Self::DIM, Self::CLIMATE_MEAN, Self::CLIMATE_STD),
        }
    }

    /// The Lorenz-96 vector field at `x` (cyclic indices).
    pub fn vector_field(&self, x: &[f64], dx: &mut [f64]) {
        let n = x.len();
        for i in 0..n {
            let (ip1, im1, im2) = ((i + 1) % n, (i + n - 1) % n, (i + n - 2) % n);
            dx[i] = (x[ip1] - x[im2]) * x[im1] - x[i] + self.forcing;
        }
    }
}

impl Lorenz96 {
    /// `(∂f/∂x at x)ᵀ · w` for the vector field `f`.
    pub fn vector_field_vjp(&self, x: &[f64], w: &[f64], out: &mut [f64]) {
        let n = x.len();
        out.fill(0.0);
        for i in 0..n {
            let (ip1, im1, im2) = ((i + 1) % n, (i + n - 1) % n, (i + n - 2) % n);
            out[ip1] += w[i] * x[im1];
            out[im2] -= w[i] * x[im1];
            out[im1] += w[i] * (x[ip1] - x[im2]);
            out[i] -= w[i];
        }
    }
}

impl Default for Lorenz96 {
    fn default() -> Self {
        Self::new()
    }
}

impl MarkovChain for Lorenz96 {
    fn name(&self) -> &'static str {
        "lorenz96"
    }

    fn state_shape(&self) -> Vec<usize> {
        vec![Self::DIM]
    }

    fn initial_prior(&self) -> &Gaussian {
        &self.initial
    }

    fn drift(&self, x: &[f64], out: &mut [f64]) {
        rk4::integrate(|x, dx| self.vector_field(x, dx), x, self.dt, self.substeps, out);
    }

    fn drift_vjp(&self, x: &[f64], v: &[f64], out: &mut [f64]) -> Result<(), ModelError> {
        let f = |x: &[f64], dx: &mut [f64]| self.vector_field(x, dx);
        rk4::integrate_vjp(f, |x, w, o| self.vector_field_vjp(x, w, o), x, self.dt, self.substeps, v, out);
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

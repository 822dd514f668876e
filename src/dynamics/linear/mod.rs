//! The linear-Gaussian toy and its exact oracle.
//!
//! `x_0 ~ N(m_0, P_0)`, `x_{i+1} = M·x_i + b + N(0, Q)`. Its whole-trajectory prior is Gaussian
//! with known moments ([`TrajectoryGaussian`]), and its posterior given linear observations is
//! computed exactly by the Kalman filter and RTS smoother ([`SmoothedPosterior`]): the
//! correctness oracle for every sampler.

mod kalman;
mod linear_observation;
mod stacked;

pub use kalman::SmoothedPosterior;
pub use linear_observation::LinearObservation;
pub use stacked::TrajectoryGaussian;

use nalgebra::{DMatrix, DVector};

use super::{Gaussian, MarkovChain, ModelError, Normalisation};

/// A linear-Gaussian state-space model.
#[derive(Debug, Clone)]
pub struct LinearGaussian {
    transition: DMatrix<f64>,
    offset: DVector<f64>,
    noise: Gaussian,
    initial: Gaussian,
    normalisation: Normalisation,
}

impl LinearGaussian {
    /// Builds the model, checking every size against `initial_mean` and every covariance for
    /// symmetry and positive definiteness. Errors name the field as a scenario file spells it
    /// (`system.transition`, …).
    pub fn new(
        transition: DMatrix<f64>,
        offset: DVector<f64>,
        process_cov: DMatrix<f64>,
        initial_mean: DVector<f64>,
        initial_cov: DMatrix<f64>,
    ) -> Result<Self, ModelError> {
        let d = initial_mean.len();
        if d == 0 {
            return Err(ModelError::Shape {
                field: "system.initial_mean".into(),
                expected: "at least one component".into(),
                found: "an empty vector".into(),
            });
        }
        if transition.shape() != (d, d) {
            return Err(ModelError::Shape {
                field: "system.transition".into(),
                expected: format!("a {d}×{d} matrix (the state has {d} components)"),
                found: format!("{}×{}", transition.nrows(), transition.ncols()),
            });
        }
        if offset.len() != d {
            return Err(ModelError::Shape {
                field: "system.offset".into(),
                expected: format!("{d} entries"),
                found: format!("{}", offset.len()),
            });
        }
        for (field, values) in [("system.transition", transition.as_slice()), ("system.offset", offset.as_slice())] {
            if !values.iter().all(|v| v.is_finite()) {
                return Err(ModelError::NonFinite { field: field.into() });
            }
        }
        let noise = Gaussian::new(DVector::zeros(d), process_cov, "system.process_cov")?;
        let initial = Gaussian::new(initial_mean, initial_cov, "system.initial_cov")?;
        let center = initial.mean().iter().copied().collect();
        let scale = initial.covariance().diagonal().iter().map(|v| v.sqrt()).collect();
        Ok(Self { transition, offset, noise, initial, normalisation: Normalisation::new(center, scale) })
    }

    pub fn dim(&self) -> usize {
        self.offset.len()
    }

    /// `M`.
    pub fn transition_matrix(&self) -> &DMatrix<f64> {
        &self.transition
    }

    /// `b`.
    pub fn offset(&self) -> &DVector<f64> {
        &self.offset
    }

    /// `Q`.
    pub fn process_cov(&self) -> DMatrix<f64> {
        self.noise.covariance()
    }
}

impl MarkovChain for LinearGaussian {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn state_shape(&self) -> Vec<usize> {
        vec![self.dim()]
    }

    fn initial_prior(&self) -> &Gaussian {
        &self.initial
    }

    fn drift(&self, x: &[f64], out: &mut [f64]) {
        let d = self.dim();
        for (i, o) in out.iter_mut().enumerate().take(d) {
            *o = self.offset[i] + (0..d).map(|j| self.transition[(i, j)] * x[j]).sum::<f64>();
        }
    }

    fn drift_vjp(&self, _x: &[f64], v: &[f64], out: &mut [f64]) -> Result<(), ModelError> {
        let d = self.dim();
        for (j, o) in out.iter_mut().enumerate().take(d) {
            *o = (0..d).map(|i| self.transition[(i, j)] * v[i]).sum::<f64>();
        }
        Ok(())
    }

    fn process_noise(&self) -> &Gaussian {
        &self.noise
    }

    /// Centred on the initial mean, scaled by the initial standard deviations.
    fn normalisation(&self) -> &Normalisation {
        &self.normalisation
    }

    /// None: the scenario's initial prior describes the first recorded state.
    fn default_burn_in(&self) -> usize {
        0
    }
}

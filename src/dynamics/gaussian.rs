//! Multivariate Gaussian with a validated covariance: sampling and log-density.

use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngCore};
use rand_distr::StandardNormal;

use super::ModelError;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// `N(mean, Σ)`, with `Σ` either `s²·I` (cheap for large states) or a dense SPD matrix held with
/// its Cholesky factor.
#[derive(Debug, Clone)]
pub struct Gaussian {
    mean: DVector<f64>,
    covariance: Covariance,
}

#[derive(Debug, Clone)]
enum Covariance {
    Isotropic { variance: f64 },
    Dense { matrix: DMatrix<f64>, lower: DMatrix<f64>, log_det: f64 },
}

impl Gaussian {
    /// `N(mean, variance·I)`.
    pub fn isotropic(mean: DVector<f64>, variance: f64, field: &str) -> Result<Self, ModelError> {
        check_finite(mean.as_slice(), field)?;
        if !(variance.is_finite() && variance > 0.0) {
            return Err(ModelError::NotPositiveDefinite { field: field.into() });
        }
        Ok(Self { mean, covariance: Covariance::Isotropic { variance } })
    }

    /// `N(mean, covariance)`; the covariance must be square, finite, symmetric and positive definite.
    /// `field` names the covariance in error messages.
    pub fn new(mean: DVector<f64>, covariance: DMatrix<f64>, field: &str) -> Result<Self, ModelError> {
        let d = mean.len();
        if covariance.shape() != (d, d) {
            return Err(ModelError::Shape {
                field: field.into(),
                expected: format!("a {d}×{d} matrix"),
                found: format!("{}×{}", covariance.nrows(), covariance.ncols()),
            });
        }
        check_finite(mean.as_slice(), field)?;
        let lower = cholesky_spd(&covariance, field)?;
        let log_det = 2.0 * lower.diagonal().iter().map(|v| v.ln()).sum::<f64>();
        Ok(Self { mean, covariance: Covariance::Dense { matrix: covariance, lower, log_det } })
    }

    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    pub fn mean(&self) -> &DVector<f64> {
        &self.mean
    }

    /// The covariance as a dense matrix.
    pub fn covariance(&self) -> DMatrix<f64> {
        match &self.covariance {
            Covariance::Isotropic { variance } => DMatrix::from_diagonal_element(self.dim(), self.dim(), *variance),
            Covariance::Dense { matrix, .. } => matrix.clone(),
        }
    }

    /// Adds one draw of this Gaussian to `out` (`out += mean + L·z`, `z ~ N(0, I)`).
    pub fn add_sample(&self, rng: &mut dyn RngCore, out: &mut [f64]) {
        let d = self.dim();
        let z: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
        for (o, m) in out.iter_mut().zip(self.mean.iter()) {
            *o += m;
        }
        match &self.covariance {
            Covariance::Isotropic { variance } => {
                let s = variance.sqrt();
                for (o, z) in out.iter_mut().zip(&z) {
                    *o += s * z;
                }
            }
            Covariance::Dense { lower, .. } => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o += (0..=i).map(|j| lower[(i, j)] * z[j]).sum::<f64>();
                }
            }
        }
    }

    /// `log N(x; mean, Σ)`.
    pub fn log_density(&self, x: &[f64]) -> f64 {
        let d = self.dim();
        let r = DVector::from_iterator(d, x.iter().zip(self.mean.iter()).map(|(x, m)| x - m));
        let (quad, log_det) = match &self.covariance {
            Covariance::Isotropic { variance } => (r.norm_squared() / variance, d as f64 * variance.ln()),
            Covariance::Dense { lower, log_det, .. } => {
                // ‖L⁻¹ r‖²; the factor is lower triangular with a positive diagonal.
                let w = lower.solve_lower_triangular(&r).unwrap_or_else(|| DVector::from_element(d, f64::NAN));
                (w.norm_squared(), *log_det)
            }
        };
        -0.5 * (quad + log_det + d as f64 * LN_2PI)
    }

    /// `∇ₓ log N(x; μ, Σ) = −Σ⁻¹ (x − μ)`, added to `out`.
    pub fn add_log_density_gradient(&self, x: &[f64], out: &mut [f64]) {
        let d = self.dim();
        let r = DVector::from_iterator(d, x.iter().zip(self.mean.iter()).map(|(x, m)| x - m));
        let g = match &self.covariance {
            Covariance::Isotropic { variance } => r / *variance,
            Covariance::Dense { lower, .. } => {
                let half = lower.solve_lower_triangular(&r).unwrap_or_else(|| DVector::from_element(d, f64::NAN));
                lower.tr_solve_lower_triangular(&half).unwrap_or_else(|| DVector::from_element(d, f64::NAN))
            }
        };
        for (o, g) in out.iter_mut().zip(g.iter()) {
            *o -= g;
        }
    }
}

fn check_finite(values: &[f64], field: &str) -> Result<(), ModelError> {
    if values.iter().all(|v| v.is_finite()) { Ok(()) } else { Err(ModelError::NonFinite { field: field.into() }) }
}

/// Lower Cholesky factor of a symmetric positive-definite matrix, with errors naming `field`.
pub(crate) fn cholesky_spd(m: &DMatrix<f64>, field: &str) -> Result<DMatrix<f64>, ModelError> {
    check_finite(m.as_slice(), field)?;
    let scale = m.amax().max(f64::MIN_POSITIVE);
    for i in 0..m.nrows() {
        for j in (i + 1)..m.ncols() {
            let (upper, lower) = (m[(i, j)], m[(j, i)]);
            if (upper - lower).abs() > 1e-9 * scale {
                return Err(ModelError::NotSymmetric { field: field.into(), row: i, col: j, upper, lower });
            }
        }
    }
    nalgebra::Cholesky::new(m.clone())
        .map(|c| c.unpack())
        .filter(|l| l.diagonal().iter().all(|v| *v > 0.0 && v.is_finite()))
        .ok_or_else(|| ModelError::NotPositiveDefinite { field: field.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_log_density_matches_closed_form_in_2d() {
        let cov = DMatrix::from_row_slice(2, 2, &[2.0, 0.6, 0.6, 1.0]);
        let g = Gaussian::new(DVector::from_vec(vec![1.0, -1.0]), cov, "c").unwrap();
        let x = [0.3, 0.2];
        let det: f64 = 2.0 * 1.0 - 0.36;
        let (a, b) = (x[0] - 1.0, x[1] + 1.0);
        // Inverse of [[2, .6], [.6, 1]] is [[1, -.6], [-.6, 2]] / det.
        let quad = (a * a * 1.0 - 2.0 * 0.6 * a * b + 2.0 * b * b) / det;
        let expected = -0.5 * (quad + det.ln() + 2.0 * (2.0 * std::f64::consts::PI).ln());
        assert!((g.log_density(&x) - expected).abs() < 1e-12);
    }

    #[test]
    fn rejects_asymmetric_and_indefinite() {
        let m = DVector::zeros(2);
        let asym = DMatrix::from_row_slice(2, 2, &[1.0, 0.5, 0.4, 1.0]);
        assert!(matches!(Gaussian::new(m.clone(), asym, "q"), Err(ModelError::NotSymmetric { .. })));
        let indef = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        assert!(matches!(Gaussian::new(m, indef, "q"), Err(ModelError::NotPositiveDefinite { .. })));
    }
}

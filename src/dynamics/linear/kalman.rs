//! Exact posterior of a linear-Gaussian trajectory: Kalman filter forward, RTS smoother backward.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

use super::{LinearGaussian, LinearObservation};
use crate::dynamics::MarkovChain;
use crate::dynamics::ModelError;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// The posterior `p(x_0..x_{L−1} | y)` of a linear-Gaussian model, described by its marginals and
/// lag-one covariances (together they determine the whole Gaussian, which is Markov).
#[derive(Debug, Clone)]
pub struct SmoothedPosterior {
    /// `E[x_i | y]`, one per state.
    pub means: Vec<DVector<f64>>,
    /// `Cov(x_i | y)`, one per state.
    pub covariances: Vec<DMatrix<f64>>,
    /// `Cov(x_{i+1}, x_i | y)` for `i = 0..L−2`.
    pub lag_one: Vec<DMatrix<f64>>,
    /// `log p(y)`, the evidence of the observations under the model.
    pub log_evidence: f64,
}

impl LinearGaussian {
    /// Kalman filter + Rauch–Tung–Striebel smoother over `length` states given `observations`
    /// (any number per state, in any order).
    pub fn smooth(&self, length: usize, observations: &[LinearObservation]) -> Result<SmoothedPosterior, ModelError> {
        let d = self.dim();
        let by_time = group_by_time(observations, length, d)?;
        let m = self.transition_matrix();
        let q = self.process_cov();

        let mut predicted_means = Vec::with_capacity(length);
        let mut predicted_covs = Vec::with_capacity(length);
        let mut filtered_means: Vec<DVector<f64>> = Vec::with_capacity(length);
        let mut filtered_covs: Vec<DMatrix<f64>> = Vec::with_capacity(length);
        let mut log_evidence = 0.0;
        let (mut mean, mut cov) = (self.initial_prior().mean().clone(), self.initial_prior().covariance());
        for (i, obs) in by_time.iter().enumerate() {
            predicted_means.push(mean.clone());
            predicted_covs.push(cov.clone());
            let (mf, pf, ll) = update(&mean, &cov, obs, i)?;
            log_evidence += ll;
            if i + 1 < length {
                mean = m * &mf + self.offset();
                cov = symmetric(m * &pf * m.transpose() + &q);
            }
            filtered_means.push(mf);
            filtered_covs.push(pf);
        }

        let mut means = filtered_means.clone();
        let mut covariances = filtered_covs.clone();
        let mut lag_one = vec![DMatrix::zeros(d, d); length.saturating_sub(1)];
        for i in (0..length.saturating_sub(1)).rev() {
            let pred = Cholesky::new(predicted_covs[i + 1].clone()).ok_or_else(|| ModelError::Numerical {
                what: format!("RTS smoother at state {}", i + 1),
                reason: "predicted covariance is not positive definite".into(),
            })?;
            // G = P_f M^T P_pred⁻¹, computed as (P_pred⁻¹ M P_f)^T.
            let gain = pred.solve(&(m * &filtered_covs[i])).transpose();
            means[i] = &filtered_means[i] + &gain * (&means[i + 1] - &predicted_means[i + 1]);
            covariances[i] = symmetric(
                &filtered_covs[i] + &gain * (&covariances[i + 1] - &predicted_covs[i + 1]) * gain.transpose(),
            );
            lag_one[i] = &covariances[i + 1] * gain.transpose();
        }
        Ok(SmoothedPosterior { means, covariances, lag_one, log_evidence })
    }
}

/// Checks the observations and sorts them into one list per state.
pub(super) fn group_by_time(
    observations: &[LinearObservation],
    length: usize,
    d: usize,
) -> Result<Vec<Vec<&LinearObservation>>, ModelError> {
    let mut by_time = vec![Vec::new(); length];
    for (k, o) in observations.iter().enumerate() {
        let field = format!("observations[{k}]");
        if o.t >= length {
            return Err(ModelError::Shape {
                field,
                expected: format!("a state index below {length}"),
                found: o.t.to_string(),
            });
        }
        if o.row.len() != d {
            return Err(ModelError::Shape {
                field,
                expected: format!("{d} coefficients"),
                found: o.row.len().to_string(),
            });
        }
        if !(o.value.is_finite() && o.row.iter().all(|v| v.is_finite()) && o.std.is_finite() && o.std > 0.0) {
            return Err(ModelError::NonFinite { field });
        }
        by_time[o.t].push(o);
    }
    Ok(by_time)
}

/// Stacks observations into `(H, y, R diagonal)`.
pub(super) fn stack(observations: &[&LinearObservation], d: usize) -> (DMatrix<f64>, DVector<f64>, DVector<f64>) {
    let k = observations.len();
    let h = DMatrix::from_fn(k, d, |r, c| observations[r].row[c]);
    let y = DVector::from_iterator(k, observations.iter().map(|o| o.value));
    let r = DVector::from_iterator(k, observations.iter().map(|o| o.std * o.std));
    (h, y, r)
}

/// Conditions `N(mean, cov)` on `y = H x + N(0, R)`; returns the new moments and `log p(y)`.
/// Works for any stacking of `x` (one state or a whole trajectory).
pub(super) fn condition(
    mean: &DVector<f64>,
    cov: &DMatrix<f64>,
    h: &DMatrix<f64>,
    y: &DVector<f64>,
    r: &DVector<f64>,
    what: &str,
) -> Result<(DVector<f64>, DMatrix<f64>, f64), ModelError> {
    if h.nrows() == 0 {
        return Ok((mean.clone(), cov.clone(), 0.0));
    }
    let hp = h * cov;
    let s = symmetric(&hp * h.transpose() + DMatrix::from_diagonal(r));
    let chol: Cholesky<f64, Dyn> = Cholesky::new(s).ok_or_else(|| ModelError::Numerical {
        what: what.into(),
        reason: "innovation covariance is not positive definite: the observations there are degenerate (the same \
                 combination observed twice with a noise std too small to represent, or a prior with no spread along it)"
            .into(),
    })?;
    let innovation = y - h * mean;
    // K = P Hᵀ S⁻¹ = (S⁻¹ H P)ᵀ.
    let gain = chol.solve(&hp).transpose();
    let new_mean = mean + &gain * &innovation;
    // Joseph form keeps the covariance symmetric positive semi-definite under round-off.
    let n = mean.len();
    let i_kh = DMatrix::identity(n, n) - &gain * h;
    let new_cov = symmetric(&i_kh * cov * i_kh.transpose() + &gain * DMatrix::from_diagonal(r) * gain.transpose());
    let whitened =
        chol.l().solve_lower_triangular(&innovation).unwrap_or_else(|| DVector::from_element(y.len(), f64::NAN));
    let log_det = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let log_lik = -0.5 * (whitened.norm_squared() + log_det + y.len() as f64 * LN_2PI);
    Ok((new_mean, new_cov, log_lik))
}

fn update(
    mean: &DVector<f64>,
    cov: &DMatrix<f64>,
    observations: &[&LinearObservation],
    t: usize,
) -> Result<(DVector<f64>, DMatrix<f64>, f64), ModelError> {
    let (h, y, r) = stack(observations, mean.len());
    condition(mean, cov, &h, &y, &r, &format!("Kalman update at state {t}"))
}

pub(super) fn symmetric(m: DMatrix<f64>) -> DMatrix<f64> {
    (&m + m.transpose()) * 0.5
}

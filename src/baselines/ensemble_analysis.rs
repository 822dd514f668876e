//! The ensemble Kalman analysis of one state, written as a right-multiplying ensemble transform.
//!
//! Members are the columns of a `d × N` matrix `E`. Every analysis form here updates the forecast
//! ensemble as `E_a = E_f · G` with an `N × N` matrix `G` built from the members' predicted
//! observations, so the same `G` applied to earlier states' ensembles gives the ensemble Kalman
//! *smoother* (the cross-covariances carry the update back in time). Observations are scalar with
//! independent noise (a diagonal `R`), so everything happens in ensemble space with `N × N` algebra.
//!
//! Notation: `Y` the centred predicted observations (`m × N`), `S = R^{-1/2} Y`,
//! `Pw = (SᵀS + (N−1) I)^{-1}`. Then
//! - square root (ETKF, symmetric root): `G = √(N−1)·Pw^{1/2} + w 1ᵀ`, `w = Pw Sᵀ R^{-1/2} (y − ȳ)`;
//! - stochastic (perturbed observations, centred and rescaled perturbations `D ~ N(0, R)`):
//!   `G = I + Pw Sᵀ R^{-1/2} (y 1ᵀ − D − Eo)`;
//! - deterministic (DEnKF, Sakov & Oke 2008): `G = I + Pw Sᵀ R^{-1/2} ((y − ȳ) 1ᵀ − ½ Y)`.
//!
//! For `N` large these are the Kalman update with the ensemble's covariance (`Pw Sᵀ R^{-1/2}`
//! is `Yᵀ (Y Yᵀ + (N−1) R)^{-1}` by the Woodbury identity). A nonlinear `A` enters only through
//! its predicted values `Eo = A(E)`: the ensemble linearises it statistically.

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_distr::StandardNormal;

/// How the analysis turns forecast members into analysis members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnalysisForm {
    /// Perturbed observations (Burgers et al. 1998): each member assimilates its own noisy copy.
    Stochastic,
    /// Ensemble transform Kalman filter with the symmetric square root (Hunt et al. 2007).
    SquareRoot,
    /// Deterministic EnKF (Sakov & Oke 2008): half the Kalman gain on the anomalies.
    Deterministic,
}

impl AnalysisForm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Stochastic => "stochastic (perturbed observations)",
            Self::SquareRoot => "square root (ETKF)",
            Self::Deterministic => "deterministic (DEnKF)",
        }
    }

    /// The name in tables and menus.
    pub fn short_name(self) -> &'static str {
        match self {
            Self::Stochastic => "perturbed observations",
            Self::SquareRoot => "square root",
            Self::Deterministic => "DEnKF",
        }
    }
}

/// The observations of one state: values, their noise standard deviations, and every member's
/// predicted value (`predicted[(j, n)]` is observation `j` of member `n`).
pub struct StateObservations<'a> {
    pub values: &'a [f64],
    pub stds: &'a [f64],
    pub predicted: DMatrix<f64>,
}

/// Why an analysis could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalysisError {
    #[error("an ensemble needs at least 2 members, got {0}")]
    TooFewMembers(usize),
    #[error("the ensemble's predicted observations are not finite (the forecast diverged)")]
    NonFinite,
}

/// `G`, kept in whichever form is cheaper: dense `N × N`, or identity plus a low-rank term
/// `I + U V` (`U` is `N × k`, `V` is `k × N`, `k ≤ m + 1`) when there are fewer observations than
/// members, so large ensembles never build an `N × N` matrix.
#[derive(Debug, Clone)]
pub enum EnsembleTransform {
    Dense(DMatrix<f64>),
    LowRank { u: DMatrix<f64>, v: DMatrix<f64> },
}

impl EnsembleTransform {
    /// `E · G` for a `d × N` ensemble `E`.
    pub fn apply(&self, e: &DMatrix<f64>) -> DMatrix<f64> {
        match self {
            Self::Dense(g) => e * g,
            Self::LowRank { u, v } => e + (e * u) * v,
        }
    }

    /// `G` as a dense matrix (for small ensembles and tests).
    pub fn to_dense(&self) -> DMatrix<f64> {
        match self {
            Self::Dense(g) => g.clone(),
            Self::LowRank { u, v } => DMatrix::identity(u.nrows(), u.nrows()) + u * v,
        }
    }
}

/// The analysis transform `G`: `E_a = E_f · G`.
pub fn analysis_transform(
    form: AnalysisForm,
    obs: &StateObservations<'_>,
    rng: &mut impl Rng,
) -> Result<EnsembleTransform, AnalysisError> {
    let (m, n) = obs.predicted.shape();
    if n < 2 {
        return Err(AnalysisError::TooFewMembers(n));
    }
    if obs.predicted.iter().any(|v| !v.is_finite()) {
        return Err(AnalysisError::NonFinite);
    }
    let n1 = (n - 1) as f64;
    let predicted_mean = obs.predicted.column_mean();
    let inv_std = DVector::from_iterator(m, obs.stds.iter().map(|s| 1.0 / s));
    // S = R^{-1/2} Y.
    let mut s = obs.predicted.clone();
    for mut column in s.column_iter_mut() {
        column -= &predicted_mean;
        column.component_mul_assign(&inv_std);
    }
    let innovation_mean = DVector::from_iterator(m, (0..m).map(|j| (obs.values[j] - predicted_mean[j]) * inv_std[j]));
    // Scaled innovations of each member for the two gain-based forms.
    let innovations = match form {
        AnalysisForm::SquareRoot => None,
        AnalysisForm::Stochastic => {
            // D ~ N(0, R), centred over members and rescaled by √(N/(N−1)) to keep its variance;
            // R^{-1/2}(y − D − Eo), with D drawn in units of the noise std.
            let mut d = DMatrix::from_fn(m, n, |_, _| rng.sample::<f64, _>(StandardNormal));
            let d_mean = d.column_mean();
            let rescale = (n as f64 / n1).sqrt();
            for mut column in d.column_iter_mut() {
                column -= &d_mean;
                column *= rescale;
            }
            Some(DMatrix::from_fn(m, n, |j, k| (obs.values[j] - obs.predicted[(j, k)]) * inv_std[j] - d[(j, k)]))
        }
        AnalysisForm::Deterministic => Some(DMatrix::from_fn(m, n, |j, k| innovation_mean[j] - 0.5 * s[(j, k)])),
    };
    if m < n {
        // Observation space: K = S Sᵀ + (N−1) I = W diag(μ) Wᵀ, and Pw Sᵀ = Sᵀ K⁻¹.
        let eig = (&s * s.transpose() + DMatrix::identity(m, m) * n1).symmetric_eigen();
        let (w, mu) = (&eig.eigenvectors, &eig.eigenvalues);
        let k_inv = w * DMatrix::from_diagonal(&mu.map(|l| 1.0 / l)) * w.transpose();
        let gain = s.transpose() * k_inv; // N × m
        return Ok(match innovations {
            Some(innovations) => EnsembleTransform::LowRank { u: gain, v: innovations },
            None => {
                // √(N−1)·Pw^{1/2} = I + Sᵀ W D Wᵀ S with D_j = (f_j − 1)/σ_j², f_j = √((N−1)/μ_j),
                // written as −1/(√μ_j (√(N−1) + √μ_j)) so that σ_j → 0 is harmless.
                let root_n1 = n1.sqrt();
                let d = mu.map(|l| -1.0 / (l.sqrt() * (root_n1 + l.sqrt())));
                let mean_shift = &gain * innovation_mean; // w, N
                let mut u = DMatrix::zeros(n, m + 1);
                u.view_mut((0, 0), (n, m)).copy_from(&s.transpose());
                u.set_column(m, &mean_shift);
                let mut v = DMatrix::zeros(m + 1, n);
                v.view_mut((0, 0), (m, n)).copy_from(&(w * DMatrix::from_diagonal(&d) * w.transpose() * &s));
                v.row_mut(m).fill(1.0);
                EnsembleTransform::LowRank { u, v }
            }
        });
    }
    // Ensemble space: Pw = (SᵀS + (N−1) I)⁻¹ = V diag(1/λ) Vᵀ.
    let eig = (s.transpose() * &s + DMatrix::identity(n, n) * n1).symmetric_eigen();
    let (v, lambda) = (&eig.eigenvectors, &eig.eigenvalues);
    let pw = v * DMatrix::from_diagonal(&lambda.map(|l| 1.0 / l)) * v.transpose();
    let gain = &pw * s.transpose(); // N × m
    Ok(EnsembleTransform::Dense(match innovations {
        Some(innovations) => DMatrix::identity(n, n) + gain * innovations,
        None => {
            let mut g = v * DMatrix::from_diagonal(&lambda.map(|l| (n1 / l).sqrt())) * v.transpose();
            let w = &gain * innovation_mean;
            for mut column in g.column_iter_mut() {
                column += &w;
            }
            g
        }
    }))
}

/// Multiplies the anomalies of a `d × N` ensemble by `factor`, keeping its mean (the inflation
/// of DAPPER's `post_process`; its rotation is `E ← E · Q` with [`mean_preserving_rotation`]).
pub fn inflate(e: &mut DMatrix<f64>, factor: f64) {
    let mean = e.column_mean();
    for mut column in e.column_iter_mut() {
        column -= &mean;
        column *= factor;
        column += &mean;
    }
}

/// A uniformly random `N × N` orthogonal matrix `Q` with `Q 1 = 1`: identity on the direction of
/// the mean, a Haar-random rotation on its orthogonal complement.
pub fn mean_preserving_rotation(n: usize, rng: &mut impl Rng) -> DMatrix<f64> {
    if n < 2 {
        return DMatrix::identity(n, n);
    }
    // An orthonormal basis whose first vector is 1/√N: QR of [1 | e_1 … e_{N−1}].
    let mut basis_source = DMatrix::identity(n, n);
    basis_source.column_mut(0).fill(1.0);
    let basis = basis_source.qr().q();
    // Haar rotation of the complement: QR of a Gaussian matrix, signs fixed by R's diagonal.
    let gaussian = DMatrix::from_fn(n - 1, n - 1, |_, _| rng.sample::<f64, _>(StandardNormal));
    let qr = gaussian.qr();
    let (mut q, r) = (qr.q(), qr.r());
    for (i, mut column) in q.column_iter_mut().enumerate() {
        if r[(i, i)] < 0.0 {
            column.neg_mut();
        }
    }
    let mut block = DMatrix::identity(n, n);
    block.view_mut((1, 1), (n - 1, n - 1)).copy_from(&q);
    &basis * block * basis.transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    #[test]
    fn rotation_is_orthogonal_and_keeps_the_mean() {
        let mut r = rng::stream(1, 0);
        let q = mean_preserving_rotation(7, &mut r);
        let identity = DMatrix::<f64>::identity(7, 7);
        assert!((q.transpose() * &q - identity).amax() < 1e-12);
        let ones = DVector::from_element(7, 1.0);
        assert!((&q * &ones - &ones).amax() < 1e-12);
        // Not the identity: it does rotate.
        assert!((q - DMatrix::<f64>::identity(7, 7)).amax() > 0.1);
    }

    #[test]
    fn inflation_scales_anomalies_only() {
        let e = DMatrix::from_row_slice(1, 4, &[1.0, 2.0, 4.0, 9.0]);
        let mut inflated = e.clone();
        inflate(&mut inflated, 1.5);
        let mean = e.mean();
        for k in 0..4 {
            assert!((inflated[(0, k)] - (mean + 1.5 * (e[(0, k)] - mean))).abs() < 1e-12);
        }
    }

    /// The low-rank (observation-space) and dense (ensemble-space) transforms are the same `G`.
    #[test]
    fn low_rank_and_dense_transforms_agree() {
        let mut r = rng::stream(3, 0);
        let (m, n) = (3, 6);
        let predicted = DMatrix::from_fn(m, n, |_, _| r.sample::<f64, _>(StandardNormal));
        let values = [0.3, -1.0, 2.0];
        let stds = [0.5, 1.0, 2.0];
        for form in [AnalysisForm::SquareRoot, AnalysisForm::Deterministic, AnalysisForm::Stochastic] {
            let obs = StateObservations { values: &values, stds: &stds, predicted: predicted.clone() };
            let low = analysis_transform(form, &obs, &mut rng::stream(9, 0)).unwrap();
            assert!(matches!(low, EnsembleTransform::LowRank { .. }));
            // The same observations repeated (m ≥ N) with √2-larger noise carry the same
            // information, and take the dense path.
            let twice = DMatrix::from_fn(2 * m, n, |j, k| predicted[(j % m, k)]);
            let values2: Vec<f64> = (0..2 * m).map(|j| values[j % m]).collect();
            let stds2: Vec<f64> = (0..2 * m).map(|j| stds[j % m] * 2f64.sqrt()).collect();
            let obs2 = StateObservations { values: &values2, stds: &stds2, predicted: twice };
            let dense = analysis_transform(form, &obs2, &mut rng::stream(9, 0)).unwrap();
            assert!(matches!(dense, EnsembleTransform::Dense(_)));
            if form != AnalysisForm::Stochastic {
                // (Perturbations differ between the two, so only the deterministic forms compare.)
                assert!((low.to_dense() - dense.to_dense()).amax() < 1e-10, "{form:?}");
            }
        }
    }
}

//! The whole trajectory of a linear-Gaussian model as one Gaussian vector.

use nalgebra::{DMatrix, DVector};

use super::kalman::{condition, group_by_time, stack, symmetric};
use super::{LinearGaussian, LinearObservation};
use crate::dynamics::MarkovChain;
use crate::dynamics::ModelError;

/// `N(mean, covariance)` over the stacked trajectory `(x_0, …, x_{L−1})` (time-major: state 0's
/// components, then state 1's, …). Dense, so meant for small models: it is what the exact
/// whole-trajectory score and the dense conditioning checks are built from.
#[derive(Debug, Clone)]
pub struct TrajectoryGaussian {
    state_dim: usize,
    length: usize,
    mean: DVector<f64>,
    covariance: DMatrix<f64>,
}

impl LinearGaussian {
    /// The exact prior over `length` states: `E[x_i] = M·E[x_{i−1}] + b`,
    /// `P_i = M·P_{i−1}·Mᵀ + Q`, `Cov(x_j, x_i) = M^{j−i}·P_i` for `j ≥ i`.
    pub fn trajectory_prior(&self, length: usize) -> TrajectoryGaussian {
        let d = self.dim();
        let n = d * length;
        let m = self.transition_matrix();
        let q = self.process_cov();
        let mut mean = DVector::zeros(n);
        let mut covariance = DMatrix::zeros(n, n);
        let (mut mi, mut pi) = (self.initial_prior().mean().clone(), self.initial_prior().covariance());
        for i in 0..length {
            if i > 0 {
                mi = m * &mi + self.offset();
                pi = symmetric(m * &pi * m.transpose() + &q);
            }
            mean.rows_mut(i * d, d).copy_from(&mi);
            let mut block = pi.clone();
            for j in i..length {
                if j > i {
                    block = m * &block;
                }
                covariance.view_mut((j * d, i * d), (d, d)).copy_from(&block);
                covariance.view_mut((i * d, j * d), (d, d)).copy_from(&block.transpose());
            }
        }
        TrajectoryGaussian { state_dim: d, length, mean, covariance }
    }
}

impl TrajectoryGaussian {
    /// The empirical mean and covariance of `values`, trajectories of `length` states of
    /// `state_dim` components each (flat, time-major), with `jitter` added to the variances.
    pub fn from_samples(values: &[f64], length: usize, state_dim: usize, jitter: f64) -> Result<Self, ModelError> {
        let n = length * state_dim;
        let count = values.len().checked_div(n).unwrap_or(0);
        if count < 2 || count * n != values.len() {
            return Err(ModelError::Shape {
                field: "trajectory samples".into(),
                expected: format!("at least two trajectories of {length}×{state_dim} values"),
                found: format!("{} values", values.len()),
            });
        }
        let samples = DMatrix::from_row_slice(count, n, values);
        let mean = DVector::from_iterator(n, samples.column_iter().map(|c| c.mean()));
        let mut centred = samples;
        for (mut column, m) in centred.column_iter_mut().zip(mean.iter()) {
            column.add_scalar_mut(-m);
        }
        let mut covariance = centred.transpose() * &centred / (count - 1) as f64;
        for i in 0..n {
            covariance[(i, i)] += jitter;
        }
        Ok(TrajectoryGaussian { state_dim, length, mean, covariance: symmetric(covariance) })
    }

    pub fn state_dim(&self) -> usize {
        self.state_dim
    }

    pub fn length(&self) -> usize {
        self.length
    }

    /// Stacked mean, `L·d` entries.
    pub fn mean(&self) -> &DVector<f64> {
        &self.mean
    }

    /// Stacked covariance, `(L·d)×(L·d)`.
    pub fn covariance(&self) -> &DMatrix<f64> {
        &self.covariance
    }

    /// `Cov(x_i, x_j)`, a `d×d` block.
    pub fn block(&self, i: usize, j: usize) -> DMatrix<f64> {
        let d = self.state_dim;
        self.covariance.view((i * d, j * d), (d, d)).into_owned()
    }

    /// `E[x_i]`.
    pub fn state_mean(&self, i: usize) -> DVector<f64> {
        self.mean.rows(i * self.state_dim, self.state_dim).into_owned()
    }

    /// Dense Gaussian conditioning of the whole stacked vector on `observations`.
    /// Returns the conditional Gaussian and `log p(y)`.
    pub fn condition(&self, observations: &[LinearObservation]) -> Result<(TrajectoryGaussian, f64), ModelError> {
        let d = self.state_dim;
        group_by_time(observations, self.length, d)?;
        let refs: Vec<&LinearObservation> = observations.iter().collect();
        let (rows, y, r) = stack(&refs, d);
        let mut h = DMatrix::zeros(observations.len(), self.mean.len());
        for (k, o) in observations.iter().enumerate() {
            h.view_mut((k, o.t * d), (1, d)).copy_from(&rows.row(k));
        }
        let (mean, covariance, log_evidence) =
            condition(&self.mean, &self.covariance, &h, &y, &r, "dense trajectory conditioning")?;
        Ok((TrajectoryGaussian { state_dim: d, length: self.length, mean, covariance }, log_evidence))
    }
}

//! The exact score of a Gaussian prior: the linear-Gaussian toy's oracle score.

use candle_core::{DType, Device, Tensor};
use nalgebra::{DMatrix, DVector, SymmetricEigen};

use super::{ScoreError, TrajectoryScore, VpSchedule, WindowComposer};
use crate::dynamics::Normalisation;
use crate::dynamics::linear::TrajectoryGaussian;

/// For `x ~ N(m, Σ)` (network space), `x(t) ~ N(μm, μ²Σ + σ²I)` and
/// `ε = σ·(μ²Σ + σ²I)⁻¹(x(t) − μm)`, computed through `Σ = U·diag(λ)·Uᵀ` as
/// `σ·U·diag(1/(μ²λ + σ²))·Uᵀ(x(t) − μm)` — differentiable, so guidance can take gradients.
///
/// Either one Gaussian over the whole trajectory, or one per window (each window's exact
/// marginal) composed exactly like a learned local score.
#[derive(Debug, Clone)]
pub struct ExactGaussianScore {
    schedule: VpSchedule,
    composer: Option<WindowComposer>,
    state_dim: usize,
    /// `[G, n]`: one mean per group (G = 1 for the whole trajectory, J windows otherwise).
    mean: Tensor,
    /// `[G, n, n]`: eigenvectors as columns.
    basis: Tensor,
    /// `G × n` eigenvalues.
    eigenvalues: Vec<Vec<f64>>,
    dtype: DType,
}

impl ExactGaussianScore {
    /// The exact whole-trajectory score of `prior` in the network space of `normalisation`.
    pub fn whole(
        prior: &TrajectoryGaussian,
        normalisation: &Normalisation,
        dtype: DType,
        device: &Device,
    ) -> Result<Self, ScoreError> {
        let (mean, cov) = normalised(prior, normalisation);
        Self::from_groups(vec![(mean, cov)], None, prior.state_dim(), dtype, device)
    }

    /// The exact score of every window's marginal, composed by the window rule.
    pub fn composed(
        prior: &TrajectoryGaussian,
        normalisation: &Normalisation,
        window: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self, ScoreError> {
        let composer = WindowComposer::new(window)?;
        let j = composer.count(prior.length())?;
        let (mean, cov) = normalised(prior, normalisation);
        let n = window * prior.state_dim();
        let groups = (0..j)
            .map(|s| {
                (
                    mean.rows(s * prior.state_dim(), n).into_owned(),
                    cov.view((s * prior.state_dim(), s * prior.state_dim()), (n, n)).into_owned(),
                )
            })
            .collect();
        Self::from_groups(groups, Some(composer), prior.state_dim(), dtype, device)
    }

    fn from_groups(
        groups: Vec<(DVector<f64>, DMatrix<f64>)>,
        composer: Option<WindowComposer>,
        state_dim: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self, ScoreError> {
        let g = groups.len();
        let n = groups[0].0.len();
        let mut means: Vec<f64> = Vec::with_capacity(g * n);
        let mut bases: Vec<f64> = Vec::with_capacity(g * n * n);
        let mut eigenvalues = Vec::with_capacity(g);
        for (mean, cov) in groups {
            let eigen = SymmetricEigen::new(cov);
            if eigen.eigenvalues.iter().any(|l| !l.is_finite() || *l < -1e-9) {
                return Err(ScoreError::Invalid {
                    what: "exact Gaussian score".into(),
                    reason: "prior covariance is not positive semi-definite".into(),
                });
            }
            means.extend(mean.iter());
            // Row-major [n, n] with eigenvectors as columns.
            for r in 0..n {
                bases.extend((0..n).map(|c| eigen.eigenvectors[(r, c)]));
            }
            eigenvalues.push(eigen.eigenvalues.iter().map(|l| l.max(0.0)).collect());
        }
        Ok(Self {
            schedule: VpSchedule::new(),
            composer,
            state_dim,
            mean: Tensor::from_vec(means, (g, n), device)?.to_dtype(dtype)?,
            basis: Tensor::from_vec(bases, (g, n, n), device)?.to_dtype(dtype)?,
            eigenvalues,
            dtype,
        })
    }
}

/// Mean and covariance of the stacked trajectory in network space.
fn normalised(prior: &TrajectoryGaussian, normalisation: &Normalisation) -> (DVector<f64>, DMatrix<f64>) {
    let d = prior.state_dim();
    let scale = |i: usize| normalisation.scale()[i % d];
    let mut mean = prior.mean().clone();
    normalisation.to_network(mean.as_mut_slice());
    let cov = DMatrix::from_fn(mean.len(), mean.len(), |i, j| prior.covariance()[(i, j)] / (scale(i) * scale(j)));
    (mean, cov)
}

impl TrajectoryScore for ExactGaussianScore {
    fn epsilon(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError> {
        let (mu, sigma) = (self.schedule.mu(t), self.schedule.sigma(t));
        let (s, l) = (x.dim(0)?, x.dim(1)?);
        let (g, n) = self.mean.dims2()?;
        let grouped = match &self.composer {
            Some(c) => c.windows(x)?.reshape((s, g, n))?,
            None => x.reshape((s, 1, n))?,
        };
        let centred = grouped.broadcast_sub(&(&self.mean * mu)?.unsqueeze(0)?)?;
        let weights: Vec<f64> =
            self.eigenvalues.iter().flat_map(|ls| ls.iter().map(|l| sigma / (mu * mu * l + sigma * sigma))).collect();
        let weights = Tensor::from_vec(weights, (g, 1, n), x.device())?.to_dtype(self.dtype)?;
        let coords = centred.transpose(0, 1)?.contiguous()?.matmul(&self.basis)?;
        let eps = coords.broadcast_mul(&weights)?.matmul(&self.basis.transpose(1, 2)?.contiguous()?)?;
        let eps = eps.transpose(0, 1)?;
        match &self.composer {
            Some(c) => c.assemble(&eps.reshape((s, g, c.window(), self.state_dim))?),
            None => Ok(eps.reshape((s, l, self.state_dim))?),
        }
    }
}

//! Window composition corrected by a Gaussian model of the whole trajectory.
//!
//! A composed local score sees `2k + 1` states: at high noise it cannot use what distant noisy
//! states say about the slow part of the trajectory, so its denoiser shrinks that part towards
//! the mean, and samples come out too narrow once the chain's correlations outlast the window
//! (`tests/exact_oracle.rs` measures this with exact scores: a chain with lag-1 correlation 0.99
//! keeps 76% of its variance at k = 4). This score adds what composition loses *for a Gaussian
//! with the chain's mean and covariance*: `ε = ε_net + ε_G,whole − ε_G,composed`. For a Gaussian
//! chain the correction is exact; for a nonlinear one it restores the long-range second-order
//! structure and leaves the rest to the network. Its cost is two dense Gaussian scores, small
//! beside a network evaluation for the Lorenz systems' sizes.

use candle_core::{DType, Device, Tensor};

use super::{ExactGaussianScore, Linearisation, ScoreError, TrajectoryScore};
use crate::dynamics::Normalisation;
use crate::dynamics::linear::TrajectoryGaussian;

pub struct GaussianCorrectedScore<S> {
    inner: S,
    whole: ExactGaussianScore,
    composed: ExactGaussianScore,
}

impl<S: TrajectoryScore> GaussianCorrectedScore<S> {
    /// `whole` and `composed`: the exact scores of one Gaussian over the whole trajectory and
    /// composed with `inner`'s window.
    pub fn new(inner: S, whole: ExactGaussianScore, composed: ExactGaussianScore) -> Self {
        Self { inner, whole, composed }
    }

    /// The correction for the Gaussian fitted to `trajectories` (physical units, flat,
    /// `length × state_dim` values each) for `inner`, whose windows hold `window` states.
    pub fn fitted(
        inner: S,
        trajectories: &[f64],
        length: usize,
        window: usize,
        normalisation: &Normalisation,
        dtype: DType,
        device: &Device,
    ) -> Result<Self, ScoreError> {
        let state_dim = normalisation.scale().len();
        let gaussian = TrajectoryGaussian::from_samples(trajectories, length, state_dim, 0.0)
            .map_err(|e| ScoreError::Invalid { what: "Gaussian correction".into(), reason: e.to_string() })?;
        let whole = ExactGaussianScore::whole(&gaussian, normalisation, dtype, device)?;
        let composed = ExactGaussianScore::composed(&gaussian, normalisation, window, dtype, device)?;
        Ok(Self::new(inner, whole, composed))
    }

    fn correction(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError> {
        Ok((self.whole.epsilon(x, t)? - self.composed.epsilon(x, t)?)?)
    }
}

impl<S: TrajectoryScore> TrajectoryScore for GaussianCorrectedScore<S> {
    fn epsilon(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError> {
        Ok((self.inner.epsilon(x, t)? + self.correction(x, t)?)?)
    }

    fn linearise(&self, x: &Tensor, t: f64) -> Result<Linearisation<'_>, ScoreError> {
        let inner = self.inner.linearise(x, t)?;
        let correction = Linearisation::by_autograd(x, |x| self.correction(x, t))?;
        let epsilon = (inner.epsilon() + correction.epsilon())?;
        Ok(Linearisation::new(epsilon, move |v: &Tensor| Ok((inner.vjp(v)? + correction.vjp(v)?)?)))
    }
}

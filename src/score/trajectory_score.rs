//! Scores of whole trajectories, the interface the sampler drives.

use candle_core::Tensor;

use super::{ScoreError, ScoreNetwork, WindowComposer};

/// `ε(x(t), t) ≈ −σ(t)·∇ log p(x(t))` for a batch of whole trajectories `x` of shape
/// `[S, L, …state]` in network space, all at the same diffusion time `t`.
pub trait TrajectoryScore: Send + Sync {
    fn epsilon(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError>;
}

/// A learned local score applied to every window of the trajectory at once (the windows are
/// folded into the batch) and composed by [`WindowComposer`].
#[derive(Debug, Clone)]
pub struct ComposedNetworkScore {
    network: ScoreNetwork,
    composer: WindowComposer,
}

impl ComposedNetworkScore {
    pub fn new(network: ScoreNetwork, window: usize) -> Result<Self, ScoreError> {
        Ok(Self { network, composer: WindowComposer::new(window)? })
    }

    pub fn composer(&self) -> &WindowComposer {
        &self.composer
    }
}

impl TrajectoryScore for ComposedNetworkScore {
    fn epsilon(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError> {
        let windows = self.composer.windows(x)?;
        let dims = windows.dims().to_vec();
        let batch = dims[0] * dims[1];
        let mut flat = vec![batch];
        flat.extend_from_slice(&dims[2..]);
        let times = Tensor::full(t, batch, x.device())?.to_dtype(x.dtype())?;
        let eps = self.network.forward(&windows.reshape(flat)?, &times)?;
        self.composer.assemble(&eps.reshape(dims)?)
    }
}

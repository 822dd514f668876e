//! The local score network of a checkpoint, whatever its architecture.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::{Architecture, ModelConfig, ResidualMlp};

/// `ε_φ(x, t)` on windows: `x` of shape `[B, W, …state]`, `t` of shape `[B]`.
#[derive(Debug, Clone)]
pub enum ScoreNetwork {
    Mlp(ResidualMlp),
}

impl ScoreNetwork {
    /// Builds the network of `config` from `vb` (tensor names are the checkpoint keys).
    pub fn new(config: &ModelConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        match &config.architecture {
            Architecture::Mlp(cfg) => Ok(Self::Mlp(ResidualMlp::new(cfg, config.window * config.state_dim(), vb)?)),
        }
    }

    pub fn forward(&self, x: &Tensor, t: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::Mlp(net) => net.forward(x, t),
        }
    }

    /// Multiply-add FLOPs of one forward pass on one window.
    pub fn flops_per_window(config: &ModelConfig) -> f64 {
        match &config.architecture {
            Architecture::Mlp(cfg) => ResidualMlp::flops_per_row(cfg, config.window * config.state_dim()),
        }
    }
}

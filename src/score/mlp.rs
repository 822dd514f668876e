//! Residual MLP for windows of flat states (Lorenz-63).

use candle_core::{D, Tensor};
use candle_nn::{VarBuilder, linear};
use serde::{Deserialize, Serialize};

use super::TimeEmbedding;
use super::frozen_mlp::FrozenMlp;
use super::fused::RowKernels;
use super::layers::{FastLinear, layer_norm, silu};

/// Sizes of a [`ResidualMlp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Hidden width.
    pub width: usize,
    /// Number of residual blocks.
    pub depth: usize,
    /// Width of the time embedding concatenated to the input.
    pub embedding: usize,
    /// Fourier frequencies of the time embedding.
    pub frequencies: usize,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self { width: 256, depth: 5, embedding: 64, frequencies: 16 }
    }
}

/// Pre-LayerNorm block `x + W₂·SiLU(W₁·LN(x))`.
#[derive(Debug, Clone)]
struct ResidualBlock {
    expand: FastLinear,
    contract: FastLinear,
}

impl ResidualBlock {
    fn new(width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            expand: FastLinear::new(linear(width, width, vb.pp("expand"))?),
            contract: FastLinear::new(linear(width, width, vb.pp("contract"))?),
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if let Some(y) = super::fused::fused_residual_block(x, &self.expand, &self.contract)? {
            return Ok(y);
        }
        let h = silu(&self.expand.forward(&layer_norm(x)?)?)?;
        x + self.contract.forward(&h)?
    }
}

/// `ε(x, t)` for a window `[B, W, S]` of flat states: `[x, emb(t)] → Linear → blocks → Linear`.
/// Keys: `time`, `input`, `blocks.{i}`, `output`.
#[derive(Debug, Clone)]
pub struct ResidualMlp {
    time: TimeEmbedding,
    input: FastLinear,
    blocks: Vec<ResidualBlock>,
    output: FastLinear,
    features: usize,
}

impl ResidualMlp {
    /// `features` = window × state size.
    pub fn new(cfg: &MlpConfig, features: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let blocks =
            (0..cfg.depth).map(|i| ResidualBlock::new(cfg.width, vb.pp("blocks").pp(i))).collect::<Result<_, _>>()?;
        Ok(Self {
            time: TimeEmbedding::new(cfg.frequencies, cfg.embedding, vb.pp("time"))?,
            input: FastLinear::new(linear(features + cfg.embedding, cfg.width, vb.pp("input"))?),
            blocks,
            output: FastLinear::new(linear(cfg.width, features, vb.pp("output"))?),
            features,
        })
    }

    /// `x`: `[B, …]` with `features` values per row; `t`: `[B]`. Returns ε with the shape of `x`.
    pub fn forward(&self, x: &Tensor, t: &Tensor) -> candle_core::Result<Tensor> {
        let shape = x.shape().clone();
        let flat = x.reshape((shape.dims()[0], self.features))?;
        let mut h = self.input.forward(&Tensor::cat(&[flat, self.time.forward(t)?], D::Minus1)?)?;
        for block in &self.blocks {
            h = block.forward(&h)?;
        }
        self.output.forward(&h)?.reshape(shape)
    }

    /// The network as direct kernels over `T` rows ([`FrozenMlp`]); `None` unless every weight
    /// is a constant on the CPU.
    pub(super) fn frozen<T: RowKernels>(&self) -> candle_core::Result<Option<FrozenMlp<T>>> {
        let blocks: Vec<(&FastLinear, &FastLinear)> = self.blocks.iter().map(|b| (&b.expand, &b.contract)).collect();
        FrozenMlp::new(&self.time, &self.input, &blocks, &self.output, self.features)
    }

    /// Multiply-add FLOPs of one forward pass per row (matrix products only).
    pub fn flops_per_row(cfg: &MlpConfig, features: usize) -> f64 {
        let w = cfg.width as f64;
        let f = features as f64;
        2.0 * ((f + cfg.embedding as f64) * w + cfg.depth as f64 * 2.0 * w * w + w * f)
    }
}

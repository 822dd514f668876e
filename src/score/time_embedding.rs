//! Fourier features of the diffusion time, followed by a small MLP.

use candle_core::{D, Tensor};

use super::layers::FastLinear;
use candle_nn::{VarBuilder, linear};

/// `t ↦ Linear(SiLU(Linear([cos(π n t), sin(π n t)]_{n=1..F})))`.
#[derive(Debug, Clone)]
pub struct TimeEmbedding {
    frequencies: Tensor,
    hidden: FastLinear,
    output: FastLinear,
}

impl TimeEmbedding {
    /// `features` frequencies, embedding of size `width`. Keys `hidden`, `output`.
    pub fn new(features: usize, width: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let freqs: Vec<f64> = (1..=features).map(|n| std::f64::consts::PI * n as f64).collect();
        let frequencies = Tensor::new(freqs.as_slice(), vb.device())?.to_dtype(vb.dtype())?;
        Ok(Self {
            frequencies,
            hidden: FastLinear::new(linear(2 * features, width, vb.pp("hidden"))?),
            output: FastLinear::new(linear(width, width, vb.pp("output"))?),
        })
    }

    /// Whether the weights are constants (no gradient is wanted for them).
    pub fn is_constant(&self) -> bool {
        self.hidden.is_constant() && self.output.is_constant()
    }

    /// `t` of shape `[B]` → `[B, width]`.
    pub fn forward(&self, t: &Tensor) -> candle_core::Result<Tensor> {
        let phase = t.unsqueeze(1)?.broadcast_mul(&self.frequencies.unsqueeze(0)?)?;
        let features = Tensor::cat(&[phase.cos()?, phase.sin()?], D::Minus1)?;
        self.output.forward(&super::layers::silu(&self.hidden.forward(&features)?)?)
    }
}

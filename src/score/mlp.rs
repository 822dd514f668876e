//! Residual MLP for windows of flat states (Lorenz-63).

use std::sync::Arc;

use candle_core::backprop::GradStore;
use candle_core::{D, Tensor};
use candle_nn::{VarBuilder, linear};
use serde::{Deserialize, Serialize};

use super::TimeEmbedding;
use super::buffer_pool::BufferPool;
use super::frozen::values;
use super::frozen_mlp::FrozenMlp;
use super::fused::RowKernels;
use super::layers::{FastLinear, layer_norm, silu};
use super::network::dsm_loss_and_output_gradient;

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
    /// Buffers of the direct kernels that train the network, kept from one step to the next.
    training_buffers: Arc<BufferPool<f32>>,
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
            training_buffers: Arc::default(),
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

    /// The denoising loss `mean((c_skip·x + c_out·F(x, t) − ε)²)` of a batch (`c_skip`, `c_out`
    /// per row) and the gradients of every weight, through the direct kernels
    /// ([`FrozenMlp::train_gradients`]); the time embedding's share of the input layer, and the
    /// embedding itself, by candle's autograd given the gradient of that shift.
    pub(super) fn dsm_gradients(
        &self,
        x: &Tensor,
        t: &Tensor,
        eps: &Tensor,
        (c_skip, c_out): (&[f32], &[f32]),
    ) -> candle_core::Result<(f64, GradStore)> {
        let blocks: Vec<(&FastLinear, &FastLinear)> = self.blocks.iter().map(|b| (&b.expand, &b.contract)).collect();
        let net = FrozenMlp::<f32>::snapshot(&self.time, &self.input, &blocks, &self.output, self.features)?
            .with_pool(self.training_buffers.clone());
        let f = self.features;
        let rows = x.dim(0)?;
        // The input layer's time part and bias, per row: W_t·emb(t) + b.
        let weight = self.input.weight();
        let embedding = weight.dim(1)? - f;
        let w_t = weight.narrow(1, f, embedding)?;
        let mut shift = self.time.forward(t)?.matmul(&w_t.t()?)?;
        if let Some(bias) = self.input.bias() {
            shift = shift.broadcast_add(bias)?;
        }
        let (xv, ev, sv) = (values::<f32>(x)?, values::<f32>(eps)?, values::<f32>(&shift)?);
        if xv.len() != rows * f || ev.len() != xv.len() || c_skip.len() != rows || c_out.len() != rows {
            candle_core::bail!("MLP training batch: rows of {f} values expected");
        }
        let mut loss = 0.0;
        let (_, grads) = net.train_gradients(&xv, rows, &sv, |out| {
            let (mean, g) = dsm_loss_and_output_gradient(out, &xv, &ev, f, (c_skip, c_out));
            loss = mean;
            g
        })?;
        let device = x.device();
        let g_shift = Tensor::from_vec(grads.shift, shift.shape(), device)?;
        let mut store = (shift * g_shift)?.sum_all()?.backward()?;
        // The input weight: the state columns from the kernels, the embedding columns from autograd.
        let width = weight.dim(0)?;
        let from_time = match store.get(weight) {
            Some(g) => values::<f32>(g)?,
            None => vec![0.0; width * (f + embedding)],
        };
        let mut input = Vec::with_capacity(width * (f + embedding));
        for (state, time) in grads.input_x.chunks_exact(f).zip(from_time.chunks_exact(f + embedding)) {
            input.extend_from_slice(state);
            input.extend_from_slice(&time[f..]);
        }
        store.insert(weight, Tensor::from_vec(input, weight.shape(), device)?);
        let mut put = |layer: &FastLinear, weight: Vec<f32>, bias: Vec<f32>| -> candle_core::Result<()> {
            store.insert(layer.weight(), Tensor::from_vec(weight, layer.weight().shape(), device)?);
            if let Some(b) = layer.bias() {
                store.insert(b, Tensor::from_vec(bias, b.shape(), device)?);
            }
            Ok(())
        };
        put(&self.output, grads.output, grads.output_bias)?;
        for (block, [expand, expand_bias, contract, contract_bias]) in self.blocks.iter().zip(grads.blocks) {
            put(&block.expand, expand, expand_bias)?;
            put(&block.contract, contract, contract_bias)?;
        }
        Ok((loss, store))
    }

    /// Multiply-add FLOPs of one forward pass per row (matrix products only).
    pub fn flops_per_row(cfg: &MlpConfig, features: usize) -> f64 {
        let w = cfg.width as f64;
        let f = features as f64;
        2.0 * ((f + cfg.embedding as f64) * w + cfg.depth as f64 * 2.0 * w * w + w * f)
    }
}

//! Circular U-Nets for states on periodic grids: 1-D (Lorenz-96 rings) and 2-D (fields).
//!
//! The window's states are the input channels. Each level holds pre-normalised residual blocks
//! whose hidden activations are shifted by a projection of the time embedding; levels are joined by average
//! pooling down and nearest upsampling up, with additive skips. Every convolution pads
//! circularly, so the network respects the periodic domain.

use std::sync::Arc;

use candle_core::backprop::GradStore;
use candle_core::{D, Module, Tensor, WithDType};
use candle_nn::{Linear, VarBuilder, linear};
use serde::{Deserialize, Serialize};

use super::TimeEmbedding;
use super::buffer_pool::BufferPool;
use super::circular_conv2d::{circular_conv2d_add, circular_pad};
use super::frozen::{is_frozen, values};
use super::frozen_unet::{FrozenBlock, FrozenUnet};
use super::fused::RowKernels;
use super::grid_conv::{ConvGrad, GridConv};
use super::layers::{sample_norm, sample_norm_silu, silu};
use super::network::dsm_loss_and_output_gradient;

/// Sizes of a U-Net.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnetConfig {
    /// Channels per level, finest first; each level after the first halves the grid.
    pub channels: Vec<usize>,
    /// Residual blocks per level on the way down (and up).
    pub blocks: usize,
    /// Convolution kernel size (odd).
    pub kernel: usize,
    /// Width of the time embedding.
    pub embedding: usize,
    /// Fourier frequencies of the time embedding.
    pub frequencies: usize,
}

impl Default for UnetConfig {
    fn default() -> Self {
        Self { channels: vec![64, 128, 256], blocks: 2, kernel: 3, embedding: 64, frequencies: 16 }
    }
}

/// A 1-D convolution as one matrix product: the `k` shifted views of the (already padded) input
/// are laid side by side into rows of `C·k` values, one row per batch element and position, and
/// multiplied by the weights reshaped to `[C·k, out]`. candle 0.11.1's `conv1d` returns wrong
/// gradients with respect to its input (off by O(1) against finite differences), and a height-1
/// `conv2d` runs at about 5% of the matrix-multiply rate on CPU (`sdalab bench`); this form uses
/// only differentiable `narrow`/`stack`/`matmul` and one large GEMM. Weights keep candle-nn's
/// `Conv1d` layout and names (`weight` `[out, in, k]`, `bias` `[out]`).
#[derive(Debug, Clone)]
struct Conv1dGemm {
    weight: Tensor,
    bias: Tensor,
}

impl Conv1dGemm {
    fn new(cin: usize, cout: usize, kernel: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let weight = vb.get_with_hints((cout, cin, kernel), "weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)?;
        let bound = 1.0 / ((cin * kernel) as f64).sqrt();
        let bias = vb.get_with_hints(cout, "bias", candle_nn::Init::Uniform { lo: -bound, up: bound })?;
        Ok(Self { weight, bias })
    }

    /// `x` `[B, in, L + k − 1]` (padded) → `[B, out, L]`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (cout, cin, k) = self.weight.dims3()?;
        let (b, _, padded) = x.dims3()?;
        let l = padded + 1 - k;
        // [B, in, k, L]: the k shifted views, each copied in runs of L contiguous values; as
        // [B, in·k, L] its row index is i·k + j, like the weights' columns.
        let views: Vec<Tensor> = (0..k).map(|j| x.narrow(2, j, l)).collect::<candle_core::Result<_>>()?;
        let columns = Tensor::stack(&views, 2)?.reshape((b, cin * k, l))?;
        let weight = self.weight.reshape((1, cout, cin * k))?.broadcast_as((b, cout, cin * k))?;
        weight.matmul(&columns)?.broadcast_add(&self.bias.reshape((1, cout, 1))?)
    }
}

/// A 2-D circular convolution (see [`circular_conv2d`]) with a bias; weights keep candle-nn's
/// `Conv2d` layout and names (`weight` `[out, in, k, k]`, `bias` `[out]`).
#[derive(Debug, Clone)]
struct Conv2dCircular {
    weight: Tensor,
    bias: Tensor,
}

impl Conv2dCircular {
    fn new(cin: usize, cout: usize, kernel: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let weight =
            vb.get_with_hints((cout, cin, kernel, kernel), "weight", candle_nn::init::DEFAULT_KAIMING_NORMAL)?;
        let bound = 1.0 / ((cin * kernel * kernel) as f64).sqrt();
        let bias = vb.get_with_hints(cout, "bias", candle_nn::Init::Uniform { lo: -bound, up: bound })?;
        Ok(Self { weight, bias })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        circular_conv2d_add(x, &self.weight, &self.bias.unsqueeze(0)?)
    }

    /// The convolution plus a per-sample shift `[B, out]`, added with the bias in one pass.
    fn forward_shifted(&self, x: &Tensor, shift: &Tensor) -> candle_core::Result<Tensor> {
        circular_conv2d_add(x, &self.weight, &shift.broadcast_add(&self.bias.unsqueeze(0)?)?)
    }
}

/// A convolution with circular padding over 1 or 2 spatial dimensions.
#[derive(Debug, Clone)]
enum CircularConv {
    D1(Conv1dGemm, usize),
    D2(Conv2dCircular),
}

impl CircularConv {
    fn new(rank: usize, cin: usize, cout: usize, kernel: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let pad = kernel / 2;
        Ok(match rank {
            1 => Self::D1(Conv1dGemm::new(cin, cout, kernel, vb)?, pad),
            _ => Self::D2(Conv2dCircular::new(cin, cout, kernel, vb)?),
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::D1(conv, pad) => conv.forward(&circular_pad(x, 2, *pad)?),
            Self::D2(conv) => conv.forward(x),
        }
    }

    /// `forward(x)` plus a per-sample, per-channel `shift` `[B, out]` broadcast over the cells.
    fn forward_shifted(&self, x: &Tensor, shift: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::D2(conv) => conv.forward_shifted(x, shift),
            Self::D1(..) => self.forward(x)?.broadcast_add(&shift.unsqueeze(D::Minus1)?),
        }
    }

    /// The weight `[out, in, k(, k)]` and bias `[out]`.
    fn tensors(&self) -> (&Tensor, &Tensor) {
        match self {
            Self::D1(conv, _) => (&conv.weight, &conv.bias),
            Self::D2(conv) => (&conv.weight, &conv.bias),
        }
    }

    fn frozen<T: WithDType>(&self) -> candle_core::Result<GridConv<T>> {
        let (weight, bias) = self.tensors();
        GridConv::from_tensors(weight, bias)
    }

    /// Multiply-add FLOPs per output cell.
    fn flops_per_cell(rank: usize, cin: usize, cout: usize, kernel: usize) -> f64 {
        2.0 * (cin * cout * kernel.pow(rank as u32)) as f64
    }
}

/// `x + conv₂(SiLU(conv₁(SiLU(N(x))) + W·emb))` with `N` a per-sample normalisation, and a
/// 1×1 convolution on the skip when the channel count changes.
#[derive(Debug, Clone)]
struct ResidualBlock {
    first: CircularConv,
    second: CircularConv,
    time: Linear,
    skip: Option<CircularConv>,
}

impl ResidualBlock {
    fn new(rank: usize, cin: usize, cout: usize, cfg: &UnetConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            first: CircularConv::new(rank, cin, cout, cfg.kernel, vb.pp("first"))?,
            second: CircularConv::new(rank, cout, cout, cfg.kernel, vb.pp("second"))?,
            time: linear(cfg.embedding, cout, vb.pp("time"))?,
            skip: if cin == cout { None } else { Some(CircularConv::new(rank, cin, cout, 1, vb.pp("skip"))?) },
        })
    }

    fn weights(&self) -> impl Iterator<Item = &Tensor> {
        let convs = [Some(&self.first), Some(&self.second), self.skip.as_ref()].into_iter().flatten();
        convs
            .flat_map(|c| {
                let (w, b) = c.tensors();
                [w, b]
            })
            .chain(std::iter::once(self.time.weight()))
            .chain(self.time.bias())
    }

    fn frozen<T: WithDType>(&self) -> candle_core::Result<FrozenBlock<T>> {
        let time_bias = match self.time.bias() {
            Some(b) => values(b)?,
            None => vec![T::zero(); self.time.weight().dim(0)?],
        };
        FrozenBlock::new(
            self.first.frozen()?,
            self.second.frozen()?,
            values(self.time.weight())?,
            time_bias,
            self.skip.as_ref().map(CircularConv::frozen).transpose()?,
        )
    }

    fn forward(&self, x: &Tensor, emb: &Tensor) -> candle_core::Result<Tensor> {
        let shift = self.time.forward(emb)?;
        let h = self.first.forward_shifted(&sample_norm_silu(x)?, &shift)?;
        let h = self.second.forward(&silu(&h)?)?;
        let skip = match &self.skip {
            Some(conv) => conv.forward(x)?,
            None => x.clone(),
        };
        skip + h
    }
}

/// `ε(x, t)` for windows `[B, W, N]` (rank 1) or `[B, W, H, W']` (rank 2).
/// Keys: `time`, `input`, `down.{level}.{block}`, `up.{level}.{block}`, `output`.
#[derive(Debug, Clone)]
pub struct CircularUnet {
    /// Buffers of the direct kernels that train the network, kept from one step to the next
    /// (fresh ones every step cost the kernel zeroing their pages: 18% of a training step).
    training_buffers: Arc<BufferPool<f32>>,
    rank: usize,
    time: TimeEmbedding,
    input: CircularConv,
    down: Vec<Vec<ResidualBlock>>,
    up: Vec<Vec<ResidualBlock>>,
    output: CircularConv,
}

impl CircularUnet {
    /// `window` input/output channels over a grid of `rank` spatial dimensions.
    pub fn new(cfg: &UnetConfig, rank: usize, window: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let first = cfg.channels.first().copied().unwrap_or(window);
        let mut down = Vec::new();
        let mut up = Vec::new();
        let mut cin = first;
        for (level, &c) in cfg.channels.iter().enumerate() {
            let vbd = vb.pp("down").pp(level);
            let blocks = (0..cfg.blocks)
                .map(|b| ResidualBlock::new(rank, if b == 0 { cin } else { c }, c, cfg, vbd.pp(b)))
                .collect::<Result<Vec<_>, _>>()?;
            down.push(blocks);
            let vbu = vb.pp("up").pp(level);
            let cout = cin;
            let blocks = (0..cfg.blocks)
                .map(|b| ResidualBlock::new(rank, c, if b + 1 == cfg.blocks { cout } else { c }, cfg, vbu.pp(b)))
                .collect::<Result<Vec<_>, _>>()?;
            up.push(blocks);
            cin = c;
        }
        Ok(Self {
            training_buffers: Arc::default(),
            rank,
            time: TimeEmbedding::new(cfg.frequencies, cfg.embedding, vb.pp("time"))?,
            input: CircularConv::new(rank, window, first, cfg.kernel, vb.pp("input"))?,
            down,
            up,
            output: CircularConv::new(rank, first, window, cfg.kernel, vb.pp("output"))?,
        })
    }

    /// The network as direct kernels over `T` ([`FrozenUnet`]) for states on a grid of `shape`;
    /// `None` unless every weight is a constant on the CPU.
    pub(super) fn frozen<T: WithDType + RowKernels>(
        &self,
        shape: &[usize],
    ) -> candle_core::Result<Option<FrozenUnet<T>>> {
        let blocks = || self.down.iter().chain(&self.up).flatten();
        let convs = [&self.input, &self.output].into_iter().flat_map(|c| {
            let (w, b) = c.tensors();
            [w, b]
        });
        if !(self.time.is_constant() && convs.chain(blocks().flat_map(ResidualBlock::weights)).all(is_frozen)) {
            return Ok(None);
        }
        self.snapshot(shape).map(Some)
    }

    /// The network's current weights as direct kernels, whether or not they are being trained.
    fn snapshot<T: WithDType + RowKernels>(&self, shape: &[usize]) -> candle_core::Result<FrozenUnet<T>> {
        let level_blocks = |levels: &[Vec<ResidualBlock>]| -> candle_core::Result<Vec<Vec<FrozenBlock<T>>>> {
            levels.iter().map(|blocks| blocks.iter().map(ResidualBlock::frozen).collect()).collect()
        };
        let input = self.input.frozen::<T>()?;
        let kernel = self.input.tensors().0.dim(2)?;
        let window = input.cin();
        let net = FrozenUnet::new(
            window,
            shape,
            kernel,
            self.time.clone(),
            input,
            level_blocks(&self.down)?,
            level_blocks(&self.up)?,
            self.output.frozen()?,
        )?;
        Ok(net)
    }

    /// Each block's time shift `[B, cout]` for times `t` `[B]`, blocks in run order.
    fn time_shifts(&self, t: &Tensor) -> candle_core::Result<Vec<Tensor>> {
        let emb = self.time.forward(t)?;
        self.blocks_in_run_order().map(|b| b.time.forward(&emb)).collect()
    }

    /// The denoising loss of [`Self::dsm_gradients`] alone, through the direct kernels.
    pub(super) fn dsm_loss(
        &self,
        shape: &[usize],
        x: &Tensor,
        t: &Tensor,
        eps: &Tensor,
        (c_skip, c_out): (&[f32], &[f32]),
    ) -> candle_core::Result<f64> {
        let net = self.snapshot::<f32>(shape)?.with_pool(self.training_buffers.clone());
        let rows = x.dim(0)?;
        let shifts: Vec<Vec<f32>> =
            self.time_shifts(&t.detach())?.iter().map(values).collect::<candle_core::Result<_>>()?;
        let (xv, ev) = (values::<f32>(x)?, values::<f32>(eps)?);
        let f = net.features();
        if xv.len() != rows * f || ev.len() != xv.len() || c_skip.len() != rows || c_out.len() != rows {
            candle_core::bail!("U-Net batch: windows of {f} values expected");
        }
        let (out, _tape) = net.forward_with(&xv, rows, super::frozen_unet::Shifts::PerWindow(&shifts))?;
        Ok(dsm_loss_and_output_gradient(&out, &xv, &ev, f, (c_skip, c_out)).0)
    }

    /// The blocks in the order they run: down the levels, then up from the coarsest.
    fn blocks_in_run_order(&self) -> impl Iterator<Item = &ResidualBlock> {
        self.down.iter().chain(self.up.iter().rev()).flatten()
    }

    /// The denoising loss `mean((c_skip·x + c_out·F(x, t) − ε)²)` of a batch of windows on a
    /// grid of `shape` (`c_skip`, `c_out` per window) and the gradients of every weight, through
    /// the direct kernels: the convolutions' gradients from [`FrozenUnet::train_gradients`], the
    /// time embedding's from candle's autograd given the gradient of each block's time shift.
    pub(super) fn dsm_gradients(
        &self,
        shape: &[usize],
        x: &Tensor,
        t: &Tensor,
        eps: &Tensor,
        (c_skip, c_out): (&[f32], &[f32]),
    ) -> candle_core::Result<(f64, GradStore)> {
        let net = self.snapshot::<f32>(shape)?.with_pool(self.training_buffers.clone());
        let rows = x.dim(0)?;
        let shift_tensors = self.time_shifts(t)?;
        let shifts: Vec<Vec<f32>> = shift_tensors.iter().map(values).collect::<candle_core::Result<_>>()?;
        let (xv, ev) = (values::<f32>(x)?, values::<f32>(eps)?);
        let f = net.features();
        if xv.len() != rows * f || ev.len() != xv.len() || c_skip.len() != rows || c_out.len() != rows {
            candle_core::bail!("U-Net training batch: windows of {f} values expected");
        }
        let mut loss = 0.0;
        let (_, grads) = net.train_gradients(&xv, rows, &shifts, |out| {
            let (mean, g) = dsm_loss_and_output_gradient(out, &xv, &ev, f, (c_skip, c_out));
            loss = mean;
            g
        })?;
        let device = x.device();
        let mut surrogate = Tensor::zeros((), candle_core::DType::F32, device)?;
        for (shift, g) in shift_tensors.iter().zip(grads.shifts) {
            let g = Tensor::from_vec(g, shift.shape(), device)?;
            surrogate = (surrogate + (shift * g)?.sum_all()?)?;
        }
        let mut store = surrogate.backward()?;
        let mut put = |conv: &CircularConv, frozen: &GridConv<f32>, grad: &ConvGrad<f32>| -> candle_core::Result<()> {
            let (weight, bias) = conv.tensors();
            let dw = Tensor::from_vec(grad.weight_in_candle_layout(frozen), weight.shape(), device)?;
            store.insert(weight, dw);
            store.insert(bias, Tensor::from_vec(grad.bias.clone(), bias.shape(), device)?);
            Ok(())
        };
        put(&self.input, &net.input, &grads.input)?;
        put(&self.output, &net.output, &grads.output)?;
        for ((block, frozen), grad) in self.blocks_in_run_order().zip(net.blocks()).zip(&grads.blocks) {
            put(&block.first, &frozen.first, &grad.first)?;
            put(&block.second, &frozen.second, &grad.second)?;
            if let (Some(conv), Some(fz), Some(g)) = (&block.skip, &frozen.skip, &grad.skip) {
                put(conv, fz, g)?;
            }
        }
        Ok((loss, store))
    }

    pub fn forward(&self, x: &Tensor, t: &Tensor) -> candle_core::Result<Tensor> {
        let emb = self.time.forward(t)?;
        let mut h = self.input.forward(x)?;
        let mut skips = Vec::with_capacity(self.down.len());
        for (level, blocks) in self.down.iter().enumerate() {
            if level > 0 {
                h = self.pool(&h)?;
            }
            for block in blocks {
                h = block.forward(&h, &emb)?;
            }
            skips.push(h.clone());
        }
        for (level, blocks) in self.up.iter().enumerate().rev() {
            h = (h + &skips[level])?;
            for block in blocks {
                h = block.forward(&h, &emb)?;
            }
            if level > 0 {
                h = self.upsample(&h, &skips[level - 1])?;
            }
        }
        self.output.forward(&sample_norm(&h)?)
    }

    /// 2×2 (or 2) average pooling as a reshape and a mean: candle's `avg_pool2d` backward goes
    /// through `upsample_nearest2d`, this through a broadcast.
    fn pool(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self.rank {
            1 => {
                let (b, c, n) = x.dims3()?;
                x.reshape((b, c, n / 2, 2))?.mean(D::Minus1)
            }
            _ => {
                let (b, c, h, w) = x.dims4()?;
                x.reshape((b, c, h / 2, 2, w / 2, 2))?.sum(5)?.sum(3)? * 0.25
            }
        }
    }

    /// Nearest-neighbour upsampling by 2 as a broadcast: candle's `upsample_nearest2d` backward
    /// is a grouped direct convolution, far slower than the reduction a broadcast's backward is.
    fn upsample(&self, x: &Tensor, like: &Tensor) -> candle_core::Result<Tensor> {
        match self.rank {
            1 => x.upsample_nearest1d(like.dim(2)?),
            _ => {
                let (b, c, h, w) = x.dims4()?;
                x.reshape((b, c, h, 1, w, 1))?.broadcast_as((b, c, h, 2, w, 2))?.reshape((b, c, 2 * h, 2 * w))
            }
        }
    }

    /// Multiply-add FLOPs of the convolutions for one window on a grid of `cells` cells.
    pub fn flops_per_window(cfg: &UnetConfig, rank: usize, window: usize, cells: usize) -> f64 {
        let conv = |cin, cout, k, cells: usize| CircularConv::flops_per_cell(rank, cin, cout, k) * cells as f64;
        let first = cfg.channels.first().copied().unwrap_or(window);
        let mut total = conv(window, first, cfg.kernel, cells) + conv(first, window, cfg.kernel, cells);
        let mut cin = first;
        let mut level_cells = cells;
        for (level, &c) in cfg.channels.iter().enumerate() {
            if level > 0 {
                level_cells /= 2usize.pow(rank as u32);
            }
            for b in 0..cfg.blocks {
                let i = if b == 0 { cin } else { c };
                total += conv(i, c, cfg.kernel, level_cells) + conv(c, c, cfg.kernel, level_cells);
                if i != c {
                    total += conv(i, c, 1, level_cells);
                }
                let o = if b + 1 == cfg.blocks { cin } else { c };
                total += conv(c, o, cfg.kernel, level_cells) + conv(o, o, cfg.kernel, level_cells);
                if o != c {
                    total += conv(c, o, 1, level_cells);
                }
            }
            cin = c;
        }
        total
    }
}

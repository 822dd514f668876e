//! The residual MLP with frozen weights as direct CPU kernels: a forward pass that keeps what
//! its input gradient needs (a tape), and vector–Jacobian products from that tape, with no
//! autograd graph and with buffers reused between calls.
//!
//! Sampling evaluates the same network hundreds of times with constant weights and wants only
//! gradients with respect to the input. candle's autograd builds a graph per call, allocates and
//! zeroes a gradient buffer per node and computes every matrix product's weight gradient too;
//! here a guided evaluation is the GEMMs and one fused pass per element-wise step. The time
//! embedding is the same for every row of a call (one diffusion time), so its share of the input
//! layer folds into a bias row. candle's autograd stays the reference (tests compare the two).
//!
//! Training uses the same kernels with a time shift per row (each row has its own diffusion
//! time) and adds each layer's weight gradient (the layer's output gradient transposed times its
//! input, one GEMM) on the way back; the time embedding stays with candle's autograd, which is
//! given the gradient of the shift.

use std::sync::Arc;

use candle_core::{Device, Tensor, WithDType};
use rayon::prelude::*;

use super::buffer_pool::BufferPool;
use super::frozen::{FrozenTape, fill_rows, values};
use super::fused::{CHUNK, RowKernels, chunk_len as chunk};
use super::layers::FastLinear;
use super::row_gemm::{Strides, Threads, gemm_rows, gemm_strided};
use super::time_embedding::TimeEmbedding;

/// One pre-LayerNorm block `x + W₂·SiLU(W₁·LN(x) + b₁) + b₂`, weights row-major `[out, in]`.
#[derive(Debug)]
struct FrozenBlock<T> {
    expand: Vec<T>,
    expand_bias: Vec<T>,
    contract: Vec<T>,
    contract_bias: Vec<T>,
}

/// A [`super::ResidualMlp`]'s weights as plain rows, with its time embedding.
#[derive(Debug)]
pub struct FrozenMlp<T> {
    features: usize,
    width: usize,
    time: TimeEmbedding,
    /// The input layer's columns that read the state `[width, features]`, and those that read
    /// the time embedding `[width, embedding]`.
    input_x: Vec<T>,
    input_t: Vec<T>,
    input_bias: Vec<T>,
    blocks: Vec<FrozenBlock<T>>,
    output: Vec<T>,
    output_bias: Vec<T>,
    pool: Arc<BufferPool<T>>,
}

/// What a forward pass keeps for its vector–Jacobian products: each block's normalised input
/// with its rows' `1/√(var + ε)`, and its pre-activation. Its buffers go back to the pool when
/// it is dropped.
pub struct MlpTape<'a, T: WithDType> {
    mlp: &'a FrozenMlp<T>,
    rows: usize,
    normed: Vec<Vec<T>>,
    rstd: Vec<Vec<T>>,
    pre_activations: Vec<Vec<T>>,
}

impl<T: WithDType> Drop for MlpTape<'_, T> {
    fn drop(&mut self) {
        for v in self.normed.drain(..).chain(self.rstd.drain(..)).chain(self.pre_activations.drain(..)) {
            self.mlp.pool.give(v);
        }
    }
}

/// Gradients of the MLP's weights (row-major `[out, in]`, as the layers hold them) and biases,
/// and of each row's input-layer shift.
pub(super) struct MlpGrads<T> {
    /// The input layer's columns that read the state `[width, features]`.
    pub input_x: Vec<T>,
    /// Per block: expand weight, expand bias, contract weight, contract bias.
    pub blocks: Vec<[Vec<T>; 4]>,
    pub output: Vec<T>,
    pub output_bias: Vec<T>,
    /// `[rows, width]`.
    pub shift: Vec<T>,
}

/// `dst += gᵀ·input`: a layer's weight gradient `[out, in]` from its output gradient `g`
/// `[rows, out]` and its input `[rows, in]`.
fn add_weight_grad<T: WithDType>(dst: &mut [T], g: &[T], input: &[T], (rows, out, inp): (usize, usize, usize)) {
    let lhs = (g, Strides { row: 1, col: out });
    let rhs = (input, Strides { row: inp, col: 1 });
    gemm_strided((dst, Strides { row: inp, col: 1 }), true, lhs, rhs, (out, rows, inp), Threads::Auto);
}

/// Column sums of `g` `[rows, n]`.
fn column_sums<T: WithDType>(g: &[T], n: usize) -> Vec<T> {
    let mut sums = vec![T::zero(); n];
    for row in g.chunks_exact(n) {
        sums.iter_mut().zip(row).for_each(|(s, v)| *s += *v);
    }
    sums
}

impl<T: WithDType + RowKernels> FrozenMlp<T> {
    /// Copies the weights of an MLP's layers; `None` unless every layer is constant.
    pub(super) fn new(
        time: &TimeEmbedding,
        input: &FastLinear,
        blocks: &[(&FastLinear, &FastLinear)],
        output: &FastLinear,
        features: usize,
    ) -> candle_core::Result<Option<Self>> {
        let layers = || [input, output].into_iter().chain(blocks.iter().flat_map(|(a, b)| [*a, *b]));
        if !(layers().all(|l| l.is_constant() && l.bias().is_some() && l.weight().device().is_cpu())
            && time.is_constant())
        {
            return Ok(None);
        }
        Self::snapshot(time, input, blocks, output, features).map(Some)
    }

    /// Copies the current weights of an MLP's layers, whether or not they are being trained.
    pub(super) fn snapshot(
        time: &TimeEmbedding,
        input: &FastLinear,
        blocks: &[(&FastLinear, &FastLinear)],
        output: &FastLinear,
        features: usize,
    ) -> candle_core::Result<Self> {
        let bias = |l: &FastLinear| match l.bias() {
            Some(b) => values::<T>(b),
            None => candle_core::bail!("frozen layers need biases"),
        };
        let (width, inputs) = input.weight().dims2()?;
        let embedding = inputs - features;
        let weight = values::<T>(input.weight())?;
        let mut input_x = Vec::with_capacity(width * features);
        let mut input_t = Vec::with_capacity(width * embedding);
        for row in weight.chunks_exact(inputs) {
            input_x.extend_from_slice(&row[..features]);
            input_t.extend_from_slice(&row[features..]);
        }
        let blocks = blocks
            .iter()
            .map(|(e, c)| {
                Ok(FrozenBlock {
                    expand: values(e.weight())?,
                    expand_bias: bias(e)?,
                    contract: values(c.weight())?,
                    contract_bias: bias(c)?,
                })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(Self {
            features,
            width,
            time: time.clone(),
            input_x,
            input_t,
            input_bias: bias(input)?,
            blocks,
            output: values(output.weight())?,
            output_bias: bias(output)?,
            pool: Arc::default(),
        })
    }

    /// The same network drawing its buffers from `pool` (kept between a training run's steps).
    pub(super) fn with_pool(mut self, pool: Arc<BufferPool<T>>) -> Self {
        self.pool = pool;
        self
    }

    /// Values per input row.
    pub fn features(&self) -> usize {
        self.features
    }

    /// The input layer's bias with the time embedding of `t` folded in.
    fn input_bias_at(&self, t: f64) -> candle_core::Result<Vec<T>> {
        let t = Tensor::new(&[t], &Device::Cpu)?.to_dtype(T::DTYPE)?;
        let emb: Vec<T> = values(&self.time.forward(&t)?)?;
        let mut bias = self.input_bias.clone();
        gemm_rows(&mut bias, true, &emb, &self.input_t, true, (1, emb.len(), self.width), Threads::One);
        Ok(bias)
    }

    /// The raw network `F(x, t)` on `rows` rows of `features` values, all at time `t`, and the
    /// tape for [`MlpTape::vjp`].
    pub fn forward(&self, x: &[T], rows: usize, t: f64) -> candle_core::Result<(Vec<T>, MlpTape<'_, T>)> {
        let bias = self.input_bias_at(t)?;
        self.forward_from(x, rows, |h| fill_rows(h, &bias)).map(|(out, tape, h)| {
            self.pool.give(h);
            (out, tape)
        })
    }

    /// The forward pass with the input layer's bias and time shift written by `start` into the
    /// first activation; also returns the last hidden activation (the output layer's input).
    #[allow(clippy::type_complexity)]
    fn forward_from(
        &self,
        x: &[T],
        rows: usize,
        start: impl FnOnce(&mut [T]),
    ) -> candle_core::Result<(Vec<T>, MlpTape<'_, T>, Vec<T>)> {
        let (f, w) = (self.features, self.width);
        if x.len() != rows * f {
            candle_core::bail!("frozen MLP: {} values for {rows} rows of {f}", x.len());
        }
        let mut h = self.pool.take(rows * w);
        start(&mut h);
        gemm_rows(&mut h, true, x, &self.input_x, true, (rows, f, w), Threads::Auto);
        let mut tape = MlpTape { mlp: self, rows, normed: Vec::new(), rstd: Vec::new(), pre_activations: Vec::new() };
        let c = chunk(w);
        for block in &self.blocks {
            let mut normed = self.pool.take(rows * w);
            let mut rstd = self.pool.take(rows);
            normed
                .par_chunks_mut(c)
                .zip(rstd.par_chunks_mut(c / w))
                .zip(h.par_chunks(c))
                .for_each(|((o, r), x)| T::norm_rows(x, o, r, w));
            let mut a = self.pool.take(rows * w);
            fill_rows(&mut a, &block.expand_bias);
            gemm_rows(&mut a, true, &normed, &block.expand, true, (rows, w, w), Threads::Auto);
            let mut activated = self.pool.take(rows * w);
            activated.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK)).for_each(|(o, a)| T::silu_rows(a, o));
            let mut y = self.pool.take(rows * w);
            y.par_chunks_mut(c).zip(h.par_chunks(c)).for_each(|(y, x)| {
                for (yr, xr) in y.chunks_exact_mut(w).zip(x.chunks_exact(w)) {
                    yr.iter_mut().zip(xr.iter().zip(&block.contract_bias)).for_each(|(y, (x, b))| *y = *x + *b);
                }
            });
            gemm_rows(&mut y, true, &activated, &block.contract, true, (rows, w, w), Threads::Auto);
            self.pool.give(activated);
            self.pool.give(std::mem::replace(&mut h, y));
            tape.normed.push(normed);
            tape.rstd.push(rstd);
            tape.pre_activations.push(a);
        }
        let mut out = vec![T::zero(); rows * f];
        fill_rows(&mut out, &self.output_bias);
        gemm_rows(&mut out, true, &h, &self.output, true, (rows, w, f), Threads::Auto);
        Ok((out, tape, h))
    }

    /// The raw network on `rows` rows of `x` whose input layer adds `shift` (`[rows, width]`:
    /// its bias and its time-embedding part, one row per diffusion time), and the gradients of
    /// every weight and of the shift for the output gradient `g_of(out)`.
    pub(super) fn train_gradients(
        &self,
        x: &[T],
        rows: usize,
        shift: &[T],
        g_of: impl FnOnce(&[T]) -> Vec<T>,
    ) -> candle_core::Result<(Vec<T>, MlpGrads<T>)> {
        let (f, w) = (self.features, self.width);
        if shift.len() != rows * w {
            candle_core::bail!("frozen MLP: a shift of {} values for {rows} rows of {w}", shift.len());
        }
        let (out, tape, last) = self.forward_from(x, rows, |h| h.copy_from_slice(shift))?;
        let g = g_of(&out);
        if g.len() != out.len() {
            candle_core::bail!("frozen MLP: output gradient of {} values for {}", g.len(), out.len());
        }
        let pool = &self.pool;
        let mut output = vec![T::zero(); f * w];
        add_weight_grad(&mut output, &g, &last, (rows, f, w));
        pool.give(last);
        let output_bias = column_sums(&g, f);
        let mut g_h = pool.take(rows * w);
        gemm_rows(&mut g_h, false, &g, &self.output, false, (rows, f, w), Threads::Auto);
        let mut g_s = pool.take(rows * w);
        let mut g_a = pool.take(rows * w);
        let mut activated = pool.take(rows * w);
        let mut blocks = Vec::with_capacity(self.blocks.len());
        let taped = self.blocks.iter().zip(&tape.normed).zip(tape.rstd.iter().zip(&tape.pre_activations));
        for ((block, normed), (rstd, a)) in taped.rev() {
            // The contract layer reads SiLU(a), the expand layer LN(x).
            activated.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK)).for_each(|(o, a)| T::silu_rows(a, o));
            let mut contract = vec![T::zero(); w * w];
            add_weight_grad(&mut contract, &g_h, &activated, (rows, w, w));
            let contract_bias = column_sums(&g_h, w);
            gemm_rows(&mut g_s, false, &g_h, &block.contract, false, (rows, w, w), Threads::Auto);
            g_a.par_chunks_mut(CHUNK)
                .zip(a.par_chunks(CHUNK).zip(g_s.par_chunks(CHUNK)))
                .for_each(|(o, (a, g))| T::silu_grad_rows(a, g, o));
            let mut expand = vec![T::zero(); w * w];
            add_weight_grad(&mut expand, &g_a, normed, (rows, w, w));
            let expand_bias = column_sums(&g_a, w);
            gemm_rows(&mut g_s, false, &g_a, &block.expand, false, (rows, w, w), Threads::Auto);
            let c = chunk(w);
            g_a.par_chunks_mut(c)
                .zip(normed.par_chunks(c).zip(rstd.par_chunks(c / w)))
                .zip(g_s.par_chunks(c).zip(g_h.par_chunks(c)))
                .for_each(|((o, (n, r)), (g, add))| T::norm_grad_add_rows(n, r, g, add, o, w));
            std::mem::swap(&mut g_h, &mut g_a);
            blocks.push([expand, expand_bias, contract, contract_bias]);
        }
        blocks.reverse();
        let mut input_x = vec![T::zero(); w * f];
        add_weight_grad(&mut input_x, &g_h, x, (rows, w, f));
        let shift = g_h.clone();
        for v in [g_h, g_s, g_a, activated] {
            pool.give(v);
        }
        Ok((out, MlpGrads { input_x, blocks, output, output_bias, shift }))
    }
}

impl<T: WithDType + RowKernels> FrozenTape<T> for MlpTape<'_, T> {
    /// `gᵀ·∂F/∂x` at the taped input, for `g` of the output's shape.
    fn vjp(&self, g: &[T]) -> candle_core::Result<Vec<T>> {
        let mlp = self.mlp;
        let (rows, f, w) = (self.rows, mlp.features, mlp.width);
        if g.len() != rows * f {
            candle_core::bail!("frozen MLP: cotangent of {} values for {rows} rows of {f}", g.len());
        }
        let pool = &mlp.pool;
        let mut g_h = pool.take(rows * w);
        gemm_rows(&mut g_h, false, g, &mlp.output, false, (rows, f, w), Threads::Auto);
        let mut g_s = pool.take(rows * w);
        let mut g_a = pool.take(rows * w);
        let blocks = mlp.blocks.iter().zip(&self.normed).zip(self.rstd.iter().zip(&self.pre_activations));
        for ((block, normed), (rstd, a)) in blocks.rev() {
            // ∂/∂s = g_h·W₂, ∂/∂a = SiLU'(a)·∂/∂s, ∂/∂LN = ∂/∂a·W₁, ∂/∂x = g_h + LN'(x)ᵀ·∂/∂LN.
            gemm_rows(&mut g_s, false, &g_h, &block.contract, false, (rows, w, w), Threads::Auto);
            g_a.par_chunks_mut(CHUNK)
                .zip(a.par_chunks(CHUNK).zip(g_s.par_chunks(CHUNK)))
                .for_each(|(o, (a, g))| T::silu_grad_rows(a, g, o));
            gemm_rows(&mut g_s, false, &g_a, &block.expand, false, (rows, w, w), Threads::Auto);
            let c = chunk(w);
            g_a.par_chunks_mut(c)
                .zip(normed.par_chunks(c).zip(rstd.par_chunks(c / w)))
                .zip(g_s.par_chunks(c).zip(g_h.par_chunks(c)))
                .for_each(|((o, (n, r)), (g, add))| T::norm_grad_add_rows(n, r, g, add, o, w));
            std::mem::swap(&mut g_h, &mut g_a);
        }
        let mut g_x = vec![T::zero(); rows * f];
        gemm_rows(&mut g_x, false, &g_h, &mlp.input_x, false, (rows, w, f), Threads::Auto);
        for v in [g_h, g_s, g_a] {
            pool.give(v);
        }
        Ok(g_x)
    }
}

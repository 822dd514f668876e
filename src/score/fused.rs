//! Fused CPU kernels for the networks' element-wise work, with their own backward passes.
//!
//! With candle's stock ops a 256-wide residual MLP spends most of its time outside the matrix
//! products: `silu` and layer normalisation are chains of element-wise tensor ops, each a full
//! pass over memory with a libm `exp`, and their gradients chain even more. Sampling also needs
//! only input gradients, while candle's matmul backward always computes the weight gradient
//! too. These kernels do each step in one pass (a vectorisable `exp`), and [`FastLinear`] skips
//! the weight gradient when the weights are constants. `sdalab bench` measures the effect.
//! On other devices the stock candle ops are used.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, D, DType, Layout, Shape, Tensor, WithDType, bail};
use candle_nn::{Linear, Module};
use rayon::prelude::*;

use super::row_gemm::{Threads, gemm_rows};

/// Elements per parallel chunk of the element-wise kernels.
pub(super) const CHUNK: usize = 1 << 14;

/// `e^x` for f32 to ~2 ulp, branch-free so loops vectorise: `2^n · p(r)` with
/// `n = round(x·log₂e)` (by the 1.5·2²³ rounding trick, plain SSE2/AVX arithmetic),
/// `r = x − n·ln 2` and a degree-6 polynomial.
#[inline(always)]
fn fast_exp(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5·2²³
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0 + r * (0.5 + r * (0.166_666_67 + r * (0.041_666_668 + r * (0.008_333_334 + r * 0.001_388_889)))));
    let exponent = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    p * f32::from_bits((exponent.wrapping_add(127) << 23) as u32)
}

fn contiguous<'a, T>(data: &'a [T], layout: &Layout) -> candle_core::Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => bail!("fused kernels need contiguous inputs"),
    }
}

// f32 kernels: plain loops over slices that the compiler vectorises.

#[inline(always)]
fn silu_kernel(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v / (1.0 + fast_exp(-v));
    }
}

#[inline(always)]
fn silu_grad_kernel(x: &[f32], g: &[f32], out: &mut [f32]) {
    for ((o, &v), &g) in out.iter_mut().zip(x).zip(g) {
        let s = 1.0 / (1.0 + fast_exp(-v));
        *o = g * s * (1.0 + v * (1.0 - s));
    }
}

/// Lanes of the vectorised sums: float addition is not associative, so a plain `sum()` runs one
/// addition at a time; sixteen partial sums let the compiler fill a vector register.
const LANES: usize = 16;

/// `Σ f(a_i, b_i)` over two equally long rows, in [`LANES`] partial sums.
#[inline(always)]
fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(a, b)| f(*a, *b)).sum();
    for (ca, cb) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += f(ca[i], cb[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Mean and `1/√(var + ε)` of one row (two passes, f32 accumulation).
#[inline(always)]
fn row_stats_f32(row: &[f32]) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = lane_sum(row, row, |v, _| v) / n;
    let var = lane_sum(row, row, |v, _| (v - mean) * (v - mean)) / n;
    (mean, 1.0 / (var + LN_EPS as f32).sqrt())
}

#[inline(always)]
fn norm_kernel(x: &[f32], out: &mut [f32], width: usize) {
    for (o, row) in out.chunks_exact_mut(width).zip(x.chunks_exact(width)) {
        let (mean, rstd) = row_stats_f32(row);
        for (o, v) in o.iter_mut().zip(row) {
            *o = (v - mean) * rstd;
        }
    }
}

/// [`norm_kernel`] that also writes each row's `rstd`.
#[inline(always)]
fn norm_stats_kernel(x: &[f32], out: &mut [f32], rstd_out: &mut [f32], width: usize) {
    for ((o, row), r) in out.chunks_exact_mut(width).zip(x.chunks_exact(width)).zip(rstd_out.iter_mut()) {
        let (mean, rstd) = row_stats_f32(row);
        *r = rstd;
        for (o, v) in o.iter_mut().zip(row) {
            *o = (v - mean) * rstd;
        }
    }
}

/// `dx = rstd·(g − mean(g) − x̂·mean(g·x̂))` per row.
#[inline(always)]
fn norm_grad_kernel(x: &[f32], g: &[f32], out: &mut [f32], width: usize) {
    let n = width as f32;
    for ((o, row), g) in out.chunks_exact_mut(width).zip(x.chunks_exact(width)).zip(g.chunks_exact(width)) {
        let (mean, rstd) = row_stats_f32(row);
        let mg = lane_sum(g, g, |g, _| g) / n;
        let mgx = lane_sum(g, row, |g, v| g * (v - mean)) * rstd / n;
        for ((o, v), g) in o.iter_mut().zip(row).zip(g) {
            *o = rstd * (g - mg - (v - mean) * rstd * mgx);
        }
    }
}

/// The layer-norm input gradient from the normalised rows `x̂` and their `rstd`, plus `add`:
/// `rstd·(g − mean(g) − x̂·mean(g·x̂)) + add`.
#[inline(always)]
fn norm_grad_normed_kernel(normed: &[f32], rstd: &[f32], g: &[f32], add: &[f32], out: &mut [f32], width: usize) {
    let n = width as f32;
    let rows = out.chunks_exact_mut(width).zip(normed.chunks_exact(width)).zip(g.chunks_exact(width));
    for (((o, h), g), (add, r)) in rows.zip(add.chunks_exact(width).zip(rstd)) {
        let mg = lane_sum(g, g, |g, _| g) / n;
        let mgx = lane_sum(g, h, |g, h| g * h) / n;
        for (((o, h), g), a) in o.iter_mut().zip(h).zip(g).zip(add) {
            *o = r * (g - mg - h * mgx) + a;
        }
    }
}

/// `silu((x − mean)·rstd)` per row: a normalisation and the activation after it in one pass.
#[inline(always)]
fn norm_silu_kernel(x: &[f32], out: &mut [f32], width: usize) {
    for (o, row) in out.chunks_exact_mut(width).zip(x.chunks_exact(width)) {
        let (mean, rstd) = row_stats_f32(row);
        for (o, v) in o.iter_mut().zip(row) {
            let h = (v - mean) * rstd;
            *o = h / (1.0 + fast_exp(-h));
        }
    }
}

/// The gradient of [`norm_silu_kernel`]: `gs = g·silu'(x̂)`, then the normalisation's gradient
/// `rstd·(gs − mean(gs) − x̂·mean(gs·x̂))` per row.
#[inline(always)]
fn norm_silu_grad_kernel(x: &[f32], g: &[f32], out: &mut [f32], width: usize) {
    let n = width as f32;
    for ((o, row), g) in out.chunks_exact_mut(width).zip(x.chunks_exact(width)).zip(g.chunks_exact(width)) {
        let (mean, rstd) = row_stats_f32(row);
        for ((o, v), g) in o.iter_mut().zip(row).zip(g) {
            let h = (v - mean) * rstd;
            let s = 1.0 / (1.0 + fast_exp(-h));
            *o = g * s * (1.0 + h * (1.0 - s));
        }
        let mg = lane_sum(o, o, |gs, _| gs) / n;
        let mgx = lane_sum(o, row, |gs, v| gs * (v - mean)) * rstd / n;
        for (o, v) in o.iter_mut().zip(row) {
            *o = rstd * (*o - mg - (v - mean) * rstd * mgx);
        }
    }
}

/// Declares an AVX2+FMA build of a kernel and a safe entry point that uses it when the CPU has
/// both (detected at run time), the baseline build otherwise.
macro_rules! with_avx2 {
    ($entry:ident, $kernel:ident, ($($arg:ident: $ty:ty),*)) => {
        fn $entry($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn wide($($arg: $ty),*) {
                    $kernel($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports the features `wide` was compiled for.
                    unsafe { wide($($arg),*) };
                    return;
                }
            }
            $kernel($($arg),*)
        }
    };
}

with_avx2!(silu_f32, silu_kernel, (x: &[f32], out: &mut [f32]));
with_avx2!(silu_grad_f32, silu_grad_kernel, (x: &[f32], g: &[f32], out: &mut [f32]));
with_avx2!(norm_f32, norm_kernel, (x: &[f32], out: &mut [f32], width: usize));
with_avx2!(norm_grad_f32, norm_grad_kernel, (x: &[f32], g: &[f32], out: &mut [f32], width: usize));
with_avx2!(norm_stats_f32, norm_stats_kernel, (x: &[f32], out: &mut [f32], rstd: &mut [f32], width: usize));
with_avx2!(
    norm_grad_normed_f32,
    norm_grad_normed_kernel,
    (normed: &[f32], rstd: &[f32], g: &[f32], add: &[f32], out: &mut [f32], width: usize)
);
with_avx2!(norm_silu_f32, norm_silu_kernel, (x: &[f32], out: &mut [f32], width: usize));
with_avx2!(norm_silu_grad_f32, norm_silu_grad_kernel, (x: &[f32], g: &[f32], out: &mut [f32], width: usize));

/// Splits `n` elements of rows of `width` into parallel chunks of whole rows.
pub(super) fn chunk_len(width: usize) -> usize {
    (CHUNK / width.max(1)).max(1) * width.max(1)
}

fn par1(x: &[f32], width: usize, f: impl Fn(&[f32], &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    let c = chunk_len(width);
    out.par_chunks_mut(c).zip(x.par_chunks(c)).for_each(|(o, x)| f(x, o));
    out
}

fn par2(x: &[f32], g: &[f32], width: usize, f: impl Fn(&[f32], &[f32], &mut [f32]) + Sync) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    let c = chunk_len(width);
    out.par_chunks_mut(c).zip(x.par_chunks(c).zip(g.par_chunks(c))).for_each(|(o, (x, g))| f(x, g, o));
    out
}

/// The row-wise element kernels of the frozen networks ([`super::frozen_mlp`]) for one float type:
/// the vectorised f32 kernels above, and the exact f64 references (for gradient checks).
pub trait RowKernels: WithDType {
    fn silu_rows(x: &[Self], out: &mut [Self]);
    /// `out = g·silu'(x)`.
    fn silu_grad_rows(x: &[Self], g: &[Self], out: &mut [Self]);
    /// Layer normalisation of rows of `width`, writing each row's `1/√(var + ε)` to `rstd`.
    fn norm_rows(x: &[Self], out: &mut [Self], rstd: &mut [Self], width: usize);
    /// `out = dx + add`, with `dx` the layer-norm input gradient of `g`, from the normalised
    /// rows and their `rstd` ([`Self::norm_rows`]).
    fn norm_grad_add_rows(normed: &[Self], rstd: &[Self], g: &[Self], add: &[Self], out: &mut [Self], width: usize);
}

impl RowKernels for f32 {
    fn silu_rows(x: &[f32], out: &mut [f32]) {
        silu_f32(x, out)
    }
    fn silu_grad_rows(x: &[f32], g: &[f32], out: &mut [f32]) {
        silu_grad_f32(x, g, out)
    }
    fn norm_rows(x: &[f32], out: &mut [f32], rstd: &mut [f32], width: usize) {
        norm_stats_f32(x, out, rstd, width)
    }
    fn norm_grad_add_rows(normed: &[f32], rstd: &[f32], g: &[f32], add: &[f32], out: &mut [f32], width: usize) {
        norm_grad_normed_f32(normed, rstd, g, add, out, width)
    }
}

impl RowKernels for f64 {
    fn silu_rows(x: &[f64], out: &mut [f64]) {
        out.iter_mut().zip(x).for_each(|(o, x)| *o = silu64(*x));
    }
    fn silu_grad_rows(x: &[f64], g: &[f64], out: &mut [f64]) {
        out.iter_mut().zip(x.iter().zip(g)).for_each(|(o, (x, g))| *o = silu_grad64(*x, *g));
    }
    fn norm_rows(x: &[f64], out: &mut [f64], rstd: &mut [f64], width: usize) {
        let n = width as f64;
        for ((o, row), r) in out.chunks_exact_mut(width).zip(x.chunks_exact(width)).zip(rstd.iter_mut()) {
            let mean = row.iter().sum::<f64>() / n;
            *r = 1.0 / (row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n + LN_EPS).sqrt();
            o.iter_mut().zip(row).for_each(|(o, v)| *o = (v - mean) * *r);
        }
    }
    fn norm_grad_add_rows(normed: &[f64], rstd: &[f64], g: &[f64], add: &[f64], out: &mut [f64], width: usize) {
        let n = width as f64;
        let rows = out.chunks_exact_mut(width).zip(normed.chunks_exact(width)).zip(g.chunks_exact(width));
        for (((o, h), g), (add, r)) in rows.zip(add.chunks_exact(width).zip(rstd)) {
            let mg = g.iter().sum::<f64>() / n;
            let mgx = g.iter().zip(h).map(|(g, h)| g * h).sum::<f64>() / n;
            for (((o, h), g), a) in o.iter_mut().zip(h).zip(g).zip(add) {
                *o = r * (g - mg - h * mgx) + a;
            }
        }
    }
}

// f64 reference versions (used by the finite-difference tests): simple and exact.

fn sigmoid64(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn norm_rows64(x: &[f64], width: usize, grad: Option<&[f64]>) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    for (r, (o, row)) in out.chunks_exact_mut(width).zip(x.chunks_exact(width)).enumerate() {
        let n = width as f64;
        let mean = row.iter().sum::<f64>() / n;
        let rstd = 1.0 / (row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n + LN_EPS).sqrt();
        match grad {
            None => o.iter_mut().zip(row).for_each(|(o, v)| *o = (v - mean) * rstd),
            Some(g) => {
                let g = &g[r * width..(r + 1) * width];
                let mg = g.iter().sum::<f64>() / n;
                let mgx = g.iter().zip(row).map(|(g, v)| g * (v - mean) * rstd).sum::<f64>() / n;
                for ((o, v), g) in o.iter_mut().zip(row).zip(g) {
                    *o = rstd * (g - mg - (v - mean) * rstd * mgx);
                }
            }
        }
    }
    out
}

const LN_EPS: f64 = 1e-5;

fn silu64(x: f64) -> f64 {
    x * sigmoid64(x)
}

fn silu_grad64(x: f64, g: f64) -> f64 {
    let s = sigmoid64(x);
    g * s * (1.0 + x * (1.0 - s))
}

/// The f64 reference of the fused normalisation + SiLU and its gradient, by composition.
fn norm_silu_rows64(x: &[f64], width: usize, grad: Option<&[f64]>) -> Vec<f64> {
    let normed = norm_rows64(x, width, None);
    match grad {
        None => normed.into_iter().map(silu64).collect(),
        Some(g) => {
            let gs: Vec<f64> = normed.iter().zip(g).map(|(h, g)| silu_grad64(*h, *g)).collect();
            norm_rows64(x, width, Some(&gs))
        }
    }
}

/// The fused element-wise operations.
#[derive(Debug, Clone, Copy)]
enum Kernel {
    Silu,
    /// Over the last dimension.
    LayerNorm,
    /// Layer normalisation then SiLU, over the last dimension.
    NormSilu,
}

/// `kernel(x)`, with a backward pass that is itself one fused kernel.
struct Fused(Kernel);

/// `∂kernel/∂x · g` for inputs `(x, g)`.
struct FusedGrad(Kernel);

impl CustomOp1 for Fused {
    fn name(&self) -> &'static str {
        match self.0 {
            Kernel::Silu => "fused-silu",
            Kernel::LayerNorm => "fused-layer-norm",
            Kernel::NormSilu => "fused-norm-silu",
        }
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let width = l.dims().last().copied().unwrap_or(1);
        let out = match (self.0, s) {
            (Kernel::Silu, CpuStorage::F32(v)) => CpuStorage::F32(par1(contiguous(v, l)?, 1, silu_f32)),
            (Kernel::Silu, CpuStorage::F64(v)) => {
                CpuStorage::F64(contiguous(v, l)?.iter().map(|x| x * sigmoid64(*x)).collect())
            }
            (Kernel::LayerNorm, CpuStorage::F32(v)) => {
                CpuStorage::F32(par1(contiguous(v, l)?, width, |x, o| norm_f32(x, o, width)))
            }
            (Kernel::LayerNorm, CpuStorage::F64(v)) => CpuStorage::F64(norm_rows64(contiguous(v, l)?, width, None)),
            (Kernel::NormSilu, CpuStorage::F32(v)) => {
                CpuStorage::F32(par1(contiguous(v, l)?, width, |x, o| norm_silu_f32(x, o, width)))
            }
            (Kernel::NormSilu, CpuStorage::F64(v)) => CpuStorage::F64(norm_silu_rows64(contiguous(v, l)?, width, None)),
            _ => bail!("{} supports f32 and f64", self.name()),
        };
        Ok((out, l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(arg.contiguous()?.apply_op2_no_bwd(&grad.contiguous()?, &FusedGrad(self.0))?))
    }
}

impl CustomOp2 for FusedGrad {
    fn name(&self) -> &'static str {
        match self.0 {
            Kernel::Silu => "fused-silu-grad",
            Kernel::LayerNorm => "fused-layer-norm-grad",
            Kernel::NormSilu => "fused-norm-silu-grad",
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let width = l1.dims().last().copied().unwrap_or(1);
        let out = match (self.0, s1, s2) {
            (Kernel::Silu, CpuStorage::F32(x), CpuStorage::F32(g)) => {
                CpuStorage::F32(par2(contiguous(x, l1)?, contiguous(g, l2)?, 1, silu_grad_f32))
            }
            (Kernel::Silu, CpuStorage::F64(x), CpuStorage::F64(g)) => CpuStorage::F64(
                contiguous(x, l1)?
                    .iter()
                    .zip(contiguous(g, l2)?)
                    .map(|(x, g)| {
                        let s = sigmoid64(*x);
                        g * s * (1.0 + x * (1.0 - s))
                    })
                    .collect(),
            ),
            (Kernel::LayerNorm, CpuStorage::F32(x), CpuStorage::F32(g)) => {
                CpuStorage::F32(par2(contiguous(x, l1)?, contiguous(g, l2)?, width, |x, g, o| {
                    norm_grad_f32(x, g, o, width)
                }))
            }
            (Kernel::LayerNorm, CpuStorage::F64(x), CpuStorage::F64(g)) => {
                CpuStorage::F64(norm_rows64(contiguous(x, l1)?, width, Some(contiguous(g, l2)?)))
            }
            (Kernel::NormSilu, CpuStorage::F32(x), CpuStorage::F32(g)) => {
                CpuStorage::F32(par2(contiguous(x, l1)?, contiguous(g, l2)?, width, |x, g, o| {
                    norm_silu_grad_f32(x, g, o, width)
                }))
            }
            (Kernel::NormSilu, CpuStorage::F64(x), CpuStorage::F64(g)) => {
                CpuStorage::F64(norm_silu_rows64(contiguous(x, l1)?, width, Some(contiguous(g, l2)?)))
            }
            _ => bail!("{} supports f32 and f64", self.name()),
        };
        Ok((out, l1.shape().clone()))
    }
}

/// `x·sigmoid(x)`.
pub fn silu(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64) {
        x.contiguous()?.apply_op1(Fused(Kernel::Silu))
    } else {
        candle_nn::ops::silu(x)
    }
}

/// Layer normalisation over the last dimension without affine parameters:
/// `(x − mean) / √(var + 1e-5)`.
pub fn layer_norm(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64) {
        x.contiguous()?.apply_op1(Fused(Kernel::LayerNorm))
    } else {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        centred.broadcast_div(&(var + LN_EPS)?.sqrt()?)
    }
}

/// `silu(layer_norm(x))` over the last dimension, in one pass forward and one backward.
pub fn norm_silu(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64) {
        x.contiguous()?.apply_op1(Fused(Kernel::NormSilu))
    } else {
        candle_nn::ops::silu(&layer_norm(x)?)
    }
}

/// Rows of `bias` repeated: the starting value of an accumulating GEMM.
fn repeat_rows<T: WithDType>(bias: Option<&[T]>, rows: usize, n: usize) -> Vec<T> {
    let mut dst = vec![T::from_f64(0.0); rows * n];
    if let Some(b) = bias {
        dst.par_chunks_mut(n).for_each(|row| row.copy_from_slice(b));
    }
    dst
}

/// `y = x·Wᵀ + b` for constant weights: one GEMM with the bias folded in, and a backward pass
/// that computes only the input gradient `g·W`.
struct ConstLinearOp {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl CustomOp1 for ConstLinearOp {
    fn name(&self) -> &'static str {
        "const-linear"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (rows, inputs) = l.shape().dims2()?;
        let (outputs, _) = self.weight.dims2()?;
        let out = match s {
            CpuStorage::F32(x) => {
                let w = self.weight.flatten_all()?.to_vec1::<f32>()?;
                let b = self.bias.as_ref().map(|b| b.to_vec1::<f32>()).transpose()?;
                let mut dst = repeat_rows(b.as_deref(), rows, outputs);
                gemm_rows(&mut dst, b.is_some(), contiguous(x, l)?, &w, true, (rows, inputs, outputs), Threads::Auto);
                CpuStorage::F32(dst)
            }
            CpuStorage::F64(x) => {
                let w = self.weight.flatten_all()?.to_vec1::<f64>()?;
                let b = self.bias.as_ref().map(|b| b.to_vec1::<f64>()).transpose()?;
                let mut dst = repeat_rows(b.as_deref(), rows, outputs);
                gemm_rows(&mut dst, b.is_some(), contiguous(x, l)?, &w, true, (rows, inputs, outputs), Threads::Auto);
                CpuStorage::F64(dst)
            }
            _ => bail!("constant linear layers support f32 and f64"),
        };
        Ok((out, Shape::from((rows, outputs))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad.matmul(&self.weight)?))
    }
}

/// Weights of a pre-LayerNorm residual block, as plain f32 rows.
struct BlockWeights {
    expand: Vec<f32>,
    expand_bias: Vec<f32>,
    contract: Vec<f32>,
    contract_bias: Vec<f32>,
    width: usize,
}

/// `y = x + W₂·SiLU(W₁·LN(x) + b₁) + b₂` for constant f32 weights, in one op: the forward keeps
/// `LN(x)`'s input statistics implicit and stashes the pre-activation, and the backward is two
/// GEMMs and two fused passes, with none of the per-op allocations and gradient accumulations
/// of the generic graph.
struct ResidualBlockOp {
    weights: std::sync::Arc<BlockWeights>,
    /// Pre-activation `W₁·LN(x) + b₁` from the forward pass.
    stash: std::sync::Mutex<Option<Vec<f32>>>,
}

impl BlockWeights {
    /// The pre-activation `W₁·LN(x) + b₁` for input rows `x`.
    fn pre_activation(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let w = self;
        let normed = par1(x, w.width, |x, o| norm_f32(x, o, w.width));
        let mut a = repeat_rows(Some(&w.expand_bias), rows, w.width);
        gemm_rows(&mut a, true, &normed, &w.expand, true, (rows, w.width, w.width), Threads::Auto);
        a
    }
}

impl CustomOp1 for ResidualBlockOp {
    fn name(&self) -> &'static str {
        "const-residual-block"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(x) = s else { bail!("the fused residual block is f32 only") };
        let x = contiguous(x, l)?;
        let (rows, width) = l.shape().dims2()?;
        let w = &self.weights;
        if width != w.width {
            bail!("residual block of width {} applied to rows of {width}", w.width);
        }
        let a = w.pre_activation(x, rows);
        let h = par1(&a, width, silu_f32);
        // y = x + b₂, then y += h·W₂ᵀ.
        let mut y = x.to_vec();
        y.par_chunks_mut(width).for_each(|row| row.iter_mut().zip(&w.contract_bias).for_each(|(v, b)| *v += b));
        gemm_rows(&mut y, true, &h, &w.contract, true, (rows, width, width), Threads::Auto);
        if let Ok(mut stash) = self.stash.lock() {
            *stash = Some(a);
        }
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let pre_activation = self.stash.lock().ok().and_then(|mut s| s.take());
        let op = ResidualBlockGrad { weights: self.weights.clone(), pre_activation };
        Ok(Some(arg.contiguous()?.apply_op2_no_bwd(&grad.contiguous()?, &op)?))
    }
}

/// The input gradient of [`ResidualBlockOp`] for inputs `(x, g)`, reading both in place.
struct ResidualBlockGrad {
    weights: std::sync::Arc<BlockWeights>,
    pre_activation: Option<Vec<f32>>,
}

impl CustomOp2 for ResidualBlockGrad {
    fn name(&self) -> &'static str {
        "const-residual-block-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(x), CpuStorage::F32(g)) = (s1, s2) else { bail!("the fused residual block is f32 only") };
        let (x, g) = (contiguous(x, l1)?, contiguous(g, l2)?);
        let (rows, width) = l1.shape().dims2()?;
        let w = &self.weights;
        let recomputed;
        let a = match &self.pre_activation {
            Some(a) => a,
            None => {
                recomputed = w.pre_activation(x, rows);
                &recomputed
            }
        };
        // ∂/∂h = g·W₂, ∂/∂a = SiLU'(a)·∂/∂h, ∂/∂LN(x) = ∂/∂a·W₁, ∂/∂x = g + LN'(x)ᵀ·∂/∂LN(x).
        let mut g_h = vec![0.0f32; rows * width];
        gemm_rows(&mut g_h, false, g, &w.contract, false, (rows, width, width), Threads::Auto);
        let g_a = par2(a, &g_h, width, silu_grad_f32);
        let mut g_n = g_h;
        gemm_rows(&mut g_n, false, &g_a, &w.expand, false, (rows, width, width), Threads::Auto);
        let mut g_x = par2(x, &g_n, width, |x, g, o| norm_grad_f32(x, g, o, width));
        g_x.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .for_each(|(o, g)| o.iter_mut().zip(g).for_each(|(o, g)| *o += g));
        Ok((CpuStorage::F32(g_x), l1.shape().clone()))
    }
}

/// `x + contract(SiLU(expand(LN(x))))` through the fused op when both layers hold constant f32
/// weights on the CPU; `None` when the generic path must be used.
pub fn fused_residual_block(
    x: &Tensor,
    expand: &FastLinear,
    contract: &FastLinear,
) -> candle_core::Result<Option<Tensor>> {
    if !(expand.is_constant()
        && contract.is_constant()
        && x.device().is_cpu()
        && x.dtype() == DType::F32
        && x.rank() == 2)
    {
        return Ok(None);
    }
    let (Some(b1), Some(b2)) = (expand.inner.bias(), contract.inner.bias()) else { return Ok(None) };
    let width = x.dim(1)?;
    if expand.inner.weight().dims2()? != (width, width) || contract.inner.weight().dims2()? != (width, width) {
        return Ok(None);
    }
    let weights = BlockWeights {
        expand: expand.inner.weight().flatten_all()?.to_vec1()?,
        expand_bias: b1.to_vec1()?,
        contract: contract.inner.weight().flatten_all()?.to_vec1()?,
        contract_bias: b2.to_vec1()?,
        width,
    };
    let op = ResidualBlockOp { weights: std::sync::Arc::new(weights), stash: std::sync::Mutex::new(None) };
    Ok(Some(x.contiguous()?.apply_op1(op)?))
}

/// A candle-nn `Linear` (same checkpoint keys) that takes the fused path when its weights are
/// constants on the CPU and the input is a matrix.
#[derive(Debug, Clone)]
pub struct FastLinear {
    inner: Linear,
}

impl FastLinear {
    pub fn new(inner: Linear) -> Self {
        Self { inner }
    }

    /// Whether the weights are constants (no gradient is wanted for them).
    /// The layer's weight `[out, in]` and bias `[out]`.
    pub fn weight(&self) -> &Tensor {
        self.inner.weight()
    }

    pub fn bias(&self) -> Option<&Tensor> {
        self.inner.bias()
    }

    pub fn is_constant(&self) -> bool {
        !self.inner.weight().track_op() && !self.inner.bias().is_some_and(|b| b.track_op())
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let w = self.inner.weight();
        if self.is_constant() && x.device().is_cpu() && x.rank() == 2 && matches!(x.dtype(), DType::F32 | DType::F64) {
            let op = ConstLinearOp { weight: w.clone(), bias: self.inner.bias().cloned() };
            x.contiguous()?.apply_op1(op)
        } else {
            self.inner.forward(x)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_norm_silu_matches_its_f64_composition_and_its_gradient() {
        use candle_core::{Device, Var};
        let dev = Device::Cpu;
        let x64 = (Tensor::randn(0f64, 1.0, (3, 700), &dev).unwrap() * 2.0).unwrap();
        let g64 = Tensor::randn(0f64, 1.0, (3, 700), &dev).unwrap();
        // The f64 path against the stock ops it replaces (exact up to round-off).
        let stock = |x: &Tensor| {
            let mean = x.mean_keepdim(1).unwrap();
            let c = x.broadcast_sub(&mean).unwrap();
            let var = c.sqr().unwrap().mean_keepdim(1).unwrap();
            candle_nn::ops::silu(&c.broadcast_div(&(var + LN_EPS).unwrap().sqrt().unwrap()).unwrap()).unwrap()
        };
        let (xv, xs) = (Var::from_tensor(&x64).unwrap(), Var::from_tensor(&x64).unwrap());
        let ours = norm_silu(&xv).unwrap();
        let theirs = stock(&xs);
        let diff = |a: &Tensor, b: &Tensor| {
            (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f64>().unwrap()
        };
        assert!(diff(&ours, &theirs) < 1e-12);
        let ga = (&ours * &g64).unwrap().sum_all().unwrap().backward().unwrap();
        let gb = (&theirs * &g64).unwrap().sum_all().unwrap().backward().unwrap();
        let (ga, gb) = (ga.get(&xv).unwrap(), gb.get(&xs).unwrap());
        assert!(diff(ga, gb) < 1e-10, "f64 gradient {}", diff(ga, gb));
        // The f32 kernels against the f64 reference.
        let x32 = Var::from_tensor(&x64.to_dtype(DType::F32).unwrap()).unwrap();
        let out32 = norm_silu(&x32).unwrap();
        let grad32 = (&out32 * g64.to_dtype(DType::F32).unwrap()).unwrap().sum_all().unwrap().backward().unwrap();
        let to64 = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
        assert!(diff(&to64(&out32), &ours) < 1e-5);
        assert!(diff(&to64(grad32.get(&x32).unwrap()), ga) < 1e-4);
    }

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst: f32 = 0.0;
        for i in -8000..8000 {
            let x = i as f32 * 0.01;
            worst = worst.max((fast_exp(x) / x.exp() - 1.0).abs());
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
    }
}

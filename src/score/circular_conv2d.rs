//! A 2-D convolution with circular padding, as candle custom ops on the CPU.
//!
//! candle 0.11.1's CPU `conv2d` is a direct loop (≈ 9 GFLOP/s forward, ≈ 6 with its backward on
//! 2 cores, against ≈ 100 for its matrix multiply; `sdalab bench` measures both), and circular
//! padding costs two extra `cat`s per convolution and per gradient. Here each batch element's
//! input is unfolded once into a `[Cin·k², H·W]` column matrix with the periodic wrap built in
//! (im2col), and the convolution is one GEMM with the `[Cout, Cin·k²]` weights, through the
//! `gemm` crate candle itself uses ([`super::row_gemm`]). The gradient with respect to the input is the same circular
//! convolution of the output gradient with the weights transposed and flipped; the gradient with
//! respect to the weights is one GEMM of the output gradient with the re-unfolded input. Each
//! gradient is computed only when its argument is tracked (sampling needs only the input's).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use super::row_gemm::{Threads, gemm_rows};

/// `[B, Cin, H, W]` ⊛ `[Cout, Cin, k, k]` → `[B, Cout, H, W]`, odd `k`, periodic boundaries.
/// Falls back to candle's `conv2d` on explicitly padded input off the CPU.
pub fn circular_conv2d(x: &Tensor, weight: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64) {
        x.contiguous()?.apply_op2(&weight.contiguous()?, CircularConv2d)
    } else {
        let pad = weight.dim(2)? / 2;
        let padded = circular_pad(&circular_pad(x, 2, pad)?, 3, pad)?;
        padded.conv2d(weight, 0, 1, 1, 1)
    }
}

/// `circular_conv2d(x, weight) + add`, with `add` `[B, Cout]` or `[1, Cout]` broadcast over the
/// cells (a bias, or a bias plus a per-sample shift), added in the same pass on the CPU.
pub fn circular_conv2d_add(x: &Tensor, weight: &Tensor, add: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64) {
        x.contiguous()?.apply_op3(&weight.contiguous()?, &add.contiguous()?, CircularConv2dAdd)
    } else {
        let (b, c) = add.dims2()?;
        circular_conv2d(x, weight)?.broadcast_add(&add.reshape((b, c, 1, 1))?)
    }
}

/// Wraps `pad` cells from each end of dimension `dim` around to the other.
pub fn circular_pad(x: &Tensor, dim: usize, pad: usize) -> candle_core::Result<Tensor> {
    if pad == 0 {
        return Ok(x.clone());
    }
    let n = x.dim(dim)?;
    Tensor::cat(&[x.narrow(dim, n - pad, pad)?, x.clone(), x.narrow(dim, 0, pad)?], dim)
}

/// Sizes of one convolution.
#[derive(Debug, Clone, Copy)]
struct Dims {
    batch: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    k: usize,
}

impl Dims {
    fn cells(&self) -> usize {
        self.h * self.w
    }

    /// Rows of the column matrix, `Cin·k²`.
    fn depth(&self) -> usize {
        self.cin * self.k * self.k
    }

    fn of(x: &Layout, weight: &Layout) -> candle_core::Result<Self> {
        let (batch, cin, h, w) = x.shape().dims4()?;
        let (cout, cin_w, k, k2) = weight.shape().dims4()?;
        if cin != cin_w || k != k2 || k % 2 == 0 || k / 2 > h || k / 2 > w {
            candle_core::bail!("circular-conv2d: input {:?} does not fit weights {:?}", x.shape(), weight.shape());
        }
        Ok(Self { batch, cin, cout, h, w, k })
    }
}

/// Unfolds one `[Cin, H, W]` element into `cols` `[Cin·k², H·W]` with periodic wrap: row
/// `(c·k + dy)·k + dx`, column `y·W + x` holds `x[c, y + dy − k/2, x + dx − k/2]` (mod H, W).
fn unfold<T: Copy>(x: &[T], d: Dims, cols: &mut [T]) {
    let (h, w, k, pad) = (d.h, d.w, d.k, d.k / 2);
    let mut rows = cols.chunks_exact_mut(d.cells());
    for plane in x.chunks_exact(d.cells()) {
        for dy in 0..k {
            for dx in 0..k {
                let Some(row) = rows.next() else { return };
                // Source column of output column 0; the row splits into two contiguous runs.
                let start = (dx + w - pad) % w;
                for y in 0..h {
                    let src = &plane[((y + h + dy - pad) % h) * w..][..w];
                    let dst = &mut row[y * w..][..w];
                    dst[..w - start].copy_from_slice(&src[start..]);
                    dst[w - start..].copy_from_slice(&src[..start]);
                }
            }
        }
    }
}

/// Whether to split the work by batch element (each GEMM on one thread) or run each GEMM on all
/// threads (a batch too small to keep them busy).
fn split_by_batch(batch: usize) -> bool {
    batch >= 2 * rayon::current_num_threads()
}

/// The GEMM threading of one batch element: all threads unless the batch is split.
fn threads(parallel: bool) -> Threads {
    if parallel { Threads::All } else { Threads::One }
}

/// The convolution; `add` (`[B·Cout]` or `[Cout]`, or empty) initialises each output plane.
fn forward<T: WithDType>(x: &[T], weight: &[T], add: &[T], d: Dims) -> Vec<T> {
    let (cells, depth) = (d.cells(), d.depth());
    let mut out = vec![T::from_f64(0.0); d.batch * d.cout * cells];
    let per_sample = add.len() == d.batch * d.cout;
    let element = |(b, (xb, ob)): (usize, (&[T], &mut [T])), cols: &mut Vec<T>, parallel: bool| {
        if !add.is_empty() {
            let offsets = if per_sample { &add[b * d.cout..][..d.cout] } else { &add[..d.cout] };
            for (plane, &v) in ob.chunks_exact_mut(cells).zip(offsets) {
                plane.fill(v);
            }
        }
        unfold(xb, d, cols);
        gemm_rows(ob, !add.is_empty(), weight, cols, false, (d.cout, depth, cells), threads(parallel));
    };
    let pairs = x.chunks_exact(d.cin * cells).zip(out.chunks_exact_mut(d.cout * cells)).enumerate();
    if split_by_batch(d.batch) {
        pairs.par_bridge().for_each_init(|| vec![T::from_f64(0.0); depth * cells], |cols, p| element(p, cols, false));
    } else {
        let mut cols = vec![T::from_f64(0.0); depth * cells];
        pairs.for_each(|p| element(p, &mut cols, true));
    }
    out
}

/// `∂L/∂W[co, (ci·k + dy)·k + dx] = Σ_b Σ_p g[b, co, p]·cols_b[(ci·k + dy)·k + dx, p]`.
fn weight_gradient<T: WithDType>(grad: &[T], x: &[T], d: Dims) -> Vec<T> {
    let (cells, depth) = (d.cells(), d.depth());
    let zero = T::from_f64(0.0);
    let element = |acc: &mut Vec<T>, cols: &mut Vec<T>, (gb, xb): (&[T], &[T]), parallel: bool| {
        unfold(xb, d, cols);
        gemm_rows(acc, true, gb, cols, true, (d.cout, cells, depth), threads(parallel));
    };
    let pairs = grad.chunks_exact(d.cout * cells).zip(x.chunks_exact(d.cin * cells));
    if split_by_batch(d.batch) {
        let threads = rayon::current_num_threads();
        let per = d.batch.div_ceil(threads);
        let pairs: Vec<_> = pairs.collect();
        pairs
            .par_chunks(per)
            .map(|chunk| {
                let mut acc = vec![zero; d.cout * depth];
                let mut cols = vec![zero; depth * cells];
                for &p in chunk {
                    element(&mut acc, &mut cols, p, false);
                }
                acc
            })
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += *y);
                a
            })
            .unwrap_or_else(|| vec![zero; d.cout * depth])
    } else {
        let mut acc = vec![zero; d.cout * depth];
        let mut cols = vec![zero; depth * cells];
        pairs.for_each(|p| element(&mut acc, &mut cols, p, true));
        acc
    }
}

fn contiguous<'a, T>(data: &'a [T], layout: &Layout) -> candle_core::Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => candle_core::bail!("circular-conv2d: needs contiguous tensors"),
    }
}

/// The convolution itself: `x` ⊛ `weight`.
struct CircularConv2d;

impl CustomOp2 for CircularConv2d {
    fn name(&self) -> &'static str {
        "circular-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = Dims::of(l1, l2)?;
        let storage = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(w)) => {
                CpuStorage::F32(forward(contiguous(x, l1)?, contiguous(w, l2)?, &[], d))
            }
            (CpuStorage::F64(x), CpuStorage::F64(w)) => {
                CpuStorage::F64(forward(contiguous(x, l1)?, contiguous(w, l2)?, &[], d))
            }
            _ => candle_core::bail!("circular-conv2d: f32 or f64 input and weights of one dtype, got {:?}", s1.dtype()),
        };
        Ok((storage, Shape::from((d.batch, d.cout, d.h, d.w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        gradients(x, weight, grad)
    }
}

/// The input and weight gradients of the convolution, each only when its argument is tracked.
fn gradients(x: &Tensor, weight: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
    let grad = grad.contiguous()?;
    let k = weight.dim(2)?;
    let grad_x = if x.track_op() {
        // W'[ci, co, s] = W[co, ci, k − 1 − s]: the adjoint of a circular convolution.
        let reversed = Tensor::from_vec((0..k as u32).rev().collect::<Vec<_>>(), k, weight.device())?;
        let adjoint = weight
            .detach()
            .transpose(0, 1)?
            .contiguous()?
            .index_select(&reversed, 2)?
            .index_select(&reversed, 3)?
            .contiguous()?;
        Some(grad.apply_op2_no_bwd(&adjoint, &CircularConv2d)?)
    } else {
        None
    };
    let grad_w = if weight.track_op() {
        Some(grad.apply_op2_no_bwd(&x.detach().contiguous()?, &WeightGradient { k })?)
    } else {
        None
    };
    Ok((grad_x, grad_w))
}

/// The convolution plus a per-(sample, channel) or per-channel offset.
struct CircularConv2dAdd;

impl CustomOp3 for CircularConv2dAdd {
    fn name(&self) -> &'static str {
        "circular-conv2d-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = Dims::of(l1, l2)?;
        let (rows, channels) = l3.shape().dims2()?;
        if channels != d.cout || (rows != 1 && rows != d.batch) {
            candle_core::bail!(
                "{}: offsets {:?} fit neither [1, {}] nor [{}, {}]",
                self.name(),
                l3.shape(),
                d.cout,
                d.batch,
                d.cout
            );
        }
        let storage = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(a)) => {
                CpuStorage::F32(forward(contiguous(x, l1)?, contiguous(w, l2)?, contiguous(a, l3)?, d))
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(a)) => {
                CpuStorage::F64(forward(contiguous(x, l1)?, contiguous(w, l2)?, contiguous(a, l3)?, d))
            }
            _ => candle_core::bail!("{}: f32 or f64 arguments of one dtype", self.name()),
        };
        Ok((storage, Shape::from((d.batch, d.cout, d.h, d.w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        add: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (grad_x, grad_w) = gradients(x, weight, grad)?;
        let grad_add = if add.track_op() {
            let per_sample = grad.sum((2, 3))?;
            Some(if add.dim(0)? == 1 { per_sample.sum_keepdim(0)? } else { per_sample })
        } else {
            None
        };
        Ok((grad_x, grad_w, grad_add))
    }
}

/// `(∂L/∂out, x)` → `∂L/∂W` of [`CircularConv2d`] for kernel size `k`.
struct WeightGradient {
    k: usize,
}

impl CustomOp2 for WeightGradient {
    fn name(&self) -> &'static str {
        "circular-conv2d-weight-gradient"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (batch, cout, h, w) = l1.shape().dims4()?;
        let (batch_x, cin, hx, wx) = l2.shape().dims4()?;
        if batch != batch_x || h != hx || w != wx {
            candle_core::bail!("{}: gradient {:?} does not fit input {:?}", self.name(), l1.shape(), l2.shape());
        }
        let d = Dims { batch, cin, cout, h, w, k: self.k };
        let storage = match (s1, s2) {
            (CpuStorage::F32(g), CpuStorage::F32(x)) => {
                CpuStorage::F32(weight_gradient(contiguous(g, l1)?, contiguous(x, l2)?, d))
            }
            (CpuStorage::F64(g), CpuStorage::F64(x)) => {
                CpuStorage::F64(weight_gradient(contiguous(g, l1)?, contiguous(x, l2)?, d))
            }
            _ => candle_core::bail!("{}: f32 or f64 of one dtype", self.name()),
        };
        Ok((storage, Shape::from((cout, cin, self.k, self.k))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn reference(x: &Tensor, w: &Tensor) -> Tensor {
        let pad = w.dim(2).unwrap() / 2;
        circular_pad(&circular_pad(x, 2, pad).unwrap(), 3, pad).unwrap().conv2d(w, 0, 1, 1, 1).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f64>().unwrap()
    }

    #[test]
    fn matches_candle_conv2d_on_padded_input_and_its_gradients() {
        let dev = Device::Cpu;
        for (batch, cin, cout, h, w, k) in [(5, 3, 4, 8, 6, 3), (1, 2, 3, 4, 4, 1), (2, 4, 2, 6, 8, 5)] {
            let x = Var::from_tensor(&Tensor::randn(0f64, 1.0, (batch, cin, h, w), &dev).unwrap()).unwrap();
            let wt = Var::from_tensor(&Tensor::randn(0f64, 1.0, (cout, cin, k, k), &dev).unwrap()).unwrap();
            let ours = circular_conv2d(&x, &wt).unwrap();
            let theirs = reference(&x, &wt);
            assert!(max_diff(&ours, &theirs) < 1e-12, "forward {batch} {cin} {cout} {h} {w} {k}");
            // A loss weighting every output cell differently, so any misplaced term shows.
            let probe = Tensor::randn(0f64, 1.0, ours.shape(), &dev).unwrap();
            let g_ours = (&ours * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let g_theirs = (&theirs * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            for v in [&x, &wt] {
                let (a, b) = (g_ours.get(v).unwrap(), g_theirs.get(v).unwrap());
                assert!(max_diff(a, b) < 1e-10, "gradient {batch} {cin} {cout} {h} {w} {k}: {}", max_diff(a, b));
            }
        }
    }

    #[test]
    fn the_fused_offset_matches_an_added_bias_and_its_gradients() {
        let dev = Device::Cpu;
        for rows in [1, 3] {
            let x = Var::from_tensor(&Tensor::randn(0f64, 1.0, (3, 2, 6, 4), &dev).unwrap()).unwrap();
            let wt = Var::from_tensor(&Tensor::randn(0f64, 1.0, (5, 2, 3, 3), &dev).unwrap()).unwrap();
            let add = Var::from_tensor(&Tensor::randn(0f64, 1.0, (rows, 5), &dev).unwrap()).unwrap();
            let ours = circular_conv2d_add(&x, &wt, &add).unwrap();
            let theirs = reference(&x, &wt).broadcast_add(&add.reshape((rows, 5, 1, 1)).unwrap()).unwrap();
            assert!(max_diff(&ours, &theirs) < 1e-12);
            let probe = Tensor::randn(0f64, 1.0, ours.shape(), &dev).unwrap();
            let g_ours = (&ours * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let g_theirs = (&theirs * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            for v in [&x, &wt, &add] {
                let (a, b) = (g_ours.get(v).unwrap(), g_theirs.get(v).unwrap());
                assert!(max_diff(a, b) < 1e-10, "offset rows {rows}: {}", max_diff(a, b));
            }
        }
    }

    #[test]
    fn input_gradient_matches_finite_differences() {
        // Independent of candle's conv2d backward: central differences of the scalar loss.
        let dev = Device::Cpu;
        let x = Tensor::randn(0f64, 1.0, (2, 2, 5, 4), &dev).unwrap();
        let w = Tensor::randn(0f64, 1.0, (3, 2, 3, 3), &dev).unwrap();
        let probe = Tensor::randn(0f64, 1.0, (2, 3, 5, 4), &dev).unwrap();
        let loss = |x: &Tensor| (circular_conv2d(x, &w).unwrap() * &probe).unwrap().sum_all().unwrap();
        let xv = Var::from_tensor(&x).unwrap();
        let grad = loss(&xv).backward().unwrap().get(&xv).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let flat = x.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        for i in [0, 7, 19, 40, 79] {
            let shifted = |h: f64| {
                let mut v = flat.clone();
                v[i] += h;
                loss(&Tensor::from_vec(v, x.shape(), &dev).unwrap()).to_scalar::<f64>().unwrap()
            };
            let fd = (shifted(1e-5) - shifted(-1e-5)) / 2e-5;
            assert!((fd - grad[i]).abs() < 1e-7, "cell {i}: {fd} vs {}", grad[i]);
        }
    }
}

//! Circular convolutions with frozen weights on periodic grids, as direct kernels: each tap's
//! periodic shift as a plan of one bulk copy and a few wrapped cells, an unfold of cache-sized
//! tiles of windows into a column matrix and one GEMM per tile, and the input gradient as the
//! same unfold of the output gradient with the weights transposed and their taps reversed.
//!
//! Activations are channels-first per window (`[channels][cells]`, the layout of candle's
//! tensors), so every GEMM runs along the cells: the `gemm` crate vectorises its micro-kernels
//! along the destination's unit stride, and along hundreds of cells they run about twice as fast
//! as along the 16 or 32 channels a channels-last layout would give them. A tap's shift of a plane
//! is one `memcpy` plus the cells that wrap around the edges.

use candle_core::{Tensor, WithDType};

use super::frozen::values;
use super::row_gemm::{Strides, Threads, gemm_strided};

/// Values an unfolded tile holds at most (several windows when they are small): a quarter of a
/// 2 MiB L2 cache in f32.
const TILE_VALUES: usize = 1 << 16;

/// Cells `dst + i·stride ← src + i·stride`, `i < len`: a row or a column of cells that wrap.
#[derive(Debug, Clone, Copy)]
struct Run {
    dst: u32,
    src: u32,
    len: u32,
    stride: u32,
}

/// How one tap reads a plane: `dst[c] = src[c + offset]` over the bulk range of cells, then the
/// cells that wrap around the grid's edges, as strided runs (a row, a column).
#[derive(Debug, Clone)]
struct TapShift {
    offset: isize,
    bulk: std::ops::Range<usize>,
    wrapped: Vec<Run>,
}

impl TapShift {
    /// From the cell each cell reads; the bulk offset is the most common one.
    fn new(sources: &[usize]) -> Self {
        let cells = sources.len() as isize;
        let mut counts = std::collections::HashMap::new();
        for (c, &s) in sources.iter().enumerate() {
            *counts.entry(s as isize - c as isize).or_insert(0usize) += 1;
        }
        let offset = counts.into_iter().max_by_key(|&(d, n)| (n, -d.abs())).map_or(0, |(d, _)| d);
        let bulk = (-offset).max(0) as usize..(cells - offset).clamp(0, cells) as usize;
        let mut wrapped: Vec<Run> = Vec::new();
        let cells_off = sources
            .iter()
            .enumerate()
            .filter(|&(c, &s)| !bulk.contains(&c) || s as isize != c as isize + offset)
            .map(|(c, &s)| (c as u32, s as u32));
        for (dst, src) in cells_off {
            // Extend the last run when this cell continues it with the same step in both planes.
            if let Some(run) = wrapped.last_mut() {
                let (last_dst, last_src) = (run.dst + (run.len - 1) * run.stride, run.src + (run.len - 1) * run.stride);
                let step = dst.wrapping_sub(last_dst);
                let continues = if run.len == 1 {
                    step > 0 && src == last_src.wrapping_add(step)
                } else {
                    step == run.stride && src == last_src.wrapping_add(step)
                };
                if continues {
                    run.stride = step;
                    run.len += 1;
                    continue;
                }
            }
            wrapped.push(Run { dst, src, len: 1, stride: 1 });
        }
        Self { offset, bulk, wrapped }
    }

    /// `dst[c] = src[neighbour(c)]` for one plane.
    #[inline]
    fn apply<T: Copy>(&self, src: &[T], dst: &mut [T]) {
        let (lo, hi) = (self.bulk.start, self.bulk.end);
        if lo < hi {
            let from = (lo as isize + self.offset) as usize;
            dst[lo..hi].copy_from_slice(&src[from..from + (hi - lo)]);
        }
        for run in &self.wrapped {
            let (d, s, n, stride) = (run.dst as usize, run.src as usize, run.len as usize, run.stride as usize);
            if stride == 1 {
                dst[d..d + n].copy_from_slice(&src[s..s + n]);
            } else {
                let targets = dst[d..].iter_mut().step_by(stride).take(n);
                targets.zip(src[s..].iter().step_by(stride)).for_each(|(o, v)| *o = *v);
            }
        }
    }
}

/// A periodic grid of rank 1 or 2 and the `k^rank` taps of a centred kernel of odd size `k`,
/// each a periodic shift of the grid. Taps run row-major over the kernel (`tap = dy·k + dx`), as
/// candle's `[out, in, k, k]` weights do, so tap `taps − 1 − j` is tap `j` mirrored through the
/// centre.
#[derive(Debug, Clone)]
pub(super) struct Grid {
    shape: Vec<usize>,
    shifts: Vec<TapShift>,
    /// `children[coarse·2^rank + i]`: the cells of this grid that pool into cell `coarse` of the
    /// grid of half the size (empty when a dimension is odd).
    children: Vec<u32>,
}

impl Grid {
    pub fn new(shape: &[usize], kernel: usize) -> Self {
        let (h, w) = match *shape {
            [n] => (1, n),
            [h, w, ..] => (h, w),
            [] => (1, 1),
        };
        let pad = kernel / 2;
        let (kh, kw) = if shape.len() == 1 { (1, kernel) } else { (kernel, kernel) };
        let wrap = |i: usize, d: usize, n: usize, pad: usize| {
            (i as isize + d as isize - pad as isize).rem_euclid(n as isize) as usize
        };
        let mut shifts = Vec::with_capacity(kh * kw);
        for dy in 0..kh {
            for dx in 0..kw {
                let sources: Vec<usize> = (0..h * w)
                    .map(|c| wrap(c / w, dy, h, if kh == 1 { 0 } else { pad }) * w + wrap(c % w, dx, w, pad))
                    .collect();
                shifts.push(TapShift::new(&sources));
            }
        }
        let mut children = Vec::new();
        if w % 2 == 0 && (shape.len() == 1 || h % 2 == 0) {
            let (ch, cw) = (if shape.len() == 1 { 1 } else { h / 2 }, w / 2);
            for y in 0..ch {
                for x in 0..cw {
                    if shape.len() == 1 {
                        children.extend([2 * x, 2 * x + 1].map(|c| c as u32));
                    } else {
                        for dy in 0..2 {
                            children.extend([0, 1].map(|dx| ((2 * y + dy) * w + 2 * x + dx) as u32));
                        }
                    }
                }
            }
        }
        Self { shape: shape.to_vec(), shifts, children }
    }

    pub fn cells(&self) -> usize {
        self.shape.iter().product()
    }

    /// The windows of `x` (`cin` planes each) unfolded into `cols`, `[taps·cin][n]` with `n` the
    /// tile's cells (windows × cells): row `tap·cin + i` holds plane `i` shifted by `tap`.
    fn unfold<T: WithDType>(&self, x: &[T], cin: usize, n: usize, cols: &mut Vec<T>) {
        let cells = self.cells();
        cols.resize(n * self.shifts.len() * cin, T::zero());
        for (w, xw) in x.chunks_exact(cin * cells).enumerate() {
            for (i, plane) in xw.chunks_exact(cells).enumerate() {
                for (tap, shift) in self.shifts.iter().enumerate() {
                    shift.apply(plane, &mut cols[(tap * cin + i) * n + w * cells..][..cells]);
                }
            }
        }
    }

    /// Taps of the kernel the grid was built for.
    pub fn taps(&self) -> usize {
        self.shifts.len()
    }

    /// The grid of half the size in every dimension, with the same kernel.
    pub fn coarse(&self, kernel: usize) -> Self {
        Self::new(&self.shape.iter().map(|n| n / 2).collect::<Vec<_>>(), kernel)
    }

    /// Cells of this grid per cell of [`Self::coarse`].
    pub fn fan(&self) -> usize {
        1 << self.shape.len()
    }

    /// `out[coarse] = scale·Σ x over its children`, plane by plane: average pooling
    /// (`scale = 1/fan`) and the gradient of nearest upsampling (`scale = 1`).
    pub fn gather<T: WithDType>(&self, x: &[T], out: &mut [T], scale: f64) {
        let (cells, fan) = (self.cells(), self.fan());
        let scale = T::from_f64(scale);
        for (xp, op) in x.chunks_exact(cells).zip(out.chunks_exact_mut(cells / fan)) {
            for (o, kids) in op.iter_mut().zip(self.children.chunks_exact(fan)) {
                *o = kids.iter().fold(T::zero(), |acc, &k| acc + xp[k as usize]) * scale;
            }
        }
    }

    /// `out[child] = scale·x[coarse]` for every child, plane by plane: nearest upsampling
    /// (`scale = 1`) and the gradient of average pooling (`scale = 1/fan`).
    pub fn spread<T: WithDType>(&self, x: &[T], out: &mut [T], scale: f64) {
        let (cells, fan) = (self.cells(), self.fan());
        let scale = T::from_f64(scale);
        for (xp, op) in x.chunks_exact(cells / fan).zip(out.chunks_exact_mut(cells)) {
            for (v, kids) in xp.iter().zip(self.children.chunks_exact(fan)) {
                for &kid in kids {
                    op[kid as usize] = *v * scale;
                }
            }
        }
    }
}

/// One convolution `[cin] → [cout]` over a grid, weights arranged for both directions.
#[derive(Debug)]
pub(super) struct GridConv<T> {
    cin: usize,
    cout: usize,
    taps: usize,
    /// `[cout][tap][cin]`: the forward product's right-hand side, transposed.
    forward: Vec<T>,
    /// `[cin][tap][cout]` with `tap` reversed: the input gradient's.
    backward: Vec<T>,
    bias: Vec<T>,
}

impl<T: WithDType> GridConv<T> {
    /// From candle's `Conv1d`/`Conv2d` tensors: `weight` `[cout, cin, k(, k)]`, `bias` `[cout]`.
    pub fn from_tensors(weight: &Tensor, bias: &Tensor) -> candle_core::Result<Self> {
        let dims = weight.dims();
        if dims.len() < 3 {
            candle_core::bail!("grid convolution: weights of shape {dims:?}");
        }
        let taps = dims[2..].iter().product();
        Self::new(&values(weight)?, values(bias)?, dims[1], dims[0], taps)
    }

    /// From candle's layout: `weight` `[cout, cin, taps]` (flattened), `bias` `[cout]`.
    pub fn new(weight: &[T], bias: Vec<T>, cin: usize, cout: usize, taps: usize) -> candle_core::Result<Self> {
        if weight.len() != cout * cin * taps || bias.len() != cout {
            candle_core::bail!(
                "grid convolution: {} weights, {} biases for {cin}→{cout} × {taps}",
                weight.len(),
                bias.len()
            );
        }
        let w = |o: usize, i: usize, tap: usize| weight[(o * cin + i) * taps + tap];
        let mut forward = Vec::with_capacity(weight.len());
        for o in 0..cout {
            for tap in 0..taps {
                forward.extend((0..cin).map(|i| w(o, i, tap)));
            }
        }
        let mut backward = Vec::with_capacity(weight.len());
        for i in 0..cin {
            for tap in 0..taps {
                backward.extend((0..cout).map(|o| w(o, i, taps - 1 - tap)));
            }
        }
        Ok(Self { cin, cout, taps, forward, backward, bias })
    }

    pub fn cin(&self) -> usize {
        self.cin
    }

    /// Taps of the kernel: `k^rank`, or 1 for a 1×1 convolution.
    pub fn taps(&self) -> usize {
        self.taps
    }

    pub fn cout(&self) -> usize {
        self.cout
    }

    pub fn bias(&self) -> &[T] {
        &self.bias
    }

    /// `out (+)= conv(x)` (no bias) for whole windows of `grid` in `x` (`cin` channels) and
    /// `out` (`cout`), added to `out` when `accumulate`. `scratch` is the unfold buffer.
    pub fn apply(&self, grid: &Grid, x: &[T], out: &mut [T], accumulate: bool, scratch: &mut ConvScratch<T>) {
        let io = (self.cin, self.cout);
        correlate(grid, self.taps, x, &self.forward, io, out, accumulate, scratch);
    }

    /// `out (+)= ∂/∂x ⟨g, conv(x)⟩`: the input gradient of [`Self::apply`] for an output
    /// gradient `g`.
    pub fn apply_transposed(
        &self,
        grid: &Grid,
        g: &[T],
        out: &mut [T],
        accumulate: bool,
        scratch: &mut ConvScratch<T>,
    ) {
        let io = (self.cout, self.cin);
        correlate(grid, self.taps, g, &self.backward, io, out, accumulate, scratch);
    }
}

/// The buffers a convolution works in: one unfolded tile and its product.
/// Gradients of one convolution's weights, in its forward layout `[out][tap][in]`, and bias.
#[derive(Debug, Clone)]
pub(super) struct ConvGrad<T> {
    pub weight: Vec<T>,
    pub bias: Vec<T>,
}

impl<T: WithDType> ConvGrad<T> {
    pub fn zeros(conv: &GridConv<T>) -> Self {
        Self { weight: vec![T::zero(); conv.forward.len()], bias: vec![T::zero(); conv.cout] }
    }

    pub fn add(&mut self, other: &Self) {
        self.weight.iter_mut().zip(&other.weight).for_each(|(a, b)| *a += *b);
        self.bias.iter_mut().zip(&other.bias).for_each(|(a, b)| *a += *b);
    }

    /// The weight gradient in candle's layout `[out, in, taps]` for `conv`.
    pub fn weight_in_candle_layout(&self, conv: &GridConv<T>) -> Vec<T> {
        let (cin, taps) = (conv.cin, conv.taps);
        let mut out = vec![T::zero(); self.weight.len()];
        for o in 0..conv.cout {
            for tap in 0..taps {
                for i in 0..cin {
                    out[(o * cin + i) * taps + tap] = self.weight[(o * taps + tap) * cin + i];
                }
            }
        }
        out
    }
}

#[derive(Debug, Default)]
pub(super) struct ConvScratch<T> {
    pub cols: Vec<T>,
    pub product: Vec<T>,
}

/// `out[w][o] (+)= Σ_tap Σ_i w[o][tap][i] · shift_tap(x[w][i])` for whole windows `w` of
/// `grid`, channels-first.
impl<T: WithDType> GridConv<T> {
    /// Adds to `grad` the gradients of this convolution's weights and bias for the output
    /// gradient `g` at the input `x` (both windows of channels-first planes): per window, the
    /// unfolded input transposed times the output gradient, one GEMM of `taps·cin × cells ×
    /// cout`.
    pub fn accumulate_grads(
        &self,
        grid: &Grid,
        x: &[T],
        g: &[T],
        grad: &mut ConvGrad<T>,
        scratch: &mut ConvScratch<T>,
    ) {
        let (cin, cout, taps) = (self.cin, self.cout, self.taps);
        let cells = grid.cells();
        let windows = g.len() / (cout * cells).max(1);
        let depth = taps * cin;
        for gw in g.chunks_exact(cout * cells) {
            for (b, plane) in grad.bias.iter_mut().zip(gw.chunks_exact(cells)) {
                *b += plane.iter().fold(T::zero(), |acc, v| acc + *v);
            }
        }
        // dW(k, o) at weight[o·depth + k]: the forward layout.
        let dst = Strides { row: 1, col: depth };
        let planes = Strides { row: 1, col: cells };
        if taps == 1 {
            for (xw, gw) in x.chunks_exact(cin * cells).zip(g.chunks_exact(cout * cells)).take(windows) {
                let lhs = (xw, Strides { row: cells, col: 1 });
                gemm_strided((&mut grad.weight, dst), true, lhs, (gw, planes), (cin, cells, cout), Threads::One);
            }
            return;
        }
        assert_eq!(
            taps,
            grid.shifts.len(),
            "grid convolution: a kernel of {taps} taps on a grid of {}",
            grid.shifts.len()
        );
        let per_tile = (TILE_VALUES / (cells * depth).max(1)).clamp(1, windows.max(1));
        for (xt, gt) in x.chunks(per_tile * cin * cells).zip(g.chunks(per_tile * cout * cells)) {
            let count = gt.len() / (cout * cells);
            let n = count * cells;
            grid.unfold(xt, cin, n, &mut scratch.cols);
            for (w, gw) in gt.chunks_exact(cout * cells).enumerate() {
                let lhs = (&scratch.cols[w * cells..n * depth], Strides { row: n, col: 1 });
                gemm_strided((&mut grad.weight, dst), true, lhs, (gw, planes), (depth, cells, cout), Threads::One);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn correlate<T: WithDType>(
    grid: &Grid,
    taps: usize,
    x: &[T],
    weights: &[T],
    (cin, cout): (usize, usize),
    out: &mut [T],
    accumulate: bool,
    scratch: &mut ConvScratch<T>,
) {
    let cells = grid.cells();
    let windows = out.len() / (cout * cells).max(1);
    let depth = taps * cin;
    // The weights as the `depth × cout` right-hand side.
    let rhs = (weights, Strides { row: 1, col: depth });
    let planes = Strides { row: 1, col: cells };
    if taps == 1 {
        for (xw, ow) in x.chunks_exact(cin * cells).zip(out.chunks_exact_mut(cout * cells)).take(windows) {
            gemm_strided((ow, planes), accumulate, (xw, planes), rhs, (cells, cin, cout), Threads::One);
        }
        return;
    }
    assert_eq!(taps, grid.shifts.len(), "grid convolution: a kernel of {taps} taps on a grid of {}", grid.shifts.len());
    // Whole windows per tile; a tile's cells a multiple of 16 where that takes few windows, since
    // the `gemm` crate then reads the column matrix as it is instead of packing it first.
    let aligned = 16 / gcd(cells, 16);
    let mut per_tile = (TILE_VALUES / (cells * depth).max(1)).clamp(1, windows.max(1));
    if per_tile >= aligned {
        per_tile -= per_tile % aligned;
    }
    for (xt, ot) in x.chunks(per_tile * cin * cells).zip(out.chunks_mut(per_tile * cout * cells)) {
        let count = ot.len() / (cout * cells);
        let n = count * cells;
        grid.unfold(xt, cin, n, &mut scratch.cols);
        let lhs = (&scratch.cols[..n * depth], Strides { row: 1, col: n });
        if count == 1 {
            gemm_strided((ot, planes), accumulate, lhs, rhs, (n, depth, cout), Threads::One);
            continue;
        }
        scratch.product.resize(n * cout, T::zero());
        let product = &mut scratch.product[..n * cout];
        gemm_strided((product, Strides { row: 1, col: n }), false, lhs, rhs, (n, depth, cout), Threads::One);
        for (w, ow) in ot.chunks_exact_mut(cout * cells).enumerate() {
            for (o, plane) in ow.chunks_exact_mut(cells).enumerate() {
                let src = &product[o * n + w * cells..][..cells];
                if accumulate {
                    plane.iter_mut().zip(src).for_each(|(p, v)| *p += *v);
                } else {
                    plane.copy_from_slice(src);
                }
            }
        }
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

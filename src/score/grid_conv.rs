//! Circular convolutions with frozen weights on channels-last periodic grids, as direct kernels:
//! the neighbourhoods as gather tables, an unfold of cache-sized tiles of rows and one GEMM per
//! tile, and the input gradient as the same gather of the output gradient with the weights
//! transposed and their taps reversed.
//!
//! Channels-last rows (`[cells, channels]` per window) make every tap of a cell one contiguous
//! run of `channels` values, every per-channel bias a row to fill, and a 1×1 convolution a plain
//! product; the unfold of a tile stays in cache for its GEMM instead of a whole column matrix
//! going through memory (what [`super::circular_conv2d`] does for candle's channels-first
//! tensors).

use candle_core::{Tensor, WithDType};

use super::frozen::values;
use super::row_gemm::{Threads, gemm_rows};

/// Values an unfolded tile holds at most: a quarter of a 2 MiB L2 cache in f32.
const TILE_VALUES: usize = 1 << 16;

/// A periodic grid of rank 1 or 2 and the `k^rank` taps of a centred kernel of odd size `k`:
/// `neighbours[cell·taps + tap]` is the cell that tap reads. Taps run row-major over the kernel
/// (`tap = dy·k + dx`), as candle's `[out, in, k, k]` weights do, so tap `taps − 1 − j` is
/// tap `j` mirrored through the centre.
#[derive(Debug, Clone)]
pub(super) struct Grid {
    shape: Vec<usize>,
    taps: usize,
    neighbours: Vec<u32>,
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
        let taps = kh * kw;
        let mut neighbours = Vec::with_capacity(h * w * taps);
        for y in 0..h {
            for x in 0..w {
                for dy in 0..kh {
                    for dx in 0..kw {
                        let wrap = |i: usize, d: usize, n: usize, pad: usize| {
                            (i as isize + d as isize - pad as isize).rem_euclid(n as isize) as usize
                        };
                        let sy = wrap(y, dy, h, if kh == 1 { 0 } else { pad });
                        neighbours.push((sy * w + wrap(x, dx, w, pad)) as u32);
                    }
                }
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
        Self { shape: shape.to_vec(), taps, neighbours, children }
    }

    pub fn cells(&self) -> usize {
        self.shape.iter().product()
    }

    /// The grid of half the size in every dimension, with the same kernel.
    pub fn coarse(&self, kernel: usize) -> Self {
        Self::new(&self.shape.iter().map(|n| n / 2).collect::<Vec<_>>(), kernel)
    }

    /// Cells of this grid per cell of [`Self::coarse`].
    pub fn fan(&self) -> usize {
        1 << self.shape.len()
    }

    /// `out[coarse] = mean of x over its children`, per window, `c` channels.
    pub fn pool<T: WithDType>(&self, x: &[T], out: &mut [T], c: usize) {
        let (cells, fan) = (self.cells(), self.fan());
        let coarse = cells / fan;
        let scale = T::from_f64(1.0 / fan as f64);
        for (xw, ow) in x.chunks_exact(cells * c).zip(out.chunks_exact_mut(coarse * c)) {
            for (o, kids) in ow.chunks_exact_mut(c).zip(self.children.chunks_exact(fan)) {
                o.copy_from_slice(&xw[kids[0] as usize * c..][..c]);
                for &kid in &kids[1..] {
                    o.iter_mut().zip(&xw[kid as usize * c..][..c]).for_each(|(o, v)| *o += *v);
                }
                o.iter_mut().for_each(|o| *o *= scale);
            }
        }
    }

    /// `out[child] = scale·x[coarse]` for every child: nearest upsampling (`scale = 1`) and the
    /// gradient of [`Self::pool`] (`scale = 1/fan`).
    pub fn spread<T: WithDType>(&self, x: &[T], out: &mut [T], c: usize, scale: f64) {
        let (cells, fan) = (self.cells(), self.fan());
        let coarse = cells / fan;
        let scale = T::from_f64(scale);
        for (xw, ow) in x.chunks_exact(coarse * c).zip(out.chunks_exact_mut(cells * c)) {
            for (v, kids) in xw.chunks_exact(c).zip(self.children.chunks_exact(fan)) {
                for &kid in kids {
                    ow[kid as usize * c..][..c].iter_mut().zip(v).for_each(|(o, v)| *o = *v * scale);
                }
            }
        }
    }

    /// `out[coarse] = Σ x over its children`: the gradient of nearest upsampling.
    pub fn gather_sum<T: WithDType>(&self, x: &[T], out: &mut [T], c: usize) {
        self.pool(x, out, c);
        let fan = T::from_f64(self.fan() as f64);
        out.iter_mut().for_each(|o| *o *= fan);
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
#[derive(Debug, Default)]
pub(super) struct ConvScratch<T> {
    pub cols: Vec<T>,
    pub product: Vec<T>,
}

/// `dst[..N] = src[..N]` as one fixed-size copy, which the compiler inlines as a few vector
/// moves; `copy_from_slice` of a length known only at run time calls `memmove` for each run.
#[inline(always)]
fn fixed_copy<T: Copy, const N: usize>(dst: &mut [T], src: &[T]) {
    if let (Some(d), Some(s)) = (dst.first_chunk_mut::<N>(), src.first_chunk::<N>()) {
        *d = *s;
    }
}

/// Unfolds rows `first..first + n` of whole windows of `x` (`cin` channels) into `cols`, one
/// row of `taps·cin` values per cell, each tap's channels copied by `copy`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn unfold<T: Copy>(
    grid: &Grid,
    x: &[T],
    cin: usize,
    first: usize,
    n: usize,
    cols: &mut [T],
    copy: impl Fn(&mut [T], &[T]),
) {
    let (cells, taps) = (grid.cells(), grid.taps);
    let (mut window, mut cell) = (first / cells, first % cells);
    for row in cols.chunks_exact_mut(taps * cin).take(n) {
        let base = window * cells;
        let taps_of = &grid.neighbours[cell * taps..][..taps];
        for (col, &src) in row.chunks_exact_mut(cin).zip(taps_of) {
            copy(col, &x[(base + src as usize) * cin..][..cin]);
        }
        cell += 1;
        if cell == cells {
            (window, cell) = (window + 1, 0);
        }
    }
}

/// `out[r, o] (+)= Σ_tap Σ_i x[neighbour(r, tap), i] · w[o][tap][i]` over whole windows.
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
    let rows = out.len() / cout;
    let depth = taps * cin;
    if taps == 1 {
        gemm_rows(out, accumulate, x, weights, true, (rows, cin, cout), Threads::One);
        return;
    }
    assert_eq!(taps, grid.taps, "grid convolution: a kernel of {taps} taps on a grid of {}", grid.taps);
    let tile = (TILE_VALUES / depth).clamp(1, rows.max(1));
    scratch.cols.resize(tile * depth, T::zero());
    for (t, out_tile) in out.chunks_mut(tile * cout).enumerate() {
        let n = out_tile.len() / cout;
        let (first, cols) = (t * tile, &mut scratch.cols[..]);
        match cin {
            3 => unfold(grid, x, cin, first, n, cols, fixed_copy::<T, 3>),
            5 => unfold(grid, x, cin, first, n, cols, fixed_copy::<T, 5>),
            7 => unfold(grid, x, cin, first, n, cols, fixed_copy::<T, 7>),
            8 => unfold(grid, x, cin, first, n, cols, fixed_copy::<T, 8>),
            9 => unfold(grid, x, cin, first, n, cols, fixed_copy::<T, 9>),
            16 => unfold(grid, x, cin, first, n, cols, fixed_copy::<T, 16>),
            32 => unfold(grid, x, cin, first, n, cols, fixed_copy::<T, 32>),
            64 => unfold(grid, x, cin, first, n, cols, fixed_copy::<T, 64>),
            _ => unfold(grid, x, cin, first, n, cols, |d: &mut [T], s: &[T]| d.copy_from_slice(s)),
        }
        gemm_rows(out_tile, accumulate, &scratch.cols[..n * depth], weights, true, (n, depth, cout), Threads::One);
    }
}

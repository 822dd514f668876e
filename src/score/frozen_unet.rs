//! The circular U-Net ([`super::CircularUnet`]) with frozen weights as direct CPU kernels: a
//! forward pass that keeps a tape, and vector–Jacobian products from it, with no autograd graph.
//!
//! Activations are channels-first per window (`[channels][cells]`, as the network's input and
//! output are), so a convolution is an unfold of cache-sized tiles and a GEMM along the cells
//! ([`super::grid_conv`]), a per-channel bias or time shift is a constant plane that initialises
//! the GEMM's output, and pooling and upsampling are gathers over the children of each coarse
//! cell. The time embedding is the same for every window of a call (one diffusion time), so each
//! block's time shift folds into its first convolution's bias. Windows
//! are processed in groups small enough for a group's activations to stay in cache, each group
//! on one thread from input to output (two cores, many small convolutions: splitting every GEMM
//! between threads would cost more than it gains).

use candle_core::{Device, Tensor, WithDType};
use rayon::prelude::*;

use std::sync::Arc;

use super::buffer_pool::BufferPool;
use super::frozen::{FrozenTape, values};
use super::fused::RowKernels;
use super::grid_conv::{ConvScratch, Grid, GridConv};
use super::time_embedding::TimeEmbedding;

/// Values of one activation of a group of windows at the finest level: 512 KiB of f32, so that a
/// block's working set (its input, tape and output) stays within a core's 2 MiB L2 cache
/// (`sdalab bench`: 256 KiB and 1 MiB groups were no faster, 128 KiB ones slower).
const GROUP_VALUES: usize = 1 << 17;

/// `x + conv₂(SiLU(conv₁(SiLU(N(x))) + W·emb + b)) `, the skip a 1×1 convolution when the
/// channel count changes.
#[derive(Debug)]
pub(super) struct FrozenBlock<T> {
    pub(super) first: GridConv<T>,
    pub(super) second: GridConv<T>,
    /// The time projection `[cout, embedding]` and its bias.
    time: Vec<T>,
    time_bias: Vec<T>,
    pub(super) skip: Option<GridConv<T>>,
    /// The second convolution's bias plus the skip convolution's.
    residual_bias: Vec<T>,
}

impl<T: WithDType> FrozenBlock<T> {
    pub fn new(
        first: GridConv<T>,
        second: GridConv<T>,
        time: Vec<T>,
        time_bias: Vec<T>,
        skip: Option<GridConv<T>>,
    ) -> candle_core::Result<Self> {
        let (cin, cout) = (first.cin(), first.cout());
        let skip_fits = skip.as_ref().is_none_or(|s| s.cin() == cin && s.cout() == cout);
        if second.cin() != cout
            || second.cout() != cout
            || time_bias.len() != cout
            || !skip_fits
            || (skip.is_none() && cin != cout)
        {
            candle_core::bail!("frozen U-Net block: layers of mismatched channels");
        }
        let mut residual_bias = second.bias().to_vec();
        if let Some(skip) = &skip {
            residual_bias.iter_mut().zip(skip.bias()).for_each(|(r, b)| *r += *b);
        }
        Ok(Self { first, second, time, time_bias, skip, residual_bias })
    }

    /// The first convolution's bias with the time shift of embedding `emb` folded in.
    fn shifted_bias(&self, emb: &[T]) -> Vec<T> {
        let e = emb.len();
        (0..self.first.cout())
            .map(|o| {
                let dot = self.time[o * e..(o + 1) * e].iter().zip(emb).fold(T::zero(), |acc, (w, v)| acc + *w * *v);
                self.first.bias()[o] + self.time_bias[o] + dot
            })
            .collect()
    }
}

/// A [`super::CircularUnet`]'s weights as direct kernels on one grid size.
#[derive(Debug)]
pub struct FrozenUnet<T> {
    window: usize,
    /// The grid of each level, finest first.
    pub(super) grids: Vec<Grid>,
    time: TimeEmbedding,
    pub(super) input: GridConv<T>,
    pub(super) down: Vec<Vec<FrozenBlock<T>>>,
    pub(super) up: Vec<Vec<FrozenBlock<T>>>,
    pub(super) output: GridConv<T>,
    /// Buffers for activations, tapes and gradients; shared between the snapshots a training
    /// run takes of its weights at every step.
    pub(super) pool: Arc<BufferPool<T>>,
}

/// What one block keeps: its normalised input with each window's `1/σ`, the pre-activation of
/// its second SiLU, and (when training, for a block with a skip convolution) its input.
pub(super) struct BlockTape<T> {
    pub(super) normed: Vec<T>,
    pub(super) rstd: Vec<T>,
    pub(super) pre: Vec<T>,
    pub(super) input: Option<Vec<T>>,
}

/// The tape of one group of windows: its blocks in the order they ran, and the normalised input
/// of the output convolution.
pub(super) struct GroupTape<T> {
    pub(super) windows: usize,
    pub(super) blocks: Vec<BlockTape<T>>,
    pub(super) normed: Vec<T>,
    pub(super) rstd: Vec<T>,
}

/// What a forward pass keeps for its vector–Jacobian products. Its buffers go back to the pool
/// when it is dropped.
pub struct UnetTape<'a, T: WithDType> {
    pub(super) net: &'a FrozenUnet<T>,
    pub(super) groups: Vec<GroupTape<T>>,
}

/// The time shift of each block's hidden channels, blocks in the order they run.
pub(super) enum Shifts<'a, T> {
    /// One for every window of the call (one diffusion time): each block's first-convolution
    /// bias with its shift folded in, `[cout]`.
    Folded(&'a [Vec<T>]),
    /// One per window (training draws a time per window): each block's shifts `[rows, cout]`,
    /// added to its first convolution's bias.
    PerWindow(&'a [Vec<T>]),
}

impl<T: WithDType> Drop for UnetTape<'_, T> {
    fn drop(&mut self) {
        for group in self.groups.drain(..) {
            for block in group.blocks {
                for v in [block.normed, block.rstd, block.pre].into_iter().chain(block.input) {
                    self.net.pool.give(v);
                }
            }
            self.net.pool.give(group.normed);
            self.net.pool.give(group.rstd);
        }
    }
}

/// What a block's hidden planes start from: one bias for all windows, or a bias plus a shift per
/// window (`[windows, cout]`).
enum PlaneBias<'a, T> {
    Same(&'a [T]),
    PerWindow(&'a [T], &'a [T]),
}

/// Where block `index` (run order) of windows `range` starts its hidden planes from.
fn plane_bias<'a, T: WithDType>(
    block: &'a FrozenBlock<T>,
    shifts: &'a Shifts<'a, T>,
    index: usize,
    range: std::ops::Range<usize>,
) -> PlaneBias<'a, T> {
    let cout = block.first.cout();
    match shifts {
        Shifts::Folded(v) => PlaneBias::Same(&v[index]),
        Shifts::PerWindow(v) => {
            PlaneBias::PerWindow(block.first.bias(), &v[index][range.start * cout..range.end * cout])
        }
    }
}

/// Each window of `dst` (`[channels][cells]`) as planes of its channel's `bias`.
fn fill_planes<T: Copy>(dst: &mut [T], bias: &[T], cells: usize) {
    for window in dst.chunks_exact_mut(bias.len() * cells) {
        for (plane, b) in window.chunks_exact_mut(cells).zip(bias) {
            plane.fill(*b);
        }
    }
}

impl<T: WithDType + RowKernels> FrozenUnet<T> {
    /// The network for windows of `window` states on a periodic grid of `shape` (rank 1 or 2),
    /// kernels of size `kernel`; `down[level]` and `up[level]` hold each level's blocks in the
    /// order they run.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        window: usize,
        shape: &[usize],
        kernel: usize,
        time: TimeEmbedding,
        input: GridConv<T>,
        down: Vec<Vec<FrozenBlock<T>>>,
        up: Vec<Vec<FrozenBlock<T>>>,
        output: GridConv<T>,
    ) -> candle_core::Result<Self> {
        let levels = down.len();
        if up.len() != levels || levels == 0 || input.cin() != window || output.cout() != window {
            candle_core::bail!("frozen U-Net: {levels} levels down, {} up, window {window}", up.len());
        }
        let grid_taps = Grid::new(shape, kernel).taps();
        let convs = || {
            let blocks = down.iter().chain(&up).flatten();
            [&input, &output]
                .into_iter()
                .chain(blocks.flat_map(|b| [Some(&b.first), Some(&b.second), b.skip.as_ref()]).flatten())
        };
        if let Some(conv) = convs().find(|c| c.taps() != grid_taps && c.taps() != 1) {
            candle_core::bail!(
                "frozen U-Net: a kernel of {} taps where the grid's kernel has {grid_taps}",
                conv.taps()
            );
        }
        let mut grids = vec![Grid::new(shape, kernel)];
        for level in 1..levels {
            let coarse = grids[level - 1].coarse(kernel);
            if coarse.cells() * grids[level - 1].fan() != grids[level - 1].cells() {
                candle_core::bail!("frozen U-Net: a grid of {shape:?} does not halve {levels} times");
            }
            grids.push(coarse);
        }
        Ok(Self { window, grids, time, input, down, up, output, pool: Arc::default() })
    }

    /// The same network drawing its buffers from `pool`.
    pub(super) fn with_pool(mut self, pool: Arc<BufferPool<T>>) -> Self {
        self.pool = pool;
        self
    }

    /// Values per window: `window` states of the grid's cells.
    pub fn features(&self) -> usize {
        self.window * self.grids[0].cells()
    }

    fn embedding(&self, t: f64) -> candle_core::Result<Vec<T>> {
        let t = Tensor::new(&[t], &Device::Cpu)?.to_dtype(T::DTYPE)?;
        values(&self.time.forward(&t)?)
    }

    /// Windows per group: as many as keep a group's finest activation within [`GROUP_VALUES`],
    /// in a number of groups that shares evenly between the threads.
    fn group_size(&self, rows: usize) -> usize {
        let per_window = self.grids[0].cells() * self.input.cout().max(self.window);
        let most = (GROUP_VALUES / per_window.max(1)).max(1);
        let threads = rayon::current_num_threads().max(1);
        let mut count = rows.div_ceil(most).max(1);
        if rows >= threads {
            count = count.div_ceil(threads) * threads;
        }
        rows.div_ceil(count).max(1)
    }

    /// The raw network `F(x, t)` on `rows` windows of [`Self::features`] values (each window its
    /// states one after another, as the candle network takes them), and the tape.
    pub fn forward(&self, x: &[T], rows: usize, t: f64) -> candle_core::Result<(Vec<T>, UnetTape<'_, T>)> {
        let emb = self.embedding(t)?;
        let shifts: Vec<Vec<T>> = self.blocks().map(|b| b.shifted_bias(&emb)).collect();
        self.forward_with(x, rows, Shifts::Folded(&shifts))
    }

    /// The blocks in the order they run: down the levels, then up from the coarsest.
    pub(super) fn blocks(&self) -> impl Iterator<Item = &FrozenBlock<T>> {
        self.down.iter().chain(self.up.iter().rev()).flatten()
    }

    /// [`Self::forward`] with the time shifts given; per-window shifts also keep what training
    /// needs on the tape.
    pub(super) fn forward_with(
        &self,
        x: &[T],
        rows: usize,
        shifts: Shifts<'_, T>,
    ) -> candle_core::Result<(Vec<T>, UnetTape<'_, T>)> {
        let f = self.features();
        if x.len() != rows * f {
            candle_core::bail!("frozen U-Net: {} values for {rows} windows of {f}", x.len());
        }
        let per_window = |b: &FrozenBlock<T>| rows * b.first.cout();
        let fits = match shifts {
            Shifts::Folded(v) => {
                v.len() == self.blocks().count() && v.iter().zip(self.blocks()).all(|(s, b)| s.len() == b.first.cout())
            }
            Shifts::PerWindow(v) => {
                v.len() == self.blocks().count() && v.iter().zip(self.blocks()).all(|(s, b)| s.len() == per_window(b))
            }
        };
        if !fits {
            candle_core::bail!("frozen U-Net: time shifts of the wrong sizes");
        }
        let mut out = vec![T::zero(); rows * f];
        let windows = self.group_size(rows);
        let size = windows * f;
        let groups = out
            .par_chunks_mut(size)
            .zip(x.par_chunks(size))
            .enumerate()
            .map(|(g, (out, x))| self.forward_group(x, out, &shifts, g * windows))
            .collect();
        Ok((out, UnetTape { net: self, groups }))
    }

    /// `f(x, out)` into a pooled buffer of `len` values (a move between grid levels); `x` goes
    /// back to the pool.
    pub(super) fn remap(&self, x: Vec<T>, len: usize, f: impl FnOnce(&[T], &mut [T])) -> Vec<T> {
        let mut out = self.pool.take(len);
        f(&x, &mut out);
        self.pool.give(x);
        out
    }

    /// A pooled copy of `x` (a skip connection's value or gradient).
    pub(super) fn copy_of(&self, x: &[T]) -> Vec<T> {
        let mut copy = self.pool.take(x.len());
        copy.copy_from_slice(x);
        copy
    }

    /// One group of windows from `x` into `out` (windows from `first` on), and its tape.
    fn forward_group(&self, x: &[T], out: &mut [T], shifts: &Shifts<'_, T>, first: usize) -> GroupTape<T> {
        let pool = &self.pool;
        let windows = out.len() / self.features();
        let mut scratch = ConvScratch { cols: pool.take(0), product: pool.take(0) };
        let grid0 = &self.grids[0];
        let cells = grid0.cells();
        let mut h = pool.take(windows * cells * self.input.cout());
        fill_planes(&mut h, self.input.bias(), cells);
        self.input.apply(grid0, x, &mut h, true, &mut scratch);
        let mut tape = GroupTape { windows, blocks: Vec::new(), normed: Vec::new(), rstd: Vec::new() };
        let mut index = 0;
        let mut shift = |block| {
            index += 1;
            plane_bias(block, shifts, index - 1, first..first + windows)
        };
        let mut skips = Vec::with_capacity(self.down.len());
        for (level, blocks) in self.down.iter().enumerate() {
            let grid = &self.grids[level];
            if level > 0 {
                let fine = &self.grids[level - 1];
                let len = h.len() / fine.fan();
                h = self.remap(h, len, |x, out| fine.gather(x, out, 1.0 / fine.fan() as f64));
            }
            for block in blocks {
                h = self.block_forward(block, grid, h, windows, shift(block), &mut tape, &mut scratch);
            }
            skips.push(self.copy_of(&h));
        }
        for (level, blocks) in self.up.iter().enumerate().rev() {
            let grid = &self.grids[level];
            if let Some(skip) = skips.pop() {
                h.iter_mut().zip(&skip).for_each(|(h, s)| *h += *s);
                pool.give(skip);
            }
            for block in blocks {
                h = self.block_forward(block, grid, h, windows, shift(block), &mut tape, &mut scratch);
            }
            if level > 0 {
                let fine = &self.grids[level - 1];
                let len = h.len() * fine.fan();
                h = self.remap(h, len, |x, out| fine.spread(x, out, 1.0));
            }
        }
        let mut normed = pool.take(h.len());
        let mut rstd = pool.take(windows);
        T::norm_rows(&h, &mut normed, &mut rstd, h.len() / windows);
        pool.give(h);
        fill_planes(out, self.output.bias(), cells);
        self.output.apply(grid0, &normed, out, true, &mut scratch);
        tape.normed = normed;
        tape.rstd = rstd;
        pool.give(scratch.cols);
        pool.give(scratch.product);
        tape
    }

    /// One block on `x` (consumed), its tape pushed.
    #[allow(clippy::too_many_arguments)]
    fn block_forward(
        &self,
        block: &FrozenBlock<T>,
        grid: &Grid,
        x: Vec<T>,
        windows: usize,
        shift: PlaneBias<'_, T>,
        tape: &mut GroupTape<T>,
        scratch: &mut ConvScratch<T>,
    ) -> Vec<T> {
        let pool = &self.pool;
        let cells = grid.cells();
        let (cin, cout) = (block.first.cin(), block.first.cout());
        let mut normed = pool.take(windows * cells * cin);
        let mut rstd = pool.take(windows);
        T::norm_rows(&x, &mut normed, &mut rstd, cells * cin);
        let mut s = pool.take(normed.len());
        T::silu_rows(&normed, &mut s);
        let mut pre = pool.take(windows * cells * cout);
        let keep_input = matches!(shift, PlaneBias::PerWindow(..)) && block.skip.is_some();
        match shift {
            PlaneBias::Same(bias) => fill_planes(&mut pre, bias, cells),
            PlaneBias::PerWindow(bias, rows) => {
                let cout = bias.len();
                for (window, shift) in pre.chunks_exact_mut(cout * cells).zip(rows.chunks_exact(cout)) {
                    for ((plane, b), s) in window.chunks_exact_mut(cells).zip(bias).zip(shift) {
                        plane.fill(*b + *s);
                    }
                }
            }
        }
        block.first.apply(grid, &s, &mut pre, true, scratch);
        pool.give(s);
        let mut activated = pool.take(pre.len());
        T::silu_rows(&pre, &mut activated);
        let mut y = pool.take(pre.len());
        match &block.skip {
            Some(skip) => {
                fill_planes(&mut y, &block.residual_bias, cells);
                skip.apply(grid, &x, &mut y, true, scratch);
            }
            None => {
                let biases = block.residual_bias.iter().cycle();
                for ((yp, xp), b) in y.chunks_exact_mut(cells).zip(x.chunks_exact(cells)).zip(biases) {
                    yp.iter_mut().zip(xp).for_each(|(y, x)| *y = *x + *b);
                }
            }
        }
        block.second.apply(grid, &activated, &mut y, true, scratch);
        pool.give(activated);
        let input = if keep_input {
            Some(x)
        } else {
            pool.give(x);
            None
        };
        tape.blocks.push(BlockTape { normed, rstd, pre, input });
        y
    }

    /// The input gradient of one block for its output gradient `g` (consumed).
    fn block_vjp(
        &self,
        block: &FrozenBlock<T>,
        grid: &Grid,
        g: Vec<T>,
        taped: &BlockTape<T>,
        scratch: &mut ConvScratch<T>,
    ) -> Vec<T> {
        let pool = &self.pool;
        let width = taped.normed.len() / taped.rstd.len().max(1);
        let mut g_activated = pool.take(g.len());
        block.second.apply_transposed(grid, &g, &mut g_activated, false, scratch);
        let mut g_pre = pool.take(g.len());
        T::silu_grad_rows(&taped.pre, &g_activated, &mut g_pre);
        pool.give(g_activated);
        let mut g_s = pool.take(taped.normed.len());
        block.first.apply_transposed(grid, &g_pre, &mut g_s, false, scratch);
        pool.give(g_pre);
        let mut g_normed = pool.take(g_s.len());
        T::silu_grad_rows(&taped.normed, &g_s, &mut g_normed);
        let add = match &block.skip {
            Some(skip) => {
                let mut add = pool.take(g_s.len());
                skip.apply_transposed(grid, &g, &mut add, false, scratch);
                pool.give(g);
                add
            }
            None => g,
        };
        T::norm_grad_add_rows(&taped.normed, &taped.rstd, &g_normed, &add, &mut g_s, width);
        pool.give(g_normed);
        pool.give(add);
        g_s
    }

    /// The input gradient of one group for its output gradient `g_out`, into `out`.
    fn vjp_group(&self, g_out: &[T], tape: &GroupTape<T>, out: &mut [T]) {
        let mut scratch = ConvScratch { cols: self.pool.take(0), product: self.pool.take(0) };
        let g = self.walk_back(g_out, tape, &mut scratch, |block, grid, g, taped, _, scratch| {
            self.block_vjp(block, grid, g, taped, scratch)
        });
        self.input.apply_transposed(&self.grids[0], &g, out, false, &mut scratch);
        self.pool.give(g);
        self.pool.give(scratch.cols);
        self.pool.give(scratch.product);
    }

    /// The backward pass of one group from its output gradient `g_out` to the gradient at the
    /// input convolution's output: through the output convolution and normalisation, then the
    /// blocks in reverse run order by `block_step(block, grid, g, tape, run index, scratch)`,
    /// with the levels' gathers, spreads and skips in between.
    pub(super) fn walk_back(
        &self,
        g_out: &[T],
        tape: &GroupTape<T>,
        scratch: &mut ConvScratch<T>,
        mut block_step: impl FnMut(&FrozenBlock<T>, &Grid, Vec<T>, &BlockTape<T>, usize, &mut ConvScratch<T>) -> Vec<T>,
    ) -> Vec<T> {
        let pool = &self.pool;
        let windows = tape.windows;
        let mut g_normed = pool.take(tape.normed.len());
        self.output.apply_transposed(&self.grids[0], g_out, &mut g_normed, false, scratch);
        let mut zero = pool.take(g_normed.len());
        zero.fill(T::zero());
        let mut g = pool.take(g_normed.len());
        T::norm_grad_add_rows(&tape.normed, &tape.rstd, &g_normed, &zero, &mut g, tape.normed.len() / windows);
        pool.give(g_normed);
        pool.give(zero);
        // Up from the finest level (the last to run), then down from the coarsest.
        let mut index = tape.blocks.len();
        let mut g_skips = Vec::with_capacity(self.up.len());
        for (level, blocks) in self.up.iter().enumerate() {
            let grid = &self.grids[level];
            if level > 0 {
                let fine = &self.grids[level - 1];
                let len = g.len() / fine.fan();
                g = self.remap(g, len, |x, out| fine.gather(x, out, 1.0));
            }
            for block in blocks.iter().rev() {
                index -= 1;
                g = block_step(block, grid, g, &tape.blocks[index], index, scratch);
            }
            g_skips.push(self.copy_of(&g));
        }
        for (level, blocks) in self.down.iter().enumerate().rev() {
            let grid = &self.grids[level];
            if let Some(g_skip) = g_skips.pop() {
                g.iter_mut().zip(&g_skip).for_each(|(g, s)| *g += *s);
                pool.give(g_skip);
            }
            for block in blocks.iter().rev() {
                index -= 1;
                g = block_step(block, grid, g, &tape.blocks[index], index, scratch);
            }
            if level > 0 {
                let fine = &self.grids[level - 1];
                let len = g.len() * fine.fan();
                g = self.remap(g, len, |x, out| fine.spread(x, out, 1.0 / fine.fan() as f64));
            }
        }
        g
    }
}

impl<T: WithDType + RowKernels> FrozenTape<T> for UnetTape<'_, T> {
    /// `gᵀ·∂F/∂x` at the taped input, for `g` of the output's shape.
    fn vjp(&self, g: &[T]) -> candle_core::Result<Vec<T>> {
        let f = self.net.features();
        let rows: usize = self.groups.iter().map(|group| group.windows).sum();
        if g.len() != rows * f {
            candle_core::bail!("frozen U-Net: cotangent of {} values for {rows} windows of {f}", g.len());
        }
        let mut out = vec![T::zero(); g.len()];
        let size = self.groups.first().map_or(1, |group| group.windows) * f;
        out.par_chunks_mut(size)
            .zip(g.par_chunks(size))
            .zip(self.groups.par_iter())
            .for_each(|((out, g), tape)| self.net.vjp_group(g, tape, out));
        Ok(out)
    }
}

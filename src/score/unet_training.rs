//! Gradients of the circular U-Net's weights through its direct kernels ([`FrozenUnet`]), for
//! training: the forward pass with a time shift per window keeps its tape, and the backward pass
//! walks it like the input gradient does while adding up, group by group of windows, each
//! convolution's weight and bias gradients (the unfolded input transposed times the output
//! gradient) and each block's time-shift gradient per window. The time embedding and its
//! projections stay with candle's autograd: they see only the shift gradients.

use candle_core::WithDType;
use rayon::prelude::*;

use super::frozen_unet::{BlockTape, FrozenBlock, FrozenUnet, GroupTape, Shifts};
use super::fused::RowKernels;
use super::grid_conv::{ConvGrad, ConvScratch, Grid};

/// Gradients of one residual block.
pub(super) struct BlockGrads<T> {
    pub first: ConvGrad<T>,
    pub second: ConvGrad<T>,
    pub skip: Option<ConvGrad<T>>,
}

impl<T: WithDType> BlockGrads<T> {
    fn zeros(block: &FrozenBlock<T>) -> Self {
        Self {
            first: ConvGrad::zeros(&block.first),
            second: ConvGrad::zeros(&block.second),
            skip: block.skip.as_ref().map(ConvGrad::zeros),
        }
    }

    fn add(&mut self, other: &Self) {
        self.first.add(&other.first);
        self.second.add(&other.second);
        if let (Some(a), Some(b)) = (&mut self.skip, &other.skip) {
            a.add(b);
        }
    }
}

/// Gradients of every weight of a U-Net, blocks in the order they run, and of each block's time
/// shift per window (`[rows, cout]`).
pub(super) struct UnetGrads<T> {
    pub input: ConvGrad<T>,
    pub blocks: Vec<BlockGrads<T>>,
    pub output: ConvGrad<T>,
    pub shifts: Vec<Vec<T>>,
}

impl<T: WithDType + RowKernels> FrozenUnet<T> {
    /// The raw network on `rows` windows of `x` with each block's time shift per window
    /// (`shifts[block]`: `[rows, cout]`, blocks in run order), and the gradients of all weights
    /// and shifts for the output gradient `g_of(out)`.
    pub(super) fn train_gradients(
        &self,
        x: &[T],
        rows: usize,
        shifts: &[Vec<T>],
        g_of: impl FnOnce(&[T]) -> Vec<T>,
    ) -> candle_core::Result<(Vec<T>, UnetGrads<T>)> {
        let (out, tape) = self.forward_with(x, rows, Shifts::PerWindow(shifts))?;
        let g = g_of(&out);
        if g.len() != out.len() {
            candle_core::bail!("frozen U-Net: output gradient of {} values for {}", g.len(), out.len());
        }
        let f = self.features();
        let size = tape.groups.first().map_or(1, |group| group.windows) * f;
        let parts: Vec<(UnetGrads<T>, usize)> = g
            .par_chunks(size)
            .zip(x.par_chunks(size))
            .zip(tape.groups.par_iter())
            .map(|((g, x), group)| (self.group_gradients(x, g, group), group.windows))
            .collect();
        let mut total = self.zero_grads(rows);
        let mut first = 0;
        for (part, windows) in parts {
            total.input.add(&part.input);
            total.output.add(&part.output);
            for (a, b) in total.blocks.iter_mut().zip(&part.blocks) {
                a.add(b);
            }
            for ((all, group), block) in total.shifts.iter_mut().zip(&part.shifts).zip(self.blocks()) {
                let cout = block.first.cout();
                all[first * cout..(first + windows) * cout].copy_from_slice(group);
            }
            first += windows;
        }
        Ok((out, total))
    }

    fn zero_grads(&self, rows: usize) -> UnetGrads<T> {
        UnetGrads {
            input: ConvGrad::zeros(&self.input),
            blocks: self.blocks().map(BlockGrads::zeros).collect(),
            output: ConvGrad::zeros(&self.output),
            shifts: self.blocks().map(|b| vec![T::zero(); rows * b.first.cout()]).collect(),
        }
    }

    /// The gradients from one group of windows: input `x`, output gradient `g_out`.
    fn group_gradients(&self, x: &[T], g_out: &[T], tape: &GroupTape<T>) -> UnetGrads<T> {
        let pool = &self.pool;
        let mut grads = self.zero_grads(tape.windows);
        let grid0 = &self.grids[0];
        let mut scratch = ConvScratch { cols: pool.take(0), product: pool.take(0) };
        self.output.accumulate_grads(grid0, &tape.normed, g_out, &mut grads.output, &mut scratch);
        let g = self.walk_back(g_out, tape, &mut scratch, |block, grid, g, taped, index, scratch| {
            self.block_gradients(block, grid, g, taped, &mut grads, index, scratch)
        });
        self.input.accumulate_grads(grid0, x, &g, &mut grads.input, &mut scratch);
        pool.give(g);
        pool.give(scratch.cols);
        pool.give(scratch.product);
        grads
    }

    /// One block backwards: adds its weight gradients and its shift gradients to `grads` (block
    /// `index` in run order) and returns the gradient at its input, for its output gradient `g`.
    #[allow(clippy::too_many_arguments)]
    fn block_gradients(
        &self,
        block: &FrozenBlock<T>,
        grid: &Grid,
        g: Vec<T>,
        taped: &BlockTape<T>,
        grads: &mut UnetGrads<T>,
        index: usize,
        scratch: &mut ConvScratch<T>,
    ) -> Vec<T> {
        let pool = &self.pool;
        let cells = grid.cells();
        let width = taped.normed.len() / taped.rstd.len().max(1);
        let block_grads = &mut grads.blocks[index];
        // Second convolution, at SiLU(pre).
        let mut activated = pool.take(taped.pre.len());
        T::silu_rows(&taped.pre, &mut activated);
        block.second.accumulate_grads(grid, &activated, &g, &mut block_grads.second, scratch);
        let mut g_activated = activated;
        block.second.apply_transposed(grid, &g, &mut g_activated, false, scratch);
        let mut g_pre = pool.take(g.len());
        T::silu_grad_rows(&taped.pre, &g_activated, &mut g_pre);
        pool.give(g_activated);
        // The shift of each window and channel receives the sum of its plane's gradient.
        for (shift, window) in grads.shifts[index].iter_mut().zip(g_pre.chunks_exact(cells)) {
            *shift = window.iter().fold(T::zero(), |acc, v| acc + *v);
        }
        // First convolution, at SiLU(N(x)).
        let mut s = pool.take(taped.normed.len());
        T::silu_rows(&taped.normed, &mut s);
        block.first.accumulate_grads(grid, &s, &g_pre, &mut block_grads.first, scratch);
        let mut g_s = s;
        block.first.apply_transposed(grid, &g_pre, &mut g_s, false, scratch);
        pool.give(g_pre);
        let mut g_normed = pool.take(g_s.len());
        T::silu_grad_rows(&taped.normed, &g_s, &mut g_normed);
        let add = match (&block.skip, &taped.input, &mut block_grads.skip) {
            (Some(skip), Some(input), Some(skip_grads)) => {
                skip.accumulate_grads(grid, input, &g, skip_grads, scratch);
                let mut add = pool.take(g_s.len());
                skip.apply_transposed(grid, &g, &mut add, false, scratch);
                pool.give(g);
                add
            }
            _ => g,
        };
        T::norm_grad_add_rows(&taped.normed, &taped.rstd, &g_normed, &add, &mut g_s, width);
        pool.give(g_normed);
        pool.give(add);
        g_s
    }
}

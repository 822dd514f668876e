//! Score networks with frozen weights as direct CPU kernels: what the composed score drives when
//! it samples (a forward pass that keeps a tape, and vector–Jacobian products from the tape), for
//! every architecture that has such kernels.
//!
//! Sampling evaluates one network hundreds of times with constant weights and wants gradients
//! with respect to its input only. candle's autograd stays the reference (the tests compare the
//! two) and is what training uses.

use candle_core::{Tensor, WithDType};
use rayon::prelude::*;

use super::frozen_mlp::FrozenMlp;
use super::frozen_unet::FrozenUnet;
use super::fused::RowKernels;

/// What a forward pass kept for the products `gᵀ·∂F/∂x` at its input.
pub trait FrozenTape<T>: Send + Sync {
    /// `gᵀ·∂F/∂x` for `g` shaped like the forward pass's output.
    fn vjp(&self, g: &[T]) -> candle_core::Result<Vec<T>>;
}

/// The raw network `F(x, t)` of a checkpoint as direct kernels.
#[derive(Debug)]
pub enum FrozenNetwork<T: WithDType> {
    Mlp(FrozenMlp<T>),
    Unet(FrozenUnet<T>),
}

impl<T: WithDType + RowKernels> FrozenNetwork<T> {
    /// Values per window (the rows of [`Self::forward`]): the window's states one after another.
    pub fn features(&self) -> usize {
        match self {
            Self::Mlp(net) => net.features(),
            Self::Unet(net) => net.features(),
        }
    }

    /// `F(x, t)` on `rows` windows of [`Self::features`] values, all at time `t`, and the tape.
    pub fn forward(&self, x: &[T], rows: usize, t: f64) -> candle_core::Result<(Vec<T>, Box<dyn FrozenTape<T> + '_>)> {
        if x.len() != rows * self.features() {
            candle_core::bail!("frozen network: {} values for {rows} windows of {}", x.len(), self.features());
        }
        Ok(match self {
            Self::Mlp(net) => {
                let (y, tape) = net.forward(x, rows, t)?;
                (y, Box::new(tape))
            }
            Self::Unet(net) => {
                let (y, tape) = net.forward(x, rows, t)?;
                (y, Box::new(tape))
            }
        })
    }
}

/// Direct kernels of a frozen network, in the dtype of its weights.
#[derive(Debug)]
pub enum FrozenKernels {
    F32(FrozenNetwork<f32>),
    F64(FrozenNetwork<f64>),
}

/// A float type the direct kernels run in.
pub trait FrozenDtype: RowKernels {
    #[doc(hidden)]
    fn pick(kernels: &FrozenKernels) -> Option<&FrozenNetwork<Self>>;
}

impl FrozenDtype for f32 {
    fn pick(kernels: &FrozenKernels) -> Option<&FrozenNetwork<f32>> {
        match kernels {
            FrozenKernels::F32(m) => Some(m),
            FrozenKernels::F64(_) => None,
        }
    }
}

impl FrozenDtype for f64 {
    fn pick(kernels: &FrozenKernels) -> Option<&FrozenNetwork<f64>> {
        match kernels {
            FrozenKernels::F64(m) => Some(m),
            FrozenKernels::F32(_) => None,
        }
    }
}

/// A tensor's values as a flat vector of `T`.
pub(super) fn values<T: WithDType>(t: &Tensor) -> candle_core::Result<Vec<T>> {
    t.to_dtype(T::DTYPE)?.flatten_all()?.to_vec1::<T>()
}

/// `dst` as rows of `bias`.
pub(super) fn fill_rows<T: WithDType>(dst: &mut [T], bias: &[T]) {
    dst.par_chunks_mut(bias.len().max(1)).for_each(|row| row.copy_from_slice(bias));
}

/// Whether a weight is a constant (no gradient is wanted for it) on the CPU.
pub(super) fn is_frozen(t: &Tensor) -> bool {
    !t.track_op() && t.device().is_cpu()
}

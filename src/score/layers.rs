//! Element-wise and normalisation building blocks shared by the networks.

use candle_core::{D, Tensor};

/// `x·sigmoid(x)`.
pub fn silu(x: &Tensor) -> candle_core::Result<Tensor> {
    candle_nn::ops::silu(x)
}

/// Layer normalisation over the last dimension without affine parameters:
/// `(x − mean) / √(var + 1e-5)`.
pub fn layer_norm(x: &Tensor) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    centred.broadcast_div(&(var + 1e-5)?.sqrt()?)
}

/// Normalisation of each sample over all its channels and cells (group norm with one group),
/// without affine parameters.
pub fn sample_norm(x: &Tensor) -> candle_core::Result<Tensor> {
    let b = x.dim(0)?;
    let flat = x.reshape((b, ()))?;
    layer_norm(&flat)?.reshape(x.shape())
}

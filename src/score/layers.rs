//! Element-wise and normalisation building blocks shared by the networks.

use candle_core::Tensor;

pub use super::fused::{FastLinear, layer_norm, norm_silu, silu};

/// Normalisation of each sample over all its channels and cells (group norm with one group),
/// without affine parameters.
pub fn sample_norm(x: &Tensor) -> candle_core::Result<Tensor> {
    let b = x.dim(0)?;
    let flat = x.reshape((b, ()))?;
    layer_norm(&flat)?.reshape(x.shape())
}

/// `silu(sample_norm(x))` in one fused pass.
pub fn sample_norm_silu(x: &Tensor) -> candle_core::Result<Tensor> {
    let b = x.dim(0)?;
    norm_silu(&x.reshape((b, ()))?)?.reshape(x.shape())
}

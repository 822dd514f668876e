//! Seeded Gaussian noise tensors (candle's own generator cannot be seeded per stream).

use candle_core::{DType, Device, Tensor};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::rng::SeededRng;

/// A tensor of independent `N(0, 1)` draws from `rng`, of `shape`, on `device`.
pub fn gaussian_tensor(
    rng: &mut SeededRng,
    shape: &[usize],
    dtype: DType,
    device: &Device,
) -> candle_core::Result<Tensor> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
    Tensor::from_vec(values, shape, device)?.to_dtype(dtype)
}

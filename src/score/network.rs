//! The local score network of a checkpoint, whatever its architecture.

use std::sync::Arc;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};
use candle_nn::VarBuilder;

use super::frozen::{FrozenDtype, FrozenKernels, FrozenNetwork};
use super::{Architecture, CircularUnet, ModelConfig, ResidualMlp, VpSchedule};

/// `ε_φ(x, t)` on windows: `x` of shape `[B, W, …state]`, `t` of shape `[B]`.
///
/// The raw network `F` is preconditioned with the exact ε of standardised Gaussian data:
/// `ε_φ = c_skip(t)·x + c_out(t)·F(x, t)`, `c_skip = σ/(μ² + σ²)`, `c_out = μ/√(μ² + σ²)`.
/// Near `t = 1` (`μ ≈ 10⁻³`) the true ε is `σx/(μ²+σ²) + O(μ)`, so `F` only supplies the small
/// data-dependent part and its errors are scaled down by `μ`. Without this, Tweedie's estimate
/// `x̂ = (x − σε)/μ` amplifies network errors a thousandfold at the start of sampling, and the
/// guidance gradient through it makes an imperfect network diverge.
#[derive(Debug, Clone)]
pub struct ScoreNetwork {
    raw: RawNetwork,
    schedule: VpSchedule,
    /// The raw network as direct kernels, when its weights are constants on the CPU.
    frozen: Option<Arc<FrozenKernels>>,
    /// The state shape (a U-Net's grid).
    state_shape: Vec<usize>,
}

#[derive(Debug, Clone)]
enum RawNetwork {
    Mlp(ResidualMlp),
    Unet(CircularUnet),
}

impl ScoreNetwork {
    /// Builds the network of `config` from `vb` (tensor names are the checkpoint keys).
    pub fn new(config: &ModelConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        let dtype = vb.dtype();
        let raw = match &config.architecture {
            Architecture::Mlp(cfg) => RawNetwork::Mlp(ResidualMlp::new(cfg, config.window * config.state_dim(), vb)?),
            Architecture::Unet1d(cfg) => RawNetwork::Unet(CircularUnet::new(cfg, 1, config.window, vb)?),
            Architecture::Unet2d(cfg) => RawNetwork::Unet(CircularUnet::new(cfg, 2, config.window, vb)?),
        };
        let shape = &config.state_shape;
        let frozen = match (&raw, dtype) {
            (RawNetwork::Mlp(mlp), DType::F32) => mlp.frozen()?.map(|m| FrozenKernels::F32(FrozenNetwork::Mlp(m))),
            (RawNetwork::Mlp(mlp), DType::F64) => mlp.frozen()?.map(|m| FrozenKernels::F64(FrozenNetwork::Mlp(m))),
            (RawNetwork::Unet(unet), DType::F32) => {
                unet.frozen(shape)?.map(|u| FrozenKernels::F32(FrozenNetwork::Unet(u)))
            }
            (RawNetwork::Unet(unet), DType::F64) => {
                unet.frozen(shape)?.map(|u| FrozenKernels::F64(FrozenNetwork::Unet(u)))
            }
            _ => None,
        };
        Ok(Self { raw, schedule: VpSchedule::new(), frozen: frozen.map(Arc::new), state_shape: shape.clone() })
    }

    /// The preconditioning `(c_skip(t), c_out(t))` of [`Self::forward`].
    pub fn preconditioning(&self, t: f64) -> (f64, f64) {
        let (mu, sigma) = (self.schedule.mu(t), self.schedule.sigma(t));
        let norm2 = mu * mu + sigma * sigma;
        (sigma / norm2, mu / norm2.sqrt())
    }

    /// The raw network as direct kernels over windows of `T` (see [`FrozenNetwork`]), when its
    /// weights are constants on the CPU in that dtype; [`Self::forward`] is then
    /// `c_skip·x + c_out·F(x)` with `F` from these kernels.
    pub fn frozen<T: FrozenDtype>(&self) -> Option<&FrozenNetwork<T>> {
        self.frozen.as_deref().and_then(T::pick)
    }

    /// The denoising loss `mean((ε_φ(x, t) − ε)²)` of a training batch and the gradients of
    /// every weight, through direct kernels where the network has them for training (f32 on the
    /// CPU; `sdalab bench --only "training step"` sets them beside candle's autograd); `None`
    /// otherwise, for the caller to use candle's autograd.
    pub fn dsm_gradients(&self, x: &Tensor, t: &Tensor, eps: &Tensor) -> candle_core::Result<Option<(f64, GradStore)>> {
        if x.dtype() != DType::F32 || !x.device().is_cpu() {
            return Ok(None);
        }
        let (c_skip, c_out) = self.preconditioning_rows(t)?;
        match &self.raw {
            RawNetwork::Unet(unet) => unet.dsm_gradients(&self.state_shape, x, t, eps, (&c_skip, &c_out)).map(Some),
            RawNetwork::Mlp(mlp) => {
                let rows = x.dim(0)?;
                let flat = |v: &Tensor| v.reshape((rows, ()));
                mlp.dsm_gradients(&flat(x)?, t, &flat(eps)?, (&c_skip, &c_out)).map(Some)
            }
        }
    }

    /// `(c_skip, c_out)` of each row's time.
    fn preconditioning_rows(&self, t: &Tensor) -> candle_core::Result<(Vec<f32>, Vec<f32>)> {
        let times = t.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        Ok(times
            .iter()
            .map(|&t| {
                let (skip, out) = self.preconditioning(t);
                (skip as f32, out as f32)
            })
            .unzip())
    }

    /// The denoising loss of [`Self::dsm_gradients`] without gradients (validation).
    pub fn dsm_loss(&self, x: &Tensor, t: &Tensor, eps: &Tensor) -> candle_core::Result<Option<f64>> {
        let Some((unet, c_skip, c_out)) = self.direct_training(x, t)? else { return Ok(None) };
        unet.dsm_loss(&self.state_shape, x, t, eps, (&c_skip, &c_out)).map(Some)
    }

    /// The U-Net and each window's preconditioning, where the direct kernels can train it.
    #[allow(clippy::type_complexity)]
    fn direct_training(
        &self,
        x: &Tensor,
        t: &Tensor,
    ) -> candle_core::Result<Option<(&CircularUnet, Vec<f32>, Vec<f32>)>> {
        let RawNetwork::Unet(unet) = &self.raw else { return Ok(None) };
        if x.dtype() != DType::F32 || !x.device().is_cpu() {
            return Ok(None);
        }
        let times = t.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let (c_skip, c_out): (Vec<f32>, Vec<f32>) = times
            .iter()
            .map(|&t| {
                let (skip, out) = self.preconditioning(t);
                (skip as f32, out as f32)
            })
            .unzip();
        Ok(Some((unet, c_skip, c_out)))
    }

    pub fn forward(&self, x: &Tensor, t: &Tensor) -> candle_core::Result<Tensor> {
        let f = match &self.raw {
            RawNetwork::Mlp(net) => net.forward(x, t)?,
            RawNetwork::Unet(net) => net.forward(x, t)?,
        };
        let (mu, sigma) = self.schedule.mu_sigma_tensor(t)?;
        let norm2 = (mu.sqr()? + sigma.sqr()?)?;
        let c_skip = (sigma / &norm2)?;
        let c_out = (mu / norm2.sqrt()?)?;
        let column = |c: Tensor| -> candle_core::Result<Tensor> {
            let mut shape = vec![x.dim(0)?];
            shape.extend(std::iter::repeat_n(1, x.rank() - 1));
            c.reshape(shape)
        };
        x.broadcast_mul(&column(c_skip)?)? + f.broadcast_mul(&column(c_out)?)?
    }

    /// Multiply-add FLOPs of one forward pass on one window.
    pub fn flops_per_window(config: &ModelConfig) -> f64 {
        match &config.architecture {
            Architecture::Mlp(cfg) => ResidualMlp::flops_per_row(cfg, config.window * config.state_dim()),
            Architecture::Unet1d(cfg) => CircularUnet::flops_per_window(cfg, 1, config.window, config.state_dim()),
            Architecture::Unet2d(cfg) => CircularUnet::flops_per_window(cfg, 2, config.window, config.state_dim()),
        }
    }
}

/// The denoising loss `mean((c_skip·x + c_out·F − ε)²)` of a batch of rows of `features` values
/// given the raw network's output `out` (`c_skip`, `c_out` per row), and its gradient with respect
/// to `out`.
pub(super) fn dsm_loss_and_output_gradient(
    out: &[f32],
    x: &[f32],
    eps: &[f32],
    features: usize,
    (c_skip, c_out): (&[f32], &[f32]),
) -> (f64, Vec<f32>) {
    let count = x.len() as f64;
    let mut sum = 0.0;
    let mut g = vec![0f32; out.len()];
    let rows = g.chunks_exact_mut(features).zip(out.chunks_exact(features));
    for (r, ((g, o), (x, e))) in rows.zip(x.chunks_exact(features).zip(eps.chunks_exact(features))).enumerate() {
        let (skip, scale) = (c_skip[r], c_out[r]);
        for (((g, o), x), e) in g.iter_mut().zip(o).zip(x).zip(e) {
            let residual = (skip * x + scale * o - e) as f64;
            sum += residual * residual;
            *g = (2.0 * scale as f64 * residual / count) as f32;
        }
    }
    (sum / count, g)
}

//! Scores of whole trajectories, the interface the sampler drives, and their linearisations.

use candle_core::{DType, Tensor, Var};

use super::frozen::FrozenDtype;
use super::{ScoreError, ScoreNetwork, WindowComposer};

/// `ε(x(t), t) ≈ −σ(t)·∇ log p(x(t))` for a batch of whole trajectories `x` of shape
/// `[S, L, …state]` in network space, all at the same diffusion time `t`.
pub trait TrajectoryScore: Send + Sync {
    fn epsilon(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError>;

    /// `ε(x, t)` with its vector–Jacobian products, for guidance through the score. By default
    /// candle's autograd through [`Self::epsilon`]; scores with direct kernels override it.
    fn linearise(&self, x: &Tensor, t: f64) -> Result<Linearisation<'_>, ScoreError> {
        Linearisation::by_autograd(x, |x| self.epsilon(x, t))
    }
}

type Vjp<'a> = Box<dyn Fn(&Tensor) -> Result<Tensor, ScoreError> + 'a>;

/// `ε` at one point `x` and the products `v ↦ vᵀ·∂ε/∂x` there (`v` and the result shaped like
/// `x`). Any number of products can be taken from one linearisation.
pub struct Linearisation<'a> {
    epsilon: Tensor,
    vjp: Vjp<'a>,
}

impl<'a> Linearisation<'a> {
    pub fn new(epsilon: Tensor, vjp: impl Fn(&Tensor) -> Result<Tensor, ScoreError> + 'a) -> Self {
        Self { epsilon, vjp: Box::new(vjp) }
    }

    /// By candle's autograd: `epsilon` evaluated on `x` as a variable, products by back-propagation
    /// through the recorded graph (the reference for the direct kernels).
    pub fn by_autograd(
        x: &Tensor,
        epsilon: impl FnOnce(&Tensor) -> Result<Tensor, ScoreError>,
    ) -> Result<Linearisation<'static>, ScoreError> {
        let var = Var::from_tensor(&x.detach())?;
        let eps = epsilon(var.as_tensor())?;
        let value = eps.detach();
        Ok(Linearisation::new(value, move |v: &Tensor| {
            let grads = (&eps * v.detach())?.sum_all()?.backward()?;
            Ok(match grads.get(var.as_tensor()) {
                Some(g) => g.clone(),
                None => var.as_tensor().zeros_like()?,
            })
        }))
    }

    /// `ε(x, t)` (no gradient flows through it).
    pub fn epsilon(&self) -> &Tensor {
        &self.epsilon
    }

    /// `vᵀ·∂ε/∂x`.
    pub fn vjp(&self, v: &Tensor) -> Result<Tensor, ScoreError> {
        (self.vjp)(v)
    }
}

/// A learned local score applied to every window of the trajectory at once (the windows are
/// folded into the batch) and composed by [`WindowComposer`].
#[derive(Debug, Clone)]
pub struct ComposedNetworkScore {
    network: ScoreNetwork,
    composer: WindowComposer,
}

impl ComposedNetworkScore {
    pub fn new(network: ScoreNetwork, window: usize) -> Result<Self, ScoreError> {
        Ok(Self { network, composer: WindowComposer::new(window)? })
    }

    pub fn composer(&self) -> &WindowComposer {
        &self.composer
    }

    /// The linearisation by the network's direct kernels, when it has them in `x`'s dtype.
    fn linearise_direct(&self, x: &Tensor, t: f64) -> Result<Option<Linearisation<'_>>, ScoreError> {
        match x.dtype() {
            DType::F32 => self.linearise_frozen::<f32>(x, t),
            DType::F64 => self.linearise_frozen::<f64>(x, t),
            _ => Ok(None),
        }
    }

    fn linearise_frozen<T: FrozenDtype>(&self, x: &Tensor, t: f64) -> Result<Option<Linearisation<'_>>, ScoreError> {
        let Some(net) = self.network.frozen::<T>() else { return Ok(None) };
        let dims = x.dims();
        let (samples, length) = (dims[0], dims[1]);
        let d: usize = dims[2..].iter().product();
        let composer = self.composer;
        let (count, w) = (composer.count(length)?, composer.window());
        let features = w * d;
        if features != net.features() {
            return Err(ScoreError::Invalid {
                what: "trajectory".into(),
                reason: format!("states of {d} values do not fit a network of {} per window", net.features()),
            });
        }
        let per_sample = length * d;
        let xs: Vec<T> = x.flatten_all()?.to_vec1()?;
        let mut windows = Vec::with_capacity(samples * count * features);
        for trajectory in xs.chunks_exact(per_sample) {
            for j in 0..count {
                windows.extend_from_slice(&trajectory[j * d..j * d + features]);
            }
        }
        let rows = samples * count;
        let (raw, tape) = net.forward(&windows, rows, t)?;
        let (c_skip, c_out) = self.network.preconditioning(t);
        let (c_skip, c_out) = (T::from_f64(c_skip), T::from_f64(c_out));
        // ε of state i of each trajectory from window j at position p, by the composition rule.
        let source = move |i: usize| composer.source(i, length);
        let mut eps = vec![T::zero(); xs.len()];
        for (s, out) in eps.chunks_exact_mut(per_sample).enumerate() {
            for (i, state) in out.chunks_exact_mut(d).enumerate() {
                let (j, p) = source(i);
                let at = (s * count + j) * features + p * d;
                for ((e, x), r) in state.iter_mut().zip(&windows[at..at + d]).zip(&raw[at..at + d]) {
                    *e = c_skip * *x + c_out * *r;
                }
            }
        }
        let shape = x.shape().clone();
        let device = x.device().clone();
        let epsilon = Tensor::from_vec(eps, shape.clone(), &device)?;
        let vjp = move |v: &Tensor| -> Result<Tensor, ScoreError> {
            let vs: Vec<T> = v.to_dtype(T::DTYPE)?.flatten_all()?.to_vec1()?;
            if vs.len() != samples * per_sample {
                return Err(ScoreError::Invalid { what: "cotangent".into(), reason: format!("shape {:?}", v.dims()) });
            }
            // Spread v onto the window outputs it was assembled from, through the preconditioning.
            let mut g_raw = vec![T::zero(); rows * features];
            for (s, vt) in vs.chunks_exact(per_sample).enumerate() {
                for (i, state) in vt.chunks_exact(d).enumerate() {
                    let (j, p) = source(i);
                    let at = (s * count + j) * features + p * d;
                    g_raw[at..at + d].iter_mut().zip(state).for_each(|(g, v)| *g = c_out * *v);
                }
            }
            let g_windows = tape.vjp(&g_raw)?;
            let mut g = vec![T::zero(); vs.len()];
            for (s, (gt, vt)) in g.chunks_exact_mut(per_sample).zip(vs.chunks_exact(per_sample)).enumerate() {
                for j in 0..count {
                    let row = &g_windows[(s * count + j) * features..(s * count + j + 1) * features];
                    gt[j * d..j * d + features].iter_mut().zip(row).for_each(|(g, r)| *g += *r);
                }
                // The skip term c_skip·x reaches each state only from its own source position.
                gt.iter_mut().zip(vt).for_each(|(g, v)| *g += c_skip * *v);
            }
            Ok(Tensor::from_vec(g, shape.clone(), &device)?)
        };
        Ok(Some(Linearisation::new(epsilon, vjp)))
    }
}

impl TrajectoryScore for ComposedNetworkScore {
    /// By the direct kernels when the network has them and `x` carries no autograd graph (no
    /// gradient can be wanted through this call); by candle's ops otherwise, so an `x` that is
    /// a variable gets its gradient through the network.
    fn epsilon(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError> {
        if !x.track_op()
            && let Some(linearisation) = self.linearise_direct(x, t)?
        {
            return Ok(linearisation.epsilon().clone());
        }
        let windows = self.composer.windows(x)?;
        let dims = windows.dims().to_vec();
        let batch = dims[0] * dims[1];
        let mut flat = vec![batch];
        flat.extend_from_slice(&dims[2..]);
        let times = Tensor::full(t, batch, x.device())?.to_dtype(x.dtype())?;
        let eps = self.network.forward(&windows.reshape(flat)?, &times)?;
        self.composer.assemble(&eps.reshape(dims)?)
    }

    fn linearise(&self, x: &Tensor, t: f64) -> Result<Linearisation<'_>, ScoreError> {
        match self.linearise_direct(x, t)? {
            Some(linearisation) => Ok(linearisation),
            None => Linearisation::by_autograd(x, |x| self.epsilon(x, t)),
        }
    }
}

//! Observations prepared for evaluation inside a candle autograd graph.

use candle_core::{DType, Device, Tensor};

use super::{Observation, ObservationOp};
use crate::dynamics::Normalisation;

/// How a point operator (one component in, one value out) is evaluated on tensors: each form has
/// its own mask in [`TensorObservations`] and its own terms in `predict`, `jacobian_norm2` and
/// `point_gains`. Operators over several components (`mean`) are matrix products instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PointForm {
    Identity,
    Abs,
    Square,
}

impl PointForm {
    /// The form of `op`, or `None` for an operator over several components. Exhaustive: a new
    /// operator must say here how it is evaluated on tensors.
    fn of(op: &ObservationOp) -> Option<Self> {
        match op {
            ObservationOp::Identity { .. } => Some(Self::Identity),
            ObservationOp::Abs { .. } => Some(Self::Abs),
            ObservationOp::Square { .. } => Some(Self::Square),
            ObservationOp::Mean { .. } => None,
        }
    }
}

/// A scenario's observations as tensors: `A(x)` for a batch of whole trajectories given in the
/// networks' normalised space (mapped to physical units inside, so gradients flow to `x`), the
/// observed values and noise variances, all ordered point operators first, then `mean`s.
#[derive(Debug, Clone)]
pub struct TensorObservations {
    count: usize,
    /// Flat indices `t·D + i` of the point operators (identity, abs, square).
    point_index: Option<Tensor>,
    identity_mask: Tensor,
    abs_mask: Tensor,
    square_mask: Tensor,
    /// Scale of each point operator's component (the Jacobian of network to physical space).
    point_scale: Tensor,
    /// Its square.
    point_scale2: Tensor,
    /// `[L·D, M]` averaging weights of the `mean` operators, and their constant Jacobian norms².
    mean_weights: Option<Tensor>,
    mean_gain2: Option<Tensor>,
    values: Tensor,
    variances: Tensor,
    center: Tensor,
    scale: Tensor,
    flat: usize,
}

impl TensorObservations {
    /// Prepares `observations` of a trajectory of `length` states of `dim` components. The
    /// observations must have been validated against `length` and `dim`.
    pub fn new(
        observations: &[Observation],
        length: usize,
        dim: usize,
        normalisation: &Normalisation,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let flat = length * dim;
        let (points, means): (Vec<&Observation>, Vec<&Observation>) =
            observations.iter().partition(|o| PointForm::of(&o.op).is_some());
        let scale_of = |i: usize| normalisation.scale()[i % dim];
        let vector = |v: Vec<f64>| Tensor::from_vec(v.clone(), v.len(), device)?.to_dtype(dtype);
        let mask = |form: PointForm| {
            vector(points.iter().map(|o| (PointForm::of(&o.op) == Some(form)) as u8 as f64).collect())
        };
        let point_flat: Vec<usize> = points.iter().map(|o| o.t * dim + o.op.indices()[0]).collect();
        let point_index = if points.is_empty() {
            None
        } else {
            let index: Vec<u32> = point_flat.iter().map(|&i| i as u32).collect();
            Some(Tensor::from_vec(index, points.len(), device)?)
        };
        let (mean_weights, mean_gain2) = if means.is_empty() {
            (None, None)
        } else {
            let mut weights = vec![0.0; flat * means.len()];
            let mut gain2 = Vec::with_capacity(means.len());
            for (m, o) in means.iter().enumerate() {
                let ix = o.op.indices();
                let w = 1.0 / ix.len() as f64;
                for &i in ix {
                    weights[(o.t * dim + i) * means.len() + m] += w;
                }
                gain2.push(ix.iter().map(|&i| (w * scale_of(i)).powi(2)).sum());
            }
            (Some(Tensor::from_vec(weights, (flat, means.len()), device)?.to_dtype(dtype)?), Some(vector(gain2)?))
        };
        let ordered: Vec<&Observation> = points.iter().chain(means.iter()).copied().collect();
        let tile = |v: &[f64]| vector((0..flat).map(|i| v[i % dim]).collect());
        Ok(Self {
            count: ordered.len(),
            point_index,
            identity_mask: mask(PointForm::Identity)?,
            abs_mask: mask(PointForm::Abs)?,
            square_mask: mask(PointForm::Square)?,
            point_scale: vector(point_flat.iter().map(|&i| scale_of(i)).collect())?,
            point_scale2: vector(point_flat.iter().map(|&i| scale_of(i).powi(2)).collect())?,
            mean_weights,
            mean_gain2,
            values: vector(ordered.iter().map(|o| o.value).collect())?,
            variances: vector(ordered.iter().map(|o| o.std * o.std).collect())?,
            center: tile(normalisation.center())?,
            scale: tile(normalisation.scale())?,
            flat,
        })
    }

    /// Number of scalar observations.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// `[K]` observed values (physical units).
    pub fn values(&self) -> &Tensor {
        &self.values
    }

    /// `[K]` observation noise variances.
    pub fn variances(&self) -> &Tensor {
        &self.variances
    }

    /// `x` `[S, L, …]` (network space) in physical units, flattened to `[S, L·D]`.
    fn physical(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let s = x.dim(0)?;
        x.reshape((s, self.flat))?.broadcast_mul(&self.scale)?.broadcast_add(&self.center)
    }

    /// `A(x)`, `[S, K]`, for network-space trajectories `x` `[S, L, …]`. Differentiable in `x`.
    pub fn predict(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let phys = self.physical(x)?;
        let mut parts = Vec::with_capacity(2);
        if let Some(index) = &self.point_index {
            let v = phys.index_select(index, 1)?;
            let out = (v.broadcast_mul(&self.identity_mask)?
                + v.abs()?.broadcast_mul(&self.abs_mask)?
                + v.sqr()?.broadcast_mul(&self.square_mask)?)?;
            parts.push(out);
        }
        if let Some(w) = &self.mean_weights {
            parts.push(phys.matmul(w)?);
        }
        Tensor::cat(&parts, 1)
    }

    /// `‖∂A_k/∂x‖²` with respect to network space, `[S, K]`: constant but for `square`, whose
    /// Jacobian is `2·x·scale` (differentiable in `x`).
    pub fn jacobian_norm2(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let s = x.dim(0)?;
        let mut parts = Vec::with_capacity(2);
        if let Some(index) = &self.point_index {
            let v = self.physical(x)?.index_select(index, 1)?;
            let linear = (&self.identity_mask + &self.abs_mask)?.broadcast_mul(&self.point_scale2)?;
            let square = (v.sqr()? * 4.0)?.broadcast_mul(&self.square_mask.broadcast_mul(&self.point_scale2)?)?;
            parts.push(square.broadcast_add(&linear)?);
        }
        if let Some(g) = &self.mean_gain2 {
            parts.push(g.unsqueeze(0)?.broadcast_as((s, g.dim(0)?))?.contiguous()?);
        }
        Tensor::cat(&parts, 1)
    }

    /// `∂A_k/∂x` of the point operators at `x`, `[S, P]`: the operator's derivative in physical
    /// units (1, sign, 2·value) times the component's scale.
    fn point_gains(&self, x: &Tensor, index: &Tensor) -> candle_core::Result<Tensor> {
        let v = self.physical(x)?.index_select(index, 1)?;
        let derivative = (v.sign()?.broadcast_mul(&self.abs_mask)? + (v * 2.0)?.broadcast_mul(&self.square_mask)?)?
            .broadcast_add(&self.identity_mask)?;
        derivative.broadcast_mul(&self.point_scale)
    }

    /// `∂A/∂x·v` at `x` (both network space, `[S, L, …]`): `[S, K]`, the operators linearised at
    /// `x` (exact for identity and `mean`).
    pub fn jvp(&self, x: &Tensor, v: &Tensor) -> candle_core::Result<Tensor> {
        let s = x.dim(0)?;
        let v = v.reshape((s, self.flat))?;
        let mut parts = Vec::with_capacity(2);
        if let Some(index) = &self.point_index {
            parts.push((self.point_gains(x, index)? * v.index_select(index, 1)?)?);
        }
        if let Some(w) = &self.mean_weights {
            parts.push(v.broadcast_mul(&self.scale)?.matmul(w)?);
        }
        Tensor::cat(&parts, 1)
    }

    /// `uᵀ·∂A/∂x` at `x` for `u` `[S, K]`: shaped like `x` (network space).
    pub fn vjp(&self, x: &Tensor, u: &Tensor) -> candle_core::Result<Tensor> {
        let s = x.dim(0)?;
        let points = self.point_index.as_ref().map_or(0, |i| i.dim(0).unwrap_or(0));
        let mut out = Tensor::zeros((s, self.flat), x.dtype(), x.device())?;
        if let Some(index) = &self.point_index {
            let weighted = (self.point_gains(x, index)? * u.narrow(1, 0, points)?.contiguous()?)?;
            out = out.index_add(index, &weighted, 1)?;
        }
        if let Some(w) = &self.mean_weights {
            let means = u.narrow(1, points, self.count - points)?.contiguous()?;
            out = (out + means.matmul(&w.t()?)?.broadcast_mul(&self.scale)?)?;
        }
        out.reshape(x.shape())
    }
}

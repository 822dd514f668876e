//! Ensembles of whole trajectories: the values of `members` trajectories of `length` states of
//! one state shape, in one flat buffer `[members, length, state…]` (physical units), and the
//! statistics every part of SDA Lab computes from them (mean, spread, quantiles, rank histogram,
//! misfit to the observations). Samplers, classical methods, the worker's events, the app's
//! views and the command line all pass ensembles as this type.

mod crps;
mod misfit;
mod rank_histogram;
mod statistics;

use std::ops::Deref;
use std::sync::Arc;

pub use statistics::Skill;

/// Why values cannot form an ensemble.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnsembleError {
    #[error("an ensemble of {members} × {length} states of shape {state_shape:?} holds {expected} values, not {found}")]
    Size { members: usize, length: usize, state_shape: Vec<usize>, expected: usize, found: usize },
    #[error("an ensemble of {members} × {length} states of shape {state_shape:?} is too large to address")]
    Overflow { members: usize, length: usize, state_shape: Vec<usize> },
}

/// A value an ensemble can hold: `f64` for numerics, `f32` for what is drawn and written.
pub trait Value: Copy + Send + Sync + 'static {
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

impl Value for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl Value for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

/// `members` whole trajectories of `length` states of shape `state_shape`, flat and shared.
/// Dereferences to the flat values, so slices' methods (`len`, `iter`, `chunks_exact`) apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Ensemble<T: Value = f64> {
    values: Arc<[T]>,
    members: usize,
    length: usize,
    state_shape: Arc<[usize]>,
}

impl<T: Value> Ensemble<T> {
    /// The ensemble of `values` laid out `[members, length, state_shape…]`; refused unless the
    /// count matches.
    pub fn new(
        values: impl Into<Arc<[T]>>,
        members: usize,
        length: usize,
        state_shape: &[usize],
    ) -> Result<Self, EnsembleError> {
        let values = values.into();
        let mut expected = members.checked_mul(length);
        for &s in state_shape {
            expected = expected.and_then(|n| n.checked_mul(s));
        }
        let expected =
            expected.ok_or_else(|| EnsembleError::Overflow { members, length, state_shape: state_shape.to_vec() })?;
        if values.len() != expected {
            return Err(EnsembleError::Size {
                members,
                length,
                state_shape: state_shape.to_vec(),
                expected,
                found: values.len(),
            });
        }
        Ok(Self { values, members, length, state_shape: state_shape.into() })
    }

    /// The ensemble of whole trajectories in `values`, as many members as they hold; refused
    /// unless they hold a whole number of trajectories.
    pub fn from_trajectories(
        values: impl Into<Arc<[T]>>,
        length: usize,
        state_shape: &[usize],
    ) -> Result<Self, EnsembleError> {
        let values = values.into();
        let per_member = state_shape.iter().product::<usize>().saturating_mul(length);
        let members = values.len().checked_div(per_member).unwrap_or(0);
        Self::new(values, members, length, state_shape)
    }

    pub fn members(&self) -> usize {
        self.members
    }

    /// States per trajectory.
    pub fn length(&self) -> usize {
        self.length
    }

    pub fn state_shape(&self) -> &[usize] {
        &self.state_shape
    }

    /// Values in one state.
    pub fn state_dim(&self) -> usize {
        self.state_shape.iter().product()
    }

    /// Values in one trajectory (`length × state_dim`).
    pub fn per_member(&self) -> usize {
        self.length * self.state_dim()
    }

    /// The array shape `[members, length, state…]` (as `.npy` files store it).
    pub fn shape(&self) -> Vec<usize> {
        [&[self.members, self.length][..], &self.state_shape].concat()
    }

    /// The flat values, `[members, length, state…]`.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// The shared buffer of the values.
    pub fn shared(&self) -> &Arc<[T]> {
        &self.values
    }

    /// Trajectory `m`.
    pub fn member(&self, m: usize) -> &[T] {
        let n = self.per_member();
        &self.values[m * n..(m + 1) * n]
    }

    /// The trajectories in order.
    pub fn trajectories(&self) -> impl ExactSizeIterator<Item = &[T]> {
        self.values.chunks_exact(self.per_member().max(1))
    }

    /// The first `members` trajectories (all if there are fewer).
    pub fn first(&self, members: usize) -> Self {
        let members = members.min(self.members);
        Self {
            values: self.values[..members * self.per_member()].into(),
            members,
            length: self.length,
            state_shape: self.state_shape.clone(),
        }
    }

    /// The same ensemble with values of another precision.
    pub fn convert<U: Value>(&self) -> Ensemble<U> {
        Ensemble {
            values: self.values.iter().map(|v| U::from_f64(v.to_f64())).collect(),
            members: self.members,
            length: self.length,
            state_shape: self.state_shape.clone(),
        }
    }

    /// The values as `f64`.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        self.values.iter().map(|v| v.to_f64()).collect()
    }
}

impl<T: Value> Deref for Ensemble<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_checked_and_members_are_sliced() {
        let values: Vec<f64> = (0..12).map(f64::from).collect();
        let e = Ensemble::new(values.clone(), 2, 3, &[2]).unwrap();
        assert_eq!((e.members(), e.per_member(), e.shape()), (2, 6, vec![2, 3, 2]));
        assert_eq!(e.member(1), &values[6..]);
        assert_eq!(e.first(1).values(), &values[..6]);
        assert_eq!(Ensemble::from_trajectories(values.clone(), 3, &[2]).unwrap().members(), 2);
        assert!(matches!(Ensemble::new(values.clone(), 3, 3, &[2]), Err(EnsembleError::Size { expected: 18, .. })));
        assert!(Ensemble::new(values, usize::MAX, 3, &[2]).is_err());
        assert!(Ensemble::<f64>::from_trajectories(vec![0.0; 5], 3, &[2]).is_err());
    }
}

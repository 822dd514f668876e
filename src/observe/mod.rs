//! Observation operators and observations: the only place where a drawn or written observation
//! becomes mathematics.
//!
//! An [`Observation`] says that `A(x_t) + N(0, std²) = value` for one state `x_t` of a trajectory,
//! with `A` an [`ObservationOp`]. This module evaluates `A`, the Gaussian log-likelihood, and reduces
//! linear operators to the rows the exact oracle in [`crate::dynamics::linear`] accepts, and prepares
//! them as tensors so guidance can differentiate `A` ([`TensorObservations`]), and lays standard
//! observation [`Pattern`]s over rings and fields. It never samples.

mod observation;
mod operator;
mod patterns;
mod tensor_observations;

pub use observation::{Observation, by_state, log_likelihood};
pub use operator::{ObservationOp, OperatorKind, UnknownOperator};
pub use patterns::Pattern;
pub use tensor_observations::TensorObservations;

//! Errors raised when a model is built from user-supplied numbers or an oracle cannot be computed.

use thiserror::Error;

/// A model description that cannot define a valid Markov chain, or a failed exact computation.
/// `field` names the offending entry the way the scenario file spells it.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ModelError {
    #[error("{field}: expected {expected}, found {found}")]
    Shape { field: String, expected: String, found: String },
    #[error("{field}: entries must be finite")]
    NonFinite { field: String },
    #[error("{field}: matrix is not symmetric (entry [{row}][{col}] = {upper} but [{col}][{row}] = {lower})")]
    NotSymmetric { field: String, row: usize, col: usize, upper: f64, lower: f64 },
    #[error("{field}: matrix is not positive definite")]
    NotPositiveDefinite { field: String },
    #[error("{what}: {reason}")]
    Numerical { what: String, reason: String },
    #[error("{field}: {reason}")]
    Setting { field: String, reason: String },
}

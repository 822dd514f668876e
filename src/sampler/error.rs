//! Errors of sampling.

use thiserror::Error;

use crate::score::ScoreError;

#[derive(Debug, Error)]
pub enum SamplerError {
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(
        "sampling diverged (values beyond {} standard deviations of the data): a large τ, γ = 0 (the surrogate then trusts x̂ as if exact), a large ζ or too few steps are the usual causes",
        crate::sampler::DIVERGENCE_BOUND
    )]
    Diverged,
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Invalid(String),
}

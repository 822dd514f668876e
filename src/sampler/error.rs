//! Errors of sampling.

use thiserror::Error;

use crate::score::ScoreError;

#[derive(Debug, Error)]
pub enum SamplerError {
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("sampling diverged: the ensemble holds non-finite values")]
    Diverged,
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Invalid(String),
}

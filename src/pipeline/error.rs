//! Why a run could not produce an ensemble.

use crate::baselines::{AnalysisError, FourDVarError};
use crate::budget::BudgetError;
use crate::ensemble::EnsembleError;
use crate::sampler::SamplerError;
use crate::scenario::ScenarioError;
use crate::score::ScoreError;

/// Why a run could not produce an ensemble; `Cancelled` when it was asked to stop.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Budget(#[from] BudgetError),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error(transparent)]
    Sampler(SamplerError),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error(transparent)]
    FourDVar(FourDVarError),
    #[error(transparent)]
    Ensemble(#[from] EnsembleError),
    #[error("{setting} {message}")]
    Setting { setting: String, message: String },
    #[error("the exact prior exists only for the linear system, not `{system}`")]
    ExactPriorNeedsLinear { system: String },
    #[error("no bundled checkpoint for `{system}`: name one")]
    NoDefaultCheckpoint { system: String },
    #[error("4D-Var needs first guesses: SDA's members or an ensemble to start from")]
    NoFirstGuess,
    #[error(
        "{method} produced non-finite values (an inflation too large for the ensemble, or a model that leaves the finite range); nothing was written"
    )]
    NonFinite { method: String },
}

impl From<SamplerError> for PipelineError {
    fn from(e: SamplerError) -> Self {
        match e {
            SamplerError::Cancelled => Self::Cancelled,
            other => Self::Sampler(other),
        }
    }
}

impl From<FourDVarError> for PipelineError {
    fn from(e: FourDVarError) -> Self {
        match e {
            FourDVarError::Cancelled => Self::Cancelled,
            other => Self::FourDVar(other),
        }
    }
}

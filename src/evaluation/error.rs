//! Errors of the evaluation: unreadable result files, bad cases, failed figures.

use std::path::PathBuf;

use thiserror::Error;

use crate::pipeline::PipelineError;
use crate::scenario::ScenarioError;

#[derive(Debug, Error)]
pub enum EvaluationError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: line {line}: {message}", path.display())]
    Format { path: PathBuf, line: usize, message: String },
    #[error("{}: cannot draw the figure: {message}", path.display())]
    Figure { path: PathBuf, message: String },
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("{message}")]
    Invalid { message: String },
}

//! Errors of the score module: bad checkpoints, impossible windows, numerical failures.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ScoreError {
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("window of {window} states needs a trajectory of at least {window} states, got {length}")]
    TooShort { window: usize, length: usize },
    #[error("window must be an odd number of states 2k+1 ≥ 3, got {window}")]
    BadWindow { window: usize },
    #[error("{}: {message}", path.display())]
    Checkpoint { path: PathBuf, message: String },
    #[error("checkpoint {} is for `{found}`, not `{expected}`", path.display())]
    WrongSystem { path: PathBuf, expected: String, found: String },
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
}

//! Everything that can be wrong with a scenario, each naming the offending entry.

use thiserror::Error;

use crate::dynamics::ModelError;
use crate::export::ExportError;

/// A scenario that cannot be read, or that reads but does not describe a valid experiment.
/// `at` is the path of the offending entry as the JSON spells it (`observations[3].std`).
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("{path}")]
    Read { path: String, source: std::io::Error },
    #[error(transparent)]
    Write(#[from] ExportError),
    #[error("malformed JSON at line {line}, column {column}{}: {message}", at.as_ref().map(|a| format!(" (in {a})")).unwrap_or_default())]
    Syntax { line: usize, column: usize, at: Option<String>, message: String },
    #[error("{at}: {message}{}", position.map(|(l, c)| format!(" (line {l}, column {c})")).unwrap_or_default())]
    Schema { at: String, message: String, position: Option<(usize, usize)> },
    #[error("system: unknown system `{name}` (known: lorenz63, lorenz96, kolmogorov, linear)")]
    UnknownSystem { name: String },
    #[error("{at}.op: unknown operator `{op}` (known: {known})")]
    UnknownOp { at: String, op: String, known: String },
    #[error("{at}: operator `{op}` {problem}")]
    Operand { at: String, op: String, problem: String },
    #[error("{at}.indices: must name at least one component")]
    EmptyIndices { at: String },
    #[error("length: must be at least 1, got {length}")]
    Length { length: i64 },
    #[error("{at}.t: state {t} is out of range for a trajectory of {length} states (0..{length})")]
    TimeOutOfRange { at: String, t: i64, length: usize },
    #[error("{at}: component {index} is out of range for a state of {dim} components (0..{dim})")]
    IndexOutOfRange { at: String, index: i64, dim: usize },
    #[error("{at}.std: must be positive and finite, with a representable square (≥ 1e-154), got {std:e}")]
    Std { at: String, std: f64 },
    #[error("{at}: must be finite, got {value}")]
    NonFinite { at: String, value: f64 },
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{at}: operator `{op}` is nonlinear; the exact oracle needs `identity` or `mean` observations")]
    Nonlinear { at: String, op: String },
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
}

/// At most 80 characters of an offending value, for messages: a 10 MB string in a file is named,
/// not echoed.
pub fn excerpt(text: &str) -> String {
    const MOST: usize = 80;
    if text.chars().count() <= MOST {
        return text.to_string();
    }
    let head: String = text.chars().take(MOST).collect();
    format!("{head}… ({} characters)", text.chars().count())
}

/// At most 400 characters of a whole message (an error and its causes), cut with an ellipsis.
pub fn excerpt_long(text: &str) -> String {
    const MOST: usize = 400;
    if text.chars().count() <= MOST {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MOST).collect::<String>())
    }
}

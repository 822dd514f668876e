//! Errors of file import and export.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ExportError {
    #[error("{}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
}

impl ExportError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), source }
    }
}

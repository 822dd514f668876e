//! What the worker is asked to do.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::{Job, JobId};

/// An intent sent to the worker thread.
#[derive(Debug)]
pub enum Command {
    /// Run a job. `cancel` is raised by the [`super::Worker`] handle when the job is replaced or
    /// cancelled; the sampler checks it before every network evaluation.
    Run { id: JobId, job: Box<Job>, cancel: Arc<AtomicBool> },
    /// Finish: end the thread (the handle has raised the running job's flag).
    Shutdown,
}

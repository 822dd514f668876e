//! What the worker is asked to do.

use super::{Job, JobId};

/// An intent sent to the worker thread. The thread reads them between jobs and, while a job
/// runs, before every network evaluation and while paused, so each takes effect at once.
#[derive(Debug)]
pub enum Command {
    /// Run a job; it replaces (cancels) every job asked for before it.
    Run { id: JobId, job: Box<Job> },
    /// Cancel every job up to and including `through`, running or waiting.
    Cancel { through: JobId },
    /// Pause (or resume) after the current step; jobs that start while paused start paused.
    Pause(bool),
    /// While paused, let the job take one more step.
    Step,
    /// Cancel what runs and end the thread.
    Shutdown,
}

//! The sampling worker: a thread that owns the compute device and runs posterior jobs.
//!
//! The GUI (or a test) holds a [`Worker`]: it sends intents ([`Command`]) and reads back
//! [`Event`]s for a job's life cycle and [`Frame`]s, snapshots of the ensemble as the reverse
//! diffusion proceeds. Frames go through a one-slot mailbox where the newest wins, so a slow
//! reader never backs the worker up; every frame is also kept and handed over with the finished
//! job for replay. A new run cancels the running job before its next network evaluation, and a
//! panic inside a job becomes [`Event::Failed`] while the worker keeps serving. A job can be paused
//! between steps and advanced one step at a time ([`Worker::pause`], [`Worker::step`]). Every
//! intent, cancellation and pacing included, travels as a [`Command`]; the thread reads them
//! before each network evaluation ([`crate::cancel::Cancellation`]).
//!
//! A second thread, the [`Loader`], reads files and runs simulations for the app (lessons,
//! scenarios, the checkpoints on offer), so the UI thread never blocks on them.

mod command;
mod control;
mod event;
mod execute;
mod handle;
mod job;
mod loader;

pub use command::Command;
pub use event::{Comparison, Event, Finished, Frame, Reference, Timing};
pub use handle::{Waker, Worker, WorkerPanicked};
pub use job::{Job, JobId, PriorSpec};
pub use loader::{Loader, Task, TaskPanicked};

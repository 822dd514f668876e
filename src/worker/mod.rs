//! The sampling worker: a thread that owns the compute device and runs posterior jobs.
//!
//! The GUI (or a test) holds a [`Worker`]: it sends intents ([`Command`]) and reads back
//! [`Event`]s for a job's life cycle and [`Frame`]s, snapshots of the ensemble as the reverse
//! diffusion proceeds. Frames go through a one-slot mailbox where the newest wins, so a slow
//! reader never backs the worker up; every frame is also kept and handed over with the finished
//! job for replay. A new run cancels the running job before its next network evaluation, and a
//! panic inside a job becomes [`Event::Failed`] while the worker keeps serving. A job can be paused
//! between steps and advanced one step at a time ([`Worker::pause`], [`Worker::step`]).

mod command;
mod event;
mod execute;
mod handle;
mod job;
mod pacer;

pub use command::Command;
pub use event::{Comparison, Event, Finished, Frame, Reference, Timing};
pub use handle::Worker;
pub use job::{Job, JobId, PriorSpec};
pub use pacer::Pacer;

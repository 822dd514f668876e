//! The worker's second thread: file reads and simulations the app needs (lessons, scenarios,
//! the checkpoints on offer, the attractor), run off the UI thread in the order asked and
//! answered through a channel, so the UI never blocks on a disk or a simulator.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::handle::{Waker, panic_message};

/// A task panicked (a bug); the loader went on with the next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("internal error (a bug): {message}")]
pub struct TaskPanicked {
    pub message: String,
}

/// A piece of work for the loader thread.
pub type Task<R> = Box<dyn FnOnce() -> R + Send + 'static>;

/// A thread that runs tasks one at a time and hands their results back; a task that panics is
/// reported as `Err` (a bug) and the thread goes on. Dropping the handle ends the thread.
pub struct Loader<R: Send + 'static> {
    tasks: Option<Sender<Task<R>>>,
    results: Receiver<Result<R, TaskPanicked>>,
    thread: Option<JoinHandle<()>>,
}

impl<R: Send + 'static> Loader<R> {
    /// Starts the thread; `wake` is called after each result (the GUI's `request_repaint`).
    pub fn spawn(wake: Waker) -> std::io::Result<Self> {
        let (tasks, inbox) = unbounded::<Task<R>>();
        let (results_tx, results) = unbounded();
        let thread = std::thread::Builder::new().name("sdalab-loader".into()).spawn(move || {
            while let Ok(task) = inbox.recv() {
                let result = catch_unwind(AssertUnwindSafe(task))
                    .map_err(|p| TaskPanicked { message: panic_message(p.as_ref()) });
                if results_tx.send(result).is_err() {
                    return;
                }
                wake();
            }
        })?;
        Ok(Self { tasks: Some(tasks), results, thread: Some(thread) })
    }

    /// Queues `task`.
    pub fn load(&self, task: impl FnOnce() -> R + Send + 'static) {
        if let Some(tasks) = &self.tasks {
            // A send fails only when the thread has ended (it never does before the handle).
            let _ = tasks.send(Box::new(task));
        }
    }

    /// The next result, if one is ready.
    pub fn try_result(&self) -> Option<Result<R, TaskPanicked>> {
        self.results.try_recv().ok()
    }

    /// The result channel, for waiting with a timeout.
    pub fn results(&self) -> &Receiver<Result<R, TaskPanicked>> {
        &self.results
    }
}

impl<R: Send + 'static> Drop for Loader<R> {
    fn drop(&mut self) {
        // Closing the task channel ends the thread after the task in hand.
        self.tasks.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

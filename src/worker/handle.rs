//! The GUI-side handle of the worker thread: starting it, sending intents, reading reports.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, unbounded};

use super::control::Control;
use super::execute::{Executor, JobError};
use super::{Command, Event, Frame, Job, JobId};

/// The worker thread itself panicked (outside a job, which would have been contained): a bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the worker thread panicked: {message}")]
pub struct WorkerPanicked {
    pub message: String,
}

/// Called by the worker after each event or frame it sends (the GUI's `request_repaint`).
pub type Waker = Box<dyn Fn() + Send + 'static>;

/// A running worker thread. Dropping the handle shuts the thread down and joins it.
pub struct Worker {
    commands: Sender<Command>,
    events: Receiver<Event>,
    frames: Receiver<Frame>,
    /// The most recent job asked for and not cancelled.
    current: Option<JobId>,
    next_id: JobId,
    /// Whether the last `Pause` command paused (the thread holds the state; this is its echo).
    paused: AtomicBool,
    thread: Option<JoinHandle<()>>,
}

/// The worker side of the channels.
pub(super) struct Outbox {
    events: Sender<Event>,
    frames: Sender<Frame>,
    /// A second receiver of the frame slot, used to drop the unread frame so the newest wins.
    frames_back: Receiver<Frame>,
    wake: Waker,
}

impl Outbox {
    pub(super) fn event(&self, event: Event) {
        // The GUI may have gone; a report nobody reads is not an error.
        let _ = self.events.send(event);
        (self.wake)();
    }

    /// Puts `frame` in the one-slot mailbox, replacing a frame not yet read.
    pub(super) fn frame(&self, frame: Frame) {
        if let Err(TrySendError::Full(frame)) = self.frames.try_send(frame) {
            let _ = self.frames_back.try_recv();
            let _ = self.frames.try_send(frame);
        }
        (self.wake)();
    }
}

impl Worker {
    /// Starts the worker thread; it picks its compute device ([`crate::device::select_device`]).
    pub fn spawn(wake: Waker) -> std::io::Result<Self> {
        let (commands, inbox) = unbounded();
        let (event_tx, events) = unbounded();
        let (frame_tx, frames) = bounded(1);
        let outbox = Outbox { events: event_tx, frames: frame_tx, frames_back: frames.clone(), wake };
        let control = Control::new(inbox);
        let thread =
            std::thread::Builder::new().name("sdalab-worker".into()).spawn(move || serve(&control, &outbox))?;
        Ok(Self {
            commands,
            events,
            frames,
            current: None,
            next_id: 1,
            paused: AtomicBool::new(false),
            thread: Some(thread),
        })
    }

    /// Runs `job`, cancelling the job before it. Returns the new job's id.
    pub fn run(&mut self, job: Job) -> JobId {
        self.cancel();
        let id = self.next_id;
        self.next_id += 1;
        self.current = Some(id);
        // A send fails only when the thread has ended; `Event`s then stop, which the GUI shows.
        let _ = self.commands.send(Command::Run { id, job: Box::new(job) });
        id
    }

    /// Cancels the current job (running or waiting); the worker answers `Event::Cancelled`.
    pub fn cancel(&mut self) {
        if let Some(id) = self.current.take() {
            let _ = self.commands.send(Command::Cancel { through: id });
        }
    }

    /// Pauses (or resumes) the running job after its current step; new jobs start paused too.
    pub fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
        let _ = self.commands.send(Command::Pause(paused));
    }

    /// Whether the worker was last asked to pause.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// While paused, lets the job take one more step.
    pub fn step(&self) {
        let _ = self.commands.send(Command::Step);
    }

    /// The id of the most recent job asked for and not cancelled.
    pub fn current(&self) -> Option<JobId> {
        self.current
    }

    /// The next life-cycle event, if one is waiting.
    pub fn try_event(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// The event channel, for waiting with a timeout.
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// The newest frame not yet read, if any.
    pub fn latest_frame(&self) -> Option<Frame> {
        self.frames.try_recv().ok()
    }

    /// The frame mailbox, for waiting with a timeout.
    pub fn frames(&self) -> &Receiver<Frame> {
        &self.frames
    }

    /// Whether the worker thread is still serving.
    pub fn is_alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Cancels what runs, ends the thread and waits for it.
    pub fn shutdown(mut self) -> Result<(), WorkerPanicked> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), WorkerPanicked> {
        self.cancel();
        let _ = self.commands.send(Command::Shutdown);
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|p| WorkerPanicked { message: panic_message(p.as_ref()) }),
            None => Ok(()),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// The worker thread: runs jobs one at a time until `Shutdown` or until the handle is gone.
fn serve(control: &Control, outbox: &Outbox) {
    let mut executor = Executor::new();
    loop {
        for id in control.take_replaced() {
            outbox.event(Event::Cancelled { job: id });
        }
        if let Some((id, job)) = control.take_next() {
            if control.is_cancelled(id) {
                outbox.event(Event::Cancelled { job: id });
                continue;
            }
            let result = catch_unwind(AssertUnwindSafe(|| executor.run(id, &job, &control.job(id), outbox)));
            let event = match result {
                Ok(Ok(finished)) => Event::Finished(Box::new(finished)),
                Ok(Err(JobError::Cancelled)) => Event::Cancelled { job: id },
                Ok(Err(e)) => Event::Failed { job: id, reason: e.to_string() },
                Err(panic) => {
                    // The executor's caches may be half-updated: start from a fresh one.
                    executor = Executor::new();
                    Event::Failed {
                        job: id,
                        reason: format!("internal error (a bug): {}", panic_message(panic.as_ref())),
                    }
                }
            };
            outbox.event(event);
            continue;
        }
        if control.finished() || !control.wait() {
            return;
        }
    }
}

pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".into()
    }
}

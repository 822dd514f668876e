//! The worker thread's side of the command channel: which job runs next, which are cancelled,
//! and the pacing of a paused job, all from [`Command`]s read as they arrive.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use super::{Command, Job, JobId};
use crate::cancel::Cancellation;

/// How long a paused job waits for a command before looking again.
const PAUSED_POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Default)]
struct State {
    paused: bool,
    /// Steps allowed while paused.
    allowance: usize,
    /// The newest job asked for: every older one is cancelled.
    newest: JobId,
    cancelled_through: JobId,
    /// The job to run next, not started yet.
    next: Option<(JobId, Box<Job>)>,
    /// Jobs replaced before they started (to be reported as cancelled).
    replaced: Vec<JobId>,
    shutdown: bool,
    /// The command channel is closed: the handle is gone.
    disconnected: bool,
}

impl State {
    fn apply(&mut self, command: Command) {
        match command {
            Command::Run { id, job } => {
                self.newest = self.newest.max(id);
                if let Some((old, _)) = self.next.replace((id, job)) {
                    self.replaced.push(old);
                }
            }
            Command::Cancel { through } => self.cancelled_through = self.cancelled_through.max(through),
            Command::Pause(paused) => {
                self.paused = paused;
                self.allowance = 0;
            }
            Command::Step => {
                if self.paused {
                    self.allowance += 1;
                }
            }
            Command::Shutdown => self.shutdown = true,
        }
    }

    fn cancelled(&self, id: JobId) -> bool {
        self.shutdown || self.disconnected || id <= self.cancelled_through || id < self.newest
    }
}

/// The command channel and what it has said so far.
pub(super) struct Control {
    inbox: Receiver<Command>,
    state: Mutex<State>,
}

impl Control {
    pub(super) fn new(inbox: Receiver<Command>) -> Self {
        Self { inbox, state: Mutex::new(State::default()) }
    }

    /// The state with every waiting command applied.
    fn drained(&self) -> MutexGuard<'_, State> {
        self.received(None)
    }

    /// The state with `first` (a command just received) and then every waiting command applied,
    /// in the order they were sent.
    fn received(&self, first: Option<Command>) -> MutexGuard<'_, State> {
        // The state is plain fields, valid whatever a panicking holder left.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(command) = first {
            state.apply(command);
        }
        loop {
            match self.inbox.try_recv() {
                Ok(command) => state.apply(command),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    state.disconnected = true;
                    break;
                }
            }
        }
        state
    }

    /// Blocks (between jobs) until a command arrives; `false` once the channel is closed.
    pub(super) fn wait(&self) -> bool {
        match self.inbox.recv() {
            Ok(command) => {
                drop(self.received(Some(command)));
                true
            }
            Err(_) => false,
        }
    }

    /// The job to run next, if one was asked for.
    pub(super) fn take_next(&self) -> Option<(JobId, Box<Job>)> {
        self.drained().next.take()
    }

    /// Jobs replaced before they started, to report as cancelled.
    pub(super) fn take_replaced(&self) -> Vec<JobId> {
        std::mem::take(&mut self.drained().replaced)
    }

    pub(super) fn is_cancelled(&self, id: JobId) -> bool {
        self.drained().cancelled(id)
    }

    /// Whether the thread should end.
    pub(super) fn finished(&self) -> bool {
        let state = self.drained();
        state.shutdown || state.disconnected
    }

    /// The view of the running job `id`.
    pub(super) fn job(&self, id: JobId) -> JobControl<'_> {
        JobControl { control: self, id }
    }
}

/// What the running job asks its commands: whether to stop, and when it may take its next step.
pub(super) struct JobControl<'a> {
    control: &'a Control,
    id: JobId,
}

impl JobControl<'_> {
    /// After a step: blocks while paused with no step allowed, until resumed, stepped or
    /// cancelled.
    pub(super) fn wait_turn(&self) {
        loop {
            {
                let mut state = self.control.drained();
                if state.cancelled(self.id) || !state.paused {
                    return;
                }
                if state.allowance > 0 {
                    state.allowance -= 1;
                    return;
                }
            }
            match self.control.inbox.recv_timeout(PAUSED_POLL) {
                Ok(command) => drop(self.control.received(Some(command))),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

impl Cancellation for JobControl<'_> {
    fn is_cancelled(&self) -> bool {
        self.control.is_cancelled(self.id)
    }
}

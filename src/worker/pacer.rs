//! Pausing a running job between sampler steps, and letting it go one step at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, Default)]
struct State {
    paused: bool,
    /// Steps allowed while paused.
    allowance: usize,
}

/// Shared by the [`super::Worker`] handle (which pauses, resumes and steps) and the running job
/// (which waits for its turn after each step).
#[derive(Debug, Default)]
pub struct Pacer {
    state: Mutex<State>,
    changed: Condvar,
}

impl Pacer {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is two plain fields, valid whatever a panicking holder left.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_paused(&self, paused: bool) {
        let mut s = self.lock();
        s.paused = paused;
        s.allowance = 0;
        self.changed.notify_all();
    }

    pub fn is_paused(&self) -> bool {
        self.lock().paused
    }

    /// While paused, lets the job take one more step.
    pub fn step(&self) {
        let mut s = self.lock();
        if s.paused {
            s.allowance += 1;
        }
        self.changed.notify_all();
    }

    /// Blocks while paused with no step allowed, until resumed, stepped or `cancel` is raised.
    pub(super) fn wait_turn(&self, cancel: &AtomicBool) {
        let mut s = self.lock();
        while s.paused && s.allowance == 0 && !cancel.load(Ordering::Relaxed) {
            s = self.changed.wait_timeout(s, Duration::from_millis(20)).unwrap_or_else(|e| e.into_inner()).0;
        }
        if s.paused && s.allowance > 0 {
            s.allowance -= 1;
        }
    }
}

//! Asking long work to stop: the sampler, 4D-Var and the worker's pacing check a
//! [`Cancellation`] before each unit of work (a network evaluation, an L-BFGS iteration).

use std::sync::atomic::{AtomicBool, Ordering};

/// Something long work asks, before each unit of it, whether to stop.
pub trait Cancellation: Sync {
    fn is_cancelled(&self) -> bool;
}

/// A flag raised by whoever wants the work stopped.
impl Cancellation for AtomicBool {
    fn is_cancelled(&self) -> bool {
        self.load(Ordering::Relaxed)
    }
}

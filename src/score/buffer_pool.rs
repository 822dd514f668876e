//! Reusable vectors for the direct kernels, so a network call does not fault in fresh pages for
//! every activation it computes.

use std::sync::Mutex;

use candle_core::WithDType;

/// Free vectors, handed out by size: a request takes the shortest free vector that is already
/// long enough (shortened, so nothing is written), else the longest one (lengthened), else a new
/// one. A call's requests repeat from call to call, so after the first call they are met without
/// filling or faulting in memory.
#[derive(Debug)]
pub(super) struct BufferPool<T> {
    free: Mutex<Vec<Vec<T>>>,
}

impl<T> Default for BufferPool<T> {
    fn default() -> Self {
        Self { free: Mutex::new(Vec::new()) }
    }
}

impl<T: WithDType> BufferPool<T> {
    /// A vector of `len` values. Its contents are unspecified: every kernel overwrites its output.
    pub fn take(&self, len: usize) -> Vec<T> {
        let mut v = self
            .free
            .lock()
            .ok()
            .and_then(|mut free| {
                let fits = free
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.len() >= len)
                    .min_by_key(|(_, v)| v.len())
                    .map(|(i, _)| i);
                let largest = || free.iter().enumerate().max_by_key(|(_, v)| v.len()).map(|(i, _)| i);
                let pick = fits.or_else(largest)?;
                Some(free.swap_remove(pick))
            })
            .unwrap_or_default();
        if v.len() > len {
            v.truncate(len);
        } else {
            v.resize(len, T::zero());
        }
        v
    }

    /// Returns a vector to the pool.
    pub fn give(&self, v: Vec<T>) {
        if let Ok(mut free) = self.free.lock() {
            free.push(v);
        }
    }
}

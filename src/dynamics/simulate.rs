//! Seeded ensembles of trajectories, simulated in parallel and reproducibly.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::RngCore;
use rayon::prelude::*;

use super::MarkovChain;
use crate::rng;

/// One trajectory of `length` states (flat, `length·d` values, physical units): a draw from the
/// initial prior, `burn_in` transitions that are discarded, then `length` recorded states.
pub fn simulate_trajectory(chain: &dyn MarkovChain, length: usize, burn_in: usize, rng: &mut dyn RngCore) -> Vec<f64> {
    chain.simulate(length, burn_in, rng)
}

/// `samples` independent trajectories, shape `(samples, length, d)` flattened. Trajectory `n`
/// uses random stream `n` of `seed`, so the result does not depend on the number of threads.
/// `progress` is called with the number of trajectories finished so far.
pub fn simulate_ensemble(
    chain: &dyn MarkovChain,
    length: usize,
    samples: usize,
    burn_in: usize,
    seed: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<f64> {
    simulate_range(chain, length, 0..samples, burn_in, seed, progress)
}

/// Most transitions of burn-in a request may ask for: far beyond any system's need (the bundled
/// ones use at most a few thousand) and still seconds of work per trajectory.
pub const MAX_BURN_IN: usize = 1_000_000;

/// Trajectories `range` of the ensemble [`simulate_ensemble`] draws from `seed` (the same values
/// it holds at those places), so a long ensemble can be simulated in parts.
pub fn simulate_range(
    chain: &dyn MarkovChain,
    length: usize,
    range: std::ops::Range<usize>,
    burn_in: usize,
    seed: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<f64> {
    let done = AtomicU64::new(0);
    let trajectories: Vec<Vec<f64>> = range
        .into_par_iter()
        .map(|n| {
            let mut rng = rng::stream(seed, n as u64);
            let trajectory = simulate_trajectory(chain, length, burn_in, &mut rng);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            trajectory
        })
        .collect();
    trajectories.concat()
}

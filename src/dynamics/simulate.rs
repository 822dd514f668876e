//! Seeded ensembles of trajectories, simulated in parallel and reproducibly.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::RngCore;
use rayon::prelude::*;

use super::MarkovChain;
use crate::rng;

/// One trajectory of `length` states (flat, `length·d` values, physical units): a draw from the
/// initial prior, `burn_in` transitions that are discarded, then `length` recorded states.
pub fn simulate_trajectory(chain: &dyn MarkovChain, length: usize, burn_in: usize, rng: &mut dyn RngCore) -> Vec<f64> {
    let d = chain.state_dim();
    let mut x = vec![0.0; d];
    let mut next = vec![0.0; d];
    chain.sample_initial(rng, &mut x);
    for _ in 0..burn_in {
        chain.transition(&x, rng, &mut next);
        std::mem::swap(&mut x, &mut next);
    }
    let mut out = Vec::with_capacity(length * d);
    for i in 0..length {
        if i > 0 {
            chain.transition(&x, rng, &mut next);
            std::mem::swap(&mut x, &mut next);
        }
        out.extend_from_slice(&x);
    }
    out
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
    let done = AtomicU64::new(0);
    let trajectories: Vec<Vec<f64>> = (0..samples)
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

//! The bootstrap particle smoother: propagate with the model, weight by the likelihood, resample
//! whole ancestral paths at every observation time (a smoother by genealogy).

use rand::Rng;
use rayon::prelude::*;

use crate::dynamics::MarkovChain;
use crate::observe::Observation;
use crate::rng;

/// How resampling draws ancestors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resampling {
    /// Independent draws from the weights.
    Multinomial,
    /// One uniform offset, evenly spaced: lower variance.
    Systematic,
}

/// Settings of a bootstrap particle smoother run.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticleSmoother {
    /// Particles propagated.
    pub particles: usize,
    /// Whole paths returned at the end (drawn from the final weighted set).
    pub keep: usize,
    pub resampling: Resampling,
    pub seed: u64,
}

/// The smoother's output.
#[derive(Debug, Clone)]
pub struct ParticleSmoothing {
    /// `keep` whole trajectories, flat `[keep, length, d]`, physical units.
    pub paths: Vec<f64>,
    /// `(state index, effective sample size before resampling)` at every observed state.
    pub ess: Vec<(usize, f64)>,
    /// Distinct ancestors of state 0 among the kept paths (genealogy degeneracy).
    pub distinct_roots: usize,
    /// Estimated `log p(y)`.
    pub log_evidence: f64,
}

impl ParticleSmoother {
    /// Runs over a trajectory of `length` states. Particles start from the initial prior followed
    /// by the chain's burn-in (the distribution twin-experiment truths are drawn from).
    /// `progress` is called with the number of states processed.
    pub fn run(
        &self,
        chain: &dyn MarkovChain,
        length: usize,
        observations: &[Observation],
        progress: &(dyn Fn(usize) + Sync),
    ) -> ParticleSmoothing {
        let d = chain.state_dim();
        let m = self.particles.max(1);
        let burn_in = chain.default_burn_in();
        let by_time = crate::observe::by_state(observations, length);
        // paths[i] holds particle i's whole history so far (t·d values).
        let mut paths: Vec<Vec<f64>> = (0..m)
            .into_par_iter()
            .map(|i| {
                let mut r = rng::keyed_stream(self.seed, rng::purpose::PARTICLES, i as u64);
                let mut path = Vec::with_capacity(length * d);
                path.extend(crate::dynamics::simulate_trajectory(chain, 1, burn_in, &mut r));
                path
            })
            .collect();
        // Roots: which initial particle each path descends from.
        let mut roots: Vec<usize> = (0..m).collect();
        let mut log_weights = vec![0.0; m];
        let mut ess = Vec::new();
        let mut log_evidence = 0.0;
        let mut resampler = rng::keyed_stream(self.seed, rng::purpose::PARTICLES, u64::MAX);
        for t in 0..length {
            if t > 0 {
                paths.par_iter_mut().enumerate().for_each(|(i, path)| {
                    let mut r = rng::keyed_stream(self.seed, rng::purpose::PARTICLES, (t * m + i) as u64 + m as u64);
                    let mut next = vec![0.0; d];
                    chain.transition(&path[(t - 1) * d..t * d], &mut r, &mut next);
                    path.extend_from_slice(&next);
                });
            }
            if !by_time[t].is_empty() {
                let increments: Vec<f64> = paths
                    .par_iter()
                    .map(|path| by_time[t].iter().map(|o| o.log_likelihood(path, d)).sum::<f64>())
                    .collect();
                for (w, inc) in log_weights.iter_mut().zip(&increments) {
                    *w += inc;
                }
                let (normalised, log_mean) = normalise(&log_weights);
                log_evidence += log_mean;
                ess.push((t, 1.0 / normalised.iter().map(|w| w * w).sum::<f64>()));
                let ancestors = draw(&normalised, m, self.resampling, &mut resampler);
                paths = ancestors.iter().map(|&a| paths[a].clone()).collect();
                roots = ancestors.iter().map(|&a| roots[a]).collect();
                log_weights.iter_mut().for_each(|w| *w = 0.0);
            }
            progress(t + 1);
        }
        let (normalised, _) = normalise(&log_weights);
        let chosen = draw(&normalised, self.keep.max(1), Resampling::Multinomial, &mut resampler);
        let mut distinct: Vec<usize> = chosen.iter().map(|&i| roots[i]).collect();
        distinct.sort_unstable();
        distinct.dedup();
        ParticleSmoothing {
            paths: chosen.iter().flat_map(|&i| paths[i].iter().copied()).collect(),
            ess,
            distinct_roots: distinct.len(),
            log_evidence,
        }
    }
}

/// Normalised weights from log-weights, and the log of their mean (the evidence increment).
fn normalise(log_weights: &[f64]) -> (Vec<f64>, f64) {
    let max = log_weights.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        let n = log_weights.len() as f64;
        return (vec![1.0 / n; log_weights.len()], f64::NEG_INFINITY);
    }
    let w: Vec<f64> = log_weights.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = w.iter().sum();
    let log_mean = max + (sum / w.len() as f64).ln();
    (w.into_iter().map(|v| v / sum).collect(), log_mean)
}

/// `n` ancestor indices drawn from normalised `weights`.
fn draw(weights: &[f64], n: usize, scheme: Resampling, r: &mut rng::SeededRng) -> Vec<usize> {
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in weights {
        acc += w;
        cumulative.push(acc);
    }
    let total = acc;
    let pick = |u: f64| cumulative.partition_point(|c| *c < u * total).min(weights.len() - 1);
    match scheme {
        Resampling::Multinomial => (0..n).map(|_| pick(r.random::<f64>())).collect(),
        Resampling::Systematic => {
            let offset: f64 = r.random();
            (0..n).map(|i| pick((i as f64 + offset) / n as f64)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_resampling_is_proportional() {
        let weights = [0.5, 0.25, 0.125, 0.125];
        let mut r = rng::stream(0, 0);
        let a = draw(&weights, 8, Resampling::Systematic, &mut r);
        let counts: Vec<usize> = (0..4).map(|k| a.iter().filter(|&&i| i == k).count()).collect();
        assert_eq!(counts, vec![4, 2, 1, 1]);
    }

    #[test]
    fn normalising_log_weights_is_stable() {
        let (w, log_mean) = normalise(&[-1000.0, -1000.0 + 2f64.ln()]);
        assert!((w[0] - 1.0 / 3.0).abs() < 1e-12 && (w[1] - 2.0 / 3.0).abs() < 1e-12);
        assert!((log_mean - (-1000.0 + 1.5f64.ln())).abs() < 1e-9);
    }
}

//! Climate statistics of an ensemble of trajectories: what unconditional samples of a score model
//! are compared on against the simulator's own trajectories.
//!
//! For state vectors (Lorenz systems): per-component mean and standard deviation, lag-1
//! autocorrelation along time and the mean transition log-density. For vorticity fields: the
//! energy per wavenumber shell, tail quantiles, the largest |ω| and the enstrophy.

use crate::dynamics::MarkovChain;
use crate::dynamics::spectral2d::SpectralGrid;

use super::mean_log_prior;
use crate::ensemble::Ensemble;

/// Statistics of an ensemble of state-vector trajectories `[members, length, d]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryClimate {
    /// Per component, over all members and states.
    pub means: Vec<f64>,
    pub stds: Vec<f64>,
    /// Per component: correlation of consecutive states, pooled over members.
    pub lag1: Vec<f64>,
    /// Mean `log p(x_{i+1} | x_i)` under the simulator's transition model.
    pub log_density: Option<f64>,
}

impl TrajectoryClimate {
    /// Statistics pooled over the members and states of `trajectories` of the chain; `None` for
    /// an empty ensemble, trajectories of one state, or states of another size than the chain's.
    pub fn of(chain: &dyn MarkovChain, trajectories: &Ensemble) -> Option<Self> {
        let d = chain.state_dim();
        let length = trajectories.length();
        let cells = length * d;
        if length < 2 || trajectories.members() == 0 || trajectories.state_dim() != d {
            return None;
        }
        let ensemble = trajectories.values();
        let count = (ensemble.len() / d) as f64;
        let mut means = vec![0.0; d];
        for state in ensemble.chunks_exact(d) {
            means.iter_mut().zip(state).for_each(|(m, v)| *m += v / count);
        }
        let mut stds = vec![0.0; d];
        for state in ensemble.chunks_exact(d) {
            stds.iter_mut().zip(state).zip(&means).for_each(|((s, v), m)| *s += (v - m).powi(2) / count);
        }
        stds.iter_mut().for_each(|s| *s = s.sqrt());
        // Lag-1: covariance of (x_t, x_{t+1}) over all consecutive pairs, scaled by the variance.
        let mut lag1 = vec![0.0; d];
        let pairs = (ensemble.len() / cells * (length - 1)) as f64;
        for member in ensemble.chunks_exact(cells) {
            for (a, b) in member.chunks_exact(d).zip(member.chunks_exact(d).skip(1)) {
                for i in 0..d {
                    lag1[i] += (a[i] - means[i]) * (b[i] - means[i]) / pairs;
                }
            }
        }
        lag1.iter_mut().zip(&stds).for_each(|(c, s)| *c /= (s * s).max(f64::MIN_POSITIVE));
        Some(Self { means, stds, lag1, log_density: mean_log_prior(chain, trajectories) })
    }

    /// Mean over components of this ensemble's std over `reference`'s.
    pub fn std_ratio(&self, reference: &TrajectoryClimate) -> f64 {
        let ratios: Vec<f64> = self.stds.iter().zip(&reference.stds).map(|(a, b)| a / b).collect();
        ratios.iter().sum::<f64>() / ratios.len().max(1) as f64
    }

    /// The largest relative difference of a component's std from `reference`'s.
    pub fn worst_std_error(&self, reference: &TrajectoryClimate) -> f64 {
        self.stds.iter().zip(&reference.stds).map(|(a, b)| (a / b - 1.0).abs()).fold(0.0, f64::max)
    }
}

/// Statistics of a set of square vorticity fields (`states`, each `n × n`, row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldClimate {
    /// Mean energy per wavenumber shell k = 0 … n/2.
    pub energy: Vec<f64>,
    /// Vorticity quantiles at 0.1% and 99.9%.
    pub q001: f64,
    pub q999: f64,
    pub std: f64,
    /// Largest |ω| of any cell.
    pub max_abs: f64,
    /// Mean enstrophy ½⟨ω²⟩ per field.
    pub enstrophy: f64,
}

impl FieldClimate {
    /// `None` when there is no whole field in `states`.
    pub fn of(grid: &SpectralGrid, states: &[f64]) -> Option<Self> {
        let d = grid.n() * grid.n();
        let count = states.len() / d;
        if count == 0 || !states.len().is_multiple_of(d) {
            return None;
        }
        let mut energy = vec![0.0; grid.n() / 2 + 1];
        for state in states.chunks_exact(d) {
            for (total, e) in energy.iter_mut().zip(grid.energy_spectrum(&grid.to_spectral(state))) {
                *total += e / count as f64;
            }
        }
        let n = states.len() as f64;
        let mean = states.iter().sum::<f64>() / n;
        let std = (states.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        let enstrophy = 0.5 * states.iter().map(|v| v * v).sum::<f64>() / n;
        let max_abs = states.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let mut sorted = states.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        Some(Self { energy, q001: at(0.001), q999: at(0.999), std, max_abs, enstrophy })
    }

    /// Energy ratio to `reference` per shell k = 1 … `max_k`.
    pub fn energy_ratios(&self, reference: &FieldClimate, max_k: usize) -> Vec<f64> {
        (1..=max_k.min(self.energy.len() - 1)).map(|k| self.energy[k] / reference.energy[k]).collect()
    }

    /// The largest factor (ratio or its inverse) between the spectra at shells k = 1 … `max_k`.
    pub fn worst_energy_factor(&self, reference: &FieldClimate, max_k: usize) -> f64 {
        self.energy_ratios(reference, max_k).iter().map(|r| r.max(1.0 / r)).fold(1.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::{Lorenz63, simulate_ensemble};

    /// A stationary AR(1) chain has lag-1 autocorrelation a and std 1/sqrt(1 − a²): the statistics
    /// recover both from a long sample of it laid out as a Lorenz-63 ensemble.
    #[test]
    fn trajectory_statistics_recover_an_ar1_process() {
        use rand::Rng;
        use rand_distr::StandardNormal;
        let chain = Lorenz63::new();
        let (a, length, members) = (0.8_f64, 200, 200);
        let mut rng = crate::rng::stream(5, 0);
        let stationary = 1.0 / (1.0 - a * a).sqrt();
        let mut ensemble = Vec::with_capacity(members * length * 3);
        for _ in 0..members {
            let mut x: Vec<f64> = (0..3).map(|_| stationary * rng.sample::<f64, _>(StandardNormal)).collect();
            for _ in 0..length {
                ensemble.extend_from_slice(&x);
                x.iter_mut().for_each(|v| *v = a * *v + rng.sample::<f64, _>(StandardNormal));
            }
        }
        let ensemble = Ensemble::from_trajectories(ensemble, length, &[3]).expect("whole trajectories");
        let climate = TrajectoryClimate::of(&chain, &ensemble).expect("whole trajectories");
        for i in 0..3 {
            assert!((climate.lag1[i] - a).abs() < 0.02, "lag-1 {} vs {a}", climate.lag1[i]);
            assert!((climate.stds[i] / stationary - 1.0).abs() < 0.05, "std {} vs {stationary}", climate.stds[i]);
            assert!(climate.means[i].abs() < 0.1, "mean {}", climate.means[i]);
        }
        // An AR(1) process is not Lorenz-63: its transitions are far less likely under the
        // simulator's model than the simulator's own (mean log-density about +1.3).
        let lp = climate.log_density.unwrap_or(f64::NAN);
        assert!(lp < -10.0, "transition log-density {lp}");
    }

    /// Simulator trajectories score as the simulator: same statistics as a second independent
    /// draw within sampling error, and a transition log-density near the noise's entropy bound.
    #[test]
    fn two_simulator_draws_agree() {
        let chain = Lorenz63::new();
        let length = 65;
        let draw = |seed| {
            let values = simulate_ensemble(&chain, length, 512, 1024, seed, &|_| {});
            Ensemble::from_trajectories(values, length, &[3]).expect("whole trajectories")
        };
        let (a, b) = (draw(1), draw(2));
        let (a, b) = (TrajectoryClimate::of(&chain, &a), TrajectoryClimate::of(&chain, &b));
        let (a, b) = (a.expect("whole"), b.expect("whole"));
        assert!(a.worst_std_error(&b) < 0.08, "{:?} vs {:?}", a.stds, b.stds);
        for (x, y) in a.lag1.iter().zip(&b.lag1) {
            assert!((x - y).abs() < 0.02 && *x > 0.9, "lag-1 {x} vs {y}");
        }
        let (la, lb) = (a.log_density.unwrap_or(f64::NAN), b.log_density.unwrap_or(f64::NAN));
        assert!((la - lb).abs() < 0.1, "log-densities {la} vs {lb}");
    }

    /// A single Fourier mode: its energy sits in its shell with the closed-form value (k = 4 puts cells on both extremes), and the
    /// field's std, enstrophy and extremes are those of a sinusoid.
    #[test]
    fn field_statistics_of_a_sinusoid() {
        let n = 32;
        let grid = SpectralGrid::new(n);
        let k = 4.0;
        let field: Vec<f64> =
            (0..n * n).map(|i| (2.0 * std::f64::consts::PI * k * (i % n) as f64 / n as f64).cos() * 2.0).collect();
        let climate = FieldClimate::of(&grid, &field).expect("one field");
        // ω = 2 cos(kx): ψ-energy ½ Σ|ω̂|²/k² / N⁴ = ½ · 2 · (N²)² / k² / N⁴ = 1/k².
        assert!((climate.energy[4] - 1.0 / (k * k)).abs() < 1e-9, "{:?}", &climate.energy[..6]);
        assert!(climate.energy.iter().enumerate().all(|(s, e)| s == 4 || e.abs() < 1e-12));
        assert!((climate.std - 2.0_f64.sqrt()).abs() < 1e-9);
        assert!((climate.enstrophy - 1.0).abs() < 1e-9);
        assert!((climate.max_abs - 2.0).abs() < 1e-9);
        assert!((climate.q999 - 2.0).abs() < 1e-9 && (climate.q001 + 2.0).abs() < 1e-9);
        let half = FieldClimate::of(&grid, &field.iter().map(|v| v / 2.0).collect::<Vec<_>>()).expect("one field");
        assert!((half.worst_energy_factor(&climate, 8) - 4.0).abs() < 1e-9);
    }
}

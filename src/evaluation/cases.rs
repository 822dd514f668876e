//! The test cases of the Lorenz-63 study: a seeded truth of [`LENGTH`] states observed in `x`,
//! sparsely and precisely ("lo") or densely and noisily ("hi").

use crate::dynamics::{Lorenz63, MarkovChain, System};
use crate::observe::OperatorKind;
use crate::scenario::{Scenario, ScenarioError, TwinSpec, twin_experiment};

/// Trajectory length of every case.
pub const LENGTH: usize = 65;

/// How a case observes its truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Regime {
    /// `x` every 8th state, std 0.05 in network space.
    Lo,
    /// `x` every state, std 0.25 in network space.
    Hi,
}

impl Regime {
    pub const ALL: [Regime; 2] = [Regime::Lo, Regime::Hi];

    pub fn name(self) -> &'static str {
        match self {
            Regime::Lo => "lo",
            Regime::Hi => "hi",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Observe every n-th state.
    pub fn every(self) -> usize {
        match self {
            Regime::Lo => 8,
            Regime::Hi => 1,
        }
    }

    /// Observation noise std in network space (multiply by the `x` scale for physical units).
    pub fn network_std(self) -> f64 {
        match self {
            Regime::Lo => 0.05,
            Regime::Hi => 0.25,
        }
    }

    /// Observation noise std in physical units.
    pub fn physical_std(self) -> f64 {
        self.network_std() * Lorenz63::new().normalisation().scale()[0]
    }

    /// One line for tables and figure captions.
    pub fn describe(self) -> String {
        let every = match self.every() {
            1 => "every state".to_string(),
            n => format!("every {n}th state"),
        };
        format!("{}: x {every}, σ = {:.2}", self.name(), self.physical_std())
    }
}

/// Case `case` (0-based) in `regime`: the truth is simulated from seed `seed + case` after the
/// system's burn-in, so both regimes of a case share one truth.
pub fn lorenz63_case(case: usize, regime: Regime, seed: u64) -> Result<Scenario, ScenarioError> {
    let spec = TwinSpec {
        length: LENGTH,
        every: regime.every(),
        offset: 0,
        kind: OperatorKind::Identity,
        indices: vec![0],
        std: regime.physical_std(),
        seed: seed.wrapping_add(case as u64),
        burn_in: None,
    };
    twin_experiment(System::Lorenz63(Lorenz63::new()), &spec)
}

/// Seed of particle run `run` (1 or 2) of a case: independent of the truth's and of each other.
pub fn particle_seed(seed: u64, case: usize, regime: Regime, run: u64) -> u64 {
    let case_seed = seed.wrapping_add(case as u64);
    case_seed.wrapping_mul(4).wrapping_add(2 * (regime as u64)).wrapping_add(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regimes_share_the_truth_and_follow_the_protocol() {
        let lo = lorenz63_case(3, Regime::Lo, 100).unwrap();
        let hi = lorenz63_case(3, Regime::Hi, 100).unwrap();
        assert_eq!(lo.truth, hi.truth);
        assert_eq!(lo.observations.len(), 9);
        assert_eq!(hi.observations.len(), 65);
        assert!((Regime::Lo.physical_std() / Regime::Hi.physical_std() - 0.2).abs() < 1e-12);
        assert_ne!(lorenz63_case(4, Regime::Lo, 100).unwrap().truth, lo.truth);
        let seeds: Vec<u64> = [(0, Regime::Lo, 1), (0, Regime::Lo, 2), (0, Regime::Hi, 1), (1, Regime::Lo, 1)]
            .iter()
            .map(|&(c, r, run)| particle_seed(7, c, r, run))
            .collect();
        let mut distinct = seeds.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), seeds.len());
    }
}

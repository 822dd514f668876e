//! Scores of an ensemble of whole trajectories: physical plausibility, fit to the observations,
//! and skill against a known truth.

use crate::dynamics::MarkovChain;
use crate::ensemble::{Ensemble, Value};
use crate::observe::Observation;

/// Mean transition log-density `log p(x_{i+1} | x_i)` over all members and transitions of an
/// ensemble of the chain's trajectories (physical units). `None` for trajectories of one state.
pub fn mean_log_prior<T: Value>(chain: &dyn MarkovChain, ensemble: &Ensemble<T>) -> Option<f64> {
    if ensemble.length() < 2 || ensemble.members() == 0 {
        return None;
    }
    let total: f64 = ensemble
        .trajectories()
        .map(|values| {
            let trajectory: Vec<f64> = values.iter().map(|v| v.to_f64()).collect();
            chain.trajectory_log_prior(&trajectory)
        })
        .sum();
    Some(total / (ensemble.members() * (ensemble.length() - 1)) as f64)
}

/// The scores a method comparison tabulates for one ensemble of whole trajectories.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnsembleScores {
    /// RMSE of the ensemble mean against the truth, when the truth is known.
    pub rmse: Option<f64>,
    /// Root mean ensemble variance over all values (unbiased); `None` for a single member.
    pub spread: Option<f64>,
    /// Mean over members of `log p(y | x)`.
    pub log_likelihood: Option<f64>,
}

impl EnsembleScores {
    /// Scores of `ensemble` (physical units) against a truth, where known, and the observations.
    pub fn of<T: Value>(ensemble: &Ensemble<T>, truth: Option<&[f64]>, observations: &[Observation]) -> Self {
        let skill = truth.and_then(|t| ensemble.skill(t));
        let rmse = match (skill, truth) {
            (Some(s), _) => Some(s.rmse),
            // One member: the error of the member itself.
            (None, Some(t)) if ensemble.members() == 1 && t.len() == ensemble.per_member() => {
                let mean = ensemble.mean();
                Some((mean.iter().zip(t).map(|(m, v)| (m - v).powi(2)).sum::<f64>() / t.len() as f64).sqrt())
            }
            (None, _) => None,
        };
        let spread = (ensemble.members() >= 2)
            .then(|| (ensemble.std().iter().map(|s| s * s).sum::<f64>() / ensemble.per_member().max(1) as f64).sqrt());
        Self { rmse, spread, log_likelihood: ensemble.mean_log_likelihood(observations) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_of_a_two_member_ensemble() {
        // Members (0, 2) and (2, 4): means (1, 3), variances 2 and 2; truth (1, 5).
        let e = Ensemble::new(vec![0.0, 2.0, 2.0, 4.0], 2, 2, &[1]).unwrap();
        let scores = EnsembleScores::of(&e, Some(&[1.0, 5.0]), &[]);
        assert!((scores.rmse.unwrap() - 2f64.sqrt()).abs() < 1e-12);
        assert!((scores.spread.unwrap() - 2f64.sqrt()).abs() < 1e-12);
        let one = EnsembleScores::of(&e.first(1), Some(&[1.0, 5.0]), &[]);
        assert_eq!((one.rmse, one.spread), (Some((0.5f64 + 4.5).sqrt()), None));
    }
}

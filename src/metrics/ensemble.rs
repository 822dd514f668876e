//! Scores of an ensemble of whole trajectories: physical plausibility, fit to the observations,
//! and skill against a known truth.

use crate::dynamics::MarkovChain;
use crate::observe::{self, Observation};

/// Mean transition log-density `log p(x_{i+1} | x_i)` over all members and transitions of a flat
/// ensemble `[members, length, d]` (physical units). `None` for trajectories of one state.
pub fn mean_log_prior(chain: &dyn MarkovChain, ensemble: &[f64], length: usize) -> Option<f64> {
    let d = chain.state_dim();
    if length < 2 || ensemble.is_empty() {
        return None;
    }
    let members = ensemble.len() / (length * d);
    let total: f64 = ensemble.chunks_exact(length * d).map(|traj| chain.trajectory_log_prior(traj)).sum();
    Some(total / (members * (length - 1)) as f64)
}

/// Mean over members of `log p(y | x)` (all observations of one trajectory summed).
pub fn mean_log_likelihood(observations: &[Observation], ensemble: &[f64], length: usize, d: usize) -> Option<f64> {
    if ensemble.is_empty() {
        return None;
    }
    let per: Vec<f64> =
        ensemble.chunks_exact(length * d).map(|traj| observe::log_likelihood(observations, traj, d)).collect();
    Some(per.iter().sum::<f64>() / per.len() as f64)
}

/// Error of the ensemble mean and ensemble spread against a truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skill {
    /// Root mean square over all cells of (ensemble mean − truth).
    pub rmse: f64,
    /// Root mean over all cells of the ensemble variance (unbiased).
    pub spread: f64,
}

/// Skill of an ensemble (flat `[members, cells]`) against `truth` (`cells` values).
pub fn skill(ensemble: &[f64], truth: &[f64]) -> Option<Skill> {
    let cells = truth.len();
    if cells == 0 || ensemble.len() < 2 * cells || !ensemble.len().is_multiple_of(cells) {
        return None;
    }
    Some(Skill { rmse: mean_rmse(ensemble, truth), spread: spread(ensemble, cells) })
}

/// Root mean square over cells of (ensemble mean − truth); `ensemble` holds whole multiples of
/// `truth.len()` values, at least one.
fn mean_rmse(ensemble: &[f64], truth: &[f64]) -> f64 {
    let cells = truth.len();
    let n = (ensemble.len() / cells) as f64;
    let sq: f64 = truth
        .iter()
        .enumerate()
        .map(|(c, t)| (ensemble.iter().skip(c).step_by(cells).sum::<f64>() / n - t).powi(2))
        .sum();
    (sq / cells as f64).sqrt()
}

/// Root mean over cells of the unbiased ensemble variance; at least two members of `cells` values.
fn spread(ensemble: &[f64], cells: usize) -> f64 {
    let n = (ensemble.len() / cells) as f64;
    let var: f64 = (0..cells)
        .map(|c| {
            let values = ensemble.iter().skip(c).step_by(cells);
            let mean = values.clone().sum::<f64>() / n;
            values.map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
        })
        .sum();
    (var / cells as f64).sqrt()
}

/// The scores a method comparison tabulates for one ensemble of whole trajectories.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnsembleScores {
    /// RMSE of the ensemble mean against the truth, when the truth is known.
    pub rmse: Option<f64>,
    /// Root mean ensemble variance over all cells (unbiased); `None` for a single member.
    pub spread: Option<f64>,
    /// Mean over members of `log p(y | x)`.
    pub log_likelihood: Option<f64>,
}

impl EnsembleScores {
    /// Scores of a flat ensemble `[members, length, d]` (physical units).
    pub fn of(ensemble: &[f64], truth: Option<&[f64]>, observations: &[Observation], length: usize, d: usize) -> Self {
        let cells = length * d;
        let members = ensemble.len().checked_div(cells).unwrap_or(0);
        let rmse = truth.filter(|t| t.len() == cells && members > 0).map(|t| mean_rmse(ensemble, t));
        let spread = (members >= 2).then(|| spread(ensemble, cells));
        let log_likelihood = (members > 0).then(|| mean_log_likelihood(observations, ensemble, length, d)).flatten();
        Self { rmse, spread, log_likelihood }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_of_a_two_member_ensemble() {
        // Members (0, 2) and (2, 4): means (1, 3), variances 2 and 2; truth (1, 5).
        let s = skill(&[0.0, 2.0, 2.0, 4.0], &[1.0, 5.0]).unwrap();
        assert!((s.rmse - (2.0f64).sqrt()).abs() < 1e-12);
        assert!((s.spread - (2.0f64).sqrt()).abs() < 1e-12);
        let scores = EnsembleScores::of(&[0.0, 2.0, 2.0, 4.0], Some(&[1.0, 5.0]), &[], 2, 1);
        assert_eq!((scores.rmse, scores.spread), (Some(s.rmse), Some(s.spread)));
    }
}

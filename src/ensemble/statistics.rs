//! Per-value statistics over the members of an ensemble, and its skill against a known truth.
//!
//! One convention throughout: the spread is the unbiased standard deviation over members
//! (divisor `N − 1`), zero for a single member.

use super::{Ensemble, Value};

/// Error of the ensemble mean and ensemble spread against a truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skill {
    /// Root mean square over all values of (ensemble mean − truth).
    pub rmse: f64,
    /// Root mean over all values of the ensemble variance (unbiased).
    pub spread: f64,
}

impl<T: Value> Ensemble<T> {
    /// Mean over members of each value of a trajectory (`per_member` values; empty for no members).
    pub fn mean(&self) -> Vec<f64> {
        self.mean_std().0
    }

    /// Standard deviation over members of each value (unbiased; zero for one member).
    pub fn std(&self) -> Vec<f64> {
        self.mean_std().1
    }

    /// [`Self::mean`] and [`Self::std`] in one pass over the values (Welford's update, so a
    /// large common offset does not cancel the spread).
    pub fn mean_std(&self) -> (Vec<f64>, Vec<f64>) {
        if self.members == 0 {
            return (Vec::new(), Vec::new());
        }
        let n = self.per_member();
        let mut mean = vec![0.0; n];
        let mut m2 = vec![0.0; n];
        for (k, member) in self.trajectories().enumerate() {
            let count = (k + 1) as f64;
            for (i, v) in member.iter().enumerate() {
                let v = v.to_f64();
                let delta = v - mean[i];
                mean[i] += delta / count;
                m2[i] += delta * (v - mean[i]);
            }
        }
        let divisor = (self.members.max(2) - 1) as f64;
        let std = m2.iter().map(|s| (s / divisor).max(0.0).sqrt()).collect();
        (mean, std)
    }

    /// For each of `levels` (in [0, 1]), the per-value quantile over members: the order statistic
    /// at rank `round((N − 1)·q)` (nearest rank).
    pub fn quantiles(&self, levels: &[f64]) -> Vec<Vec<f64>> {
        let n = self.per_member();
        let mut out = vec![vec![0.0; n]; levels.len()];
        if self.members == 0 {
            return vec![Vec::new(); levels.len()];
        }
        let mut column = vec![0.0; self.members];
        for i in 0..n {
            for (m, slot) in column.iter_mut().enumerate() {
                *slot = self.values[m * n + i].to_f64();
            }
            column.sort_by(f64::total_cmp);
            for (q, row) in levels.iter().zip(&mut out) {
                let rank = ((self.members - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
                row[i] = column[rank];
            }
        }
        out
    }

    /// RMSE of the mean and spread against `truth` (one trajectory); `None` unless the truth has
    /// a trajectory's values and there are at least two members.
    pub fn skill(&self, truth: &[f64]) -> Option<Skill> {
        if self.members < 2 || truth.len() != self.per_member() || truth.is_empty() {
            return None;
        }
        let (mean, std) = self.mean_std();
        let cells = truth.len() as f64;
        let rmse = (mean.iter().zip(truth).map(|(m, t)| (m - t).powi(2)).sum::<f64>() / cells).sqrt();
        let spread = (std.iter().map(|s| s * s).sum::<f64>() / cells).sqrt();
        Some(Skill { rmse, spread })
    }

    /// Per state: the RMSE of the mean against `truth` and the spread (both root mean squares
    /// over the state's values). Empty unless the truth has a trajectory's values.
    pub fn error_and_spread_by_state(&self, truth: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let d = self.state_dim();
        if self.members == 0 || truth.len() != self.per_member() || d == 0 {
            return (Vec::new(), Vec::new());
        }
        let (mean, std) = self.mean_std();
        let rms =
            |f: &dyn Fn(usize) -> f64, t: usize| ((0..d).map(|c| f(t * d + c).powi(2)).sum::<f64>() / d as f64).sqrt();
        let rmse = (0..self.length).map(|t| rms(&|i| mean[i] - truth[i], t)).collect();
        let spread = (0..self.length).map(|t| rms(&|i| std[i], t)).collect();
        (rmse, spread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_of_a_small_ensemble() {
        // Members (0, 2), (2, 4), (4, 9) of one state of two values, a large common offset added.
        let offset = 1e8;
        let values: Vec<f64> = [0.0, 2.0, 2.0, 4.0, 4.0, 9.0].iter().map(|v| v + offset).collect();
        let e = Ensemble::new(values, 3, 1, &[2]).unwrap();
        let (mean, std) = e.mean_std();
        assert!((mean[0] - (2.0 + offset)).abs() < 1e-6 && (mean[1] - (5.0 + offset)).abs() < 1e-6);
        // Unbiased: Σ(x − x̄)²/(N − 1) = 8/2 and 26/2.
        assert!((std[0] - 2.0).abs() < 1e-9 && (std[1] - 13f64.sqrt()).abs() < 1e-9, "{std:?}");
        let q = e.quantiles(&[0.0, 0.5, 1.0]);
        assert_eq!(q[1], vec![2.0 + offset, 4.0 + offset]);
        assert_eq!((q[0][1], q[2][1]), (2.0 + offset, 9.0 + offset));
        let truth = [1.0 + offset, 5.0 + offset];
        let s = e.skill(&truth).unwrap();
        assert!((s.rmse - (0.5f64).sqrt()).abs() < 1e-6);
        assert!((s.spread - ((4.0 + 13.0) / 2.0f64).sqrt()).abs() < 1e-9);
        assert!(e.first(1).skill(&truth).is_none());
        assert_eq!(e.first(1).std(), vec![0.0, 0.0]);
    }

    #[test]
    fn error_and_spread_are_rms_over_a_state() {
        // Two members of one state with two components: mean (1, 2), unbiased std (√2, 0).
        let e = Ensemble::new(vec![0.0f32, 2.0, 2.0, 2.0], 2, 1, &[2]).unwrap();
        let (rmse, spread) = e.error_and_spread_by_state(&[1.0, 4.0]);
        assert!((rmse[0] - (2.0f64).sqrt()).abs() < 1e-12);
        assert!((spread[0] - 1.0).abs() < 1e-12);
    }
}

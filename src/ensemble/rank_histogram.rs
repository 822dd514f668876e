//! The rank of a known truth among an ensemble's members: flat for a calibrated ensemble.

use super::{Ensemble, Value};

impl<T: Value> Ensemble<T> {
    /// Counts of the truth's rank among the members (the number of members strictly below it),
    /// pooled over every value of the trajectory: `members + 1` bins. All zero unless `truth`
    /// has a trajectory's values.
    pub fn rank_histogram(&self, truth: &[f64]) -> Vec<usize> {
        let mut counts = vec![0; self.members + 1];
        let n = self.per_member();
        if self.members == 0 || truth.len() != n {
            return counts;
        }
        for (i, &t) in truth.iter().enumerate() {
            let below = (0..self.members).filter(|&m| self.values[m * n + i].to_f64() < t).count();
            counts[below] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_count_members_below_the_truth() {
        // Two members (0, 10) and (2, 20); the truth (1, 30) ranks 1 and 2.
        let e = Ensemble::new(vec![0.0f32, 10.0, 2.0, 20.0], 2, 2, &[1]).unwrap();
        assert_eq!(e.rank_histogram(&[1.0, 30.0]), vec![0, 1, 1]);
        assert_eq!(e.rank_histogram(&[1.0]), vec![0, 0, 0]);
        // Three members, two values each; truth [1.5, -1]: ranks 1 and 0.
        let e = Ensemble::new(vec![1.0f32, 0.0, 2.0, 1.0, 3.0, 2.0], 3, 1, &[2]).unwrap();
        assert_eq!(e.rank_histogram(&[1.5, -1.0]), vec![1, 1, 0, 0]);
    }
}

//! How well an ensemble's members explain the observations.

use super::{Ensemble, Value};
use crate::observe::{self, Observation};

impl<T: Value> Ensemble<T> {
    /// Root mean square of `(y − A(x))/σ_y` over every observation of every member (0 without
    /// observations or members).
    pub fn misfit(&self, observations: &[Observation]) -> f64 {
        let d = self.state_dim();
        let mut sum = 0.0;
        let mut n = 0usize;
        let mut member = vec![0.0; self.per_member()];
        for values in self.trajectories() {
            for (slot, v) in member.iter_mut().zip(values) {
                *slot = v.to_f64();
            }
            for o in observations {
                let r = (o.value - o.predict(&member, d)) / o.std;
                sum += r * r;
                n += 1;
            }
        }
        if n == 0 { 0.0 } else { (sum / n as f64).sqrt() }
    }

    /// Mean over members of `log p(y | x)` (all observations of one trajectory summed); `None`
    /// for an empty ensemble.
    pub fn mean_log_likelihood(&self, observations: &[Observation]) -> Option<f64> {
        if self.members == 0 {
            return None;
        }
        let d = self.state_dim();
        let total: f64 = self
            .trajectories()
            .map(|values| {
                let member: Vec<f64> = values.iter().map(|v| v.to_f64()).collect();
                observe::log_likelihood(observations, &member, d)
            })
            .sum();
        Some(total / self.members as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::ObservationOp;

    #[test]
    fn misfit_is_the_rms_standardised_residual() {
        // Two members of two states of one value; x observed at t = 1 as 3 ± 2.
        let e = Ensemble::new(vec![0.0, 1.0, 0.0, 7.0], 2, 2, &[1]).unwrap();
        let obs = [Observation { t: 1, op: ObservationOp::Identity { index: 0 }, value: 3.0, std: 2.0 }];
        // Residuals (3 − 1)/2 = 1 and (3 − 7)/2 = −2: √((1 + 4)/2).
        assert!((e.misfit(&obs) - 2.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(e.misfit(&[]), 0.0);
        let ll = e.mean_log_likelihood(&obs).unwrap();
        let gauss = |r: f64| -0.5 * r * r - (2.0 * (2.0 * std::f64::consts::PI).sqrt()).ln();
        assert!((ll - (gauss(1.0) + gauss(-2.0)) / 2.0).abs() < 1e-12);
    }
}

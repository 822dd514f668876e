//! One scalar observation of one state of a trajectory, and its Gaussian likelihood.

use super::ObservationOp;
use crate::dynamics::linear::LinearObservation;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// `value = A(x_t) + N(0, std²)`, in physical units.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// 0-based state index in the trajectory.
    pub t: usize,
    pub op: ObservationOp,
    pub value: f64,
    pub std: f64,
}

impl Observation {
    /// `A(x_t)` for a flat trajectory of states with `dim` components.
    pub fn predict(&self, trajectory: &[f64], dim: usize) -> f64 {
        self.op.apply(&trajectory[self.t * dim..(self.t + 1) * dim])
    }

    /// `log N(value; A(x_t), std²)`.
    pub fn log_likelihood(&self, trajectory: &[f64], dim: usize) -> f64 {
        let r = (self.value - self.predict(trajectory, dim)) / self.std;
        -0.5 * (r * r + LN_2PI) - self.std.ln()
    }

    /// The observation as a linear row for the exact oracle; `None` if `A` is nonlinear.
    pub fn as_linear(&self, dim: usize) -> Option<LinearObservation> {
        self.op.linear_row(dim).map(|row| LinearObservation { t: self.t, row, value: self.value, std: self.std })
    }
}

/// `log p(y | x)` for a set of independent observations of one trajectory.
pub fn log_likelihood(observations: &[Observation], trajectory: &[f64], dim: usize) -> f64 {
    observations.iter().map(|o| o.log_likelihood(trajectory, dim)).sum()
}

/// The observations of each state of a trajectory of `length` states (later ones are ignored).
pub fn by_state(observations: &[Observation], length: usize) -> Vec<Vec<&Observation>> {
    let mut by_time: Vec<Vec<&Observation>> = vec![Vec::new(); length];
    for o in observations.iter().filter(|o| o.t < length) {
        by_time[o.t].push(o);
    }
    by_time
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_likelihood_is_the_gaussian_density() {
        let o = Observation { t: 1, op: ObservationOp::Square { index: 1 }, value: 5.0, std: 0.5 };
        let traj = [0.0, 0.0, 0.0, 2.0];
        // Residual 5 − 4 = 1, standardised 2: log N = −2 − ln(0.5) − ½ ln 2π.
        let expected = -2.0 - 0.5f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
        assert!((o.log_likelihood(&traj, 2) - expected).abs() < 1e-12);
    }
}

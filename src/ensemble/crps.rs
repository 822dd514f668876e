//! The continuous ranked probability score of an ensemble against a known truth: how far the
//! ensemble's distribution is from the truth, in the data's units (0 for a sharp, right
//! ensemble; the absolute error for a single member), lower is better.

use super::{Ensemble, Value};

/// CRPS of `members` values against `truth`: E|X − y| − ½·E|X − X′| over the empirical
/// distribution, the second term from the sorted values in O(m log m).
pub fn crps(members: &mut [f64], truth: f64) -> f64 {
    let m = members.len();
    if m == 0 {
        return f64::NAN;
    }
    members.sort_by(f64::total_cmp);
    let error = members.iter().map(|x| (x - truth).abs()).sum::<f64>() / m as f64;
    // Σ_{i<j} (x_(j) − x_(i)) = Σ_i x_(i)·(2i − m + 1), 0-based ranks.
    let pairs: f64 = members.iter().enumerate().map(|(i, x)| x * (2.0 * i as f64 - m as f64 + 1.0)).sum();
    error - pairs / (m * m) as f64
}

impl<T: Value> Ensemble<T> {
    /// Per state, the CRPS against `truth` averaged over the state's values. Empty unless the
    /// truth has a trajectory's values.
    pub fn crps_by_state(&self, truth: &[f64]) -> Vec<f64> {
        let (n, d) = (self.per_member(), self.state_dim());
        if self.members == 0 || truth.len() != n || d == 0 {
            return Vec::new();
        }
        let mut column = vec![0.0; self.members];
        (0..self.length)
            .map(|t| {
                let total: f64 = (t * d..(t + 1) * d)
                    .map(|i| {
                        column.iter_mut().enumerate().for_each(|(m, v)| *v = self.values[m * n + i].to_f64());
                        crps(&mut column, truth[i])
                    })
                    .sum();
                total / d as f64
            })
            .collect()
    }

    /// The spread–skill ratio: the root mean square spread over the root mean square error of
    /// the mean, over the whole trajectory; about 1 for a calibrated ensemble, below 1 for an
    /// overconfident one. NaN without a truth or an error.
    pub fn spread_skill(&self, truth: &[f64]) -> f64 {
        let (rmse, spread) = self.error_and_spread_by_state(truth);
        let ms = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64;
        let (error, spread) = (ms(&rmse), ms(&spread));
        if rmse.is_empty() || error == 0.0 { f64::NAN } else { (spread / error).sqrt() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    /// The closed form for a Gaussian N(μ, σ²) (Gneiting & Raftery 2007):
    /// σ·[z(2Φ(z) − 1) + 2φ(z) − 1/√π], z = (y − μ)/σ.
    fn gaussian_crps(mu: f64, sigma: f64, y: f64) -> f64 {
        let z = (y - mu) / sigma;
        let phi = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        let cdf = 0.5 * (1.0 + libm_erf(z / std::f64::consts::SQRT_2));
        sigma * (z * (2.0 * cdf - 1.0) + 2.0 * phi - 1.0 / std::f64::consts::PI.sqrt())
    }

    /// erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), enough for a 1e-3 comparison.
    fn libm_erf(x: f64) -> f64 {
        let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
        let poly =
            t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        (1.0 - poly * (-x * x).exp()).copysign(x)
    }

    #[test]
    fn a_large_gaussian_ensemble_matches_the_closed_form() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let normal = Normal::new(1.5, 2.0).unwrap();
        let mut members: Vec<f64> = (0..40_000).map(|_| normal.sample(&mut rng)).collect();
        for y in [1.5, -0.5, 6.0] {
            let (got, want) = (crps(&mut members, y), gaussian_crps(1.5, 2.0, y));
            // Monte-Carlo error of 40 000 draws: about 0.006 (one standard error).
            assert!((got - want).abs() < 0.025, "y = {y}: {got} vs {want}");
        }
    }

    #[test]
    fn one_member_scores_its_absolute_error_and_a_sharp_right_ensemble_zero() {
        assert_eq!(crps(&mut [3.0], 1.0), 2.0);
        assert_eq!(crps(&mut [2.0; 5], 2.0), 0.0);
        // Two members 0 and 2, truth 0: E|X − y| = 1, ½E|X − X′| = ½·(2·2/4) = 0.5.
        assert!((crps(&mut [2.0, 0.0], 0.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn per_state_scores_and_the_spread_skill_ratio() {
        // Two members of two states of one value: (0, 0) and (2, 4); truth (1, 2).
        let e = Ensemble::new(vec![0.0, 0.0, 2.0, 4.0], 2, 2, &[1]).unwrap();
        let by_state = e.crps_by_state(&[1.0, 2.0]);
        assert!((by_state[0] - 0.5).abs() < 1e-12 && (by_state[1] - 1.0).abs() < 1e-12, "{by_state:?}");
        // The mean is right, so the error is 0: no ratio.
        assert!(e.spread_skill(&[1.0, 2.0]).is_nan());
        let ratio = e.spread_skill(&[2.0, 4.0]);
        // Spread (unbiased) √2 and 2√2, errors 1 and 2: ratio √2.
        assert!((ratio - 2f64.sqrt()).abs() < 1e-12, "{ratio}");
    }
}

//! The variance-preserving cosine noise schedule.

/// `μ(t) = cos(ω t)²`, `ω = arccos(√η)`, `σ(t) = √(1 − μ(t)² + η²)`, `η = 10⁻³`, so that
/// `μ(0) = 1, σ(0) = η, μ(1) = η, σ(1) = 1`. A noised state is `x(t) = μ(t)·x + σ(t)·ε`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpSchedule {
    eta: f64,
    omega: f64,
}

impl VpSchedule {
    pub const ETA: f64 = 1e-3;

    pub fn new() -> Self {
        Self { eta: Self::ETA, omega: Self::ETA.sqrt().acos() }
    }

    pub fn mu(&self, t: f64) -> f64 {
        (self.omega * t).cos().powi(2)
    }

    pub fn sigma(&self, t: f64) -> f64 {
        (1.0 - self.mu(t).powi(2) + self.eta.powi(2)).sqrt()
    }
}

impl VpSchedule {
    /// `(μ(t), σ(t))` element-wise for a tensor of times (differentiable).
    pub fn mu_sigma_tensor(
        &self,
        t: &candle_core::Tensor,
    ) -> candle_core::Result<(candle_core::Tensor, candle_core::Tensor)> {
        let mu = (t * self.omega)?.cos()?.sqr()?;
        let sigma = ((mu.sqr()?.neg()? + (1.0 + self.eta * self.eta))?).sqrt()?;
        Ok((mu, sigma))
    }
}

impl Default for VpSchedule {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_at_0_half_and_1_match_the_closed_form() {
        let s = VpSchedule::new();
        let eta: f64 = 1e-3;
        let omega = eta.sqrt().acos();
        // t = 0: cos(0)² = 1, σ = √(1 − 1 + η²) = η.
        assert!((s.mu(0.0) - 1.0).abs() < 1e-15);
        assert!((s.sigma(0.0) - eta).abs() < 1e-12);
        // t = 1: cos(arccos √η)² = η, σ = √(1 − η² + η²) = 1.
        assert!((s.mu(1.0) - eta).abs() < 1e-15);
        assert!((s.sigma(1.0) - 1.0).abs() < 1e-12);
        // t = ½: cos²(ω/2) = (1 + cos ω)/2 = (1 + √η)/2.
        let mu_half = (1.0 + eta.sqrt()) / 2.0;
        assert!((s.mu(0.5) - mu_half).abs() < 1e-15);
        assert!((s.mu(0.5) - (omega / 2.0).cos().powi(2)).abs() < 1e-15);
        assert!((s.sigma(0.5) - (1.0 - mu_half * mu_half + eta * eta).sqrt()).abs() < 1e-15);
    }
}

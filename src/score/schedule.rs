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

impl Default for VpSchedule {
    fn default() -> Self {
        Self::new()
    }
}

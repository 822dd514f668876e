//! The optional `sampler` block of a scenario: settings that reproduce a posterior run.

use serde::{Deserialize, Serialize};

use super::ScenarioError;

/// Most conjugate-gradient iterations MMPS accepts: each costs a vector–Jacobian product per
/// network evaluation, and on the bundled problems 16 already reach the exact solve's level.
pub const MAX_MMPS_ITERATIONS: u64 = 64;

/// Sampler settings stored with a scenario. Every field is optional; command-line flags override
/// them and defaults fill the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerSettings {
    /// Ensemble size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// Predictor steps N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    /// Langevin corrections C after each predictor step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrections: Option<u64>,
    /// Langevin step size τ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f64>,
    /// Variance inflation γ of the Gaussian surrogate likelihood.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Guidance rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<GuidanceRule>,
    /// Step scale ζ of DPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zeta: Option<f64>,
    /// Conjugate-gradient iterations of MMPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmps_iterations: Option<u64>,
}

/// How observations steer the prior, as a scenario, the command line (`--guidance`) and the app
/// name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GuidanceRule {
    /// SDA's Gaussian surrogate likelihood (with `gamma`).
    Sda,
    /// Moment-matching posterior sampling: the Tweedie covariance, solved by `mmps_iterations`
    /// conjugate-gradient steps (one backward pass each).
    Mmps,
    /// Diffusion posterior sampling (with `zeta`).
    Dps,
    /// No guidance: samples of the prior.
    None,
}

impl SamplerSettings {
    /// Checks every set value; errors name the entry as `sampler.FIELD`.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.check(&|field| format!("sampler.{field}"))
    }

    /// Checks every set value; errors name the entry as `name(FIELD)` (for example a
    /// command-line flag).
    pub fn check(&self, name: &dyn Fn(&str) -> String) -> Result<(), ScenarioError> {
        let invalid = |field: &str, message: &str| ScenarioError::Invalid { at: name(field), message: message.into() };
        if self.samples == Some(0) {
            return Err(invalid("samples", "must be at least 1"));
        }
        if self.steps == Some(0) {
            return Err(invalid("steps", "must be at least 1"));
        }
        if self.tau.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
            return Err(invalid("tau", "must be positive and finite"));
        }
        if self.gamma.is_some_and(|g| !(g.is_finite() && g >= 0.0)) {
            return Err(invalid("gamma", "must be non-negative and finite"));
        }
        if self.zeta.is_some_and(|z| !(z.is_finite() && z > 0.0)) {
            return Err(invalid("zeta", "must be positive and finite"));
        }
        if self.mmps_iterations.is_some_and(|n| n == 0 || n > MAX_MMPS_ITERATIONS) {
            return Err(invalid("mmps_iterations", &format!("must be between 1 and {MAX_MMPS_ITERATIONS}")));
        }
        Ok(())
    }
}

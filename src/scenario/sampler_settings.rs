//! The optional `sampler` block of a scenario: settings that reproduce a posterior run.

use serde::{Deserialize, Serialize};

use super::ScenarioError;

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
}

impl SamplerSettings {
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let invalid = |field: &str, message: &str| ScenarioError::Invalid {
            at: format!("sampler.{field}"),
            message: message.into(),
        };
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
        Ok(())
    }
}
